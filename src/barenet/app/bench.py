"""``barenet bench``: training speed against PyTorch, JAX, Keras and scikit-learn, side by side.

The same network (784-256-128-10 ReLU, Adam 1e-3, cross-entropy) is trained on the same data
(Fashion-MNIST when it is found, else random data of the same shape) by every system, for each
batch size: barenet on its NumPy backend and on its numba backend, PyTorch (eager), JAX (the
whole step under ``jax.jit``, optax's Adam), Keras 3 (``fit``, on the PyTorch backend) and
scikit-learn's ``MLPClassifier``. Peers that are not installed are skipped, with a note. The
epochs of the different systems are interleaved in one process (barenet, torch, jax, ...,
barenet, torch, ...) so that the machine's drift hits all of them alike, and every system gets
the same number of threads. One warm-up epoch each, then ``--epochs`` timed epochs (5 by
default: long enough to see a system slow down as it trains). Reported per system and batch size:

- the median epoch time, the first and the last, and the *growth* over the run (from a robust
  straight line through all the timed epochs), flagged where it exceeds the machine's own drift
  (the growth of the matmul limit, which is timed in every round too) by more than 10%;
- the reference's time divided by the system's (the reference is barenet-numba when it runs,
  else barenet), and the multiple of the *matrix-product limit*:
  the time this machine's NumPy takes for the epoch's matrix products alone (per minibatch X·W
  for each layer, Xᵀ·G for each weight gradient, G·Wᵀ for every layer but the first, float32,
  into preallocated outputs), a floor no MLP implementation can go below here;
- the peak resident memory (RSS) of a fresh process during its first and its second epoch, each
  above its RSS just before (Linux's VmHWM after a reset through /proc/self/clear_refs, freed
  memory handed back first), with the data loaded and the system built, in MiB: the first epoch
  carries one-time costs (compilation, JAX's copy of the data set), the second is every later one;
- the test accuracy after the same number of epochs;
- inference throughput at batch 1 and 1,000 (barenet, PyTorch and JAX);
- the threads, and the BLAS library under NumPy (threadpoolctl).
"""
from __future__ import annotations

import argparse
import ctypes
import gc
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from ..core.activations import ReLU
from ..core.backend import using_backend
from ..core.layers import Dense
from ..core.losses import CrossEntropy
from ..core.optimizers import Adam
from ..files.atomic import atomic_write
from ..training.model import Sequential

SIZES = (784, 256, 128, 10)


def _load_data(limit_train=None):
    from ..training.datasets import DatasetNotFoundError, load_fashion_mnist

    try:
        (X, y), (Xt, yt) = load_fashion_mnist(download=False)
        name = "Fashion-MNIST"
    except (DatasetNotFoundError, ValueError):
        rng = np.random.default_rng(0)
        X, y = rng.random((60000, 784), dtype=np.float32), rng.integers(0, 10, 60000)
        Xt, yt = rng.random((10000, 784), dtype=np.float32), rng.integers(0, 10, 10000)
        name = "random data shaped like Fashion-MNIST (Fashion-MNIST not found)"
    if limit_train:
        X, y = X[:limit_train], y[:limit_train]
    return name, X, y, Xt, yt


# -- the systems: each builds a model and trains one epoch per call ------------------------------

class Barenet:
    """barenet's ``fit``, one epoch per call, on the NumPy backend (the reference code)."""

    name = "barenet"
    backend = "numpy"

    def __init__(self, batch_size, seed=0):
        layers = []
        for i, (a, b) in enumerate(zip(SIZES[:-1], SIZES[1:])):
            layers += [Dense(a, b)] + ([ReLU()] if i < len(SIZES) - 2 else [])
        self.model = Sequential(*layers, seed=seed, backend=self.backend)  # imports numba now, not in an epoch
        self.loss, self.optimizer, self.batch_size = CrossEntropy(), Adam(1e-3), batch_size

    def epoch(self, X, y):
        """One epoch through fit; the time of its training loop (fit's own clock)."""
        self.model.fit(X, y, loss=self.loss, optimizer=self.optimizer, epochs=1, batch_size=self.batch_size,
                       verbose=0)
        return self.model.history["time"][-1]

    def accuracy(self, X, y):
        return float((self.model.predict(X) == y).mean())

    def predictor(self, x):
        def predict():
            return self.model.predict_proba(x)
        return predict


