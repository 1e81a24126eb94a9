"""Layers: the base class, the dense (fully connected) layer, dropout and the identity.

Every layer maps a batch ``x`` to a batch ``y`` and knows its own derivative. The first axis is
the batch; each sample is a row of features (batch, features) or, for the convolutional layers
(``conv.py``, ``pooling.py``), an image (batch, channels, height, width). Activation functions are
layers too; they live in ``activations.py``.
"""
from __future__ import annotations

import math

import numpy as np

from . import checks as check
from .backend import to_device, xp
from .sampling import per_sample
from .sparse import is_sparse

__all__ = ["Layer", "Identity", "Dense", "Dropout", "INITIALIZERS"]


class Layer:
    """Base class of every layer.

    A layer is a function ``y = f(x; params)`` together with its derivative. Write your own by
    subclassing and implementing two methods:

    - ``forward(x, training=True) -> y``: compute ``y`` and keep on ``self`` whatever backward
      will need (``training`` is False at inference, for layers such as dropout that differ).
    - ``backward(grad_out) -> grad_in``: given ``grad_out = dL/dy`` (same shape as ``y``), set
      ``self.grads[name] = dL/dparams[name]`` for every parameter and return ``dL/dx``.
      Never modify ``grad_out``: it may be another layer's array.

    Layers with parameters also implement ``build(rng, dtype)``, which creates ``self.params`` (a
    dict of arrays) and ``self.grads`` (zeros of the same shapes); ``Sequential`` calls it once,
    with the model's random generator, and then keeps both in its flat vectors (assigning
    ``self.grads[name] = value`` copies into them). A layer describes itself: ``get_config()``
    gives its constructor arguments (``type(layer)(**layer.get_config())`` builds the same layer),
    ``param_shapes()`` and ``buffer_shapes()`` the arrays it will hold, ``in_shape`` the shape of
    one sample it takes, and ``output_shape(input_shape)`` that of one sample it returns. Built-in
    layers are listed in ``core.registry.layers``, so that model files, export and the command
    line find them by name.

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
                self.grads["s"] = (grad_out * self.x).sum(axis=0)        # dL/ds = Σₙ dY ⊙ X
                return grad_out * self.params["s"]                        # dL/dX = dY ⊙ s

            def get_config(self):
                return {"features": self.features}

    ``bn.check_gradients`` then tells you whether that backward is right.
    """

    constraints: dict = {}      # constructor argument -> checks.Constraint (see checks.arguments)
    identity_at_inference = False  # True for layers that change nothing once trained (Dropout...)
    cached: tuple = ()          # attributes forward keeps for backward: dropped by forget(), never pickled
    sparse_input = False        # True for layers whose forward takes a scipy sparse batch (core.sparse)

    def __init__(self):
        self.params: dict = {}
        self.grads: dict = {}
        self.built = False

    def build(self, rng: np.random.Generator, dtype) -> None:
        """Create the parameters in ``self.params``, zeros of their shapes in ``self.grads`` (if any).

        Parameters
        ----------
        rng : numpy.random.Generator
            The generator to draw initial weights from (the network's).
        dtype : numpy.dtype
            The parameters' dtype, float32 or float64.
        """
        self.built = True

    def forward(self, x, training: bool = True):
        """Compute the layer's output, keeping what backward needs.

        Parameters
        ----------
        x : array
            A batch, (batch, features) or (batch, channels, height, width).
        training : bool, default True
            False at inference, for the layers that act differently then (dropout).

        Returns
        -------
        array
            y = f(x), the batch's outputs.
        """
        raise NotImplementedError

    def backward(self, grad_out):
        """Backpropagate: return dL/dx, and put the parameters' gradients into ``self.grads``.

        Parameters
        ----------
        grad_out : array
            dL/dy, shaped like the last forward's output. Never modified.

        Returns
        -------
        array
            dL/dx, shaped like the last forward's input.
        """
        raise NotImplementedError

    def backward_params(self, grad_out) -> None:
        """Fill ``self.grads`` without dL/dx (the first layer's, which nobody needs): cheaper where overridden.

        Parameters
        ----------
        grad_out : array
            dL/dy, as for ``backward``.
        """
        self.backward(grad_out)

    def forget(self) -> None:
        """Drop what forward kept for backward (``cached``), so that no layer holds the data it saw.

        A network calls this after a layer's backward pass and after every inference pass.
        """
        for name in type(self).cached:
            self.__dict__.pop(name, None)

    def __getstate__(self):
        """Give copies and pickles the settings, parameters and buffers, never the last input (``cached``)."""
        return {k: v for k, v in self.__dict__.items() if k not in type(self).cached}

    @property
    def in_shape(self) -> tuple | None:
        """The shape of one sample this layer takes, as far as it knows.

        ``(features,)`` for rows, ``(channels, None, None)`` for images of any size (None: any size);
        None if it takes anything. A network that starts with the layer takes that. By default: rows of
        ``in_features`` where the layer has that attribute.
        """
        width = getattr(self, "in_features", None)
        return None if width is None else (width,)

    def output_shape(self, input_shape: tuple | None) -> tuple | None:
        """Return the shape of one output sample for one input sample of ``input_shape``.

        By default the shape is unchanged (element-wise layers). A layer raises ValueError for input
        it cannot take.

        Parameters
        ----------
        input_shape : tuple or None
            One input sample's shape, whose entries may be None (unknown); or None, nothing known.

        Returns
        -------
        tuple or None
            One output sample's shape, as far as it is known.
        """
        return input_shape

    def param_shapes(self) -> dict:
        """Return {name: shape} of the parameters ``build`` creates (known from the config alone)."""
        return {}

    def buffer_shapes(self) -> dict:
        """Return {name: shape} of the arrays the layer keeps that are not trained (a Standardizer's mean)."""
        return {}

    def check_buffers(self, buffers: dict) -> None:
        """Raise ValueError if ``buffers`` (read from a file) hold values the layer cannot use.

        Parameters
        ----------
        buffers : dict
            {name: array}, as ``buffer_shapes`` names them.
        """

    def get_config(self) -> dict:
        """Return the constructor arguments, as JSON-compatible values."""
        return {}

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class Identity(Layer):
    """The identity: ``y = x``; ``dL/dx = dL/dy``."""

    identity_at_inference = True

    def forward(self, x, training=True):
        """y = x."""
        return x

    def backward(self, grad_out):
        """dx = dy."""
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
    """Draw an initial weight matrix by the named initializer (see ``Dense``).

    Parameters
    ----------
    name : str
        One of ``INITIALIZERS``: ``"he"``, ``"xavier_uniform"``...
    rng : numpy.random.Generator
        The generator to draw from.
    fan_in, fan_out : int
        The inputs and outputs of the layer.
    dtype : numpy.dtype
        The weights' dtype.

    Returns
    -------
    array (fan_in, fan_out)
        The weights, on the device of the backend in use.
    """
    family, _, distribution = name.partition("_")
    variance = _INIT_VARIANCE[family](fan_in, fan_out)
    if distribution == "uniform":
        limit = math.sqrt(3.0 * variance)
        weights = rng.uniform(-limit, limit, size=(fan_in, fan_out))
    else:
        weights = rng.normal(0.0, math.sqrt(variance), size=(fan_in, fan_out))
    return to_device(weights.astype(dtype))


