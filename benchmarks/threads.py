"""Training speed when the machine is shared: barenet and PyTorch, each with its library's default
threads, with one thread, and (barenet) with ``threads="auto"``, alone and beside other work.

    python benchmarks/threads.py [--epochs 6] [--out benchmarks/results/threads.json]

Each measurement is a fresh worker process training 784-256-128-10 (ReLU, Adam 1e-3, batch 128,
float32) on the first 10,000 MNIST training images (random data of that shape where MNIST is not
found) for ``--epochs`` epochs; the figure is the median epoch after the first. The situations:

- alone: the worker by itself;
- beside a one-core job: a pure-Python loop runs on one core meanwhile;
- two at once: two identical workers started together (two terminals, a search with n_jobs=2,
  a shell loop with &); the figure is the mean of the two workers' medians.

Systems and settings take turns (interleaved), so that a drift in the machine's load falls on all
of them alike. Seconds per epoch and, per situation, each figure as a multiple of the same
system's best alone.
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

WORKER = """
import json, sys, time
import numpy as np
system, setting, epochs = sys.argv[1], sys.argv[2], int(sys.argv[3])
try:
    import barenet as bn
    (X, y), _ = bn.datasets.load_mnist(download=False)
    X, y = X[:10000], y[:10000]
except Exception:
    rng = np.random.default_rng(0)
    X, y = rng.random((10000, 784), dtype=np.float32), rng.integers(0, 10, 10000)
times = []
if system.startswith("barenet"):
    import barenet as bn
    bn.set_backend(system.partition("-")[2] or "numpy")
    bn.set_threads({"default": None, "auto": "auto"}[setting] if setting in ("default", "auto") else int(setting))
    model = bn.Sequential(bn.Dense(784, 256), bn.ReLU(), bn.Dense(256, 128), bn.ReLU(), bn.Dense(128, 10), seed=0)
    for _ in range(epochs):
        model.fit(X, y, loss=bn.CrossEntropy(), optimizer=model.optimizer or bn.Adam(1e-3), epochs=1,
                  batch_size=128, verbose=0)
        times.append(model.history["time"][-1])
    used = model.history["threads"][1:] if "threads" in model.history else []
else:
    import torch
    if setting != "default":
        torch.set_num_threads(int(setting))
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(784, 256), torch.nn.ReLU(), torch.nn.Linear(256, 128),
                              torch.nn.ReLU(), torch.nn.Linear(128, 10))
    opt, loss = torch.optim.Adam(net.parameters(), lr=1e-3), torch.nn.CrossEntropyLoss()
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    for _ in range(epochs):
        started = time.perf_counter()
        order = torch.randperm(len(X))
        for start in range(0, len(X), 128):
            idx = order[start:start + 128]
            opt.zero_grad()
            loss(net(Xt[idx]), yt[idx]).backward()
            opt.step()
        times.append(time.perf_counter() - started)
    used = [torch.get_num_threads()] * epochs