class BarenetNumba(Barenet):
    """barenet with the ``"numba"`` backend: the same model, the hot loops compiled."""

    name = "barenet-numba"
    backend = "numba"


class Torch:
    name = "pytorch"

    def __init__(self, batch_size, seed=0):
        import torch

        torch.manual_seed(seed)
        layers = []
        for i, (a, b) in enumerate(zip(SIZES[:-1], SIZES[1:])):
            layers += [torch.nn.Linear(a, b)] + ([torch.nn.ReLU()] if i < len(SIZES) - 2 else [])
        self.torch, self.model = torch, torch.nn.Sequential(*layers)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=1e-3)
        self.loss = torch.nn.CrossEntropyLoss()
        self.batch_size = batch_size
        self.generator = torch.Generator().manual_seed(seed)

    def epoch(self, X, y):
        torch = self.torch
        Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
        started = time.perf_counter()
        order = torch.randperm(len(X), generator=self.generator)
        self.model.train()
        for start in range(0, len(X), self.batch_size):
            idx = order[start:start + self.batch_size]
            self.optimizer.zero_grad()
            self.loss(self.model(Xt[idx]), yt[idx]).backward()
            self.optimizer.step()
        return time.perf_counter() - started

    def accuracy(self, X, y):
        with self.torch.no_grad():
            self.model.eval()
            return float((self.model(self.torch.from_numpy(X)).argmax(1).numpy() == y).mean())

    def predictor(self, x):
        torch, xt = self.torch, self.torch.from_numpy(x)
        self.model.eval()

        def predict():
            with torch.no_grad():
                return torch.softmax(self.model(xt), dim=1)
        return predict


class BarenetCupy(Barenet):
    """barenet on an NVIDIA GPU (the ``"cupy"`` backend)."""

    name = "barenet-cupy"
    backend = "cupy"

    def epoch(self, X, y):
        seconds = super().epoch(X, y)
        _cuda_synchronize()
        return seconds


class TorchCuda(Torch):
    """PyTorch eager on the GPU, the data set on the device."""

    name = "pytorch-cuda"

    def __init__(self, batch_size, seed=0):
        super().__init__(batch_size, seed)
        self.model.cuda()
        self.optimizer = self.torch.optim.Adam(self.model.parameters(), lr=1e-3)
        self.data = None

    def _on_device(self, X, y):
        if self.data is None or self.data[0] is not X:
            self.data = (X, self.torch.from_numpy(X).cuda(), self.torch.from_numpy(y).cuda())
        return self.data[1:]

    def epoch(self, X, y):
        torch = self.torch
        Xt, yt = self._on_device(X, y)
        torch.cuda.synchronize()
        started = time.perf_counter()
        order = torch.randperm(len(X), generator=self.generator).cuda()
        self.model.train()
        for start in range(0, len(X), self.batch_size):
            self._step(Xt[order[start:start + self.batch_size]], yt[order[start:start + self.batch_size]])
        torch.cuda.synchronize()
        return time.perf_counter() - started

    def _step(self, xb, yb):
        self.optimizer.zero_grad()
        self.loss(self.model(xb), yb).backward()
        self.optimizer.step()

    def accuracy(self, X, y):
        with self.torch.no_grad():
            self.model.eval()
            return float((self.model(self.torch.from_numpy(X).cuda()).argmax(1).cpu().numpy() == y).mean())

    def predictor(self, x):
        torch, xt = self.torch, self.torch.from_numpy(x).cuda()
        self.model.eval()

        def predict():
            with torch.no_grad():
                out = torch.softmax(self.model(xt), dim=1)
            torch.cuda.synchronize()
            return out
        return predict


class TorchCudaGraph(TorchCuda):
    """A reference line, not a peer users run: PyTorch's whole training step (forward, backward,
    Adam) captured once as a CUDA graph and replayed for every full batch, as in PyTorch's
    documentation ("whole network capture"); the last, smaller batch runs eagerly."""

    name = "pytorch-cuda-graph"

    def __init__(self, batch_size, seed=0):
        super().__init__(batch_size, seed)
        torch = self.torch
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=1e-3, capturable=True)
        self.static_x = torch.zeros(batch_size, SIZES[0], device="cuda")
        self.static_y = torch.zeros(batch_size, dtype=torch.int64, device="cuda")
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):  # warm-up on a side stream, as capture requires
            for _ in range(3):
                super()._step(self.static_x, self.static_y)
        torch.cuda.current_stream().wait_stream(side)
        self.graph = torch.cuda.CUDAGraph()
        self.optimizer.zero_grad(set_to_none=True)
        with torch.cuda.graph(self.graph):
            self.loss(self.model(self.static_x), self.static_y).backward()
            self.optimizer.step()

    def _step(self, xb, yb):
        if len(xb) != self.batch_size:
            return super()._step(xb, yb)
        self.static_x.copy_(xb)
        self.static_y.copy_(yb)
        self.graph.replay()


