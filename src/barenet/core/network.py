"""The network: a stack of layers, run forward in order and backward in reverse.

Backward is the chain rule: each layer turns the gradient of the loss with respect to its output
into the gradient with respect to its input, which is the previous layer's output gradient::

    forward    x → layer₀ → layer₁ → ... → outputs
    backward   dx ← layer₀ ← layer₁ ← ... ← dL/d outputs

Training it is ``barenet.training``; saving it is ``barenet.files``. This module knows neither.
"""
from __future__ import annotations

import copy
import functools

import numpy as np

from .backend import backend_named, current, enter, leave
from .layers import Layer
from .parameters import Parameters
from .sparse import SparseRows, is_sparse

__all__ = ["Network", "DTYPES", "describe_shape"]

DTYPES = (np.dtype("float32"), np.dtype("float64"))


def _width(shape):
    return shape[0] if shape is not None and len(shape) == 1 else None


def describe_shape(shape) -> str:
    """Return how the summary prints a batch of samples of ``shape``: ``(batch, 32, 14, 14)``, ``?`` if unknown."""
    sizes = ["?"] if shape is None else ["?" if size is None else str(size) for size in shape]
    return f"(batch, {', '.join(sizes)})"


def check_input(layers, sample_shape):
    """Return ``sample_shape`` once it has gone through every layer's ``output_shape``.

    Raises
    ------
    ValueError
        Naming the layer that cannot take it and what it takes, where NumPy would name its matmul.
    """
    try:
        functools.reduce(lambda shape, layer: layer.output_shape(shape), layers, sample_shape)
    except ValueError as error:
        raise ValueError(f"samples of shape {sample_shape} cannot go through this network: {error}") from None
    return sample_shape


def _dtype(dtype) -> np.dtype:
    try:
        dtype = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"dtype must be 'float32' or 'float64', got {dtype!r}") from None
    if dtype not in DTYPES:
        raise ValueError(f"dtype must be 'float32' or 'float64', got {dtype!r}")
    return dtype


def _check_gradient(network, grad_out):
    """Refuse a backward without its forward, or a dL/d outputs not of the outputs' shape.

    Each backward uses (and then drops) what the last training forward kept, and the layers'
    loops index their arrays by dY's shape.
    """
    expected = network.__dict__.get("_awaiting")
    if expected is None:
        raise RuntimeError("backward needs a forward pass with training=True just before it: each backward "
                           "uses what that forward kept, and drops it")
    if tuple(grad_out.shape) != expected:
        raise ValueError(f"grad_out must have the shape of the last forward's outputs, {expected}, "
                         f"got {tuple(grad_out.shape)}")
    network._awaiting = None


def _print_table(rows, print_fn):
    """Print rows of four strings as columns, the first row a header between lines."""
    sizes = [max(len(row[c]) for row in rows) for c in range(4)]
    line = "-" * (sum(sizes) + 6)
    print_fn(line)
    for r, row in enumerate(rows):
        print_fn(f"{row[0]:>{sizes[0]}}  {row[1]:<{sizes[1]}}  {row[2]:<{sizes[2]}}  {row[3]:>{sizes[3]}}")
        if r == 0:
            print_fn(line)
    print_fn(line)


