"""Loss functions: how wrong the outputs are, as one number, and its gradient.

``value = loss.forward(outputs, targets)`` returns a Python float: the mean over the batch for
cross-entropy, the mean over all elements for MSE, MAE and binary cross-entropy (PyTorch's
default reduction). ``loss.backward()`` then returns d value / d outputs, same shape as outputs.
``loss.value(...)`` is ``forward`` without the conversion to a float: on a GPU the number stays
on the device, so a training loop need not wait for it.

``sample_weight`` (n,) multiplies each sample's loss before the mean over the n samples, as in
Keras: weights of 1 change nothing, and a weight of 2 counts a sample twice.

A loss also knows how to read a model's outputs, so that nothing else asks which kind it is:
which targets it accepts (``check_targets``), what the outputs answer (``predict``), class
probabilities (``probabilities``) and how many answers are right (``correct``) for classifiers.
"""
from __future__ import annotations

import numpy as np

from . import checks as check
from . import registry
from .activations import sigmoid, softmax
from .backend import flush_subnormals, xp

__all__ = ["Loss", "MSE", "MAE", "Poisson", "BinaryCrossEntropy", "CrossEntropy", "get_loss"]


class Loss:
    """Base class of the losses (the module says how they are used); its defaults read outputs as values.

    ``classifies`` is True for losses whose outputs are classes, which have an accuracy; ``task``
    names the kind, for files.
    """

    classifies = False
    task = "regression"
    cached: tuple = ()  # what value keeps for backward: never pickled or copied (see forget)

    def forget(self) -> None:
        """Drop what ``value`` kept for ``backward`` (the outputs and targets of the last batch)."""
        for name in type(self).cached:
            self.__dict__.pop(name, None)

    def __getstate__(self):
        return {k: v for k, v in self.__dict__.items() if k not in type(self).cached}

    def forward(self, outputs, targets, sample_weight=None) -> float:
        """Return the loss as a Python float (``value``, converted); ``backward`` then gives its gradient."""
        return float(self.value(outputs, targets, sample_weight))

    def value(self, outputs, targets, sample_weight=None):
        """Return the loss as a 0-d array (a NumPy scalar on the CPU), keeping what ``backward`` needs."""
        raise NotImplementedError

    def backward(self):
        """Return d loss / d outputs for the last ``value``, shaped like the outputs."""
        raise NotImplementedError

    # -- reading outputs ----------------------------------------------------------------------

    def check_outputs(self, width: int | None) -> None:
        """Raise ValueError if a model with ``width`` outputs (None: unknown) cannot use this loss."""

    def check_targets(self, y, name: str, n: int, outputs: int | None, dtype):
        """Return ``y`` checked for this loss, in ``dtype``: shaped like the (n, outputs) outputs, or (n,) for one."""
        y = _rows(y, name, n)
        _shaped_like_outputs(y, name, n, outputs)
        return check.convert(y, dtype, name)

    def predict(self, outputs):
        """Return what the outputs answer: here the values, (n,) for a single output."""
        return outputs.ravel() if outputs.shape[1] == 1 else outputs

    def probabilities(self, outputs):
        """Return class probabilities of the outputs; ValueError for a loss that gives none."""
        raise ValueError(f"{self!r} does not give probabilities: train with CrossEntropy or BinaryCrossEntropy")

    def correct(self, outputs, targets):
        """Return how many rows the outputs answer right, as a 0-d array (sum it, convert once)."""
        raise ValueError(f"{self!r} has no right or wrong answers (no accuracy)")

    def labels(self, targets):
        """Return each sample's class, where a loss gives every sample one class (None here)."""
        return None

    def __call__(self, outputs, targets, sample_weight=None) -> float:
        """Return ``forward(outputs, targets, sample_weight)``: the loss, as a float."""
        return self.forward(outputs, targets, sample_weight)

    def get_config(self) -> dict:
        """Return the constructor arguments, as JSON-compatible values."""
        return {}

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


