"""The one place that knows which array library does the maths.

Layers, losses and optimizers write ``xp.exp(x)``, ``xp.matmul(a, b)`` and so on, where ``xp``
is this module's stand-in for NumPy (the default) or CuPy (a GPU). Switching is one call,
``barenet.set_backend("cupy")``, made before a model is built; no layer changes. Nothing else
in barenet imports CuPy.
"""
from __future__ import annotations

import numpy

__all__ = ["xp", "set_backend", "get_backend", "to_numpy", "to_device"]


class _ArrayModule:
    """Forwards every attribute to the active array module, so ``xp.exp`` is NumPy's or CuPy's."""

    __slots__ = ("module",)

    def __init__(self, module):
        self.module = module

    def __getattr__(self, name):
        return getattr(self.module, name)

    def __repr__(self):
        return f"<barenet array module: {self.module.__name__}>"


xp = _ArrayModule(numpy)

_BACKENDS = ("numpy", "cupy")


def set_backend(name: str) -> None:
    """Choose the array library: ``"numpy"`` (CPU, default) or ``"cupy"`` (NVIDIA GPU).

    Models keep the arrays they were built with, so choose the backend before building a model.
    """
    if name not in _BACKENDS:
        raise ValueError(f"backend must be one of {_BACKENDS}, got {name!r}")
    if name == "cupy":
        try:
            import cupy
        except ImportError as error:
            raise ImportError(
                "the 'cupy' backend needs CuPy and an NVIDIA GPU: pip install cupy-cuda12x"
            ) from error
        xp.module = cupy
    else:
        xp.module = numpy


def get_backend() -> str:
    """The name of the active array library: ``"numpy"`` or ``"cupy"``."""
    return xp.module.__name__


def to_numpy(array):
    """A NumPy array holding ``array``'s values, wherever the array lives."""
    if isinstance(array, numpy.ndarray):
        return array
    if hasattr(array, "get"):  # a CuPy array: copy it from the GPU
        return array.get()
    return numpy.asarray(array)


def to_device(array):
    """``array`` on the active backend's device (a no-op for NumPy)."""
    return array if xp.module is numpy else xp.asarray(array)
