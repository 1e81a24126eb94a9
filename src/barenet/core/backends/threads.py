"""How many threads a backend's compiled loops may use: a leaf module, read by the backends and
set by ``fit`` (through ``core.backend``) each epoch."""
from __future__ import annotations

import contextvars

__all__ = ["kernel_threads", "set_kernel_threads"]

_KERNEL_THREADS = contextvars.ContextVar("barenet_kernel_threads", default=None)


def kernel_threads():
    """The threads a backend's compiled loops may use (the optimizer's update on a long
    vector): the count ``fit`` gives the matrix products this epoch (``training.threads``), or
    None outside ``fit`` (then the backend uses every core this process may run on)."""
    return _KERNEL_THREADS.get()


def set_kernel_threads(count):
    """Set ``kernel_threads``; returns a token for ``set_kernel_threads.reset(token)``."""
    return _KERNEL_THREADS.set(count)


set_kernel_threads.reset = _KERNEL_THREADS.reset
