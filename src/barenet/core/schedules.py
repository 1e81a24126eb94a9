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

from . import checks as check

__all__ = ["Schedule", "Constant", "StepDecay", "ExponentialDecay", "CosineDecay"]

_POSITIVE = check.Real(0, closed="right")
_NON_NEGATIVE = check.Real(0)


class Schedule:
    """Base class: ``schedule(epoch) -> learning rate``.

    Parameters
    ----------
    lr : float
        The peak (initial) learning rate, positive.
    """

    constraints = {"lr": _POSITIVE}

    def __init__(self, lr):
        check.arguments(self, lr=lr)

    def __call__(self, epoch: float) -> float:
        """Return the learning rate after ``epoch`` epochs of training.

        Parameters
        ----------
        epoch : float
            Epochs done so far: 2.5 is halfway through the third epoch.

        Returns
        -------
        float
            The learning rate.
        """
        raise NotImplementedError

    def get_config(self) -> dict:
        """Return the constructor arguments, as JSON-compatible values."""
        return {"lr": self.lr}

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class Constant(Schedule):
    """The same rate throughout: lr(t) = lr.

    Parameters
    ----------
    lr : float
        The learning rate.
    """

    def __call__(self, epoch):
        """lr(t) = lr."""
        return self.lr


class StepDecay(Schedule):
    """Multiply the rate by ``gamma`` every ``step_size`` epochs, as ``torch.optim.lr_scheduler.StepLR``.

    After t epochs::

        lr(t) = lr · γ^⌊t / step_size⌋

    Parameters
    ----------
    lr : float
        The initial rate.
    step_size : float
        Epochs between two decays, positive.
    gamma : float, default 0.1
        γ ≥ 0, the factor of each decay.
    """

    constraints = Schedule.constraints | {"step_size": _POSITIVE, "gamma": _NON_NEGATIVE}

    def __init__(self, lr, step_size, gamma=0.1):
        super().__init__(lr)
        check.arguments(self, step_size=step_size, gamma=gamma)

    def __call__(self, epoch):
        """lr(t) = lr · γ^⌊t / step_size⌋."""
        return self.lr * self.gamma ** math.floor(epoch / self.step_size)

    def get_config(self):
        """Return lr, step_size and gamma."""
        return super().get_config() | {"step_size": self.step_size, "gamma": self.gamma}


class ExponentialDecay(Schedule):
    """Multiply the rate by ``gamma`` every epoch, smoothly: lr(t) = lr · γᵗ.

    Equal to ``torch.optim.lr_scheduler.ExponentialLR`` at whole epochs.

    Parameters
    ----------
    lr : float
        The initial rate.
    gamma : float
        γ > 0, the factor per epoch.
    """

    constraints = Schedule.constraints | {"gamma": _POSITIVE}

    def __init__(self, lr, gamma):
        super().__init__(lr)
        check.arguments(self, gamma=gamma)

    def __call__(self, epoch):
        """lr(t) = lr · γᵗ."""
        return self.lr * self.gamma ** epoch

    def get_config(self):
        """Return lr and gamma."""
        return super().get_config() | {"gamma": self.gamma}


class CosineDecay(Schedule):
    """Optional linear warm-up, then half a cosine from ``lr`` down to ``min_lr`` at ``epochs``.

    With W = ``warmup_epochs``, w₀ = ``warmup_start`` and E = ``epochs``::

        lr(t) = lr · (w₀ + (1 - w₀) t / W)                          for t < W   (warm-up)
        lr(t) = min_lr + ½ (lr - min_lr) (1 + cos(π (t - W) / (E - W)))   for W ≤ t ≤ E
        lr(t) = min_lr                                               for t > E

    Without warm-up it equals ``torch.optim.lr_scheduler.CosineAnnealingLR(T_max=E, eta_min=min_lr)``
    at whole epochs.

    Parameters
    ----------
    lr : float
        The peak rate.
    epochs : float
        E, where the cosine reaches ``min_lr``.
    min_lr : float, default 0.0
        The final rate, at most ``lr``.
    warmup_epochs : float, default 0.0
        W, less than ``epochs``.
    warmup_start : float, default 0.1
        w₀, the warm-up's first rate as a fraction of ``lr``.

    Raises
    ------
    ValueError
        If ``warmup_epochs`` ≥ ``epochs`` or ``min_lr`` > ``lr``.
    """

    constraints = Schedule.constraints | {"epochs": _POSITIVE, "min_lr": _NON_NEGATIVE,
                                          "warmup_epochs": _NON_NEGATIVE, "warmup_start": _NON_NEGATIVE}

    def __init__(self, lr, epochs, min_lr=0.0, warmup_epochs=0.0, warmup_start=0.1):
        super().__init__(lr)
        check.arguments(self, epochs=epochs, min_lr=min_lr, warmup_epochs=warmup_epochs, warmup_start=warmup_start)
        if self.warmup_epochs >= self.epochs:
            raise ValueError(f"warmup_epochs ({warmup_epochs}) must be less than epochs ({epochs})")
        if self.min_lr > self.lr:
            raise ValueError(f"min_lr ({min_lr}) must not exceed lr ({lr})")

    def __call__(self, epoch):
        """lr(t): the warm-up's line, then min_lr + ½ (lr - min_lr) (1 + cos(π (t - W) / (E - W)))."""
        if epoch < self.warmup_epochs:
            return self.lr * (self.warmup_start + (1.0 - self.warmup_start) * epoch / self.warmup_epochs)
        fraction = min(1.0, (epoch - self.warmup_epochs) / (self.epochs - self.warmup_epochs))
        return self.min_lr + 0.5 * (self.lr - self.min_lr) * (1.0 + math.cos(math.pi * fraction))

    def get_config(self):
        """Return lr, epochs, min_lr, warmup_epochs and warmup_start."""
        return super().get_config() | {"epochs": self.epochs, "min_lr": self.min_lr,
                                       "warmup_epochs": self.warmup_epochs,
                                       "warmup_start": self.warmup_start}
