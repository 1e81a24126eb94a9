"""Activation functions, as layers: element-wise non-linearities (and softmax, row-wise).

Without them a stack of dense layers is one dense layer: X W₁ W₂ = X (W₁ W₂). Each class gives
the function and its derivative; backward multiplies the incoming gradient by that derivative
(the chain rule), element by element.
"""
from __future__ import annotations

import math

from . import checks as check
from .backend import xp
from .layers import Layer

__all__ = ["ReLU", "LeakyReLU", "Sigmoid", "Tanh", "Softmax", "GELU", "sigmoid", "softmax", "log_softmax"]


def sigmoid(x):
    """σ(x) = 1 / (1 + e⁻ˣ), computed without overflow for any x (e^-|x| is at most 1)."""
    e = xp.exp(-xp.abs(x))
    s = 1.0 / (1.0 + e)
    return xp.where(x >= 0, s, e * s)  # for x < 0, σ(x) = eˣ / (1 + eˣ)


def log_softmax(z):
    """log softmax(z) row by row: z - logsumexp(z), with the row maximum subtracted first so
    that exp never overflows (log Σ e^zⱼ = m + log Σ e^(zⱼ - m))."""
    shifted = z - z.max(axis=1, keepdims=True)
    return shifted - xp.log(xp.exp(shifted).sum(axis=1, keepdims=True))


def softmax(z):
    """softmax(z)ᵢ = e^zᵢ / Σⱼ e^zⱼ row by row, shifted by the row maximum (no overflow)."""
    e = xp.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


class ReLU(Layer):
    """Rectified linear unit::

        forward    y  = max(0, x)
        backward   dx = dy ⊙ [x > 0]        (the derivative at 0 is taken as 0, as in PyTorch)
    """

    cached = ("mask",)  # what backward needs from forward, released once it has run

    aliases = ("relu",)
    init = "he"  # the Dense initialisation that suits it

    def forward(self, x, training=True):
        self.mask = x > 0
        return x * self.mask  # faster than xp.maximum(x, 0), and NaN still propagates

    def backward(self, grad_out):
        return grad_out * self.mask


class LeakyReLU(Layer):
    """ReLU with a small slope ``alpha`` for negative inputs, so no unit is ever fully dead::

        forward    y  = x          if x > 0,   α x    otherwise
        backward   dx = dy         if x > 0,   α dy   otherwise
    """

    cached = ("positive",)  # what backward needs from forward, released once it has run

    aliases = ("leaky_relu",)
    init = "he"  # the Dense initialisation that suits it

    constraints = {"alpha": check.Real(0, 1, what="a slope")}  # leaky: a slope between flat and the identity

    def __init__(self, alpha: float = 0.01):
        super().__init__()
        check.arguments(self, alpha=alpha)

    def forward(self, x, training=True):
        self.positive = x > 0
        return xp.where(self.positive, x, self.alpha * x)

    def backward(self, grad_out):
        return xp.where(self.positive, grad_out, self.alpha * grad_out)

    def get_config(self):
        return {"alpha": self.alpha}


class Sigmoid(Layer):
    """The logistic function, squashing any input into (0, 1)::

        forward    y  = σ(x) = 1 / (1 + e⁻ˣ)
        backward   dx = dy ⊙ y (1 - y)
    """

    cached = ("y",)  # what backward needs from forward, released once it has run

    aliases = ("sigmoid",)
    init = "xavier"  # the Dense initialisation that suits it

    def forward(self, x, training=True):
        self.y = sigmoid(x)
        return self.y

    def backward(self, grad_out):
        return grad_out * self.y * (1.0 - self.y)


class Tanh(Layer):
    """Hyperbolic tangent, squashing any input into (-1, 1)::

        forward    y  = tanh(x)
        backward   dx = dy ⊙ (1 - y²)
    """

    cached = ("y",)  # what backward needs from forward, released once it has run

    aliases = ("tanh",)
    init = "xavier"  # the Dense initialisation that suits it

    def forward(self, x, training=True):
        self.y = xp.tanh(x)
        return self.y

    def backward(self, grad_out):
        return grad_out * (1.0 - self.y * self.y)


class Softmax(Layer):
    """Softmax over the features of each row, turning scores into probabilities::

        forward    yᵢ  = e^xᵢ / Σⱼ e^xⱼ
        backward   dxᵢ = yᵢ (dyᵢ - Σⱼ dyⱼ yⱼ)      (the Jacobian diag(y) - y yᵀ applied to dy)

    To train a classifier, end the model with its last Dense layer and use ``CrossEntropy``,
    which applies softmax itself in a stabler, cheaper way; this layer is for models whose
    outputs must be probabilities (with ``MSE``, say).
    """

    cached = ("y",)  # what backward needs from forward, released once it has run

    def forward(self, x, training=True):
        self.y = softmax(x)
        return self.y

    def backward(self, grad_out):
        return self.y * (grad_out - (grad_out * self.y).sum(axis=1, keepdims=True))


_GELU_C = math.sqrt(2.0 / math.pi)


class GELU(Layer):
    """Gaussian error linear unit, x·Φ(x), in its tanh approximation (PyTorch's
    ``GELU(approximate="tanh")``, as in BERT and GPT-2)::

        forward    y  = ½ x (1 + t),    t = tanh(u),   u = c (x + 0.044715 x³),   c = √(2/π)
        backward   dx = dy ⊙ [½ (1 + t) + ½ x (1 - t²) c (1 + 3·0.044715 x²)]
    """

    cached = ("x", "t")  # what backward needs from forward, released once it has run

    aliases = ("gelu",)
    init = "he"  # the Dense initialisation that suits it

    def forward(self, x, training=True):
        # Beyond |x| = 10, t is ±1 to double precision; clipping keeps x³ from overflowing.
        self.x = x
        xc = xp.clip(x, -10.0, 10.0)
        self.t = xp.tanh(_GELU_C * (xc + 0.044715 * xc * xc * xc))
        return 0.5 * x * (1.0 + self.t)

    def backward(self, grad_out):
        x, t = self.x, self.t
        xc = xp.clip(x, -10.0, 10.0)
        du_dx = _GELU_C * (1.0 + 3 * 0.044715 * xc * xc)
        return grad_out * (0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * du_dx)
