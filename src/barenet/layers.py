"""Layers: the base class, the dense (fully connected) layer, dropout and the identity.

Every layer maps a batch ``x`` of shape (batch, in) to ``y`` of shape (batch, out) and knows its
own derivative. Activation functions are layers too; they live in ``activations.py``.
"""
from __future__ import annotations

import math

import numpy as np

from .backend import to_device, xp

__all__ = ["Layer", "Identity", "Dense", "Dropout", "INITIALIZERS"]


class Layer:
    """Base class of every layer.

    A layer is a function ``y = f(x; params)`` together with its derivative. Write your own by
    subclassing and implementing two methods:

    - ``forward(x, training=True) -> y``: compute ``y`` and keep on ``self`` whatever backward
      will need (``training`` is False at inference, for layers such as dropout that differ).
    - ``backward(grad_out) -> grad_in``: given ``grad_out = dL/dy`` (same shape as ``y``), fill
      ``self.grads[name]`` with ``dL/dparams[name]`` for every parameter and return ``dL/dx``.
      Never modify ``grad_out``: it may be another layer's array.

    Layers with parameters also implement ``build(rng, dtype)``, which creates ``self.params`` (a
    dict of arrays) and ``self.grads`` (zeros of the same shapes); ``Sequential`` calls it once,
    with the model's random generator. A layer that changes the number of features implements
    ``output_width(input_width)`` and ``get_config()`` (its constructor arguments, for saving).

    A complete custom layer, a learned per-feature scale ``y = x ⊙ s``::

        class Scale(bn.Layer):
            def __init__(self, features):
                super().__init__()
                self.features = features

            def build(self, rng, dtype):
                self.params = {"s": np.ones(self.features, dtype)}
                self.grads = {"s": np.zeros(self.features, dtype)}

            def forward(self, x, training=True):
                self.x = x
                return x * self.params["s"]

            def backward(self, grad_out):
                self.grads["s"][...] = (grad_out * self.x).sum(axis=0)   # dL/ds = Σₙ dY ⊙ X
                return grad_out * self.params["s"]                        # dL/dX = dY ⊙ s

            def get_config(self):
                return {"features": self.features}

    ``bn.check_gradients`` then tells you whether that backward is right.
    """

    def __init__(self):
        self.params: dict = {}
        self.grads: dict = {}
        self.built = False

    def build(self, rng: np.random.Generator, dtype) -> None:
        """Create the parameters. Layers without parameters need not override this."""
        self.built = True

    def forward(self, x, training: bool = True):
        raise NotImplementedError

    def backward(self, grad_out):
        raise NotImplementedError

    def backward_params(self, grad_out) -> None:
        """Fill ``self.grads`` without computing ``dL/dx``; the model calls this on its first
        layer, whose input gradient nobody needs. Layers override it when that saves work."""
        self.backward(grad_out)

    def output_width(self, input_width: int | None) -> int | None:
        """The number of output features for ``input_width`` input features (None: unknown)."""
        return input_width

    def get_config(self) -> dict:
        """The constructor arguments, as JSON-compatible values."""
        return {}

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class Identity(Layer):
    """The identity: ``y = x``; ``dL/dx = dL/dy``."""

    def forward(self, x, training=True):
        return x

    def backward(self, grad_out):
        return grad_out


# Variance of the initial weights as a function of (fan_in, fan_out), by family. Normal variants
# draw N(0, variance); uniform variants draw U(-a, a) with a = sqrt(3·variance), the same variance.
_INIT_VARIANCE = {
    "he": lambda fan_in, fan_out: 2.0 / fan_in,  # keeps activations' scale through ReLUs
    "xavier": lambda fan_in, fan_out: 2.0 / (fan_in + fan_out),  # for tanh and sigmoid
    "glorot": lambda fan_in, fan_out: 2.0 / (fan_in + fan_out),
    "lecun": lambda fan_in, fan_out: 1.0 / fan_in,  # for SELU and linear layers
}
INITIALIZERS = tuple(
    f"{family}{suffix}" for family in _INIT_VARIANCE for suffix in ("", "_normal", "_uniform")
)


def init_weights(name: str, rng: np.random.Generator, fan_in: int, fan_out: int, dtype):
    """An (fan_in, fan_out) weight matrix drawn by the named initializer."""
    family, _, distribution = name.partition("_")
    variance = _INIT_VARIANCE[family](fan_in, fan_out)
    if distribution == "uniform":
        limit = math.sqrt(3.0 * variance)
        weights = rng.uniform(-limit, limit, size=(fan_in, fan_out))
    else:
        weights = rng.normal(0.0, math.sqrt(variance), size=(fan_in, fan_out))
    return to_device(weights.astype(dtype))


