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

from . import fused_images, kernels
from .fused_images import MATRIX_ROWS
from .pool import ranges, run
from .reference import Backend
from .threads import kernel_threads

__all__ = ["NumbaBackend"]


def _kind(obj) -> str:
    cls = type(obj)
    return f"{cls.__module__}.{cls.__qualname__}"


def _relu_forward(layer, x, training, threads):
    y, layer.mask = kernels.relu_forward(x, threads)
    return y


def _relu_backward(layer, grad_out, threads):
    return kernels.relu_backward(grad_out, layer.mask, threads)


def _dense_forward(layer, x, training, threads):
    """``core.layers.Dense.forward``: y = x W + b, each range of rows on its own thread."""
    if not layer.built or x.ndim != 2 or not isinstance(x, np.ndarray):
        return layer.forward(x, training)
    layer.x = x
    W = layer.params["W"]
    y = np.empty((len(x), W.shape[1]), dtype=np.result_type(x, W))

    def rows(lo, hi):
        np.matmul(x[lo:hi], W, out=y[lo:hi])
        if layer.bias:
            y[lo:hi] += layer.params["b"]
    run(rows, ranges(len(x), threads, work=x.size * W.shape[1] // 64, align=MATRIX_ROWS))
    return y


def _dense_gradients(layer, grad_out, threads):
    """``Dense.backward_params``: dW = xᵀ dY cut by input features (rows of dW), db = Σ dY."""
    x, dW = layer.x, layer.grads["W"]
    if not isinstance(x, np.ndarray) or not dW.flags.c_contiguous:
        layer.backward_params(grad_out)
        return
    run(lambda lo, hi: np.matmul(x[:, lo:hi].T, grad_out, out=dW[lo:hi]),
        ranges(dW.shape[0], threads, work=x.size * dW.shape[1] // 64, align=MATRIX_ROWS))
    if layer.bias:
        grad_out.sum(axis=0, out=layer.grads["b"])


def _dense_backward(layer, grad_out, threads):
    """dX = dY Wᵀ: ``Dense.backward``, after the parameters' gradients, each range of rows on its own thread."""
    _dense_gradients(layer, grad_out, threads)
    W = layer.params["W"]
    grad = np.empty((len(grad_out), W.shape[0]), dtype=grad_out.dtype)
    run(lambda lo, hi: np.matmul(grad_out[lo:hi], W.T, out=grad[lo:hi]),
        ranges(len(grad_out), threads, work=grad.size * W.shape[1] // 64, align=MATRIX_ROWS))
    return grad


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


_DENSE, _CONV, _MAX_POOL = "barenet.core.layers.Dense", "barenet.core.conv.Conv2D", "barenet.core.pooling.MaxPool2D"
_RELU = "barenet.core.activations.ReLU"
_BATCH_NORM = "barenet.core.normalization.BatchNorm2D"
_FORWARD = {"barenet.core.activations.ReLU": _relu_forward, _DENSE: _dense_forward,
            _CONV: fused_images.conv_forward, _MAX_POOL: fused_images.max_pool_forward,
            _BATCH_NORM: fused_images.batch_norm_forward}
_BACKWARD = {"barenet.core.activations.ReLU": _relu_backward, _DENSE: _dense_backward,
             _CONV: fused_images.conv_backward, _MAX_POOL: fused_images.max_pool_backward,
             _BATCH_NORM: fused_images.batch_norm_backward}
_BACKWARD_PARAMS = {_DENSE: _dense_gradients, _CONV: fused_images.conv_backward_params}
# Networks with these layers train faster with the backend's own threads than with the BLAS
# library's (``own_threads``): their loops are as heavy as their matrix products.
_OWN_THREADS = {_CONV, _MAX_POOL}
_UPDATE = {"barenet.core.optimizers.SGD": _sgd, "barenet.core.optimizers.RMSProp": _rmsprop,
           "barenet.core.optimizers.Adam": _adam, "barenet.core.optimizers.AdamW": _adamw}
_CROSS_ENTROPY = "barenet.core.losses.CrossEntropy"


class NumbaBackend(Backend):
    """NumPy arrays, with the hottest operations run as compiled loops or split among threads.

    Fused, by the exact class of the object (``kernels`` lists them): ReLU; Dense (its products
    cut by rows among the threads); Conv2D, MaxPool2D and BatchNorm2D (``fused_images``), and a ReLU followed by
    a MaxPool2D as one pass; softmax cross-entropy from class ids, its value and gradient in one
    pass; the updates of SGD, RMSProp, Adam and AdamW, one pass each, split among threads on a
    long vector. Everything else runs the reference's code.
    """

    name = "numba"

    def own_threads(self, model) -> bool:
        """Return whether ``model`` trains faster with this backend's threads than with the BLAS library's.

        Then ``fit`` holds the BLAS library at one thread and gives its count to the backend,
        which splits every heavy operation itself (``core.backends.pool``). True for networks with
        convolutions or max-pooling, whose loops weigh as much as their products; a dense network
        leaves its products to the BLAS library's threads.
        """
        return any(_kind(layer) in _OWN_THREADS for layer in model.layers)

    def forward(self, layer, x, training):
        """Return the layer's output: its fused forward where there is one, else its own."""
        fused = _FORWARD.get(_kind(layer))
        return layer.forward(x, training) if fused is None else fused(layer, x, training, self._threads())

    def backward(self, layer, grad_out):
        """Return dX, the parameters' gradients set: the layer's fused backward, else its own."""
        fused = _BACKWARD.get(_kind(layer))
        return layer.backward(grad_out) if fused is None else fused(layer, grad_out, self._threads())

    def backward_params(self, layer, grad_out):
        """Set the parameters' gradients without dX (Dense and Conv2D fused, others their own)."""
        fused = _BACKWARD_PARAMS.get(_kind(layer))
        if fused is None:
            layer.backward_params(grad_out)
        else:
            fused(layer, grad_out, self._threads())

    def groups(self, layers) -> list:
        """Return each layer alone, but a ReLU followed by a max-pooling as one pair.

        The pair runs in one pass over the larger image, pooled first and rectified after
        (``fused_images.relu_max_pool_forward``).
        """
        groups, i = [], 0
        while i < len(layers):
            if i + 1 < len(layers) and (_kind(layers[i]), _kind(layers[i + 1])) == (_RELU, _MAX_POOL):
                groups.append((layers[i], layers[i + 1]))
                i += 2
            else:
                groups.append((layers[i],))
                i += 1
        return groups

    def forward_group(self, group, x, training):
        """Return a group's output: the ReLU-max-pooling pair in one pass, else the layer's forward."""
        if len(group) == 2:
            return fused_images.relu_max_pool_forward(*group, x, training, self._threads())
        return self.forward(group[0], x, training)

    def backward_group(self, group, grad_out):
        """Return a group's dX: the ReLU-max-pooling pair in one pass, else the layer's backward."""
        if len(group) == 2:
            return fused_images.relu_max_pool_backward(*group, grad_out, self._threads())
        return self.backward(group[0], grad_out)

    def _threads(self):
        """Return the threads this epoch gives the backend (``kernel_threads``).

        1 outside fit, where the BLAS library keeps its own.
        """
        return kernel_threads() or 1

    def loss_value(self, loss, outputs, targets, sample_weight):
        """Return the loss as a 0-d array; for CrossEntropy from class ids, with its gradient in one pass.

        The gradient waits on the loss (``fused_gradient``) for ``loss_gradient``. Other losses,
        and CrossEntropy from probability rows, run the reference's ``value``.
        """
        if _kind(loss) != _CROSS_ENTROPY or targets.ndim != 1:
            loss.fused_gradient = None
            return loss.value(outputs, targets, sample_weight)
        value, loss.fused_gradient = kernels.cross_entropy(outputs, targets, sample_weight, loss.label_smoothing)
        return np.float64(value)

    def loss_gradient(self, loss):
        """Return d loss / d outputs: the one ``loss_value`` computed, else the loss's ``backward``."""
        gradient = getattr(loss, "fused_gradient", None)
        if gradient is None:
            return loss.backward()
        loss.fused_gradient = None
        return gradient

    def update(self, optimizer, theta, grad, state, constants):
        """Run one optimizer step on θ in place: one compiled pass for SGD, RMSProp, Adam, AdamW."""
        fused = _UPDATE.get(_kind(optimizer))
        if fused is None:
            optimizer.update(theta, grad, state, constants)
        else:
            fused(optimizer, theta, grad, state, constants, self._threads())

    def kernels(self) -> list:
        """Return the names of the classes whose operations this backend fuses, sorted."""
        return sorted({*_FORWARD, *_BACKWARD, *_BACKWARD_PARAMS, *_UPDATE, _CROSS_ENTROPY})
