"""``barenet bench``: training speed against PyTorch and scikit-learn, measured side by side.

The same network (784-256-128-10 ReLU, Adam 1e-3, cross-entropy) is trained on the same data
(Fashion-MNIST when it is found, else random data of the same shape) by every system, for each
batch size; the epochs of the different systems are interleaved in one process (barenet, torch,
scikit-learn, barenet, torch, ...) so that the machine's drift hits all of them alike, and every
system gets the same number of threads. Reported per system and batch size:

- the median epoch time, its ratio to barenet's, and its multiple of the *matrix-product limit*:
  the time this machine's NumPy takes for the epoch's matrix products alone (per minibatch X·W
  for each layer, Xᵀ·G for each weight gradient, G·Wᵀ for every layer but the first, float32,
  into preallocated outputs), a floor no MLP implementation can go below here;
- the peak resident memory (RSS) of a fresh process during one epoch, above its RSS just before
  the epoch (Linux's VmHWM after a reset through /proc/self/clear_refs), in MiB;
- the test accuracy after the same number of epochs;
- inference throughput at batch 1 and 1,000 (barenet and PyTorch).
"""
from __future__ import annotations

import argparse
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

from ._io import atomic_write

SIZES = (784, 256, 128, 10)


def _load_data(limit_train=None):
    from .datasets import DatasetNotFoundError, load_fashion_mnist

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
    name = "barenet"

    def __init__(self, batch_size, seed=0):
        import barenet as bn

        layers = []
        for i, (a, b) in enumerate(zip(SIZES[:-1], SIZES[1:])):
            layers += [bn.Dense(a, b)] + ([bn.ReLU()] if i < len(SIZES) - 2 else [])
        self.model = bn.Sequential(*layers, seed=seed)
        self.loss, self.optimizer, self.batch_size = bn.CrossEntropy(), bn.Adam(1e-3), batch_size

    def epoch(self, X, y):
        """One epoch through fit; the time of its training loop (fit's own clock)."""
        self.model.fit(X, y, loss=self.loss, optimizer=self.optimizer, epochs=1, batch_size=self.batch_size,
                       verbose=0)
        return self.model.history["time"][-1]

    def accuracy(self, X, y):
        return float((self.model.predict(X) == y).mean())

    def predictor(self, x):
        return lambda: self.model.predict_proba(x)


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


SYSTEMS = {"barenet": Barenet, "pytorch": Torch, "scikit-learn": Sklearn}


def available_systems(names):
    found, missing = [], {}
    for name in names:
        module = {"pytorch": "torch", "scikit-learn": "sklearn"}.get(name)
        if module:
            try:
                __import__(module)
            except ImportError:
                missing[name] = f"{module} is not installed"
                continue
        found.append(name)
    return found, missing