class Dense(Layer):
    """Just your regular densely connected layer: every output is a weighted sum of all inputs.

    Shapes: X (n, in), W (in, out), b (out,), Y and dY (n, out)::

        forward    Y  = X W + b
        backward   dW = Xᵀ dY          (in, out)
                   db = Σₙ dY          (out,)    the sum over the batch
                   dX = dY Wᵀ          (n, in)

    X may be a scipy sparse batch (``core.sparse``) when the layer comes first: X W and Xᵀ dY
    are then scipy's products, dense results of sparse data.

    Parameters
    ----------
    in_features : int
        The width of the input rows.
    out_features : int
        The number of outputs.
    init : str, default "he"
        The distribution of the initial weights: ``"he"`` (normal, std √(2/fan_in), for ReLU
        networks), ``"xavier"``/``"glorot"`` (normal, std √(2/(fan_in+fan_out)), for tanh and
        sigmoid), ``"lecun"`` (normal, std √(1/fan_in)); each with a ``"_uniform"`` variant of the
        same variance. Biases start at zero.
    bias : bool, default True
        Whether to add the bias b.
    """

    cached = ("x",)  # what backward needs from forward, released once it has run
    sparse_input = True

    constraints = {"in_features": check.Integer(1), "out_features": check.Integer(1),
                   "init": check.Options(*INITIALIZERS), "bias": check.Boolean()}

    def __init__(self, in_features: int, out_features: int, init: str = "he", bias: bool = True):
        super().__init__()
        check.arguments(self, in_features=in_features, out_features=out_features, init=init, bias=bias)

    def param_shapes(self):
        """Return W's shape (in, out), and b's (out,) where there is a bias."""
        return {"W": (self.in_features, self.out_features), **({"b": (self.out_features,)} if self.bias else {})}

    def build(self, rng, dtype):
        """Draw W by ``init``; b starts at zero."""
        self.params = {"W": init_weights(self.init, rng, self.in_features, self.out_features, dtype)}
        if self.bias:
            self.params["b"] = xp.zeros(self.out_features, dtype=dtype)
        self.grads = {name: xp.zeros_like(value) for name, value in self.params.items()}
        self.built = True

    def forward(self, x, training=True):
        """Y = X W + b."""
        if not self.built:  # used on its own, outside a model: initialise on first use
            self.build(np.random.default_rng(), x.dtype)
        self.x = x
        y = x @ self.params["W"]
        if self.bias:
            y += self.params["b"]
        return y

    def backward(self, grad_out):
        """dX = dY Wᵀ; dW and db into the gradient vector (``backward_params``)."""
        self.backward_params(grad_out)
        return grad_out @ self.params["W"].T

    def backward_params(self, grad_out):
        """dW = Xᵀ dY, db = Σₙ dY, written into the gradient vector; no dX."""
        # Written straight into the gradient arrays (out=), which in a network are views of its
        # flat gradient vector: the same as assigning them, without a copy of the largest array.
        if is_sparse(self.x):  # scipy's product has no out=
            self.grads["W"] = self.x.T @ grad_out
        else:
            xp.matmul(self.x.T, grad_out, out=self.grads["W"])
        if self.bias:
            grad_out.sum(axis=0, out=self.grads["b"])

    def output_shape(self, input_shape):
        """Return ``(out_features,)`` for rows of ``in_features``; ValueError for anything else."""
        if input_shape is not None and len(input_shape) != 1:
            raise ValueError(f"{self!r} takes rows of {self.in_features} features, got samples of shape "
                             f"{input_shape}; put a Flatten() before it")
        if input_shape is not None and input_shape[0] not in (None, self.in_features):
            raise ValueError(f"{self!r} expects {self.in_features} input features, got {input_shape[0]}")
        return (self.out_features,)

    def get_config(self):
        """Return in_features, out_features, init and bias."""
        return {"in_features": self.in_features, "out_features": self.out_features,
                "init": self.init, "bias": self.bias}

    def __repr__(self):
        extra = (f", init={self.init!r}" if self.init != "he" else "") + ("" if self.bias else ", bias=False")
        return f"Dense({self.in_features}, {self.out_features}{extra})"


