"""How ``barenet bench`` measures.

The matrix-product limit, inference throughput, peak memory per epoch, the threads every system
gets, the BLAS under NumPy, and the growth of epoch times.
"""
from __future__ import annotations

import ctypes
import gc
import os
import statistics
import subprocess
import sys
import time

import numpy as np

from .gpu_peers import cuda_synchronize
from .peers import SIZES


def matmul_limit(n, batch_size, repeats=1, device="cpu", sizes=SIZES):
    """Return the seconds this machine needs for one epoch's matrix products alone.

    For the dense network ``sizes`` in float32, per minibatch: X·W for every layer, Xᵀ·G for
    every weight gradient, G·Wᵀ for every layer but the first, into preallocated outputs (random
    data: the time does not depend on it). ``n // batch_size`` full batches and the smaller last
    one. NumPy's products on the CPU, CuPy's on the GPU (``device="gpu"``).

    Parameters
    ----------
    n, batch_size : int
        The training images and the batch size.
    repeats : int, default 1
        Timings; the best is returned.
    device : "cpu" or "gpu", default "cpu"
        NumPy's products, or CuPy's (synchronised before the clock stops).
    sizes : tuple of int, default SIZES
        The layer widths, 784-256-128-10 by default.
    """
    if device == "gpu":
        import cupy as np_  # the same products, on the GPU
        synchronize = cuda_synchronize
    else:
        np_, synchronize = np, (lambda: None)
    rng = np.random.default_rng(0)
    weights = [np_.asarray(rng.standard_normal((a, b), dtype=np.float32)) for a, b in zip(sizes[:-1], sizes[1:])]
    counts = {batch_size: n // batch_size}
    if n % batch_size:
        counts[n % batch_size] = 1
    best = float("inf")
    for _ in range(repeats):
        total = 0.0
        for b, count in counts.items():
            acts = [np_.asarray(rng.standard_normal((b, s), dtype=np.float32)) for s in sizes]
            outs = [np_.empty((b, s), np.float32) for s in sizes]
            grads_w = [np_.empty_like(w) for w in weights]
            synchronize()
            started = time.perf_counter()
            for _ in range(count):
                for i, w in enumerate(weights):
                    np_.matmul(acts[i], w, out=outs[i + 1])                # forward X·W
                for i, w in enumerate(weights):
                    np_.matmul(acts[i].T, acts[i + 1], out=grads_w[i])     # Xᵀ·G
                for i in range(1, len(weights)):
                    np_.matmul(acts[i + 1], weights[i].T, out=outs[i])     # G·Wᵀ (not the first layer)
            synchronize()
            total += time.perf_counter() - started
        best = min(best, total)
    return best


def inference_throughput(systems, X, repeats=7):
    """Return images per second and latency at batch 1 and 1,000, for the systems with a predictor.

    x is the first rows of X. Each predictor is called once to warm up; then the systems take
    turns, ``repeats`` times, each timing 1,000 calls at batch 1 (10 at batch 1,000), and each
    keeps its best: {system: {"batch_1": {"images_per_second", "latency_ms"}, "batch_1000": ...}}.
    """
    results = {}
    for batch, count in ((1, 1000), (1000, 10)):
        x = np.ascontiguousarray(X[:batch])
        predictors = {s.name: s.predictor(x) for s in systems if hasattr(s, "predictor")}
        best = {name: float("inf") for name in predictors}
        for predict in predictors.values():
            predict()
        for _ in range(repeats):
            for name, predict in predictors.items():
                best[name] = min(best[name], _timed(predict, count))
        for name, seconds in best.items():
            results.setdefault(name, {})[f"batch_{batch}"] = {"images_per_second": batch / seconds,
                                                              "latency_ms": seconds * 1e3}
    return results


def _timed(function, count):
    started = time.perf_counter()
    for _ in range(count):
        function()
    return (time.perf_counter() - started) / count


def status_kib(field):
    """Return a field of /proc/self/status in KiB (``VmRSS``, ``VmHWM``); KeyError if absent."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)


def release_free_memory():
    """Hand memory that Python and NumPy have freed back to the system (glibc's malloc_trim).

    So that what the next epoch allocates shows in the resident set instead of reusing pages
    that loading the data left resident. Without glibc, nothing is handed back.
    """
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: the figures may then read low
        pass


def epoch_peak_memory(system):
    """Return the peak resident memory (MiB) of one call of ``system``, above the resident memory before.

    Linux's high-water mark (VmHWM), reset through /proc/self/clear_refs (writing 5) just
    before the call, after freed memory is handed back (``release_free_memory``).
    """
    release_free_memory()
    with open("/proc/self/clear_refs", "w") as handle:
        handle.write("5")
    before = status_kib("VmRSS")
    system()
    return (status_kib("VmHWM") - before) / 1024


def peak_memory(system_name, batch_size, limit_train):
    """Return (first, later): the peak memory (MiB) of a system's first epoch and of its second.

    Measured in a fresh Python process that has loaded the data and built the system before
    counting starts; None where that process fails (not Linux, the system missing). The first
    epoch carries one-time costs (compiling numba's or XLA's code, JAX's copy of the data set
    into its own arrays, the optimizer's state); the second shows what every later epoch needs.
    """
    code = ("from barenet.app import bench; "
            f"_, X, y, _, _ = bench.load_data({limit_train!r}); "
            f"s = bench.SYSTEMS[{system_name!r}]({batch_size}); "
            "print(bench.epoch_peak_memory(lambda: s.epoch(X, y)), bench.epoch_peak_memory(lambda: s.epoch(X, y)))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    if result.returncode != 0:
        return None
    first, later = result.stdout.strip().splitlines()[-1].split()
    return float(first), float(later)


def set_threads(threads):
    """Give every system ``threads`` threads.

    The BLAS under NumPy and scikit-learn (threadpoolctl), barenet's ``fit``, PyTorch's pool and
    numba's; with fewer threads than cores the process is also pinned to the first that many
    cores, which is what limits XLA (JAX), so this runs before any peer is imported.
    """
    if hasattr(os, "sched_setaffinity") and threads < len(os.sched_getaffinity(0)):
        # XLA has no thread setting of its own: it sizes its pool by the cores it may run on
        os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[:threads])
    try:
        from threadpoolctl import threadpool_limits
        threadpool_limits(threads)
    except ImportError:
        pass
    from ...training.threads import set_threads as barenet_threads
    barenet_threads(threads)  # else fit would choose its own ("auto") each epoch
    for module, call in (("torch", "set_num_threads"), ("numba", "set_num_threads")):
        try:
            getattr(__import__(module), call)(threads)
        except (ImportError, ValueError):
            pass


def numpy_blas() -> dict:
    """Return the BLAS library under NumPy (which does barenet's matrix products), its version, kernel and threads.

    From NumPy's build configuration and threadpoolctl; what neither says stays None (or
    ``"unknown"`` for the library; no ``"kernel"`` unless threadpoolctl finds NumPy's BLAS).
    """
    blas = {"library": "unknown", "version": None, "threads": None}
    try:
        config = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        blas.update(library=config.get("name"), version=config.get("version"))
    except Exception:  # the layout of show_config differs between NumPy versions
        pass
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return blas
    for info in threadpool_info():
        if info.get("user_api") == "blas" and "numpy" in info.get("filepath", ""):
            blas.update(threads=info.get("num_threads"), kernel=info.get("architecture"),
                        version=blas["version"] or info.get("version"))
    return blas


GROWTH_LIMIT = 0.10  # a system whose epochs grow by more than this over the run is flagged
SETTLE_SECONDS = 0.25  # a pause before each epoch, so that the thread pools of the system that ran
# before (OpenBLAS, OpenMP and XLA workers keep spinning for a while after their last task) are
# asleep when the next one starts


def growth(times) -> float:
    """Return how much slower the last timed epoch is than the first, read off a line through all of them.

    0.25 means the epochs grew by 25% over the run: slope · (n - 1) / intercept. The line is
    Theil and Sen's (its slope is the median of the slopes between every pair of epochs, its
    intercept the median of tᵢ - slope · i), so that one epoch slowed by the machine neither
    hides nor fakes a trend; 0 for fewer than two epochs, or an intercept at or below 0. A system
    is flagged when its growth exceeds the growth of the matmul limit timed in the same rounds
    (the machine's own drift) by GROWTH_LIMIT.
    """
    n = len(times)
    if n < 2:
        return 0.0
    slope = statistics.median((times[j] - times[i]) / (j - i) for i in range(n) for j in range(i + 1, n))
    first = statistics.median(t - slope * i for i, t in enumerate(times))
    return float(slope * (n - 1) / first) if first > 0 else 0.0
