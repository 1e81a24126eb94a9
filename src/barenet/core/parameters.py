"""Parameters: every parameter of a network in one flat vector, and every gradient in another.

``Parameters(layers, dtype)`` moves the layers' arrays into two contiguous vectors, θ (the
parameters) and g (their gradients), and leaves each layer holding *views* of them, by name::

    θ = [ W₀ (in × h, row by row) | b₀ | W₁ | b₁ | ... ]          g: the same layout

An optimizer then updates all of θ from all of g in a few whole-vector operations, instead of a
Python loop over arrays. A layer never needs to know: it reads ``self.params["W"]`` and
assigns ``self.grads["W"] = ...``; the assignment copies the value into g (``Slots``). Layers
that care about speed write into the view directly (``Dense`` uses ``out=self.grads["W"]``),
which skips that copy.
"""
from __future__ import annotations

import copy

import numpy

from .backend import current, to_device

__all__ = ["Parameters", "Slots"]


class Slots(dict):
    """A layer's ``params`` or ``grads`` once its network owns them.

    Each entry is a view into the network's flat vector, and assigning an array copies it into that
    view; names other than the layer's raise KeyError.

    Parameters
    ----------
    entries : dict or iterable of (name, view)
        The views, by name.
    fill : callable, optional
        Called once, on first use, to put the entries in (the gradients' views, made late).
    copied : bool, default True
        Whether copies and pickles carry the values: not the gradients, which the next backward
        pass recomputes and which were made from the last batch's data.
    """

    def __setitem__(self, name, value):
        if not dict.__contains__(self._filled(), name):
            raise KeyError(f"this layer has no array {name!r} here; it has {sorted(self)} (the parameters are "
                           f"fixed when the network is built, and gradients exist once a backward pass began)")
        view = dict.__getitem__(self, name)
        if value is not view:
            view[...] = to_device(value)  # a host array (a file's, a user's) goes to the device

    def __init__(self, entries=(), fill=None, copied=True):
        super().__init__(entries)
        self._fill = fill  # called once, on first use, to put the entries in (the gradients' views)
        # Whether copies and pickles carry the values: not the gradients, which the next backward
        # pass recomputes and which were made from the last batch's data.
        self._copied = copied

    def _filled(self):
        if self._fill is not None:
            fill, self._fill = self._fill, None
            fill()
        return self

    def __getitem__(self, name):
        return dict.__getitem__(self._filled(), name)

    def __iter__(self):
        return dict.__iter__(self._filled())

    def __len__(self):
        return dict.__len__(self._filled())

    def __contains__(self, name):
        return dict.__contains__(self._filled(), name)

    def keys(self):
        """Return the names, as ``dict.keys``."""
        return dict.keys(self._filled())

    def values(self):
        """Return the views, as ``dict.values``."""
        return dict.values(self._filled())

    def items(self):
        """Return (name, view) pairs, as ``dict.items``."""
        return dict.items(self._filled())

    def get(self, name, default=None):
        """Return the view called ``name``, or ``default``."""
        return dict.get(self._filled(), name, default)

    def __deepcopy__(self, memo):
        """Copy to a plain dict of copies: views mean nothing outside their network."""
        if not self._copied:
            return {}
        return {name: copy.deepcopy(value, memo) for name, value in dict.items(self)}  # unfilled: none

    def __reduce__(self):
        return dict, (dict(dict.items(self)) if self._copied else {},)


class Parameters:
    """θ and g for a list of built layers; ``names`` are ``"<layer index>.<parameter>"``.

    g is made the first time it is asked for (``grad``, ``vectors()``; the network asks before
    its first backward pass), so that a model only used for predictions never holds it. Where the
    layers' arrays already are consecutive views of one vector (a model file read straight into
    θ), that vector becomes θ without a copy.

    Parameters
    ----------
    layers : list of Layer
        Built layers; each is left holding views of θ and g as its ``params`` and ``grads``.
    dtype : numpy.dtype
        The vectors' dtype.
    ops : Backend, optional
        The backend the optimizer updates θ with (by default the one in use).
    """

    def __init__(self, layers, dtype, ops=None):
        self.ops = current() if ops is None else ops  # the backend the optimizer updates θ with
        entries = [(i, layer, name) for i, layer in enumerate(layers) for name in layer.params]
        self.names = [f"{i}.{name}" for i, _, name in entries]
        self._layout, offset = [], 0
        for _, layer, name in entries:
            shape = layer.params[name].shape
            size = int(layer.params[name].size)
            self._layout.append((layer, name, offset, size, shape))
            offset += size
        self.theta = _adopted([layer.params[name] for _, layer, name in entries], offset, dtype)
        if self.theta is None:
            self.theta = self.ops.xp.empty(offset, dtype=dtype)
            for layer, name, start, size, shape in self._layout:
                self.theta[start:start + size].reshape(shape)[...] = layer.params[name]
        self._grad = None
        for layer in {id(layer): layer for _, layer, _ in entries}.values():
            layer.params = Slots({name: self._view(self.theta, start, size, shape)
                                  for owner, name, start, size, shape in self._layout if owner is layer})
            layer.grads = Slots(fill=lambda: self.grad, copied=False)

    @staticmethod
    def _view(vector, start, size, shape):
        return vector[start:start + size].reshape(shape)

    @property
    def grad(self):
        """g, the gradients' vector (zeros until a backward pass fills it)."""
        if self._grad is None:
            self._grad = self.ops.xp.zeros(self.theta.size, dtype=self.theta.dtype)
            for layer, name, start, size, shape in self._layout:
                dict.__setitem__(layer.grads, name, self._view(self._grad, start, size, shape))
        return self._grad

    def __len__(self):
        return int(self.theta.size)

    def vectors(self):
        """Return (θ, g)."""
        return self.theta, self.grad

    def __repr__(self):
        return f"Parameters({len(self):,} in {len(self.names)} arrays, {self.theta.dtype})"


def _adopted(values, total, dtype):
    """Return the one vector that ``values`` are consecutive C-ordered views of, filling it in order, or None."""
    if not values:
        return None
    base = values[0].base
    while getattr(base, "base", None) is not None:
        base = base.base
    if not (isinstance(base, numpy.ndarray) and base.ndim == 1 and base.size == total and base.dtype == dtype
            and base.flags.c_contiguous and base.flags.writeable):
        return None
    start = base.__array_interface__["data"][0]
    offset = 0
    for value in values:
        if not (isinstance(value, numpy.ndarray) and value.flags.c_contiguous
                and value.__array_interface__["data"][0] == start + offset * base.itemsize
                and numpy.shares_memory(value, base)):
            return None
        offset += value.size
    return base if offset == total else None
