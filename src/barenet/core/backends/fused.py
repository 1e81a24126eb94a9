"""The ``"numba"`` backend: NumPy arrays, and the hottest operations as compiled loops.

NumPy computes a formula such as Adam's as a chain of whole-array operations, each one a pass
over memory; the loops of ``core.backends.kernels`` compute the same formula in one pass, rounding
for rounding. This backend runs them in place of the reference code for the classes listed below
(by their exact class: a subclass that changes the maths gets the reference), and the reference
for everything else. Each fused operation is tested equal to the reference
(``tests/core/test_fast_backend.py``). ``pip install "barenet[fast]"``.
"""
from __future__ import annotations

import numpy as np

from ..backend import kernel_threads
from . import kernels
from .reference import Backend

__all__ = ["NumbaBackend"]


def _kind(obj) -> str:
    cls = type(obj)
    return f"{cls.__module__}.{cls.__qualname__}"


def _relu_forward(layer, x, training):
    y, layer.mask = kernels.relu_forward(x)
    return y


def _relu_backward(layer, grad_out):
    return kernels.relu_backward(grad_out, layer.mask)


def _sgd(optimizer, theta, g, state, c, threads):
    kernels.sgd(theta, g, state.get("momentum_buffer", theta), c["lr"], optimizer.weight_decay,
                optimizer.momentum, optimizer.dampening, optimizer.nesterov, optimizer.steps == 1, threads)


def _rmsprop(optimizer, theta, g, state, c, threads):
    kernels.rmsprop(theta, g, state["square_avg"], state.get("grad_avg", theta), state.get("momentum_buffer", theta),
                    c["lr"], optimizer.weight_decay, optimizer.alpha, optimizer.eps, optimizer.momentum,
                    optimizer.centered, threads)


def _adam(optimizer, theta, g, state, c, threads, l2=None):
    beta1, beta2 = optimizer.betas
    kernels.adam(theta, g, state["exp_avg"], state["exp_avg_sq"], beta1, beta2, c["step"], c["root_bias_correction2"],
                 optimizer.eps, optimizer.weight_decay if l2 is None else l2, c["shrink"], threads)


def _adamw(optimizer, theta, g, state, c, threads):
    _adam(optimizer, theta, g, state, c, threads, l2=0.0)  # its decay is the shrink, not a gradient term


_FORWARD = {"barenet.core.activations.ReLU": _relu_forward}
_BACKWARD = {"barenet.core.activations.ReLU": _relu_backward}
_UPDATE = {"barenet.core.optimizers.SGD": _sgd, "barenet.core.optimizers.RMSProp": _rmsprop,
           "barenet.core.optimizers.Adam": _adam, "barenet.core.optimizers.AdamW": _adamw}
_CROSS_ENTROPY = "barenet.core.losses.CrossEntropy"


class NumbaBackend(Backend):
    """NumPy arrays; ReLU, softmax cross-entropy from class ids and every optimizer's update as
    one compiled pass each, the update split among threads on a long vector."""

    name = "numba"

    def __init__(self):
        self.threads = kernels.default_threads()  # outside fit; in fit, the epoch's count (kernel_threads)

    def forward(self, layer, x, training):
        fused = _FORWARD.get(_kind(layer))
        return layer.forward(x, training) if fused is None or x.ndim != 2 else fused(layer, x, training)

    def backward(self, layer, grad_out):
        fused = _BACKWARD.get(_kind(layer))
        return layer.backward(grad_out) if fused is None or grad_out.ndim != 2 else fused(layer, grad_out)

    def loss_value(self, loss, outputs, targets, sample_weight):
        """Softmax cross-entropy from class ids: the loss and its gradient in one pass over each
        row (the gradient waits on the loss for ``loss_gradient``)."""
        if _kind(loss) != _CROSS_ENTROPY or targets.ndim != 1:
            loss.fused_gradient = None
            return loss.value(outputs, targets, sample_weight)
        value, loss.fused_gradient = kernels.cross_entropy(outputs, targets, sample_weight, loss.label_smoothing)
        return np.float64(value)

    def loss_gradient(self, loss):
        gradient = getattr(loss, "fused_gradient", None)
        if gradient is None:
            return loss.backward()
        loss.fused_gradient = None
        return gradient

    def update(self, optimizer, theta, grad, state, constants):
        fused = _UPDATE.get(_kind(optimizer))
        if fused is None:
            optimizer.update(theta, grad, state, constants)
        else:
            fused(optimizer, theta, grad, state, constants, kernel_threads() or self.threads)

    def kernels(self) -> list:
        """The names of the classes this backend runs as compiled loops."""
        return sorted({*_FORWARD, *_BACKWARD, *_UPDATE, _CROSS_ENTROPY})
