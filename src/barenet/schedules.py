"""Learning-rate schedules: the learning rate as a function of training progress.

A schedule is called with the number of epochs done so far, a float (2.5 is halfway through the
third epoch), and returns the learning rate. Give one to an optimizer in place of a number::

    opt = bn.SGD(lr=bn.schedules.StepDecay(0.1, step_size=10, gamma=0.1), momentum=0.9)
    opt = bn.Adam(lr=bn.schedules.CosineDecay(1e-3, epochs=30, warmup_epochs=1))

``fit`` advances ``opt.progress`` before every batch, so decay is smooth within an epoch where
the formula is. In a loop of your own, set ``opt.progress = epoch + batch / batches_per_epoch``.
"""
from __future__ import annotations

import math

__all__ = ["Schedule", "Constant", "StepDecay", "ExponentialDecay", "CosineDecay"]


def _positive(value, name, allow_zero=False):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
            or value < 0 or (value == 0 and not allow_zero):
        raise ValueError(f"{name} must be a {'non-negative' if allow_zero else 'positive'} number, got {value!r}")
    return float(value)


class Schedule:
    """Base class: ``schedule(epoch) -> learning rate``; ``lr`` is the peak (initial) rate."""

    def __init__(self, lr):
        self.lr = _positive(lr, "lr")

    def __call__(self, epoch: float) -> float:
        raise NotImplementedError

    def get_config(self) -> dict:
        return {"lr": self.lr}

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class Constant(Schedule):
    """lr(t) = lr."""

    def __call__(self, epoch):
        return self.lr


class StepDecay(Schedule):
    """Multiply the rate by ``gamma`` every ``step_size`` epochs, as ``torch.optim.lr_scheduler.StepLR``::

        lr(t) = lr · γ^⌊t / step_size⌋
    """

    def __init__(self, lr, step_size, gamma=0.1):
        super().__init__(lr)
        self.step_size = _positive(step_size, "step_size")
        self.gamma = _positive(gamma, "gamma", allow_zero=True)

    def __call__(self, epoch):
        return self.lr * self.gamma ** math.floor(epoch / self.step_size)

    def get_config(self):
        return super().get_config() | {"step_size": self.step_size, "gamma": self.gamma}


class ExponentialDecay(Schedule):
    """Multiply the rate by ``gamma`` every epoch, smoothly: lr(t) = lr · γᵗ (equal to
    ``torch.optim.lr_scheduler.ExponentialLR`` at whole epochs)."""

    def __init__(self, lr, gamma):
        super().__init__(lr)
        self.gamma = _positive(gamma, "gamma")

    def __call__(self, epoch):
        return self.lr * self.gamma ** epoch

    def get_config(self):
        return super().get_config() | {"gamma": self.gamma}


class CosineDecay(Schedule):
    """Optional linear warm-up, then half a cosine from ``lr`` down to ``min_lr`` at ``epochs``::

        lr(t) = lr · (w₀ + (1 - w₀) t / W)                          for t < W   (warm-up)
        lr(t) = min_lr + ½ (lr - min_lr) (1 + cos(π (t - W) / (E - W)))   for W ≤ t ≤ E
        lr(t) = min_lr                                               for t > E

    with W = ``warmup_epochs``, w₀ = ``warmup_start`` and E = ``epochs``. Without warm-up it equals
    ``torch.optim.lr_scheduler.CosineAnnealingLR(T_max=E, eta_min=min_lr)`` at whole epochs.
    """

    def __init__(self, lr, epochs, min_lr=0.0, warmup_epochs=0.0, warmup_start=0.1):
        super().__init__(lr)
        self.epochs = _positive(epochs, "epochs")
        self.min_lr = _positive(min_lr, "min_lr", allow_zero=True)
        self.warmup_epochs = _positive(warmup_epochs, "warmup_epochs", allow_zero=True)
        self.warmup_start = _positive(warmup_start, "warmup_start", allow_zero=True)
        if self.warmup_epochs >= self.epochs:
            raise ValueError(f"warmup_epochs ({warmup_epochs}) must be less than epochs ({epochs})")
        if self.min_lr > self.lr:
            raise ValueError(f"min_lr ({min_lr}) must not exceed lr ({lr})")

    def __call__(self, epoch):
        if epoch < self.warmup_epochs:
            return self.lr * (self.warmup_start + (1.0 - self.warmup_start) * epoch / self.warmup_epochs)
        fraction = min(1.0, (epoch - self.warmup_epochs) / (self.epochs - self.warmup_epochs))
        return self.min_lr + 0.5 * (self.lr - self.min_lr) * (1.0 + math.cos(math.pi * fraction))

    def get_config(self):
        return super().get_config() | {"epochs": self.epochs, "min_lr": self.min_lr,
                                       "warmup_epochs": self.warmup_epochs,
                                       "warmup_start": self.warmup_start}
