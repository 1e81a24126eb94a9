"""The reference backend (NumPy) and the device backends (CuPy, and its strict stand-in).

``core.backend`` says what a backend is and chooses among them; these are the classes.
"""
from __future__ import annotations

import numpy

__all__ = ["Backend", "CupyBackend", "StrictBackend"]


class Backend:
    """The NumPy backend, and the reference every other one is tested against: each operation
    is the owning class's own code."""

    name = "numpy"
    xp = numpy
    device = False  # whether its arrays live apart from NumPy's (a GPU, or the strict stand-in)

    # -- the operations a backend may fuse ----------------------------------------------------------

    def forward(self, layer, x, training):
        return layer.forward(x, training)

    def backward(self, layer, grad_out):
        return layer.backward(grad_out)

    def backward_params(self, layer, grad_out):
        layer.backward_params(grad_out)

    def groups(self, layers) -> list:
        """``layers`` cut into the groups this backend runs as one (``forward_group``): a fast
        backend fuses some neighbours (ReLU then max-pooling) into one pass; here each layer is
        its own group."""
        return [(layer,) for layer in layers]

    def forward_group(self, group, x, training):
        for layer in group:
            x = self.forward(layer, x, training)
        return x

    def backward_group(self, group, grad_out):
        for layer in reversed(group):
            grad_out = self.backward(layer, grad_out)
        return grad_out

    def loss_value(self, loss, outputs, targets, sample_weight):
        """The loss as a 0-d array; ``loss_gradient`` then gives d loss / d outputs."""
        return loss.value(outputs, targets, sample_weight)

    def loss_gradient(self, loss):
        return loss.backward()

    def update(self, optimizer, theta, grad, state, constants):
        """One optimizer step on the flat vectors θ and g (``core.optimizers``)."""
        optimizer.update(theta, grad, state, constants)

    def own_threads(self, model) -> bool:
        """Whether this backend splits ``model``'s heavy operations among its own threads (then
        ``fit`` holds the BLAS library at one thread). The reference leaves them to the BLAS library."""
        return False

    def squared_norm(self, vector):
        """|v|², a 0-d array (on the device: no wait for it)."""
        return self.xp.dot(vector, vector)

    # -- arrays ----------------------------------------------------------------------------------------

    def asarray(self, array, dtype=None):
        return array if not self.device and dtype is None else self.xp.asarray(array, dtype=dtype)

    def __repr__(self):
        return f"<barenet backend {self.name!r}>"

    @classmethod
    def shared(cls):
        """The one object of this backend (made on first use): every network on it holds this."""
        if cls.__dict__.get("_shared") is None:
            cls._shared = cls()
        return cls._shared

    def __reduce__(self):  # a copy or a pickle of a network keeps the shared backend object
        return type(self).shared, ()


class CupyBackend(Backend):
    """CuPy arrays on an NVIDIA GPU; the operations as the reference writes them."""

    name = "cupy"
    device = True

    def __init__(self):
        try:
            import cupy
        except ImportError as error:
            raise ImportError('the "cupy" backend needs CuPy and an NVIDIA GPU: pip install "barenet[gpu]" '
                              "(CuPy for CUDA 12; for CUDA 13: pip install cupy-cuda13x)") from error
        try:
            devices = cupy.cuda.runtime.getDeviceCount()
        except Exception as error:  # CuPy installed, but no driver or no device
            raise RuntimeError(f'the "cupy" backend found no usable NVIDIA GPU ({type(error).__name__}: '
                               f"{error}); use the CPU backends instead") from None
        if devices == 0:
            raise RuntimeError('the "cupy" backend found no NVIDIA GPU; use the CPU backends instead')
        self.xp = cupy


class StrictBackend(Backend):
    """For tests: CuPy's discipline on a CPU (``core.backends.strict``): device arrays that refuse NumPy
    arrays and count every read back to the host."""

    name = "strict"
    device = True

    def __init__(self):
        from . import strict
        self.xp = strict.module
