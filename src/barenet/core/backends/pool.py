"""The numba backend's threads, which run compiled loops and matrix products on parts of their arrays.

A small pool of Python threads: the compiled loops release the GIL (``nogil``), and NumPy's
matrix products do too, so the parts run at once.

Python threads, not numba's ``parallel=True``: numba's OpenMP workers keep spinning after a loop,
as OpenBLAS's do after a matrix product, and the two pools then fight for the same cores. Where
the backend runs its own threads (``NumbaBackend.own_threads``), the BLAS library is held at one
thread and every heavy operation is split here, so that one pool owns the cores.

- ``split``: a loop over flat vectors (the optimizer's update), in ranges of whole cache lines;
- ``run``: any function of a range (lo, hi), for the parts of a layer that go together (im2col,
  the product and the bias for a range of images), with ``ranges`` to cut them.

Work smaller than ``PER_THREAD`` elements a thread stays on the calling thread, where starting
threads would cost more than it saves.
"""
from __future__ import annotations

import concurrent.futures
import threading

import numpy as np

__all__ = ["PER_THREAD", "split", "run", "ranges"]

PER_THREAD = 1 << 17  # elements: below this many per thread, one thread does the whole work
_POOL = {}
_POOL_LOCK = threading.Lock()


def _pool(workers):
    with _POOL_LOCK:  # made on first use, grown when a larger count is asked for
        if _POOL.get("workers", 0) < workers:
            if "pool" in _POOL:
                _POOL["pool"].shutdown(wait=False)
            _POOL["pool"] = concurrent.futures.ThreadPoolExecutor(workers, thread_name_prefix="barenet-kernel")
            _POOL["workers"] = workers
        return _POOL["pool"]


def ranges(n, threads, work=None, align=1):
    """Cut [0, n) into up to ``threads`` contiguous ranges, as many as the work makes worth it.

    count = max(1, min(threads, n // align, work // PER_THREAD)); range i starts at
    ⌊n·i / count / align⌋·align, so every bound but the last (n) is a multiple of ``align``.

    Parameters
    ----------
    n : int
        The length to cut.
    threads : int
        The most ranges.
    work : int, optional
        Elements the whole job touches (n by default): at least ``PER_THREAD`` a range.
    align : int, default 1
        What the bounds are multiples of (whole cache lines, or rows of a matrix product).

    Returns
    -------
    list of (int, int)
        [(lo, hi), ...], in order, covering [0, n).
    """
    count = max(1, min(int(threads), n // align, (n if work is None else work) // PER_THREAD))
    bounds = [n * i // count // align * align for i in range(count)] + [n]
    return list(zip(bounds, bounds[1:]))


def run(function, parts):
    """Run ``function(lo, hi)`` for each range of ``parts``, in parallel.

    The first range runs on the calling thread, the others on the pool (grown to their number).

    Returns
    -------
    list
        Their results in the order of ``parts``, once all have finished.
    """
    if len(parts) == 1:
        return [function(*parts[0])]
    pool = _pool(len(parts) - 1)
    futures = [pool.submit(function, lo, hi) for lo, hi in parts[1:]]
    try:
        first = function(*parts[0])
    finally:
        rest = [future.result() for future in futures]
    return [first, *rest]


def split(loop, n, threads, *args):
    """Run ``loop(*args)`` on up to ``threads`` threads, each on a contiguous range of the vectors.

    The vectors are the 1-D arrays of length ``n`` among ``args``, each cut to the thread's range;
    other arguments are passed as they are. Range bounds are multiples of 16 elements, so that no
    two threads write the same cache line. The loops index from 0 to the length of their own
    vectors: a loop that indexed a range of the whole vector would have to allow for negative
    indices, and would not be vectorised.
    """
    def part(lo, hi):
        loop(*[a[lo:hi] if isinstance(a, np.ndarray) and a.ndim == 1 and a.size == n else a for a in args])
    run(part, ranges(n, threads, align=16))