def _rows(y, name, n):
    """y as a finite array with one row per sample."""
    y = check.as_array(y, name)
    if y.ndim == 0 or y.shape[0] != n:
        raise ValueError(f"{name} must have one row per sample of X ({n}), got shape {y.shape}")
    check.require_finite(y, name)
    return y


def _shaped_like_outputs(y, name, n, outputs, hint=""):
    if y.ndim == 1 and outputs is not None and outputs != 1:
        raise ValueError(f"{name} has one value per sample but the model has {outputs} outputs; "
                         f"pass an (n, {outputs}) array{hint}")
    if y.ndim > 2 or (y.ndim == 2 and outputs is not None and y.shape[1] != outputs):
        raise ValueError(f"{name} must have shape ({n}, {outputs}) to match the model's outputs, got {y.shape}")


def _row_weights(sample_weight, like):
    """sample_weight as a column that broadcasts over the rows of ``like`` (or 1.0)."""
    if sample_weight is None:
        return 1.0
    return xp.asarray(sample_weight, dtype=like.dtype).reshape(-1, 1)


class MSE(Loss):
    """Mean squared error over the N·K outputs o: L = 1/(N K) Σ (o - t)², dL/do = 2 (o - t) / (N K)."""

    cached = ("diff", "weight")  # what backward needs from forward, released once it has run

    aliases = ("mse",)

    def value(self, outputs, targets, sample_weight=None):
        """L = 1/(N K) Σ (o - t)²."""
        self.diff = outputs - targets.reshape(outputs.shape)
        self.weight = _row_weights(sample_weight, outputs)
        return (self.weight * self.diff * self.diff).mean().astype(xp.float64)  # sums of it stay exact

    def backward(self):
        """dL/do = 2 (o - t) / (N K)."""
        return (2.0 / self.diff.size) * self.weight * self.diff


class MAE(Loss):
    """Mean absolute error over the N·K outputs o: L = 1/(N K) Σ |o - t|, dL/do = sign(o - t) / (N K)."""

    cached = ("diff", "weight")  # what backward needs from forward, released once it has run

    aliases = ("mae",)

    def value(self, outputs, targets, sample_weight=None):
        """L = 1/(N K) Σ |o - t|."""
        self.diff = outputs - targets.reshape(outputs.shape)
        self.weight = _row_weights(sample_weight, outputs)
        return (self.weight * xp.abs(self.diff)).mean().astype(xp.float64)

    def backward(self):
        """dL/do = sign(o - t) / (N K)."""
        return (1.0 / self.diff.size) * self.weight * xp.sign(self.diff)


class Poisson(Loss):
    """Poisson deviance for counts and rates t ≥ 0, from log-rates z: the model predicts μ = e^z.

    Half the deviance, averaged over all N·K elements::

        L = 1/(N K) Σ [ t log(t / μ) - t + μ ]        (t log t = 0 where t = 0)
        dL/dz = (μ - t) / (N K)

    It is the negative log-likelihood of a Poisson variable less a term that depends on t alone
    (PyTorch's ``PoissonNLLLoss(log_input=True)`` leaves that term out): 0 for a perfect fit.
    """

    cached = ("rate", "t", "weight")  # what backward needs from forward, released once it has run

    aliases = ("poisson",)

    def check_targets(self, y, name, n, outputs, dtype):
        """Return non-negative values (counts or rates), shaped like the outputs."""
        y = _rows(y, name, n)
        _shaped_like_outputs(y, name, n, outputs)
        if y.size and y.min() < 0:
            raise ValueError(f"{name} must be non-negative for the Poisson loss (counts or rates), got {y.min()}")
        return check.convert(y, dtype, name)

    def predict(self, outputs):
        """Return the rates e^z: (n,) for one output."""
        return super().predict(xp.exp(outputs))

    def value(self, outputs, targets, sample_weight=None):
        """L = 1/(N K) Σ [t log(t / μ) - t + μ], μ = e^z."""
        self.rate = xp.exp(outputs)
        self.t = targets.reshape(outputs.shape)
        self.weight = _row_weights(sample_weight, outputs)
        t_log_t_over_rate = self.t * (xp.log(xp.where(self.t > 0, self.t, 1.0)) - outputs)  # log(t/μ) = log t - z
        return (self.weight * (t_log_t_over_rate - self.t + self.rate)).mean().astype(xp.float64)

    def backward(self):
        """dL/dz = (μ - t) / (N K)."""
        return (1.0 / self.rate.size) * self.weight * (self.rate - self.t)


