"""``barenet bench``'s run and its command line."""
from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

from ...files.atomic import atomic_write
from .measure import (GROWTH_LIMIT, SETTLE_SECONDS, growth, inference_throughput, matmul_limit, numpy_blas,
                      peak_memory, set_threads)
from .gpu_peers import gpu_missing
from .peers import load_data
from .systems import CPU_SYSTEMS, GPU_SYSTEMS, SYSTEMS, available_systems
from .report import flagged, format_inference, format_table, plot, processor, versions


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
    data_name, X, y, Xt, yt = load_data(limit_train)
    blas = numpy_blas()
    log(f"data: {data_name}, {len(X)} training images; threads: {threads}; NumPy's BLAS: {blas['library']} "
        f"{blas['version']} ({blas.get('kernel') or '?'} kernels, {blas['threads']} threads); "
        f"epochs timed: {epochs} after 1 warm-up")
    reference = next((n for n in ("barenet-cupy", "barenet-numba", "barenet") if n in names), None)
    report = {"date": time.strftime("%Y-%m-%d"), "data": data_name, "train_size": len(X), "threads": threads,
              "epochs": epochs, "blas": blas,
              "device": device,
              "reference": reference,
              "machine": {"processor": processor(), "cores": os.cpu_count(), "python": platform.python_version(),
                          "numpy": np.__version__, **versions(names)},
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
        rows = {system.name: _row(system, times, reference, limits, (Xt, yt),
                                  peak_memory(system.name, batch_size, limit_train) if memory else None)
                for system in instances}
        report["training"][str(batch_size)] = {"matmul_limit_seconds": statistics.median(limits),
                                               "matmul_limit_epoch_seconds": limits, "machine_drift": growth(limits),
                                               "systems": rows}
        if batch_size == batch_sizes[-1]:
            report["inference"] = inference_throughput(instances, Xt)
    return report


def _row(system, times, reference, limits, test, memory):
    """One system's figures at one batch size: its epochs, their growth beyond the machine's own
    drift, its speed against the reference and the matmul limit, its accuracy and memory."""
    seconds, limit, drift = times[system.name], statistics.median(limits), growth(limits)
    median = statistics.median(seconds)
    base = statistics.median(times[reference]) if reference else None
    return {"epoch_seconds": seconds, "median_epoch_seconds": median,
            "first_epoch_seconds": seconds[0], "last_epoch_seconds": seconds[-1],
            "growth": growth(seconds), "grows": growth(seconds) - max(drift, 0.0) > GROWTH_LIMIT,
            "reference_over_system": base / median if base else None,
            "multiple_of_matmul_limit": median / limit, "test_accuracy": system.accuracy(*test),
            **dict(zip(("peak_rss_mib", "peak_rss_mib_later"), memory or (None, None)))}


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
        why = gpu_missing("barenet-cupy")
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
