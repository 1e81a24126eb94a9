"""Loss functions: how wrong the outputs are, as one number, and its gradient.

``value = loss.forward(outputs, targets)`` returns a Python float: the mean over the batch for
cross-entropy, the mean over all elements for MSE, MAE and binary cross-entropy (PyTorch's
default reduction). ``loss.backward()`` then returns d value / d outputs, same shape as outputs.

``sample_weight`` (n,) multiplies each sample's loss before the mean over the n samples, as in
Keras: weights of 1 change nothing, and a weight of 2 counts a sample twice.
"""
from __future__ import annotations

from .activations import sigmoid
from .backend import flush_subnormals, kernels, xp

__all__ = ["Loss", "MSE", "MAE", "BinaryCrossEntropy", "CrossEntropy", "get_loss"]


class Loss:
    """Base class. ``task`` tells the model how to read outputs: ``"regression"`` (values),
    ``"binary"`` (one logit per label) or ``"classification"`` (one logit per class)."""

    task = "regression"

    def forward(self, outputs, targets, sample_weight=None) -> float:
        raise NotImplementedError

    def backward(self):
        raise NotImplementedError

    def __call__(self, outputs, targets, sample_weight=None) -> float:
        return self.forward(outputs, targets, sample_weight)

    def get_config(self) -> dict:
        return {}

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


def _row_weights(sample_weight, like):
    """sample_weight as a column that broadcasts over the rows of ``like`` (or 1.0)."""
    if sample_weight is None:
        return 1.0
    return xp.asarray(sample_weight, dtype=like.dtype).reshape(-1, 1)


class MSE(Loss):
    """Mean squared error over all N·K elements of the (N, K) outputs::

        L = 1/(N K) Σ (o - t)²          dL/do = 2 (o - t) / (N K)
    """

    def forward(self, outputs, targets, sample_weight=None):
        self.diff = outputs - targets.reshape(outputs.shape)
        self.weight = _row_weights(sample_weight, outputs)
        return float((self.weight * self.diff * self.diff).mean())

    def backward(self):
        return (2.0 / self.diff.size) * self.weight * self.diff


class MAE(Loss):
    """Mean absolute error over all N·K elements::

        L = 1/(N K) Σ |o - t|           dL/do = sign(o - t) / (N K)     (0 where o = t)
    """

    def forward(self, outputs, targets, sample_weight=None):
        self.diff = outputs - targets.reshape(outputs.shape)
        self.weight = _row_weights(sample_weight, outputs)
        return float((self.weight * xp.abs(self.diff)).mean())

    def backward(self):
        return (1.0 / self.diff.size) * self.weight * xp.sign(self.diff)


class BinaryCrossEntropy(Loss):
    """Binary cross-entropy from logits z (one per label), targets t in [0, 1]::

        L = 1/(N K) Σ [ max(z, 0) - z t + log(1 + e^-|z|) ]      (= -t log σ(z) - (1-t) log(1-σ(z)))
        dL/dz = (σ(z) - t) / (N K)

    The first form never overflows, for logits of any size.
    """

    task = "binary"

    def forward(self, outputs, targets, sample_weight=None):
        self.z = outputs
        self.t = targets.reshape(outputs.shape)
        self.weight = _row_weights(sample_weight, outputs)
        losses = xp.maximum(outputs, 0.0) - outputs * self.t + xp.log1p(xp.exp(-xp.abs(outputs)))
        return float((self.weight * losses).mean())

    def backward(self):
        return (1.0 / self.z.size) * self.weight * (sigmoid(self.z) - self.t)


class CrossEntropy(Loss):
    """Softmax cross-entropy from logits z (N, C). Targets are class ids y (N,), or one-hot or
    probability rows t (N, C)::

        log p = log_softmax(z) = z - log Σⱼ e^zⱼ        (shifted by the row maximum)
        L     = -1/N Σₙ log p[n, yₙ]                   = -1/N Σₙ Σⱼ tₙⱼ log pₙⱼ
        dL/dz = (softmax(z) - t) / N                    t = one_hot(y)

    ``label_smoothing`` ε mixes the targets with the uniform distribution, t ← (1-ε) t + ε/C, as
    in PyTorch.
    """

    task = "classification"

    def __init__(self, label_smoothing: float = 0.0):
        if isinstance(label_smoothing, bool) or not isinstance(label_smoothing, (int, float)) \
                or not 0.0 <= label_smoothing <= 1.0:
            raise ValueError(f"label_smoothing must be in [0, 1], got {label_smoothing!r}")
        self.label_smoothing = float(label_smoothing)
        self.grad = None

    def forward(self, outputs, targets, sample_weight=None):
        if kernels.cross_entropy is not None and targets.ndim == 1:
            value, self.grad = kernels.cross_entropy(outputs, targets, sample_weight, self.label_smoothing)
            return value
        self.grad = None
        n, classes = outputs.shape
        shifted = outputs - outputs.max(axis=1, keepdims=True)
        self.exp = xp.exp(shifted)
        self.total = self.exp.sum(axis=1, keepdims=True)  # softmax = exp / total, formed in backward
        log_total = xp.log(self.total)                     # log p = shifted - log_total
        eps = self.label_smoothing
        if targets.ndim == 1:  # class ids: no one-hot matrix is built
            self.ids, self.soft = targets, None
            per_sample = log_total[:, 0] - (1.0 - eps) * shifted[xp.arange(n), targets]
            if eps:
                per_sample -= eps * shifted.mean(axis=1)
        else:
            self.ids = None
            self.soft = targets.astype(outputs.dtype, copy=False)
            if eps:
                self.soft = (1.0 - eps) * self.soft + eps / classes
            per_sample = -(self.soft * (shifted - log_total)).sum(axis=1)
        self.weight = None if sample_weight is None else xp.asarray(sample_weight, dtype=outputs.dtype)
        if self.weight is not None:
            per_sample = per_sample * self.weight
        return float(per_sample.sum()) / n

    def backward(self):
        if self.grad is not None:  # the fused forward computed it
            return self.grad
        n, classes = self.exp.shape
        weight = 1.0 / n if self.weight is None else self.weight[:, None] / n
        grad = self.exp * (weight / self.total)  # softmax(z) · w / n
        if self.ids is None:
            grad -= self.soft * weight
        else:
            grad[xp.arange(n), self.ids] -= (1.0 - self.label_smoothing) * (weight if self.weight is None
                                                                             else weight[:, 0])
            if self.label_smoothing:
                grad -= self.label_smoothing / classes * weight
        flush_subnormals(grad)  # e^z of a confident network's losing classes, below 1e-38
        return grad

    def get_config(self):
        return {"label_smoothing": self.label_smoothing}


_LOSSES = {"mse": MSE, "mae": MAE, "binary_cross_entropy": BinaryCrossEntropy,
           "bce": BinaryCrossEntropy, "cross_entropy": CrossEntropy}


def get_loss(loss) -> Loss:
    """A Loss instance from a Loss or one of the names in ``_LOSSES`` (``"cross_entropy"``...)."""
    if isinstance(loss, Loss):
        return loss
    if isinstance(loss, str) and loss.lower() in _LOSSES:
        return _LOSSES[loss.lower()]()
    raise TypeError(f"loss must be a barenet Loss or one of {sorted(_LOSSES)}, got {loss!r}")