def _check_positive_int(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return int(value)


class Dense(Layer):
    """Just your regular densely connected layer: every output is a weighted sum of all inputs.

    Shapes: X (n, in), W (in, out), b (out,), Y and dY (n, out)::

        forward    Y  = X W + b
        backward   dW = Xᵀ dY          (in, out)
                   db = Σₙ dY          (out,)    the sum over the batch
                   dX = dY Wᵀ          (n, in)

    ``init`` names the distribution of the initial weights: ``"he"`` (normal, std √(2/fan_in),
    for ReLU networks), ``"xavier"``/``"glorot"`` (normal, std √(2/(fan_in+fan_out)), for tanh and
    sigmoid), ``"lecun"`` (normal, std √(1/fan_in)); each with a ``"_uniform"`` variant of the same
    variance. Biases start at zero.
    """

    def __init__(self, in_features: int, out_features: int, init: str = "he", bias: bool = True):
        super().__init__()
        self.in_features = _check_positive_int(in_features, "in_features")
        self.out_features = _check_positive_int(out_features, "out_features")
        if init not in INITIALIZERS:
            raise ValueError(f"init must be one of {INITIALIZERS}, got {init!r}")
        if not isinstance(bias, bool):
            raise TypeError(f"bias must be True or False, got {bias!r}")
        self.init = init
        self.bias = bias

    def build(self, rng, dtype):
        self.params = {"W": init_weights(self.init, rng, self.in_features, self.out_features, dtype)}
        if self.bias:
            self.params["b"] = xp.zeros(self.out_features, dtype=dtype)
        self.grads = {name: xp.zeros_like(value) for name, value in self.params.items()}
        self.built = True

    def forward(self, x, training=True):
        if not self.built:  # used on its own, outside a model: initialise on first use
            self.build(np.random.default_rng(), x.dtype)
        self.x = x
        y = x @ self.params["W"]
        if self.bias:
            y += self.params["b"]
        return y

    def backward(self, grad_out):
        self.backward_params(grad_out)
        return grad_out @ self.params["W"].T

    def backward_params(self, grad_out):
        # Written into the existing gradient arrays (out=): in a model they are views of one
        # contiguous buffer that the optimizer updates in a few vectorised calls.
        xp.matmul(self.x.T, grad_out, out=self.grads["W"])
        if self.bias:
            grad_out.sum(axis=0, out=self.grads["b"])

    def output_width(self, input_width):
        if input_width is not None and input_width != self.in_features:
            raise ValueError(f"{self!r} expects {self.in_features} input features, got {input_width}")
        return self.out_features

    def get_config(self):
        return {"in_features": self.in_features, "out_features": self.out_features,
                "init": self.init, "bias": self.bias}

    def __repr__(self):
        extra = (f", init={self.init!r}" if self.init != "he" else "") + ("" if self.bias else ", bias=False")
        return f"Dense({self.in_features}, {self.out_features}{extra})"


class Dropout(Layer):
    """Inverted dropout: while training, zero each input with probability ``p`` and scale the
    survivors by 1/(1-p), so that every unit's expected value is unchanged and inference is the
    identity. M is a fresh 0/1 mask for every batch, each entry 1 with probability 1-p::

        forward (training)   Y  = X ⊙ M / (1-p)          forward (inference)   Y = X
        backward             dX = dY ⊙ M / (1-p)

    On its own the layer draws masks from its own generator (seeded by ``seed``); inside a
    ``Sequential`` it draws from the model's, so the model's seed fixes everything.
    """

    def __init__(self, p: float = 0.5, seed: int | None = None):
        super().__init__()
        if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0.0 <= p < 1.0:
            raise ValueError(f"p must be a probability in [0, 1), got {p!r}")
        self.p = float(p)
        self.rng = np.random.default_rng(seed)
        self.mask = None

    def forward(self, x, training=True):
        if not training or self.p == 0.0:
            self.mask = None
            return x
        keep = to_device(self.rng.random(x.shape, dtype=x.dtype) >= self.p)
        self.mask = xp.multiply(keep, 1.0 / (1.0 - self.p), dtype=x.dtype)
        return x * self.mask

    def backward(self, grad_out):
        return grad_out if self.mask is None else grad_out * self.mask

    def get_config(self):
        return {"p": self.p}