class Jax:
    """JAX at its fastest: the whole step (forward, loss, gradients, optax's Adam) compiled by
    ``jax.jit`` into one XLA program, the data set kept in JAX arrays and gathered inside it."""

    name = "jax"

    def __init__(self, batch_size, seed=0):
        import jax
        import jax.numpy as jnp
        import optax

        self.jax, self.jnp, self.batch_size = jax, jnp, batch_size
        keys = jax.random.split(jax.random.PRNGKey(seed), len(SIZES) - 1)
        self.params = [(jax.random.normal(k, (a, b), jnp.float32) * np.sqrt(2.0 / a), jnp.zeros(b, jnp.float32))
                       for k, a, b in zip(keys, SIZES[:-1], SIZES[1:])]
        self.optimizer = optax.adam(1e-3)
        self.state = self.optimizer.init(self.params)
        self.rng = np.random.default_rng(seed)
        self.data = None

        def logits(params, x):
            for i, (W, b) in enumerate(params):
                x = x @ W + b
                if i < len(params) - 1:
                    x = jax.nn.relu(x)
            return x

        def loss(params, x, y):
            return optax.softmax_cross_entropy_with_integer_labels(logits(params, x), y).mean()

        def step(params, state, X, y, idx):
            value, grads = jax.value_and_grad(loss)(params, X[idx], y[idx])
            updates, state = self.optimizer.update(grads, state, params)
            return optax.apply_updates(params, updates), state, value

        self.logits, self.step = jax.jit(logits), jax.jit(step)

    def _on_device(self, X, y):
        """The data set as JAX arrays, copied once (kept while X is the data set trained on)."""
        if self.data is None or self.data[0] is not X:
            self.data = (X, self.jnp.asarray(X), self.jnp.asarray(y.astype(np.int32)))
        return self.data[1:]

    def epoch(self, X, y):
        Xd, yd = self._on_device(X, y)
        started = time.perf_counter()
        order = self.rng.permutation(len(X)).astype(np.int32)
        for start in range(0, len(X), self.batch_size):
            self.params, self.state, value = self.step(self.params, self.state, Xd, yd,
                                                       order[start:start + self.batch_size])
        self.jax.block_until_ready(self.params)
        return time.perf_counter() - started

    def accuracy(self, X, y):
        return float((np.asarray(self.logits(self.params, X)).argmax(1) == y).mean())

    def predictor(self, x):
        xd = self.jnp.asarray(x)
        predict = self.jax.jit(lambda params, x: self.jax.nn.softmax(self.logits(params, x), axis=1))
        return lambda: predict(self.params, xd).block_until_ready()