print(json.dumps({"times": times, "threads": used}))
"""

SYSTEMS = {"barenet": ("default", "1", "auto"), "barenet-numba": ("default", "1", "auto"),
           "pytorch": ("default", "1")}
SITUATIONS = ("alone", "beside a one-core job", "two at once")


def _worker(system, setting, epochs):
    return subprocess.Popen([sys.executable, "-c", WORKER, system, setting, str(epochs)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _median_after_first(result):
    return statistics.median(result["times"][1:])


def measure(system, setting, situation, epochs):
    """Seconds per epoch (median after the first), and the threads the epochs ran with."""
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if situation == "beside a one-core job" else None
    try:
        if busy is not None:
            time.sleep(0.3)
        workers = [_worker(system, setting, epochs) for _ in range(2 if situation == "two at once" else 1)]
        results = []
        for worker in workers:
            out, err = worker.communicate(timeout=1800)
            if worker.returncode != 0:
                raise RuntimeError(f"{system} {setting} {situation}: {err[-2000:]}")
            results.append(json.loads(out))
    finally:
        if busy is not None:
            busy.kill()
            busy.wait()
    return (statistics.mean(_median_after_first(r) for r in results),
            sorted({t for r in results for t in r["threads"] if t is not None}))


def run(epochs=6, rounds=1):
    runs = [(system, setting) for system, settings in SYSTEMS.items() for setting in settings]
    figures = {f"{s} ({t})": {situation: [] for situation in SITUATIONS} for s, t in runs}
    used = {key: {} for key in figures}
    for _ in range(rounds):
        for situation in SITUATIONS:
            for system, setting in runs:  # interleaved: every system in each situation before the next
                seconds, threads = measure(system, setting, situation, epochs)
                key = f"{system} ({setting})"
                figures[key][situation].append(seconds)
                used[key][situation] = threads
                print(f"{key:28s} {situation:24s} {seconds:.3f} s/epoch  threads {threads}", flush=True)
    table = {key: {situation: min(values) for situation, values in by.items()} for key, by in figures.items()}
    return {"epochs": epochs, "rounds": rounds, "seconds_per_epoch": table, "threads_used": used,
            "machine": _machine(), "date": time.strftime("%Y-%m-%d")}


def mpi_runs(epochs=5, rounds=2):
    """Wall-clock seconds of ``barenet train --dataset mnist-10k --epochs 5 --batch-size 128`` in
    one process and under ``mpiexec -n 2`` (Open MPI binds each rank to a core), with the default
    threads ("auto") and with --threads 1; None where mpiexec or MNIST is missing."""
    import os
    import shutil
    import tempfile
    mpiexec = shutil.which("mpiexec")
    if mpiexec is None:
        return None
    env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    command = [sys.executable, "-m", "barenet", "train", "--dataset", "mnist-10k", "--epochs", str(epochs),
               "--batch-size", "128", "--no-plots", "--quiet"]
    setups = (("one process", [], []), ("one process, --threads 1", [], ["--threads", "1"]),
              ("mpiexec -n 2", [mpiexec, "-n", "2"], []), ("mpiexec -n 2, --threads 1", [mpiexec, "-n", "2"],
                                                          ["--threads", "1"]))
    figures = {label: [] for label, _, _ in setups}
    for round_ in range(rounds + 1):  # round 0 warms up: compiled kernels cached, files in the page cache
        for label, prefix, extra in setups:
            with tempfile.TemporaryDirectory() as folder:
                started = time.perf_counter()
                done = subprocess.run([*prefix, *command, *extra, "--out", f"{folder}/run"], env=env,
                                      capture_output=True, text=True, timeout=1800)
                if done.returncode != 0:
                    return None if "MNIST was not found" in done.stderr else {"error": done.stderr[-1000:]}
                if round_:
                    figures[label].append(time.perf_counter() - started)
    best = {label: min(times) for label, times in figures.items()}
    for label, seconds in best.items():
        print(f"{label:28s} {seconds:.1f} s (best of {rounds})", flush=True)
    return best


def _machine():
    import os
    import platform

    import numpy
    versions = {"python": platform.python_version(), "numpy": numpy.__version__}
    for module in ("numba", "torch", "threadpoolctl"):
        try:
            versions[module] = __import__(module).__version__
        except ImportError:
            pass
    return {"processor": platform.processor() or platform.machine(), "cores": os.cpu_count(), **versions}


def format_table(report):
    lines = ["| system (threads) | " + " | ".join(SITUATIONS) + " |", "|---|" + "---:|" * len(SITUATIONS)]
    for key, by in report["seconds_per_epoch"].items():
        best = by["alone"]
        cells = [f"{by[s]:.3f} ({by[s] / best:.1f}×)" for s in SITUATIONS]
        lines.append(f"| {key} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--rounds", type=int, default=1, help="repeat every measurement; the best is kept")
    parser.add_argument("--out", default="benchmarks/results/threads.json")
    args = parser.parse_args(argv)
    report = run(args.epochs, args.rounds)
    report["mpi_train_seconds"] = mpi_runs()
    Path(args.out).write_text(json.dumps(report, indent=1))
    print(format_table(report))


if __name__ == "__main__":
    main()
