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
    """Compute σ(x) = 1 / (1 + e⁻ˣ) element-wise, without overflow for any x.

    For x < 0 it is computed as eˣ / (1 + eˣ), so that the exponential is e^-|x|, at most 1.

    Parameters
    ----------
    x : array
        Any shape.

    Returns
    -------
    array
        σ(x), of x's shape, in (0, 1).
    """
    e = xp.exp(-xp.abs(x))
    s = 1.0 / (1.0 + e)
    return xp.where(x >= 0, s, e * s)  # for x < 0, σ(x) = eˣ / (1 + eˣ)


def log_softmax(z):
    """Compute log softmax(z) row by row: z - logsumexp(z).

    The row maximum m is subtracted first, so that exp never overflows:
    log Σ e^zⱼ = m + log Σ e^(zⱼ - m).

    Parameters
    ----------
    z : array (n, classes)
        Scores (logits), one row per sample.

    Returns
    -------
    array (n, classes)
        The log-probabilities of each row.
    """
    shifted = z - z.max(axis=1, keepdims=True)
    return shifted - xp.log(xp.exp(shifted).sum(axis=1, keepdims=True))


def softmax(z):
    """Compute softmax(z)ᵢ = e^zᵢ / Σⱼ e^zⱼ row by row, shifted by the row maximum (no overflow).

    Parameters
    ----------
    z : array (n, classes)
        Scores (logits), one row per sample.

    Returns
    -------
    array (n, classes)
        Each row's probabilities, summing to 1.
    """
    e = xp.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


class ReLU(Layer):
    """Rectified linear unit: negative inputs become 0, positive ones pass unchanged.

    Element by element::

        forward    y  = max(0, x)
        backward   dx = dy ⊙ [x > 0]        (the derivative at 0 is taken as 0, as in PyTorch)

    As PyTorch's forward: −∞ gives 0 and NaN stays NaN (but −0.0 gives +0, where PyTorch keeps it:
    np.maximum's rule for a tie of zeros). Backward is the product: an infinite dy at
    a unit at or below 0 gives NaN (∞ · 0) where PyTorch gives 0, which only a training that has
    already diverged meets; xp.where would give 0 but takes ten times as long on NumPy.
    """

    cached = ("mask",)  # what backward needs from forward, released once it has run

    aliases = ("relu",)
    init = "he"  # the Dense initialisation that suits it

    def forward(self, x, training=True):
        """y = max(0, x), keeping the mask [x > 0]."""
        self.mask = x > 0
        return xp.maximum(x, 0)  # NaN stays NaN; x · [x > 0] would make −∞ NaN, and negatives −0

    def backward(self, grad_out):
        """dx = dy ⊙ [x > 0]."""
        return grad_out * self.mask


class LeakyReLU(Layer):
    """ReLU with a small slope for negative inputs, so that no unit is ever fully dead.

    Element by element, with α = ``alpha``::

        forward    y  = x          if x > 0,   α x    otherwise
        backward   dx = dy         if x > 0,   α dy   otherwise

    Parameters
    ----------
    alpha : float, default 0.01
        α, the slope for negative inputs, in [0, 1].
    """

    cached = ("positive",)  # what backward needs from forward, released once it has run

    aliases = ("leaky_relu",)
    init = "he"  # the Dense initialisation that suits it

    constraints = {"alpha": check.Real(0, 1, what="a slope")}  # leaky: a slope between flat and the identity

    def __init__(self, alpha: float = 0.01):
        super().__init__()
        check.arguments(self, alpha=alpha)

    def forward(self, x, training=True):
        """y = x where x > 0, α x elsewhere."""
        self.positive = x > 0
        return xp.where(self.positive, x, self.alpha * x)

    def backward(self, grad_out):
        """dx = dy where x > 0, α dy elsewhere."""
        return xp.where(self.positive, grad_out, self.alpha * grad_out)

    def get_config(self):
        """Return alpha."""
        return {"alpha": self.alpha}