def matmul_limit(n, batch_size, repeats=3):
    """Seconds this machine's NumPy needs for one epoch's matrix products alone (float32)."""
    rng = np.random.default_rng(0)
    weights = [rng.standard_normal((a, b), dtype=np.float32) for a, b in zip(SIZES[:-1], SIZES[1:])]
    counts = {batch_size: n // batch_size}
    if n % batch_size:
        counts[n % batch_size] = 1
    best = float("inf")
    for _ in range(repeats):
        total = 0.0
        for b, count in counts.items():
            acts = [rng.standard_normal((b, s), dtype=np.float32) for s in SIZES]
            outs = [np.empty((b, s), np.float32) for s in SIZES]
            grads_w = [np.empty_like(w) for w in weights]
            started = time.perf_counter()
            for _ in range(count):
                for i, w in enumerate(weights):
                    np.matmul(acts[i], w, out=outs[i + 1])                # forward X·W
                for i, w in enumerate(weights):
                    np.matmul(acts[i].T, acts[i + 1], out=grads_w[i])     # Xᵀ·G
                for i in range(1, len(weights)):
                    np.matmul(acts[i + 1], weights[i].T, out=outs[i])     # G·Wᵀ (not the first layer)
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


def epoch_peak_memory(system):
    """Peak resident memory (MiB) above the resident memory before, during one epoch: Linux's
    high-water mark (VmHWM), reset through /proc/self/clear_refs just before the epoch."""
    with open("/proc/self/clear_refs", "w") as handle:
        handle.write("5")
    before = _status_kib("VmRSS")
    system()
    return (_status_kib("VmHWM") - before) / 1024


def peak_memory(system_name, batch_size, limit_train):
    """Peak memory of one epoch of one system, in a fresh process (None where unsupported)."""
    code = ("from barenet import bench; "
            f"_, X, y, _, _ = bench._load_data({limit_train!r}); "
            f"s = bench.SYSTEMS[{system_name!r}]({batch_size}); "
            "print(bench.epoch_peak_memory(lambda: s.epoch(X, y)))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    if result.returncode != 0:
        return None
    return float(result.stdout.strip().splitlines()[-1])


def set_threads(threads):
    try:
        from threadpoolctl import threadpool_limits
        threadpool_limits(threads)
    except ImportError:
        pass
    try:
        import torch
        torch.set_num_threads(threads)
    except ImportError:
        pass


def run(batch_sizes=(32, 128, 512), epochs=3, systems=("barenet", "pytorch", "scikit-learn"), threads=None,
        limit_train=None, memory=True, log=print):
    if threads is None:
        threads = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    set_threads(threads)
    names, missing = available_systems(systems)
    for name, why in missing.items():
        log(f"skipping {name}: {why}")
    data_name, X, y, Xt, yt = _load_data(limit_train)
    log(f"data: {data_name}, {len(X)} training images; threads: {threads}; epochs timed: {epochs} (+1 warm-up)")
    report = {"data": data_name, "train_size": len(X), "threads": threads, "epochs": epochs,
              "machine": {"processor": _processor(), "cores": os.cpu_count(), "python": platform.python_version(),
                          "numpy": np.__version__, **_versions(names)},
              "skipped": missing, "training": {}, "inference": {}}
    for batch_size in batch_sizes:
        instances = [SYSTEMS[name](batch_size) for name in names]
        times = {s.name: [] for s in instances}
        for round_ in range(epochs + 1):  # round 0 warms up (allocations, caches, lazy init)
            for system in instances:
                gc.collect()
                seconds = system.epoch(X, y)
                if round_:
                    times[system.name].append(seconds)
            log(f"  batch {batch_size}, epoch {round_}: " + ", ".join(
                f"{s.name} {times[s.name][-1]:.2f}s" for s in instances if times[s.name]) if round_ else
                f"  batch {batch_size}: warm-up epoch done")
        limit = matmul_limit(len(X), batch_size)
        base = statistics.median(times["barenet"]) if "barenet" in times else None
        rows = {}
        for system in instances:
            median = statistics.median(times[system.name])
            rows[system.name] = {
                "epoch_seconds": times[system.name], "median_epoch_seconds": median,
                "ratio_to_barenet": median / base if base else None, "multiple_of_matmul_limit": median / limit,
                "test_accuracy": system.accuracy(Xt, yt),
                "peak_rss_mib": peak_memory(system.name, batch_size, limit_train) if memory else None}
        report["training"][str(batch_size)] = {"matmul_limit_seconds": limit, "systems": rows}
        if batch_size == batch_sizes[-1]:
            report["inference"] = inference_throughput(instances, Xt)
        log(format_table({str(batch_size): report["training"][str(batch_size)]}))
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
    for name, module in (("pytorch", "torch"), ("scikit-learn", "sklearn")):
        if name in names:
            versions[module] = __import__(module).__version__
    return versions


def format_table(training: dict) -> str:
    lines = ["| batch | system | epoch (s) | × barenet | × matmul limit | peak RSS (MiB) | test accuracy |",
             "|---:|---|---:|---:|---:|---:|---:|"]
    for batch, entry in training.items():
        for name, row in entry["systems"].items():
            memory = f"{row['peak_rss_mib']:.0f}" if row.get("peak_rss_mib") is not None else "–"
            lines.append(f"| {batch} | {name} | {row['median_epoch_seconds']:.2f} | {row['ratio_to_barenet']:.2f} | "
                         f"{row['multiple_of_matmul_limit']:.2f} | {memory} | {row['test_accuracy']:.4f} |")
        lines.append(f"| {batch} | *matmul limit* | {entry['matmul_limit_seconds']:.2f} | | 1.00 | | |")
    return "\n".join(lines)


def format_inference(inference: dict) -> str:
    lines = ["| system | batch 1 (images/s) | batch 1 latency (ms) | batch 1,000 (images/s) |", "|---|---:|---:|---:|"]
    for name, row in inference.items():
        lines.append(f"| {name} | {row['batch_1']['images_per_second']:,.0f} | {row['batch_1']['latency_ms']:.3f} | "
                     f"{row['batch_1000']['images_per_second']:,.0f} |")
    return "\n".join(lines)


def plot(report, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    batches = list(report["training"])
    names = list(report["training"][batches[0]]["systems"])
    fig, ax = plt.subplots(figsize=(7, 4))
    width = 0.8 / (len(names) + 1)
    for i, name in enumerate(names):
        values = [report["training"][b]["systems"][name]["median_epoch_seconds"] for b in batches]
        ax.bar(np.arange(len(batches)) + i * width, values, width, label=name)
    limits = [report["training"][b]["matmul_limit_seconds"] for b in batches]
    ax.bar(np.arange(len(batches)) + len(names) * width, limits, width, label="matmul limit", color="0.7")
    ax.set_xticks(np.arange(len(batches)) + width * len(names) / 2, [f"batch {b}" for b in batches])
    ax.set_ylabel("seconds per epoch (median)")
    ax.set_title(f"784-256-128-10 MLP, Adam, {report['data'].split(' (')[0]}, {report['threads']} threads")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="barenet bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch-sizes", default="32,128,512", help="comma-separated (default: 32,128,512)")
    parser.add_argument("--epochs", type=int, default=3, help="timed epochs per system and batch size (default 3)")
    parser.add_argument("--systems", default="barenet,pytorch,scikit-learn")
    parser.add_argument("--threads", type=int, default=None, help="threads for every system (default: all cores)")
    parser.add_argument("--train-size", type=int, default=None, help="use only this many training images")
    parser.add_argument("--no-memory", action="store_true", help="skip the peak-memory subprocesses")
    parser.add_argument("--out", default="bench-results", help="folder for results.json and the plot")
    args = parser.parse_args(argv)
    systems = [s.strip() for s in args.systems.split(",") if s.strip()]
    unknown = set(systems) - set(SYSTEMS)
    if unknown or "barenet" not in systems:
        parser.error(f"--systems must include barenet and be among {sorted(SYSTEMS)}")
    report = run(tuple(int(b) for b in args.batch_sizes.split(",")), args.epochs, systems, args.threads,
                 args.train_size, not args.no_memory)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with atomic_write(out / "results.json", "w") as handle:
        json.dump(report, handle, indent=2)
    print("\n" + format_table(report["training"]))
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
