"""Batch normalisation: each channel scaled to zero mean and unit variance over the batch.

Then given a learned scale γ and shift β (Ioffe and Szegedy, 2015), as PyTorch's ``BatchNorm1d``
and ``BatchNorm2d`` compute it, running statistics included.
"""
from __future__ import annotations

from . import checks as check
from .backend import xp
from .im2col import MAX_SIZE
from .layers import Layer

__all__ = ["BatchNorm1D", "BatchNorm2D"]


def _per_channel(values, ndim):
    """values (C,) shaped to broadcast over a batch of ``ndim`` axes: (1, C) or (1, C, 1, 1)."""
    return values.reshape((1, -1) + (1,) * (ndim - 2))


class BatchNorm1D(Layer):
    """Batch normalisation of rows (n, C): each feature c over the batch.

    With m the number of values per channel (n here; n·H·W for ``BatchNorm2D``) and sums over them::

        training     μ = Σ x / m,   σ² = Σ (x − μ)² / m            the batch's statistics
                     x̂ = (x − μ) / √(σ² + ε),    y = γ x̂ + β
                     running_mean ← (1 − momentum) running_mean + momentum μ
                     running_var  ← (1 − momentum) running_var  + momentum σ² m / (m − 1)
        evaluation   x̂ = (x − running_mean) / √(running_var + ε),    y = γ x̂ + β
        backward     dβ = Σ dy,    dγ = Σ dy x̂
                     dx = γ / √(σ² + ε) · (dy − dβ / m − x̂ dγ / m)    training: μ, σ² depend on x
                     dx = γ / √(running_var + ε) · dy                    evaluation: constants

    γ, β (C,) are parameters (starting at 1 and 0); running_mean and running_var (C,) are
    buffers, saved with the model but not trained (starting at 0 and 1). Training needs more than
    one value per channel.

    Parameters
    ----------
    num_features : int
        C, the channels (features).
    eps : float, default 1e-5
        ε, in (0, 1].
    momentum : float, default 0.1
        PyTorch's: the weight of the new batch in the running statistics, in [0, 1].
    """

    constraints = {"num_features": check.Integer(1, MAX_SIZE),
                   "eps": check.Real(0, 1, closed="right", what="a positive number"),
                   "momentum": check.Real(0, 1, what="a fraction")}
    axes = (0,)  # the axes the statistics are taken over: all but the channels'
    cached = ("training", "count", "inv_std", "x_hat")  # what backward needs from forward, then released

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float = 0.1):
        super().__init__()
        check.arguments(self, num_features=num_features, eps=eps, momentum=momentum)
        self.buffers: dict = {}

    @property
    def in_shape(self):
        """(num_features,): rows of that many features."""
        return (self.num_features,)

    def output_shape(self, input_shape):
        """Return the input's shape, checked to have ``num_features`` channels."""
        expected = self.in_shape
        if input_shape is not None and (len(input_shape) != len(expected) or input_shape[0] not in
                                        (None, self.num_features)):
            raise ValueError(f"{self!r} takes samples of shape {expected} (None: any size), got {input_shape}")
        return expected if input_shape is None else input_shape

    def param_shapes(self):
        """Return the shapes of γ and β: (C,) each."""
        return {"gamma": (self.num_features,), "beta": (self.num_features,)}

    def buffer_shapes(self):
        """Return the shapes of running_mean and running_var: (C,) each."""
        return {"running_mean": (self.num_features,), "running_var": (self.num_features,)}

    def build(self, rng, dtype):
        """Set γ = 1, β = 0, and the running statistics to 0 and 1 (or those read from a file)."""
        self.params = {"gamma": xp.ones(self.num_features, dtype=dtype),
                       "beta": xp.zeros(self.num_features, dtype=dtype)}
        self.grads = {name: xp.zeros_like(value) for name, value in self.params.items()}
        fresh = {"running_mean": xp.zeros(self.num_features, dtype=dtype),
                 "running_var": xp.ones(self.num_features, dtype=dtype)}
        self.buffers = {name: xp.asarray(self.buffers.get(name, value), dtype=dtype) for name, value in fresh.items()}
        self.built = True

    def check_buffers(self, buffers):
        """Raise ValueError for a negative running_var."""
        if float(buffers["running_var"].min()) < 0:
            raise ValueError("running_var must not be negative: it is a variance")

    def forward(self, x, training=True):
        """y = γ x̂ + β, x̂ = (x − μ) / √(σ² + ε): the batch's μ, σ² while training, the running ones after."""
        mean = self.statistics(x, training)
        self.x_hat = (x - _per_channel(mean, x.ndim)) * _per_channel(self.inv_std, x.ndim)
        return _per_channel(self.params["gamma"], x.ndim) * self.x_hat + _per_channel(self.params["beta"], x.ndim)

    def statistics(self, x, training, moments=None):
        """Return μ, and set 1 / √(σ² + ε) (``inv_std``): the batch's while training, the running ones after.

        Checks x, and while training moves the running statistics. ``moments(x)`` gives the
        batch's (μ, σ²) (NumPy's mean and var by default; a backend's own loop on numba).
        """
        if not self.built:
            self.build(None, x.dtype)
        self.output_shape(x.shape[1:])
        self.training, self.count = training, x.size // self.num_features
        if training:
            if self.count < 2:
                raise ValueError(f"{self!r} needs more than one value per channel to train, got input of shape "
                                 f"{x.shape}")
            mean, var = (x.mean(axis=self.axes), x.var(axis=self.axes)) if moments is None else moments(x)
            self._update_running(mean, var)
        else:
            mean, var = self.buffers["running_mean"], self.buffers["running_var"]
        self.inv_std = 1.0 / xp.sqrt(var + self.eps)
        return mean

    def _update_running(self, mean, var):
        """In place, so that whoever holds the buffers (a checkpoint's rollback) sees the change."""
        momentum, unbiased = self.momentum, var * (self.count / (self.count - 1))
        for name, value in (("running_mean", mean), ("running_var", unbiased)):
            buffer = self.buffers[name]
            buffer *= 1.0 - momentum
            buffer += momentum * value

    def backward(self, grad_out):
        """dβ = Σ dy, dγ = Σ dy x̂; dx = γ / √(σ² + ε) · (dy − dβ / m − x̂ dγ / m) while training."""
        grad_beta = grad_out.sum(axis=self.axes)
        grad_gamma = (grad_out * self.x_hat).sum(axis=self.axes)
        self.grads["beta"], self.grads["gamma"] = grad_beta, grad_gamma
        ndim, m = grad_out.ndim, self.count
        scale = _per_channel(self.params["gamma"] * self.inv_std, ndim)  # γ / √(σ² + ε)
        if not self.training:
            return grad_out * scale
        mean_grad, mean_grad_x_hat = _per_channel(grad_beta / m, ndim), _per_channel(grad_gamma / m, ndim)
        return scale * (grad_out - mean_grad - self.x_hat * mean_grad_x_hat)

    def get_config(self):
        """Return num_features, eps and momentum."""
        return {"num_features": self.num_features, "eps": self.eps, "momentum": self.momentum}

    def __repr__(self):
        extra = (f", eps={self.eps:g}" if self.eps != 1e-5 else "") + \
                (f", momentum={self.momentum:g}" if self.momentum != 0.1 else "")
        return f"{type(self).__name__}({self.num_features}{extra})"


class BatchNorm2D(BatchNorm1D):
    """Batch normalisation of images (n, C, H, W): each channel c over the batch and every pixel.

    m = n·H·W values per channel; the formulas are ``BatchNorm1D``'s, with sums over (n, h, w).

    Parameters
    ----------
    num_features : int
        C, the channels.
    eps : float, default 1e-5
        ε, in (0, 1].
    momentum : float, default 0.1
        The weight of the new batch in the running statistics, in [0, 1].
    """

    axes = (0, 2, 3)

    @property
    def in_shape(self):
        """(num_features, None, None): images of that many channels, any size."""
        return (self.num_features, None, None)