class Network(Layer):
    """A stack of layers applied one after another: the multilayer perceptron.

    ``Network(Dense(784, 256), ReLU(), Dense(256, 10))`` builds every parameter at once, from one
    random generator seeded by ``seed``, which also drives shuffling and dropout: two runs with the
    same seed end with bit-identical weights.

    The network is a layer: ``forward(x, training=True)`` and ``backward(grad_out) -> grad_in``.
    Its parameters live in one flat vector, ``network.parameters`` (see ``core.parameters``),
    and ``network.params`` names each array by layer index and name (``"0.W"``).

    Parameters
    ----------
    *layers : Layer
        The layers, in order (or one list of them); each layer object once.
    dtype : str, default "float32"
        The parameters' dtype: ``"float32"``, or ``"float64"`` for gradient checks.
    seed : int or None
        Seeds the generator (None: a fresh one each time).
    backend : str or Backend, optional
        What it computes on, ``network.ops``; by default the one in use (``core.backend``).

    Raises
    ------
    ValueError, TypeError
        For no layers, a layer twice, something that is not a layer, a bad seed or dtype, or a layer
        that cannot take the output of the one before it (the message names both).
    """

    def __init__(self, *layers, dtype="float32", seed=None, backend=None):
        if len(layers) == 1 and isinstance(layers[0], (list, tuple)):
            layers = tuple(layers[0])
        if not layers:
            raise ValueError(f"{type(self).__name__} needs at least one layer")
        for i, layer in enumerate(layers):
            if isinstance(layer, Network):
                raise TypeError(f"layer {i} is a {type(layer).__name__} model; pass its layers instead: "
                                f"{type(self).__name__}(*inner.layers, ...)")
            if not isinstance(layer, Layer):
                raise TypeError(f"layer {i} must be a barenet Layer, got {type(layer).__name__}")
        if len({id(layer) for layer in layers}) != len(layers):
            raise ValueError("the same layer object appears twice; create a new layer for each position")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0):
            raise ValueError(f"seed must be None or a non-negative int, got {seed!r}")
        self.dtype = _dtype(dtype)
        self.seed = seed
        self.ops = current() if backend is None else backend_named(backend)
        self.rng = np.random.default_rng(seed)
        self.layers = list(layers)
        self.input_shape, self.output_shape_ = self._check_shapes()
        token = enter(self.ops)  # the layers' arrays are made on the network's backend
        try:
            for layer in self.layers:
                if hasattr(layer, "rng"):  # random layers (dropout, augmentation) share the network's generator
                    layer.rng = self.rng
                if not layer.built:
                    layer.build(self.rng, self.dtype)
                    layer.built = True
            self.parameters = Parameters(self.layers, self.dtype, self.ops)
        finally:
            leave(token)
        self._first_trainable = next((i for i, layer in enumerate(self.layers) if layer.params), None)
        self.built = True

    def _check_shapes(self):
        """Pass the shape of one sample through the layers; a mismatch names both layers.

        Returns (the input's shape, the output's): what the first layer that knows its input takes, and
        what the last layer gives (None, or None entries, where unknown).
        """
        shape, input_shape = None, None
        for i, layer in enumerate(self.layers):
            if shape is None and input_shape is None:
                input_shape = layer.in_shape
            try:
                shape = layer.output_shape(shape)
            except ValueError as error:
                previous = f"layer {i - 1} {self.layers[i - 1]!r}" if i else "the input"
                raise ValueError(f"layer {i} {layer!r} cannot follow {previous}: {error}") from None
        return input_shape, shape

    @property
    def input_width(self) -> int | None:
        """The number of features per row the network takes (None: it takes images, or rows of any width)."""
        return _width(self.input_shape)

    @property
    def output_width_(self) -> int | None:
        """The number of outputs per sample (None: unknown, or the outputs are not rows)."""
        return _width(self.output_shape_)

    # -- the layer protocol ---------------------------------------------------------------------

    def forward(self, x, training=True):
        """Feed x through the layers in order: x → layer₀ → layer₁ → ... → outputs (on the network's backend)."""
        self._awaiting = None  # until this pass ends: a backward after a failed forward is refused
        ops, token = self.ops, enter(self.ops)
        try:
            x = self._sparse_input(x) if is_sparse(x) else ops.xp.asarray(x, dtype=self.dtype)
            if tuple(x.shape[1:]) != self.__dict__.get("_shape_seen"):  # a new shape: checked once
                self._shape_seen = check_input(self.layers, tuple(x.shape[1:]))
            for group in ops.groups(self.layers):  # each layer alone, or a few the backend fuses
                x = ops.forward_group(group, x, training)
                if not training:  # nothing will go backward: keep nothing of this input
                    for layer in group:
                        layer.forget()
            self._awaiting = tuple(x.shape) if training else None  # the dL/d outputs backward takes
        finally:
            leave(token)
        return x

    def _sparse_input(self, x):
        """Return a scipy sparse batch as the first layer multiplies it (a Dense layer, on the CPU)."""
        if not self.layers[0].sparse_input or self.ops.device:
            raise TypeError(f"sparse input needs a first layer that takes it (Dense) on a CPU backend; this "
                            f"network starts with {self.layers[0]!r} on {self.ops.name!r}")
        matrix = x.matrix if isinstance(x, SparseRows) else x
        return matrix.astype(self.dtype, copy=False)

    def backward(self, grad_out):
        """Feed dL/d outputs back through the layers in reverse; return dL/dx, each layer's gradients in place.

        A RuntimeError without a forward pass with ``training=True`` since the last backward (each
        backward uses what that forward kept, and drops it); a ValueError if ``grad_out`` is not of
        that forward's outputs' shape.
        """
        _check_gradient(self, grad_out)
        ops, token = self.ops, enter(self.ops)
        try:
            self.parameters.grad  # the gradients' vector, made before the first backward pass
            for group in reversed(ops.groups(self.layers)):
                grad_out = ops.backward_group(group, grad_out)
                for layer in group:
                    layer.forget()
        finally:
            leave(token)
        return grad_out

    def backward_params(self, grad_out):
        """Backward without the input gradient, which training never needs.

        Layers in front of the first layer with parameters are skipped, and that layer computes only its
        parameters' gradients (``backward_params``). Raises as ``backward`` does.
        """
        _check_gradient(self, grad_out)
        if self._first_trainable is None:
            return
        ops, token = self.ops, enter(self.ops)
        try:
            self.parameters.grad
            trainable = self.layers[self._first_trainable:]
            for group in reversed(ops.groups(trainable[1:])):
                grad_out = ops.backward_group(group, grad_out)
                for layer in group:
                    layer.forget()
            ops.backward_params(trainable[0], grad_out)
            for layer in self.layers[:self._first_trainable + 1]:  # and the layers in front, never gone through
                layer.forget()
        finally:
            leave(token)

    # -- parameters -----------------------------------------------------------------------------

    def parameter_vectors(self):
        """Return (θ, g): all parameters and all gradients as two flat vectors, in layer order."""
        return self.parameters.vectors()

    @property
    def params(self) -> dict:
        """Every parameter array, by name ``"<layer index>.<parameter>"``."""
        return {f"{i}.{name}": value for i, layer in enumerate(self.layers) for name, value in layer.params.items()}

    @property
    def grads(self) -> dict:
        """Every gradient array, by name ``"<layer index>.<parameter>"`` (views of g)."""
        self.parameters.grad
        return {f"{i}.{name}": value for i, layer in enumerate(self.layers) for name, value in layer.grads.items()}

    def count_params(self) -> int:
        """Return the number of parameters (θ's length)."""
        return len(self.parameters)

    def __deepcopy__(self, memo):
        """Copy the network so that its layers hold views of its own flat vectors."""
        clone = object.__new__(type(self))
        memo[id(self)] = clone
        for key, value in self.__dict__.items():
            if key not in ("parameters", "_awaiting"):  # the layers' copies keep nothing of the last forward
                setattr(clone, key, copy.deepcopy(value, memo))
        clone.parameters = Parameters(clone.layers, clone.dtype, clone.ops)
        return clone

    def __getstate__(self):
        """Pickle the layers' arrays, not the flat vectors, which ``__setstate__`` gathers again."""
        state = dict(self.__dict__)
        state.pop("parameters", None)
        state.pop("_awaiting", None)  # the layers' pickles keep nothing of the last forward either
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self.ops = self.__dict__.get("ops") or current()  # a pickle from before backends were objects
        self.parameters = Parameters(self.layers, self.dtype, self.ops)

    def astype(self, dtype):
        """Return a copy of the network with parameters (and buffers) of another dtype.

        Parameters
        ----------
        dtype : str or numpy.dtype
            ``"float32"`` or ``"float64"``.
        """
        clone = copy.deepcopy(self)
        clone.dtype = _dtype(dtype)
        for layer in clone.layers:
            layer.params = {k: v.astype(clone.dtype) for k, v in layer.params.items()}
            if hasattr(layer, "buffers"):
                layer.buffers = {k: v.astype(clone.dtype) for k, v in layer.buffers.items()}
        clone.parameters = Parameters(clone.layers, clone.dtype, clone.ops)
        return clone

    # -- describing it --------------------------------------------------------------------------

    def summary(self, print_fn=print) -> None:
        """Print each layer with the shape of its output and its parameter count, and the total.

        Parameters
        ----------
        print_fn : callable, default print
            Called with each line.
        """
        rows = [("#", "layer", "output", "parameters")]
        shape = None
        for i, layer in enumerate(self.layers):
            shape = layer.output_shape(shape)
            count = sum(int(v.size) for v in layer.params.values())
            rows.append((str(i), repr(layer), describe_shape(shape), f"{count:,}"))
        _print_table(rows, print_fn)
        print_fn(f"total parameters: {self.count_params():,} ({self.dtype})")

    def get_config(self) -> dict:
        """Return the architecture: each layer's registered type and constructor arguments, dtype and seed."""
        return {"layers": [{"type": type(layer).__name__, "config": layer.get_config()} for layer in self.layers],
                "dtype": str(self.dtype), "seed": self.seed}

    def __repr__(self):
        inner = ",\n".join(f"  {layer!r}" for layer in self.layers)
        return f"{type(self).__name__}(\n{inner},\n  dtype={str(self.dtype)!r})"