class Dropout(Layer):
    """Inverted dropout: while training, zero each input with probability ``p``.

    The survivors are scaled by 1/(1-p), so that every unit's expected value is unchanged and
    inference is the identity. M is a fresh 0/1 mask for every batch, of the batch's shape (rows or
    images: each entry is kept or dropped on its own, as in PyTorch's ``Dropout``), 1 with
    probability 1-p::

        forward (training)   Y  = X ⊙ M / (1-p)          forward (inference)   Y = X
        backward             dX = dY ⊙ M / (1-p)

    Parameters
    ----------
    p : float, default 0.5
        The probability of dropping each input, in [0, 1).
    seed : int or None
        Seeds the layer's own generator, used on its own; inside a ``Sequential`` it draws from the
        model's, so the model's seed fixes everything.
    """

    cached = ("mask",)  # what backward needs from forward, released once it has run

    constraints = {"p": check.Real(0, 1, closed="left", what="a probability")}
    identity_at_inference = True

    def __init__(self, p: float = 0.5, seed: int | None = None):
        super().__init__()
        check.arguments(self, p=p)
        self.rng = np.random.default_rng(seed)
        self.mask = None

    def forward(self, x, training=True):
        """Y = X ⊙ M / (1-p) with a fresh mask M while training; Y = X at inference."""
        if not training or self.p == 0.0:
            self.mask = None
            return x
        draw = per_sample(lambda n: self.rng.random((n,) + x.shape[1:], dtype=x.dtype), len(x))
        keep = to_device(draw >= self.p)
        self.mask = xp.multiply(keep, 1.0 / (1.0 - self.p), dtype=x.dtype)
        return x * self.mask

    def backward(self, grad_out):
        """dX = dY ⊙ M / (1-p), with the mask of the last forward."""
        return grad_out if self.mask is None else grad_out * self.mask

    def get_config(self):
        """Return p (the seed is the model's business)."""
        return {"p": self.p}
