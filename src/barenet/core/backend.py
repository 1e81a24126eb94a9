"""The one place that knows which array library does the maths.

Layers, losses and optimizers write ``xp.exp(x)``, ``xp.matmul(a, b)`` and so on, where ``xp``
is this module's stand-in for NumPy (the default) or CuPy (a GPU). Switching is one call,
``barenet.set_backend("cupy")``, made before a model is built; no layer changes. Nothing else
in barenet imports CuPy or numba.

Three backends:

- ``"numpy"`` (default): plain NumPy, the readable reference for everything else.
- ``"numba"``: NumPy arrays, with the hottest loops (the optimizer updates, softmax
  cross-entropy, ReLU) compiled by numba into one pass each (``barenet.core.numba_kernels``;
  ``pip install "barenet[fast]"``). Same results: the optimizers bit for bit, the rest to
  rounding.
- ``"cupy"``: CuPy arrays on an NVIDIA GPU.
- ``"strict"``: for tests, a CPU stand-in for CuPy (``core.strict``) whose arrays refuse to be
  mixed with NumPy arrays and count every read back to the host, so that the suite checks the
  GPU path's discipline without a GPU.

Code that has a fused version asks ``kernels.<name>``, which is None when the active backend has
none, and otherwise runs its NumPy reference.
"""
from __future__ import annotations

import contextlib

import numpy

__all__ = ["xp", "kernels", "set_backend", "get_backend", "using_backend", "to_numpy", "to_device",
           "flush_subnormals"]


class _ArrayModule:
    """Forwards every attribute to the active array module, so ``xp.exp`` is NumPy's or CuPy's."""

    __slots__ = ("module",)

    def __init__(self, module):
        self.module = module

    def __getattr__(self, name):
        return getattr(self.module, name)

    def __repr__(self):
        return f"<barenet array module: {self.module.__name__}>"


class _Kernels:
    """The active backend's fused functions, by name (those its module lists in ``__all__``);
    None for a name it does not provide, so callers fall back to the NumPy reference."""

    def use(self, module):
        self.__dict__.clear()
        for name in getattr(module, "__all__", ()):
            setattr(self, name, getattr(module, name))

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        return None

    def __repr__(self):
        return f"<barenet kernels: {', '.join(sorted(self.__dict__)) or 'none (NumPy reference)'}>"


xp = _ArrayModule(numpy)
kernels = _Kernels()
_active = "numpy"

_BACKENDS = ("numpy", "numba", "cupy", "strict")


def set_backend(name: str) -> None:
    """Choose the array library: ``"numpy"`` (CPU, default), ``"numba"`` (CPU, NumPy arrays
    with compiled fused loops), ``"cupy"`` (NVIDIA GPU) or ``"strict"`` (CuPy's stand-in, tests).

    Models keep the arrays they were built with, so choose ``"cupy"`` before building a model
    (``bn.load`` puts a file's arrays on the active backend); ``"numpy"`` and ``"numba"`` share
    NumPy arrays and can be switched at any time.
    """
    global _active
    if name not in _BACKENDS:
        raise ValueError(f"backend must be one of {_BACKENDS}, got {name!r}")
    if name == "cupy":
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
        xp.module, fused = cupy, None
    elif name == "strict":
        from . import strict
        xp.module, fused = strict.module, None
    elif name == "numba":
        try:
            from . import numba_kernels as fused
        except ImportError as error:
            raise ImportError(
                "the 'numba' backend needs numba: pip install \"barenet[fast]\"") from error
        xp.module = numpy
    else:
        xp.module, fused = numpy, None
    kernels.use(fused)
    _active = name


def get_backend() -> str:
    """The name of the active backend: ``"numpy"``, ``"numba"``, ``"cupy"`` or ``"strict"``."""
    return _active


@contextlib.contextmanager
def using_backend(name: str):
    """``with using_backend("numba"): ...`` runs the block on that backend, then restores the
    previous one."""
    previous = _active
    set_backend(name)
    try:
        yield
    finally:
        set_backend(previous)


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


def on_device() -> bool:
    """Whether arrays live apart from NumPy's (CuPy, or its strict stand-in)."""
    return xp.module is not numpy


def flush_subnormals(array, scratch=None) -> None:
    """Set the entries of ``array`` smaller in magnitude than its dtype's smallest normal number
    (float32: 1.2e-38) to zero, in place; ``scratch``, a work array of the same shape, saves an
    allocation.

    Why: where a gradient entry is exactly zero (the weights of a pixel that is blank in the whole
    batch), a momentum or a moment decays as m ← β m and sinks into the *subnormal* numbers below
    1.2e-38, on which many CPUs compute 10 to 100 times slower; so do the probabilities of a
    confident softmax (e^-88 and below). Left alone, epochs grow slower as training goes on. The
    values removed are below 1.2e-38: nothing changes by more than it would on a CPU that flushes
    subnormals itself (as XLA, JAX's compiler, has the CPU do by default).
    """
    scratch = xp.abs(array) if scratch is None else xp.abs(array, out=scratch)
    array *= scratch >= xp.finfo(array.dtype).tiny  # NaN stays NaN (NaN · 0)
