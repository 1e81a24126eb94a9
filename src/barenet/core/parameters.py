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

from .backend import to_device, xp

__all__ = ["Parameters", "Slots"]


class Slots(dict):
    """A layer's ``params`` or ``grads`` once its network owns them: each entry is a view into the
    network's flat vector, and assigning an array copies it into that view."""

    def __setitem__(self, name, value):
        if name not in self:
            raise KeyError(f"this layer has no parameter {name!r}; its parameters are {sorted(self)} "
                           f"(they are fixed when the network is built)")
        view = dict.__getitem__(self, name)
        if value is not view:
            view[...] = to_device(value)  # a host array (a file's, a user's) goes to the device

    def __deepcopy__(self, memo):
        """A copy is a plain dict of copies: views mean nothing outside their network, and the
        network that is being copied gathers them again (``Network.__deepcopy__``)."""
        return {name: copy.deepcopy(value, memo) for name, value in self.items()}

    def __reduce__(self):
        return dict, (dict(self),)


class Parameters:
    """θ and g for a list of built layers; ``names`` are ``"<layer index>.<parameter>"``."""

    def __init__(self, layers, dtype):
        entries = [(i, layer, name) for i, layer in enumerate(layers) for name in layer.params]
        total = sum(int(layer.params[name].size) for _, layer, name in entries)
        self.theta = xp.empty(total, dtype=dtype)
        self.grad = xp.zeros(total, dtype=dtype)
        self.names = []
        views = {id(layer): ({}, {}) for _, layer, _ in entries}
        offset = 0
        for i, layer, name in entries:
            value = layer.params[name]
            size = int(value.size)
            param = self.theta[offset:offset + size].reshape(value.shape)
            param[...] = value
            views[id(layer)][0][name] = param
            views[id(layer)][1][name] = self.grad[offset:offset + size].reshape(value.shape)
            self.names.append(f"{i}.{name}")
            offset += size
        for _, layer, _ in entries:
            layer.params, layer.grads = (Slots(table) for table in views[id(layer)])

    def __len__(self):
        return int(self.theta.size)

    def vectors(self):
        """(θ, g)."""
        return self.theta, self.grad

    def __repr__(self):
        return f"Parameters({len(self):,} in {len(self.names)} arrays, {self.theta.dtype})"
