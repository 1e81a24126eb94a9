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
from .backends.threads import kernel_threads, set_kernel_threads

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
    """Return the backend object for a name, made once, when first asked for.

    Parameters
    ----------
    name : str or Backend
        ``"auto"`` (numba where it is installed and imports, else NumPy), ``"numpy"``, ``"numba"``,
        ``"cupy"`` or ``"strict"``; a backend object is returned as it is.

    Returns
    -------
    Backend

    Raises
    ------
    ValueError
        For another name.
    ImportError, RuntimeError
        Where the backend cannot start here (numba or CuPy missing, no GPU).
    """
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
    """Choose the backend for the networks built from now on in this thread (or asyncio task).

    Networks that follow the default, such as ``bn.load``'s, take it too.

    Parameters
    ----------
    name : str or Backend
        ``"auto"`` (numba where installed, else NumPy), ``"numpy"``, ``"numba"``, ``"cupy"`` (an
        NVIDIA GPU) or ``"strict"`` (tests).

    Raises
    ------
    ImportError, RuntimeError
        At once, if that backend cannot start here (numba or CuPy missing, no GPU).
    """
    _DEFAULT.set(backend_named(name))


def current() -> Backend:
    """Return the backend in use here: the network's while it computes, else the default."""
    value = _DEFAULT.get()
    return value if isinstance(value, Backend) else backend_named(value)


def get_backend() -> str:
    """Return the name of the backend in use here (``"auto"`` resolved: ``"numba"`` or ``"numpy"``)."""
    return current().name


@contextlib.contextmanager
def using_backend(name):
    """Run a block on a backend, then restore the previous one: ``with using_backend("numba"): ...``.

    Parameters
    ----------
    name : str or Backend
        As for ``set_backend``.

    Yields
    ------
    Backend
        The backend in use within the block.
    """
    token = _DEFAULT.set(backend_named(name))
    try:
        yield current()
    finally:
        _DEFAULT.reset(token)


def enter(backend: Backend):
    """Make ``backend`` the one in use, cheaply, for code that runs often (a forward pass).

    Returns
    -------
    token or None
        The token for ``leave``, or None where it already was the one in use.
    """
    return None if _DEFAULT.get() is backend else _DEFAULT.set(backend)


def leave(token) -> None:
    """Restore the backend that was in use before ``enter`` returned ``token`` (None: nothing to do)."""
    if token is not None:
        _DEFAULT.reset(token)


class _ArrayModule:
    """``xp``: every attribute is the array module's of the backend in use, so ``xp.exp`` is NumPy's or CuPy's."""

    __slots__ = ()

    def __getattr__(self, name):
        return getattr(current().xp, name)

    def __repr__(self):
        return f"<barenet array module: {current().xp.__name__}>"


xp = _ArrayModule()


def to_numpy(array):
    """Return a NumPy array holding ``array``'s values, wherever the array lives (a copy from a GPU)."""
    if isinstance(array, numpy.ndarray):
        return array
    if hasattr(array, "get"):  # a CuPy (or strict) array: copy it from the device
        return array.get()
    return numpy.asarray(array)


def to_device(array):
    """Return ``array`` on the device of the backend in use (itself on the CPU backends)."""
    backend = current()
    return backend.xp.asarray(array) if backend.device else array


def on_device() -> bool:
    """Return whether the backend in use keeps its arrays apart from NumPy's (CuPy, the strict stand-in)."""
    return current().device


def flush_subnormals(array, scratch=None) -> None:
    """Set the entries smaller in magnitude than the dtype's smallest normal number to zero, in place.

    Why: where a gradient entry is exactly zero (the weights of a pixel that is blank in the whole
    batch), a momentum or a moment decays as m ← β m and sinks into the *subnormal* numbers below
    1.2e-38 (float32), on which many CPUs compute 10 to 100 times slower; so do the probabilities
    of a confident softmax (e^-88 and below). Left alone, epochs grow slower as training goes on.
    The values removed are below 1.2e-38: nothing changes by more than it would on a CPU that
    flushes subnormals itself (as XLA, JAX's compiler, has the CPU do by default).

    Parameters
    ----------
    array : array
        Floats, changed in place (NaN stays NaN).
    scratch : array, optional
        A work array of the same shape, which saves an allocation.
    """
    scratch = xp.abs(array) if scratch is None else xp.abs(array, out=scratch)
    array *= scratch >= xp.finfo(array.dtype).tiny  # NaN stays NaN (NaN · 0)