class BinaryCrossEntropy(Loss):
    """Binary cross-entropy from logits z (one per label), targets t in [0, 1].

        L = 1/(N K) Σ [ max(z, 0) - z t + log(1 + e^-|z|) ]      (= -t log σ(z) - (1-t) log(1-σ(z)))
        dL/dz = (σ(z) - t) / (N K)

    The first form never overflows, for logits of any size.
    """

    cached = ("z", "t", "weight")  # what backward needs from forward, released once it has run

    aliases = ("binary_cross_entropy", "bce")

    classifies = True
    task = "binary"

    def check_targets(self, y, name, n, outputs, dtype):
        """Return values in [0, 1] (probabilities of label 1), shaped like the outputs."""
        y = _rows(y, name, n)
        _shaped_like_outputs(y, name, n, outputs)
        if y.size and (y.min() < 0 or y.max() > 1):
            raise ValueError(f"{name} must be in [0, 1] for this loss, got values from {y.min()} to {y.max()}")
        return check.convert(y, dtype, name)

    def predict(self, outputs):
        """Return label 1 where the logit is positive (probability above ½)."""
        return self.decide(outputs > 0)

    def decide(self, positive):
        """Return the 0/1 labels of a boolean array: (n,) for one output."""
        labels = positive.astype(np.int64)
        return labels.ravel() if labels.shape[1] == 1 else labels

    def probabilities(self, outputs):
        """Return σ(z), the probability of label 1."""
        return sigmoid(outputs)

    def from_probabilities(self, probabilities):
        """Return ``predict``'s answer for averaged probabilities (an ensemble's)."""
        return self.decide(probabilities > 0.5)

    def probability_loss(self, probabilities, targets) -> float:
        """Return the loss of probabilities rather than logits: an ensemble's averaged ones."""
        p = np.clip(probabilities, 1e-12, 1 - 1e-12)
        t = targets.reshape(p.shape)
        return float(-(t * np.log(p) + (1 - t) * np.log1p(-p)).mean())

    def probability_correct(self, probabilities, targets) -> int:
        """Return how many rows of probabilities have every label right."""
        return int(((probabilities > 0.5) == (targets.reshape(probabilities.shape) > 0.5)).all(axis=1).sum())

    def correct(self, outputs, targets):
        """Return how many rows have every label right."""
        return ((outputs > 0) == (targets.reshape(outputs.shape) > 0.5)).all(axis=1).sum()

    def value(self, outputs, targets, sample_weight=None):
        """L = 1/(N K) Σ [max(z, 0) - z t + log(1 + e^-|z|)]."""
        self.z = outputs
        self.t = targets.reshape(outputs.shape)
        self.weight = _row_weights(sample_weight, outputs)
        losses = xp.maximum(outputs, 0.0) - outputs * self.t + xp.log1p(xp.exp(-xp.abs(outputs)))
        return (self.weight * losses).mean().astype(xp.float64)

    def backward(self):
        """dL/dz = (σ(z) - t) / (N K)."""
        return (1.0 / self.z.size) * self.weight * (sigmoid(self.z) - self.t)


