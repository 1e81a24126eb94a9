"""How data-parallel training scales on this machine, and a cost model for a cluster.

Measured: the epoch time of the MNIST network (784-256-128-10, float32, Adam) on the first
10,000 MNIST images, at batch 128, 512 and 2048, for

    1 process × 1 BLAS thread      the baseline
    2 processes × 1 thread each    data parallelism (mpiexec -n 2)
    1 process × 2 threads          the same two cores used by BLAS instead

run interleaved, ``--rounds`` times each; each run trains ``--epochs`` epochs and reports the
median epoch time of all but the first, the Allreduce time per step in training (which includes
waiting for the slower process), and the Allreduce alone (the processes meet at a barrier
first). Speed-up and
efficiency (speed-up ÷ processes) are against the baseline of the same round.

Then the cost model: bytes per step, ring-Allreduce time at 10 and 100 Gbit/s for 2 to 64
machines, and the global batch from which K machines beat one, for this network and for one 10×
wider (2560-1280 hidden units), from the compute time per sample measured here.

    python benchmarks/mpi_scaling.py                 # writes benchmarks/results/mpi_scaling.json
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

RESULTS = Path(__file__).with_name("results") / "mpi_scaling.json"
SETUPS = {"1 process × 1 thread": (1, 1), "2 processes × 1 thread": (2, 1), "1 process × 2 threads": (1, 2)}
LATENCY_S = 20e-6  # one message between two machines over TCP on Ethernet, roughly


def parameters(hidden) -> int:
    widths = [784, *hidden, 10]
    return sum(a * b + b for a, b in zip(widths, widths[1:]))


def worker(batch_size: int, epochs: int) -> None:
    """One run (under mpiexec or alone): print a JSON line with its timings, from process 0."""
    import numpy as np

    import barenet as bn
    from barenet.training.parallel import DataParallel, leads

    try:
        (X, y), _ = bn.datasets.load_mnist(download=False)
    except (FileNotFoundError, ValueError):  # no MNIST here: random data of its shape
        rng = np.random.default_rng(0)
        X, y = rng.random((10_000, 784), dtype=np.float32), rng.integers(0, 10, 10_000)
    X, y = X[:10_000], y[:10_000]
    par = None
    if int(os.environ.get("OMPI_COMM_WORLD_SIZE", "1")) > 1:
        from mpi4py import MPI
        par = DataParallel(MPI.COMM_WORLD)
    model = bn.Sequential(bn.Dense(784, 256), bn.ReLU(), bn.Dense(256, 128), bn.ReLU(), bn.Dense(128, 10), seed=0)
    model.fit(X, y, loss=bn.CrossEntropy(), optimizer=bn.Adam(1e-3), epochs=epochs, batch_size=batch_size,
              verbose=0, parallel=par)
    times = model.history["time"][2:]  # epoch 0 has none; epoch 1 warms up
    alone = _allreduce_alone(par, model) if par else 0.0
    if leads(par):
        print(json.dumps({"epoch_s": statistics.median(times), "epochs_s": times,
                          "allreduce_ms_per_step": 1e3 * par.allreduce_seconds / par.allreduces if par else 0.0,
                          "allreduce_alone_ms": alone}), flush=True)


def _allreduce_alone(par, model, repeats: int = 50) -> float:
    """The Allreduce of one step's buffer with no wait for a slower process in it: the
    processes meet at a barrier first. Median of ``repeats``, in ms."""
    import numpy as np
    from mpi4py import MPI

    buffer = np.zeros(len(model.parameter_vectors()[0]) + 2, dtype=np.float32)
    times = []
    for _ in range(repeats):
        par.comm.Barrier()
        started = MPI.Wtime()
        par.comm.Allreduce(MPI.IN_PLACE, buffer, op=MPI.SUM)
        times.append(MPI.Wtime() - started)
    return 1e3 * statistics.median(times)


def run(processes: int, threads: int, batch_size: int, epochs: int) -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "OPENBLAS_NUM_THREADS": str(threads),
           "MKL_NUM_THREADS": str(threads), "OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1"}
    command = [sys.executable, __file__, "--worker", str(batch_size), "--epochs", str(epochs)]
    if processes > 1:
        command = [shutil.which("mpiexec"), "-n", str(processes), "--oversubscribe", "--bind-to", "core", *command]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    if done.returncode:
        raise RuntimeError(done.stderr[-2000:])
    return json.loads(done.stdout.strip().splitlines()[-1])


def cost_model(seconds_per_sample_parameter: float) -> dict:
    """Ring Allreduce: 2(K-1) messages of 4P/K bytes each way per process, so
    T(K) = 2(K-1)/K · 4P/bandwidth + 2(K-1)·latency. One machine's step takes B·P·c (c measured);
    K machines' takes B·P·c/K + T(K); they win from B* = T(K) / (P·c·(1 - 1/K))."""
    table = {}
    for name, hidden in {"784-256-128-10": (256, 128), "784-2560-1280-10 (10× wider)": (2560, 1280)}.items():
        P = parameters(hidden)
        rows = []
        for gbits in (10, 100):
            bandwidth = gbits * 1e9 / 8
            for K in (2, 4, 8, 16, 32, 64):
                T = 2 * (K - 1) / K * 4 * (P + 2) / bandwidth + 2 * (K - 1) * LATENCY_S
                rows.append({"gbit_s": gbits, "machines": K, "allreduce_ms": 1e3 * T,
                             "batch_to_pay": T / (P * seconds_per_sample_parameter * (1 - 1 / K))})
        table[name] = {"parameters": P, "bytes_per_step": 4 * (P + 2), "rows": rows}
    return table


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--worker", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch-sizes", default="128,512,2048")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    if args.worker:
        worker(args.worker, args.epochs)
        return 0
    sizes = [int(b) for b in args.batch_sizes.split(",")]
    runs = {(name, b): [] for name in SETUPS for b in sizes}
    started = time.perf_counter()
    for round_ in range(args.rounds):
        for b in sizes:
            for name, (processes, threads) in SETUPS.items():  # interleaved: the machine's mood hits all alike
                runs[name, b].append(run(processes, threads, b, args.epochs))
        print(f"round {round_ + 1} of {args.rounds} done ({time.perf_counter() - started:.0f} s)", flush=True)
    P = parameters((256, 128))
    baseline_name = next(iter(SETUPS))
    results = {"network": "784-256-128-10", "parameters": P, "samples": 10_000, "epochs": args.epochs,
               "rounds": args.rounds, "batches": {}}
    print(f"\nepoch time on 10,000 MNIST images, median of {args.rounds} interleaved rounds "
          f"(speed-up ÷ the baseline of the same round)")
    print(f"{'batch':>6}  {'setup':26s} {'epoch s':>8} {'speed-up':>9} {'efficiency':>10} {'Allreduce ms/step':>18} "
          f"{'of which alone':>14}")
    per_sample = []
    for b in sizes:
        base = [r["epoch_s"] for r in runs[baseline_name, b]]
        per_sample.append(statistics.median(base) / 10_000 / P)
        results["batches"][b] = {}
        for name, (processes, threads) in SETUPS.items():
            times = [r["epoch_s"] for r in runs[name, b]]
            speedup = statistics.median(t0 / t for t0, t in zip(base, times))
            allreduce = statistics.median(r["allreduce_ms_per_step"] for r in runs[name, b])
            alone = statistics.median(r["allreduce_alone_ms"] for r in runs[name, b])
            workers = processes * threads
            results["batches"][b][name] = {"epoch_s": statistics.median(times), "speedup": speedup,
                                           "efficiency": speedup / workers, "allreduce_ms_per_step": allreduce,
                                           "allreduce_alone_ms": alone, "rounds_epoch_s": times}
            print(f"{b:6d}  {name:26s} {statistics.median(times):8.3f} {speedup:9.2f} {speedup / workers:10.2f} "
                  f"{allreduce:18.3f} {alone:14.3f}")
    c = min(per_sample)  # the fastest compute per sample and parameter seen: the model's best case for one machine
    results["seconds_per_sample_parameter"] = c
    results["cost_model"] = cost_model(c)
    print(f"\ncost model (compute {c * 1e9:.3f} ns per sample and parameter, measured at 1 thread; "
          f"latency {LATENCY_S * 1e6:.0f} µs per message)")
    for name, model in results["cost_model"].items():
        print(f"{name}: {model['parameters']:,} parameters, {model['bytes_per_step'] / 1e6:.2f} MB per step")
        print(f"  {'Gbit/s':>6} {'machines':>8} {'Allreduce ms':>12} {'batch from which K machines win':>32}")
        for row in model["rows"]:
            print(f"  {row['gbit_s']:6d} {row['machines']:8d} {row['allreduce_ms']:12.3f} {row['batch_to_pay']:32.0f}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1))
    print(f"\nwritten to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