class Sigmoid(Layer):
    """The logistic function, squashing any input into (0, 1).

    Element by element::

        forward    y  = σ(x) = 1 / (1 + e⁻ˣ)
        backward   dx = dy ⊙ y (1 - y)
    """

    cached = ("y",)  # what backward needs from forward, released once it has run

    aliases = ("sigmoid",)
    init = "xavier"  # the Dense initialisation that suits it

    def forward(self, x, training=True):
        """y = σ(x) = 1 / (1 + e⁻ˣ)."""
        self.y = sigmoid(x)
        return self.y

    def backward(self, grad_out):
        """dx = dy ⊙ y (1 - y)."""
        return grad_out * self.y * (1.0 - self.y)


class Tanh(Layer):
    """Hyperbolic tangent, squashing any input into (-1, 1).

    Element by element::

        forward    y  = tanh(x)
        backward   dx = dy ⊙ (1 - y²)
    """

    cached = ("y",)  # what backward needs from forward, released once it has run

    aliases = ("tanh",)
    init = "xavier"  # the Dense initialisation that suits it

    def forward(self, x, training=True):
        """y = tanh(x)."""
        self.y = xp.tanh(x)
        return self.y

    def backward(self, grad_out):
        """dx = dy ⊙ (1 - y²)."""
        return grad_out * (1.0 - self.y * self.y)


class Softmax(Layer):
    """Softmax over the features of each row, turning scores into probabilities.

    Row by row::

        forward    yᵢ  = e^xᵢ / Σⱼ e^xⱼ
        backward   dxᵢ = yᵢ (dyᵢ - Σⱼ dyⱼ yⱼ)      (the Jacobian diag(y) - y yᵀ applied to dy)

    To train a classifier, end the model with its last Dense layer and use ``CrossEntropy``,
    which applies softmax itself in a stabler, cheaper way; this layer is for models whose
    outputs must be probabilities (with ``MSE``, say).
    """

    cached = ("y",)  # what backward needs from forward, released once it has run

    def forward(self, x, training=True):
        """yᵢ = e^xᵢ / Σⱼ e^xⱼ, row by row."""
        self.y = softmax(x)
        return self.y

    def backward(self, grad_out):
        """dxᵢ = yᵢ (dyᵢ - Σⱼ dyⱼ yⱼ): the Jacobian diag(y) - y yᵀ applied to dy."""
        return self.y * (grad_out - (grad_out * self.y).sum(axis=1, keepdims=True))


_GELU_C = math.sqrt(2.0 / math.pi)


class GELU(Layer):
    """Gaussian error linear unit, x·Φ(x), in its tanh approximation.

    As PyTorch's ``GELU(approximate="tanh")``, and as in BERT and GPT-2::

        forward    y  = ½ x (1 + t),    t = tanh(u),   u = c (x + 0.044715 x³),   c = √(2/π)
        backward   dx = dy ⊙ [½ (1 + t) + ½ x (1 - t²) c (1 + 3·0.044715 x²)]
    """

    cached = ("x", "t")  # what backward needs from forward, released once it has run

    aliases = ("gelu",)
    init = "he"  # the Dense initialisation that suits it

    def forward(self, x, training=True):
        """y = ½ x (1 + t), t = tanh(c (x + 0.044715 x³)), c = √(2/π)."""
        # Beyond |x| = 10, t is ±1 to double precision; clipping keeps x³ from overflowing.
        self.x = x
        xc = xp.clip(x, -10.0, 10.0)
        self.t = xp.tanh(_GELU_C * (xc + 0.044715 * xc * xc * xc))
        return 0.5 * x * (1.0 + self.t)

    def backward(self, grad_out):
        """dx = dy ⊙ [½ (1 + t) + ½ x (1 - t²) c (1 + 3·0.044715 x²)]."""
        x, t = self.x, self.t
        xc = xp.clip(x, -10.0, 10.0)
        du_dx = _GELU_C * (1.0 + 3 * 0.044715 * xc * xc)
        return grad_out * (0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * du_dx)
