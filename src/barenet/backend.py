"""The one place that knows which array library does the maths.

Layers, losses and optimizers write ``xp.exp(x)``, ``xp.matmul(a, b)`` and so on, where ``xp``
is this module's stand-in for NumPy (the default) or CuPy (a GPU). Switching is one call,
``barenet.set_backend("cupy")``, made before a model is built; no layer changes. Nothing else
in barenet imports CuPy.
"""
from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numpy

__all__ = ["xp", "set_backend", "get_backend", "to_numpy", "set_num_threads", "get_num_threads"]


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


# Element-wise work on the whole parameter vector (the optimizer update) runs on several CPU
# cores: NumPy's ufuncs are single-threaded but release the GIL, so splitting a long vector in
# contiguous parts and updating them from a few threads cuts the update time nearly in half on
# two cores. Matrix products are already multi-threaded by BLAS.
_num_threads = max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1))
_pool: ThreadPoolExecutor | None = None
PARALLEL_MIN_SIZE = 65_536  # below this many elements, thread hand-off costs more than it saves


def set_num_threads(n: int) -> None:
    """Use ``n`` threads for barenet's own element-wise work (BLAS has its own setting)."""
    global _num_threads, _pool
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise ValueError(f"n must be a positive int, got {n!r}")
    _num_threads = n
    if _pool is not None:
        _pool.shutdown(wait=True)
        _pool = None


def get_num_threads() -> int:
    """The number of threads barenet uses for its own element-wise work."""
    return _num_threads


def split_for_threads(size: int) -> list[slice]:
    """Contiguous slices of ``range(size)``, one per thread, or one slice when threads don't pay."""
    parts = _num_threads if (size >= PARALLEL_MIN_SIZE and xp.module is numpy) else 1
    bounds = [size * i // parts for i in range(parts + 1)]
    return [slice(bounds[i], bounds[i + 1]) for i in range(parts)]


def run_in_parallel(function, jobs: list) -> None:
    """Call ``function(*job)`` for every job, spreading the jobs over barenet's threads."""
    global _pool
    if len(jobs) == 1:
        function(*jobs[0])
        return
    if _pool is None:
        _pool = ThreadPoolExecutor(max_workers=_num_threads - 1, thread_name_prefix="barenet")
    futures = [_pool.submit(function, *job) for job in jobs[1:]]
    function(*jobs[0])
    for future in futures:
        future.result()
