"""How many threads a backend's compiled loops may use.

A leaf module, read by the backends and set by ``fit`` (through ``core.backend``) each epoch.
"""
from __future__ import annotations

import contextvars

__all__ = ["kernel_threads", "set_kernel_threads"]

_KERNEL_THREADS = contextvars.ContextVar("barenet_kernel_threads", default=None)


def kernel_threads():
    """Return how many threads a backend's compiled loops may use.

    The count ``fit`` gives this epoch (``training.threads``): to the BLAS library's matrix
    products, or to the numba backend's own threads where it runs them (``own_threads``).

    Returns
    -------
    int or None
        None outside ``fit``: the numba backend then runs its loops on the calling thread alone.
    """
    return _KERNEL_THREADS.get()


def set_kernel_threads(count):
    """Set ``kernel_threads`` in this thread (or asyncio task).

    Parameters
    ----------
    count : int or None
        The threads; None as outside ``fit``.

    Returns
    -------
    contextvars.Token
        For ``set_kernel_threads.reset(token)``, which restores the count before.
    """
    return _KERNEL_THREADS.set(count)


set_kernel_threads.reset = _KERNEL_THREADS.reset
