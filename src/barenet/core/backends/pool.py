"""The numba backend's threads: a small pool of Python threads that runs compiled loops (which
release the GIL) and NumPy's matrix products (which do too) on parts of their arrays at once.

Python threads, not numba's ``parallel=True``: numba's OpenMP workers keep spinning after a loop,
as OpenBLAS's do after a matrix product, and the two pools then fight for the same cores. Where
the backend runs its own threads (``NumbaBackend.own_threads``), the BLAS library is held at one
thread and every heavy operation is split here, so that one pool owns the cores.

- ``split``: a loop over flat vectors (the optimizer's update), in ranges of whole cache lines;
- ``split_images``: a loop over a batch of images, each thread taking a range of images;
- ``run``: any function of a range (lo, hi), for the parts of a layer that go together (im2col,
  the product and the bias for a range of images).

Work smaller than ``PER_THREAD`` elements a thread stays on the calling thread, where starting
threads would cost more than it saves.
"""
from __future__ import annotations

import concurrent.futures
import os
import threading

import numpy as np

__all__ = ["PER_THREAD", "Batch", "split", "split_images", "run", "ranges", "default_threads"]

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


def default_threads() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def ranges(n, threads, work=None, align=1):
    """[(lo, hi), ...]: [0, n) cut into up to ``threads`` contiguous ranges whose bounds are
    multiples of ``align`` and none shorter than ``align``, as many as ``work`` (elements, n by
    default) makes worth it."""
    count = max(1, min(int(threads), n // align, (n if work is None else work) // PER_THREAD))
    bounds = [n * i // count // align * align for i in range(count)] + [n]
    return list(zip(bounds, bounds[1:]))


def run(function, parts):
    """``function(lo, hi)`` for each range of ``parts``: the first on the calling thread, the
    others on the pool; returns their results in order, once all have finished."""
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
    """Run ``loop(*args)`` on up to ``threads`` threads, each on a contiguous range of the
    vectors among ``args`` (the arrays of length ``n``; other arguments are passed as they are).
    Ranges are whole multiples of 16 elements, so that no two threads write the same cache line.
    The loops index from 0 to the length of their own vectors: a loop that indexed a range of
    the whole vector would have to allow for negative indices, and would not be vectorised."""
    def part(lo, hi):
        loop(*[a[lo:hi] if isinstance(a, np.ndarray) and a.ndim == 1 and a.size == n else a for a in args])
    run(part, ranges(n, threads, align=16))


class Batch:
    """A loop's argument that ``split_images`` cuts by images: its first axis holds ``per_image``
    entries for each image (1 for images; oh·ow for a convolution's rows)."""

    __slots__ = ("array", "per_image")

    def __init__(self, array, per_image=1):
        self.array, self.per_image = array, per_image


def split_images(loop, n, threads, *args, work=None):
    """Run ``loop(*args)`` on up to ``threads`` threads, each on a range of the batch's ``n``
    images: every ``Batch`` argument is cut to that range, the others are passed as they are.
    ``work`` (elements touched; by default the first Batch's size) decides, as in ``split``,
    whether threads are worth starting."""
    if work is None:
        work = next(a.array.size for a in args if isinstance(a, Batch))

    def part(lo, hi):
        loop(*[a.array[lo * a.per_image:hi * a.per_image] if isinstance(a, Batch) else a for a in args])
    run(part, ranges(n, threads, work))
