"""How many threads the BLAS library (NumPy's matrix products) may use while barenet trains.

OpenBLAS, which NumPy ships, starts one thread per core and keeps them spinning between matrix
products. On a machine where something else computes (another training, a notebook, an MPI rank
bound to the same core), those threads wait on each other and an epoch gets three to five times
slower, where one thread would have lost a quarter at most. So ``fit`` sets the thread count
itself, through threadpoolctl (``pip install "barenet[fast]"``), and gives it back afterwards:

- ``"auto"`` (the default): at the start of every epoch, the cores this process may run on less
  the threads other processes are running right now, at least one. Alone it uses every core; beside
  another job, or as one of several MPI ranks or search workers, it steps down, and up again when
  the machine is free.
- a number: exactly that many threads.
- None: leave the BLAS library as it is (its own default, or what the program set).

For a convolutional network the numba backend runs the count itself (``ThreadLimit``): it splits
the matrix products and its compiled loops among its own threads, and holds the BLAS library at one.

``bn.set_threads(n)`` sets the default for ``fit`` (and ``barenet train --threads N``);
``with bn.threads(n): ...`` sets it for a block. ``blas_info()`` names the library and its count.
"""
from __future__ import annotations

import contextlib
import contextvars
import os
from pathlib import Path

from ..core.backend import set_kernel_threads

__all__ = ["set_threads", "get_threads", "threads", "blas_info", "ThreadLimit"]

_SETTING = contextvars.ContextVar("barenet_threads", default="auto")


def _checked(value):
    if value is None or value == "auto":
        return value
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 1024:
        raise ValueError(f"threads must be 'auto', None or a whole number from 1 to 1024, got {value!r}")
    return value


def set_threads(value) -> None:
    """Set the BLAS thread count ``fit`` trains with, in this thread (or asyncio task).

    Parameters
    ----------
    value : "auto", int or None
        ``"auto"`` (default: the free cores, every epoch), a number from 1 to 1024, or None (leave
        the library as it is).
    """
    _SETTING.set(_checked(value))


def get_threads():
    """Return the setting ``fit`` uses: ``"auto"``, a number, or None."""
    return _SETTING.get()


@contextlib.contextmanager
def threads(value):
    """Use a thread setting in a block, then the previous one again: ``with bn.threads(1): model.fit(...)``."""
    token = _SETTING.set(_checked(value))
    try:
        yield
    finally:
        _SETTING.reset(token)


def _controller():
    import numpy  # noqa: F401  (loads the BLAS library, which threadpoolctl finds among the loaded ones)
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:
        return None
    return ThreadpoolController()


def blas_info() -> dict:
    """Return ``{"library": e.g. "openblas 0.3.31", "threads": its current count}`` (None where unknown)."""
    controller = _controller()
    if controller is None:
        return {"library": None, "threads": None}
    pools = [p for p in controller.info() if p.get("user_api") == "blas"]
    if not pools:
        return {"library": None, "threads": None}
    return {"library": f"{pools[0]['internal_api']} {pools[0].get('version') or ''}".strip(),
            "threads": pools[0]["num_threads"]}


def usable_cores() -> int:
    """Return the number of cores this process may run on (its affinity: one for an MPI rank bound to a core)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def others_running() -> int:
    """Return the threads of other processes running or ready to run at this instant.

    The kernel's count of runnable threads, less this process's own (Linux; 0 elsewhere).
    """
    try:
        stat = Path("/proc/stat").read_text()
        running = next(int(line.split()[1]) for line in stat.splitlines() if line.startswith("procs_running"))
        own = 0
        for task in Path("/proc/self/task").iterdir():
            with contextlib.suppress(OSError):
                own += task.joinpath("stat").read_text().rpartition(")")[2].split()[0] == "R"
    except (OSError, StopIteration, ValueError):
        return 0
    return max(0, running - own)


def auto_threads() -> int:
    """Return the ``"auto"`` thread count: the usable cores less the other processes' running threads, at least 1."""
    return max(1, usable_cores() - others_running())


class ThreadLimit:
    """What ``fit`` does with the setting.

    ``epoch()`` at the start of every epoch applies it and returns the count in force (None where it
    is left alone or unknown), ``close()`` restores the library's count from before.

    With ``own=True`` (a backend that splits its heavy operations among its own threads, as the
    numba backend does for convolutional networks: ``Backend.own_threads``) the count goes to the
    backend and the BLAS library is held at one thread; else the count goes to the BLAS library
    and the backend's compiled loops run on one thread. Either way one pool of threads owns the
    cores: two pools that each spin while they wait slow each other down.

    Parameters
    ----------
    setting : "auto", int or None, optional
        By default ``get_threads()``.
    own : bool, default False
        Whether the backend runs the count on its own threads (the BLAS library then on one).

    Raises
    ------
    ImportError
        For a number, where threadpoolctl is missing (it sets the count).
    """

    def __init__(self, setting="unset", own=False):
        self.setting = get_threads() if setting == "unset" else _checked(setting)
        self.own = own
        self.controller = None if self.setting is None else _controller()
        if self.controller is None and isinstance(self.setting, int):
            raise ImportError(f"threads={self.setting} needs threadpoolctl to set the BLAS library's thread count: "
                              f"pip install 'barenet[fast]' (or threadpoolctl)")
        self.limiter = self.kernels = None

    def epoch(self):
        """Apply the setting: the count to the BLAS library or the backend's threads (see the class); return it."""
        if self.controller is None:
            return None
        count = auto_threads() if self.setting == "auto" else self.setting
        blas, backend = (1, count) if self.own else (count, 1)
        if self.kernels is None:
            self.kernels = set_kernel_threads(backend)
        else:
            set_kernel_threads(backend)
        if self.limiter is None:
            self.limiter = self.controller.limit(limits=blas, user_api="blas")
        else:
            self.controller.limit(limits=blas, user_api="blas")  # the first limiter restores at close
        return count

    def close(self):
        """Restore the thread counts from before the first ``epoch``."""
        if self.kernels is not None:
            set_kernel_threads.reset(self.kernels)
            self.kernels = None
        if self.limiter is not None:
            self.limiter.restore_original_limits()
            self.limiter = None
