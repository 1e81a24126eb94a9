"""The one seam between barenet's maths and the machine that runs it: backends as objects.

A backend has two parts:

- ``xp``, its array module: NumPy, or CuPy on an NVIDIA GPU. Layers, losses and optimizers write
  ``xp.exp(x)``, ``xp.zeros(n)``...: this module's ``xp`` is the array module of the backend in
  use (see below), so the same code runs on every backend.
- the operations it may run faster than the textbook code, as methods: a layer's ``forward`` and
  ``backward``, a loss's value and gradient, an optimizer's update. ``Backend`` (NumPy) runs each
  one as the class that owns it writes it, the formula of its docstring: the reference. The
  ``"numba"`` backend (``core.backends.fused``) overrides some with compiled loops that compute the
  same numbers in one pass over memory, each tested equal to the reference.

Four backends: ``"numpy"`` (the reference), ``"numba"`` (NumPy arrays, fused loops;
``pip install "barenet[fast]"``), ``"cupy"`` (an NVIDIA GPU; ``barenet[gpu]``), and ``"strict"``
(for tests: a CPU stand-in for CuPy whose arrays refuse host/device mix-ups, ``core.backends.strict``).
``"auto"``, the default, is numba where it is installed and NumPy otherwise.

Which backend is in use: a network holds the one it was built with (``network.ops``) and runs
its layers, its loss and its optimizer on it. The default for new networks is a context
variable: ``bn.set_backend("numpy")`` sets it for this thread (or asyncio task), and ``with
bn.using_backend("numba"): ...`` for a block, so that threads, servers and scikit-learn searches
cannot change each other's backend. Nothing else in barenet imports CuPy or numba.
"""
from __future__ import annotations

import contextlib
import contextvars

import numpy

from .backends.reference import Backend, CupyBackend, StrictBackend

__all__ = ["Backend", "xp", "set_backend", "get_backend", "using_backend", "current", "backend_named",
           "to_numpy", "to_device", "on_device", "flush_subnormals", "BACKENDS", "kernel_threads",
           "set_kernel_threads"]

BACKENDS = ("auto", "numpy", "numba", "cupy", "strict")


def _numba():
    try:
        from .backends.fused import NumbaBackend
    except ImportError as error:
        raise ImportError("the 'numba' backend needs numba: pip install \"barenet[fast]\"") from error
    return NumbaBackend.shared()


_MAKERS = {"numpy": Backend.shared, "numba": _numba, "cupy": CupyBackend.shared, "strict": StrictBackend.shared}
_MADE: dict = {}


def backend_named(name) -> Backend:
    """The backend object for a name, or a backend object itself. Each is made once, when first
    asked for; ``"auto"`` is numba where it is installed and imports, else NumPy."""
    if isinstance(name, Backend):
        return name
    made = _MADE.get(name)
    if made is not None:
        return made
    if name == "auto":
        try:
            made = backend_named("numba")
        except ImportError:  # numba is not installed, or does not import (a NumPy it does not support yet)
            made = backend_named("numpy")
    elif name in _MAKERS:
        made = _MAKERS[name]()
    else:
        raise ValueError(f"backend must be one of {BACKENDS}, got {name!r}")
    _MADE[name] = made
    return made


_DEFAULT = contextvars.ContextVar("barenet_backend", default="auto")


def set_backend(name) -> None:
    """Choose the backend for the networks built from now on in this thread (and those that
    follow the default, such as ``bn.load``'s): ``"auto"`` (numba where installed, else
    NumPy), ``"numpy"``, ``"numba"``, ``"cupy"`` (an NVIDIA GPU) or ``"strict"`` (tests). Raises
    at once if that backend cannot start here (numba or CuPy missing, no GPU)."""
    _DEFAULT.set(backend_named(name))


def current() -> Backend:
    """The backend in use here: the network's while it computes, else the default."""
    value = _DEFAULT.get()
    return value if isinstance(value, Backend) else backend_named(value)


def get_backend() -> str:
    """The name of the backend in use here (``"auto"`` resolved: ``"numba"`` or ``"numpy"``)."""
    return current().name


@contextlib.contextmanager
def using_backend(name):
    """``with using_backend("numba"): ...`` runs the block on that backend (a name or a backend
    object), then restores the previous one."""
    token = _DEFAULT.set(backend_named(name))
    try:
        yield current()
    finally:
        _DEFAULT.reset(token)


def enter(backend: Backend):
    """Make ``backend`` the one in use, cheaply, for code that runs often (a forward pass);
    returns a token for ``leave``, or None where it already was."""
    return None if _DEFAULT.get() is backend else _DEFAULT.set(backend)


def leave(token) -> None:
    if token is not None:
        _DEFAULT.reset(token)


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


class _ArrayModule:
    """``xp``: every attribute is the array module's of the backend in use, so ``xp.exp`` is
    NumPy's or CuPy's."""

    __slots__ = ()

    def __getattr__(self, name):
        return getattr(current().xp, name)

    def __repr__(self):
        return f"<barenet array module: {current().xp.__name__}>"


xp = _ArrayModule()


def to_numpy(array):
    """A NumPy array holding ``array``'s values, wherever the array lives."""
    if isinstance(array, numpy.ndarray):
        return array
    if hasattr(array, "get"):  # a CuPy (or strict) array: copy it from the device
        return array.get()
    return numpy.asarray(array)


def to_device(array):
    """``array`` on the device of the backend in use (a no-op on the CPU backends)."""
    backend = current()
    return backend.xp.asarray(array) if backend.device else array


def on_device() -> bool:
    """Whether the backend in use keeps its arrays apart from NumPy's (CuPy, the strict stand-in)."""
    return current().device


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