class CrossEntropy(Loss):
    """Softmax cross-entropy from logits z (N, C); targets are class ids y (N,) or probability rows t (N, C).

        log p = log_softmax(z) = z - log Σⱼ e^zⱼ        (shifted by the row maximum)
        L     = -1/N Σₙ log p[n, yₙ]                   = -1/N Σₙ Σⱼ tₙⱼ log pₙⱼ
        dL/dz = (softmax(z) - t) / N                    t = one_hot(y)

    Parameters
    ----------
    label_smoothing : float, default 0.0
        ε: the targets become (1-ε) t + ε/C, mixed with the uniform distribution, as in PyTorch.
    """

    cached = ("exp", "total", "ids", "soft", "weight", "fused_gradient")  # what backward needs from forward

    aliases = ("cross_entropy",)

    classifies = True
    task = "classification"
    constraints = {"label_smoothing": check.Real(0, 1)}

    def __init__(self, label_smoothing: float = 0.0):
        check.arguments(self, label_smoothing=label_smoothing)

    def check_outputs(self, width):
        """Raise ValueError for fewer than 2 outputs (one per class)."""
        if width is not None and width < 2:
            raise ValueError(f"{self!r} needs at least 2 outputs (one per class) but the model has "
                             f"{width}; for one output use BinaryCrossEntropy")

    def check_targets(self, y, name, n, outputs, dtype):
        """Return class ids (n,) in [0, outputs), as int64; or one-hot or probability rows (n, outputs)."""
        y = _rows(y, name, n)
        if y.ndim == 1:
            if y.dtype.kind == "f" and not np.array_equal(y, np.round(y)):
                raise ValueError(f"{name} must hold integer class ids for CrossEntropy, got non-integer values "
                                 f"(for probability targets pass an (n, classes) array)")
            if y.dtype.kind == "b":
                raise TypeError(f"{name} must hold integer class ids, got booleans")
            low, high = y.min(), y.max()
            if low < 0 or (outputs is not None and high >= outputs):
                raise ValueError(f"{name} holds class ids from {low} to {high} but the model has "
                                 f"{outputs} outputs, so ids must be in [0, {outputs - 1}]")
            return y.astype(np.int64)
        _shaped_like_outputs(y, name, n, outputs, " or class ids for CrossEntropy")
        if y.size and y.min() < 0:
            raise ValueError(f"{name} must be non-negative (one-hot or probabilities) for this loss, "
                             f"got values from {y.min()} to {y.max()}")
        return check.convert(y, dtype, name)

    def predict(self, outputs):
        """Return the class with the largest logit."""
        return outputs.argmax(axis=1)

    def probabilities(self, outputs):
        """Return softmax(z), row by row."""
        return softmax(outputs)

    def from_probabilities(self, probabilities):
        """Return the most probable class of averaged probabilities (an ensemble's)."""
        return probabilities.argmax(axis=1)

    def probability_loss(self, probabilities, targets) -> float:
        """Return -1/N Σₙ log p[n, yₙ] of probabilities rather than logits (an ensemble's)."""
        labels = self.labels(targets)
        picked = np.clip(probabilities[np.arange(len(labels)), labels], 1e-12, 1.0)
        return float(-np.log(picked).mean())

    def probability_correct(self, probabilities, targets) -> int:
        """Return how many rows' most probable class is the target."""
        return int((probabilities.argmax(axis=1) == self.labels(targets)).sum())

    def correct(self, outputs, targets):
        """Return how many rows' largest logit is the target class."""
        return (outputs.argmax(axis=1) == self.labels(targets)).sum()

    def labels(self, targets):
        """Return class ids as given, or the largest entry of each one-hot or probability row."""
        return targets if targets.ndim == 1 else targets.argmax(axis=1)

    def value(self, outputs, targets, sample_weight=None):
        """L = -1/N Σₙ Σⱼ tₙⱼ log softmax(z)ₙⱼ, without forming softmax or one-hot rows."""
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
        return per_sample.sum().astype(xp.float64) / n  # the mean in float64, as float(sum) / n

    def backward(self):
        """dL/dz = (softmax(z) - t) / N, weighted by sample."""
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
        """Return label_smoothing."""
        return {"label_smoothing": self.label_smoothing}


def get_loss(loss) -> Loss:
    """Return a Loss from a Loss or a registered short name (``"mse"``...); TypeError for anything else."""
    if isinstance(loss, Loss):
        return loss
    names = registry.losses.aliases()
    if isinstance(loss, str) and loss.lower() in names:
        return names[loss.lower()]()
    raise TypeError(f"loss must be a barenet Loss or one of {sorted(names)}, got {loss!r}")