class Keras:
    """Keras 3's ``fit``, one epoch per call, on the PyTorch backend (``KERAS_BACKEND=torch``,
    set here unless the environment chose another backend)."""

    name = "keras"

    def __init__(self, batch_size, seed=0):
        import keras

        keras.utils.set_random_seed(seed)
        self.model = keras.Sequential(
            [keras.Input((SIZES[0],))]
            + [keras.layers.Dense(width, activation="relu" if i < len(SIZES) - 2 else None)
               for i, width in enumerate(SIZES[1:])])
        self.model.compile(optimizer=keras.optimizers.Adam(1e-3),
                           loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        self.batch_size = batch_size

    def epoch(self, X, y):
        started = time.perf_counter()
        self.model.fit(X, y, batch_size=self.batch_size, epochs=1, shuffle=True, verbose=0)
        return time.perf_counter() - started

    def accuracy(self, X, y):
        return float((self.model.predict(X, batch_size=1024, verbose=0).argmax(1) == y).mean())


class Sklearn:
    name = "scikit-learn"

    def __init__(self, batch_size, seed=0):
        from sklearn.neural_network import MLPClassifier

        self.model = MLPClassifier(hidden_layer_sizes=SIZES[1:-1], solver="adam", learning_rate_init=1e-3,
                                   batch_size=batch_size, alpha=0.0, random_state=seed)
        self.classes = np.arange(SIZES[-1])

    def epoch(self, X, y):
        started = time.perf_counter()
        self.model.partial_fit(X, y, classes=self.classes)
        return time.perf_counter() - started

    def accuracy(self, X, y):
        return float((self.model.predict(X) == y).mean())


CPU_SYSTEMS = (Barenet, BarenetNumba, Torch, Jax, Keras, Sklearn)
GPU_SYSTEMS = (BarenetCupy, TorchCuda, TorchCudaGraph)
SYSTEMS = {system.name: system for system in CPU_SYSTEMS + GPU_SYSTEMS}
# What each system needs beyond NumPy, as the module that must import.
REQUIRES = {"barenet-numba": "numba", "pytorch": "torch", "jax": "jax", "keras": "keras",
            "scikit-learn": "sklearn", "pytorch-cuda": "torch", "pytorch-cuda-graph": "torch"}


def _cuda_synchronize():
    import cupy
    cupy.cuda.Device().synchronize()


def _gpu_missing(name):
    """Why a GPU system cannot run here, or None."""
    if name == "barenet-cupy":
        try:
            with using_backend("cupy"):
                return None
        except (ImportError, RuntimeError) as error:
            return str(error)
    import torch
    return None if torch.cuda.is_available() else "PyTorch sees no CUDA device"


def available_systems(names):
    """(the systems that can run, {system: why not} for the others)."""
    os.environ.setdefault("KERAS_BACKEND", "torch")  # read when keras is first imported
    found, missing = [], {}
    for name in names:
        module = REQUIRES.get(name)
        if module:
            try:
                __import__(module)
            except ImportError:
                missing[name] = f"{module} is not installed"
                continue
            except Exception as error:  # a peer that is installed but broken is skipped too
                missing[name] = f"{module} failed to import ({type(error).__name__}: {error})"
                continue
        if SYSTEMS[name] in GPU_SYSTEMS and _gpu_missing(name):
            missing[name] = _gpu_missing(name)
            continue
        found.append(name)
    return found, missing


def matmul_limit(n, batch_size, repeats=1, device="cpu"):
    """Seconds this machine needs for one epoch's matrix products alone (float32): NumPy's on the
    CPU, CuPy's on the GPU (``device="gpu"``); the best of ``repeats`` timings."""
    if device == "gpu":
        import cupy as np_  # the same products, on the GPU
        synchronize = _cuda_synchronize
    else:
        np_, synchronize = np, (lambda: None)
    rng = np.random.default_rng(0)
    weights = [np_.asarray(rng.standard_normal((a, b), dtype=np.float32)) for a, b in zip(SIZES[:-1], SIZES[1:])]
    counts = {batch_size: n // batch_size}
    if n % batch_size:
        counts[n % batch_size] = 1
    best = float("inf")
    for _ in range(repeats):
        total = 0.0
        for b, count in counts.items():
            acts = [np_.asarray(rng.standard_normal((b, s), dtype=np.float32)) for s in SIZES]
            outs = [np_.empty((b, s), np.float32) for s in SIZES]
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
    """Images per second at batch 1 and 1,000 and the batch-1 latency, for systems with a
    predictor; the systems take turns, and each keeps its best of ``repeats`` timings."""
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


def _status_kib(field):
    for line in open("/proc/self/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def _release_free_memory():
    """Hand memory that Python and NumPy have freed back to the system (glibc's malloc_trim), so
    that what the next epoch allocates shows in the resident set instead of reusing pages that
    loading the data left resident."""
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: the figures may then read low
        pass


def epoch_peak_memory(system):
    """Peak resident memory (MiB) above the resident memory before, during one epoch: Linux's
    high-water mark (VmHWM), reset through /proc/self/clear_refs just before the epoch."""
    _release_free_memory()
    with open("/proc/self/clear_refs", "w") as handle:
        handle.write("5")
    before = _status_kib("VmRSS")
    system()
    return (_status_kib("VmHWM") - before) / 1024


def peak_memory(system_name, batch_size, limit_train):
    """(first, later): the peak memory of a system's first epoch and of its second, in a fresh
    process that has loaded the data and built the system before counting starts; None where
    unsupported. The first epoch carries one-time costs (compiling numba's or XLA's code, JAX's
    copy of the data set into its own arrays, the optimizer's state); the second shows what
    every later epoch needs."""
    code = ("from barenet.app import bench; "
            f"_, X, y, _, _ = bench._load_data({limit_train!r}); "
            f"s = bench.SYSTEMS[{system_name!r}]({batch_size}); "
            "print(bench.epoch_peak_memory(lambda: s.epoch(X, y)), bench.epoch_peak_memory(lambda: s.epoch(X, y)))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    if result.returncode != 0:
        return None
    first, later = result.stdout.strip().splitlines()[-1].split()
    return float(first), float(later)


def set_threads(threads):
    """Give every system ``threads`` threads: the BLAS under NumPy and scikit-learn, PyTorch's
    pool and numba's; with fewer threads than cores the process is also pinned to that many cores,
    which is what limits XLA (JAX), so this runs before any peer is imported."""
    if hasattr(os, "sched_setaffinity") and threads < len(os.sched_getaffinity(0)):
        # XLA has no thread setting of its own: it sizes its pool by the cores it may run on
        os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[:threads])
    try:
        from threadpoolctl import threadpool_limits
        threadpool_limits(threads)
    except ImportError:
        pass
    from ..training.threads import set_threads as barenet_threads
    barenet_threads(threads)  # else fit would choose its own ("auto") each epoch
    for module, call in (("torch", "set_num_threads"), ("numba", "set_num_threads")):
        try:
            getattr(__import__(module), call)(threads)
        except (ImportError, ValueError):
            pass


def numpy_blas() -> dict:
    """The BLAS library under NumPy (which does barenet's matrix products), its version, kernel
    and threads: from NumPy's build configuration and threadpoolctl."""
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
    """How much slower the last timed epoch is than the first, read off a straight line through
    all of them: 0.25 means the epochs grew by 25% over the run. The line is Theil and Sen's
    (its slope is the median of the slopes between every pair of epochs), so that one epoch
    slowed by the machine neither hides nor fakes a trend. A system is flagged when its growth
    exceeds the growth of the matmul limit timed in the same rounds (the machine's own drift)
    by GROWTH_LIMIT."""
    n = len(times)
    if n < 2:
        return 0.0
    slope = statistics.median((times[j] - times[i]) / (j - i) for i in range(n) for j in range(i + 1, n))
    first = statistics.median(t - slope * i for i, t in enumerate(times))
    return float(slope * (n - 1) / first) if first > 0 else 0.0


def run(batch_sizes=(32, 128, 512), epochs=5, systems=tuple(s.name for s in CPU_SYSTEMS), threads=None,
        limit_train=None, memory=True, log=print, device="cpu"):
    """Train every available system ``epochs`` timed epochs (after one warm-up) per batch size,
    interleaved, and return the report (a dict, as written to results.json). ``device="gpu"``
    times the matmul limit with CuPy."""
    if threads is None:
        threads = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    set_threads(threads)
    names, missing = available_systems(systems)
    for name, why in missing.items():
        log(f"skipping {name}: {why}")
    data_name, X, y, Xt, yt = _load_data(limit_train)
    blas = numpy_blas()
    log(f"data: {data_name}, {len(X)} training images; threads: {threads}; NumPy's BLAS: {blas['library']} "
        f"{blas['version']} ({blas.get('kernel') or '?'} kernels, {blas['threads']} threads); "
        f"epochs timed: {epochs} after 1 warm-up")
    reference = next((n for n in ("barenet-cupy", "barenet-numba", "barenet") if n in names), None)
    report = {"data": data_name, "train_size": len(X), "threads": threads, "epochs": epochs, "blas": blas,
              "device": device,
              "reference": reference,
              "machine": {"processor": _processor(), "cores": os.cpu_count(), "python": platform.python_version(),
                          "numpy": np.__version__, **_versions(names)},
              "skipped": missing, "training": {}, "inference": {}}
    for batch_size in batch_sizes:
        instances = [SYSTEMS[name](batch_size) for name in names]
        times = {s.name: [] for s in instances}
        limits = []  # the matmul limit, timed in every round too: the machine's own drift
        for round_ in range(epochs + 1):  # round 0 warms up (allocations, caches, compilation)
            for system in instances:
                gc.collect()
                time.sleep(SETTLE_SECONDS)
                seconds = system.epoch(X, y)
                if round_:
                    times[system.name].append(seconds)
            time.sleep(SETTLE_SECONDS)
            limits.append(matmul_limit(len(X), batch_size, device=device))
            log(f"  batch {batch_size}, epoch {round_}: " + ", ".join(
                f"{s.name} {times[s.name][-1]:.2f}s" for s in instances) + f", matmul limit {limits[-1]:.2f}s"
                if round_ else f"  batch {batch_size}: warm-up epoch done")
        limits = limits[1:]
        limit = statistics.median(limits)
        drift = growth(limits)
        base = statistics.median(times[reference]) if reference else None
        rows = {}
        for system in instances:
            seconds = times[system.name]
            median = statistics.median(seconds)
            rows[system.name] = {
                "epoch_seconds": seconds, "median_epoch_seconds": median,
                "first_epoch_seconds": seconds[0], "last_epoch_seconds": seconds[-1],
                "growth": growth(seconds), "grows": growth(seconds) - max(drift, 0.0) > GROWTH_LIMIT,
                "reference_over_system": base / median if base else None,
                "multiple_of_matmul_limit": median / limit,
                "test_accuracy": system.accuracy(Xt, yt),
                **dict(zip(("peak_rss_mib", "peak_rss_mib_later"),
                           (peak_memory(system.name, batch_size, limit_train) if memory else None) or (None, None)))}
        report["training"][str(batch_size)] = {"matmul_limit_seconds": limit, "matmul_limit_epoch_seconds": limits,
                                               "machine_drift": drift, "systems": rows}
        if batch_size == batch_sizes[-1]:
            report["inference"] = inference_throughput(instances, Xt)
    return report


def _processor():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _versions(names):
    versions = {}
    for name in names:
        module = REQUIRES.get(name)
        if module:
            versions[module] = getattr(__import__(module), "__version__", "?")
    if "keras" in names:
        import keras
        versions["keras_backend"] = keras.backend.backend()
    return versions


def format_table(report: dict) -> str:
    reference = report.get("reference") or "barenet"
    lines = [f"| batch | system | epoch (s), median | first → last (s) | growth | {reference} ÷ system "
             f"| × matmul limit | peak RSS, epoch 1 / 2 (MiB) | test accuracy |",
             "|---:|---|---:|---:|---:|---:|---:|---:|---:|"]
    for batch, entry in report["training"].items():
        for name, row in entry["systems"].items():
            memory = "–" if row.get("peak_rss_mib") is None else \
                f"{row['peak_rss_mib']:.0f} / {row['peak_rss_mib_later']:.0f}"
            ratio = f"{row['reference_over_system']:.2f}" if row.get("reference_over_system") else "–"
            flag = " ⚠ grows" if row["grows"] else ""
            lines.append(f"| {batch} | {name} | {row['median_epoch_seconds']:.2f} | {row['first_epoch_seconds']:.2f} → "
                         f"{row['last_epoch_seconds']:.2f} | {row['growth']:+.0%}{flag} | {ratio} | "
                         f"{row['multiple_of_matmul_limit']:.2f} | {memory} | {row['test_accuracy']:.4f} |")
        limits = entry["matmul_limit_epoch_seconds"]
        lines.append(f"| {batch} | *matmul limit* | {entry['matmul_limit_seconds']:.2f} | {limits[0]:.2f} → "
                     f"{limits[-1]:.2f} | {entry['machine_drift']:+.0%} | | 1.00 | | |")
    return "\n".join(lines)


def format_inference(inference: dict) -> str:
    lines = ["| system | batch 1 (images/s) | batch 1 latency (ms) | batch 1,000 (images/s) |", "|---|---:|---:|---:|"]
    for name, row in inference.items():
        lines.append(f"| {name} | {row['batch_1']['images_per_second']:,.0f} | {row['batch_1']['latency_ms']:.3f} | "
                     f"{row['batch_1000']['images_per_second']:,.0f} |")
    return "\n".join(lines)


def plot(report, path):
    """Each system's median epoch as a multiple of the matmul limit, per batch size (log scale:
    the systems span a factor of 20)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    batches = list(report["training"])
    names = list(report["training"][batches[0]]["systems"])
    fig, ax = plt.subplots(figsize=(8, 4.2))
    width = 0.8 / len(names)
    for i, name in enumerate(names):
        values = [report["training"][b]["systems"][name]["multiple_of_matmul_limit"] for b in batches]
        bars = ax.bar(np.arange(len(batches)) + i * width, values, width, label=name)
        ax.bar_label(bars, [f"{v:.1f}" for v in values], fontsize=7, padding=1)
    ax.axhline(1.0, color="0.4", linewidth=1)
    ax.set_yscale("log")
    ax.set_ylim(0.8, 4 * max(row["multiple_of_matmul_limit"] for b in batches
                             for row in report["training"][b]["systems"].values()))
    ax.set_xticks(np.arange(len(batches)) + width * (len(names) - 1) / 2, [f"batch {b}" for b in batches])
    ax.set_ylabel(f"epoch time ÷ matmul limit (median of {report['epochs']})")
    ax.set_title(f"784-256-128-10 MLP, Adam, {report['data'].split(' (')[0]}, {report['threads']} threads "
                 f"(1 = the matrix products alone)", fontsize=10)
    ax.legend(fontsize="small", ncol=3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def flagged(report) -> list:
    """One line for each system and batch size whose epochs grew beyond the machine's drift."""
    return [f"{name} at batch {batch} ({row['growth']:+.0%}, the machine {entry['machine_drift']:+.0%})"
            for batch, entry in report["training"].items() for name, row in entry["systems"].items()
            if row["grows"]]


def build_parser():
    parser = argparse.ArgumentParser(
        prog="barenet bench", description=__doc__.split("\n\n")[0].replace("``", ""),
        epilog="Peers that are not installed are skipped, with a note.")
    parser.add_argument("--batch-sizes", default="32,128,512", help="comma-separated (default: 32,128,512)")
    parser.add_argument("--epochs", type=int, default=5,
                        help="timed epochs per system and batch size, after one warm-up (default 5, at least 2)")
    parser.add_argument("--systems", default=None, help=f"comma-separated, among {', '.join(SYSTEMS)} (default: "
                        f"every CPU system, or with --device gpu every GPU one)")
    parser.add_argument("--device", choices=("cpu", "gpu"), default="cpu",
                        help="gpu: barenet on CuPy against PyTorch CUDA (eager, and a whole-step CUDA graph as a "
                             "reference line)")
    parser.add_argument("--threads", type=int, default=None, help="threads for every system (default: all cores)")
    parser.add_argument("--train-size", type=int, default=None, help="use only this many training images")
    parser.add_argument("--no-memory", action="store_true", help="skip the peak-memory subprocesses")
    parser.add_argument("--out", default="bench-results", help="folder for results.json and the plot")
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    default = CPU_SYSTEMS if args.device == "cpu" else GPU_SYSTEMS
    systems = [s.strip() for s in (args.systems or ",".join(s.name for s in default)).split(",") if s.strip()]
    unknown = set(systems) - set(SYSTEMS)
    if unknown or not {"barenet", "barenet-numba", "barenet-cupy"} & set(systems):
        parser.error(f"--systems must include barenet, barenet-numba or barenet-cupy and be among {', '.join(SYSTEMS)}")
    if args.device == "gpu":
        why = _gpu_missing("barenet-cupy")
        if why:
            parser.error(f"--device gpu: {why}")
    if args.epochs < 2:
        parser.error("--epochs must be at least 2: the benchmark reports how epoch times change")
    if args.threads is not None and args.threads < 1:
        parser.error("--threads must be at least 1")
    try:
        batch_sizes = tuple(int(b) for b in args.batch_sizes.split(","))
        if min(batch_sizes) < 1:
            raise ValueError
    except ValueError:
        parser.error(f"--batch-sizes must be positive ints separated by commas, got {args.batch_sizes!r}")
    report = run(batch_sizes, args.epochs, systems, args.threads, args.train_size,
                 not args.no_memory and args.device == "cpu", device=args.device)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with atomic_write(out / "results.json", "w") as handle:
        json.dump(report, handle, indent=2)
    print("\n" + format_table(report))
    if flagged(report):
        print(f"\nepochs grew by more than {GROWTH_LIMIT:.0%} beyond the machine's drift: " + "; ".join(flagged(report)))
    if report["inference"]:
        print("\n" + format_inference(report["inference"]))
    try:
        plot(report, out / "epoch_times.png")
        print(f"\nwrote {out / 'results.json'} and {out / 'epoch_times.png'}")
    except ImportError:
        print(f"\nwrote {out / 'results.json'} (install matplotlib for the plot)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
