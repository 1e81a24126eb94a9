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
from .peers import SIZES, load_data, parameter_count, widths_network
from .systems import CPU_SYSTEMS, GPU_SYSTEMS, SYSTEMS, available_systems
from .report import flagged, format_inference, format_sweep, format_table, plot, plot_sweep, processor, versions


def run(batch_sizes=(32, 128, 512), epochs=5, systems=tuple(s.name for s in CPU_SYSTEMS), threads=None,
        limit_train=None, memory=True, log=print, device="cpu", widths=(), sweep_batch_size=128,
        sweep_train_size=10_000):
    """Run every available system ``epochs`` timed epochs per batch size, interleaved; return the report.

    Fresh systems per batch size: a warm-up round, ``epochs`` rounds in turn, the matmul limit each
    round; then inference, on the last batch size's systems. The report is a dict, as written to
    results.json.

    Parameters
    ----------
    batch_sizes, epochs : sequence of int, int
        One run per batch size; timed epochs per system and batch size.
    systems : sequence of str
        Names from ``SYSTEMS``; those that cannot run here are skipped, and logged.
    threads, limit_train : int, optional
        Threads for every system (default: the cores this process may use); training images kept.
    memory : bool
        Whether to measure each system's peak memory in a fresh process (``peak_memory``).
    log, device : callable, "cpu" or "gpu"
        Takes each progress line; where the matmul limit is timed (NumPy, or CuPy).
    widths, sweep_batch_size, sweep_train_size
        The width sweep's widths (empty: none), batch size and training images (``sweep``).
    """
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
        times, limits = _interleaved(instances, X, y, epochs, batch_size, SIZES, device, log, f"batch {batch_size}")
        rows = {system.name: _row(system, times, reference, limits, (Xt, yt),
                                  peak_memory(system.name, batch_size, limit_train) if memory else None)
                for system in instances}
        report["training"][str(batch_size)] = _entry(limits, rows)
        if batch_size == batch_sizes[-1]:
            report["inference"] = inference_throughput(instances, Xt)
    if widths:
        report["sweep"] = sweep(names, reference, widths, sweep_batch_size, X[:sweep_train_size],
                                y[:sweep_train_size], (Xt, yt), epochs, device, log)
    return report


def sweep(names, reference, widths, batch_size, X, y, test, epochs, device, log):
    """Return the width sweep: every system on 784-w-w-10 at one batch size, for each width w.

    For each width, the systems' epochs interleaved as in ``run`` (after a warm-up round), their
    rows as ``_row`` gives them (no memory), and the inference throughput of that width.
    """
    result = {"batch_size": batch_size, "train_size": len(X), "network": "784-w-w-10", "widths": {}}
    for width in widths:
        sizes = widths_network(width)
        instances = [SYSTEMS[name](batch_size, sizes=sizes) for name in names]
        times, limits = _interleaved(instances, X, y, epochs, batch_size, sizes, device, log, f"width {width}")
        rows = {system.name: _row(system, times, reference, limits, test, None) for system in instances}
        result["widths"][str(width)] = {"parameters": parameter_count(sizes), **_entry(limits, rows),
                                        "inference": inference_throughput(instances, test[0])}
        del instances
        gc.collect()
    return result


def _interleaved(instances, X, y, epochs, batch_size, sizes, device, log, label):
    """Return the epoch times of every system and the matmul limit of every round.

    The systems take turns for ``epochs`` rounds after a warm-up round, each after a collection
    and a pause (``SETTLE_SECONDS``); the matmul limit is timed once per round (the machine's
    own drift). The warm-up round's times are left out.
    """
    times = {s.name: [] for s in instances}
    limits = []
    for round_ in range(epochs + 1):  # round 0 warms up (allocations, caches, compilation)
        for system in instances:
            gc.collect()
            time.sleep(SETTLE_SECONDS)
            seconds = system.epoch(X, y)
            if round_:
                times[system.name].append(seconds)
        time.sleep(SETTLE_SECONDS)
        limits.append(matmul_limit(len(X), batch_size, device=device, sizes=sizes))
        log(f"  {label}, epoch {round_}: " + ", ".join(
            f"{s.name} {times[s.name][-1]:.2f}s" for s in instances) + f", matmul limit {limits[-1]:.2f}s"
            if round_ else f"  {label}: warm-up epoch done")
    return times, limits[1:]


def _entry(limits, rows):
    return {"matmul_limit_seconds": statistics.median(limits), "matmul_limit_epoch_seconds": limits,
            "machine_drift": growth(limits), "systems": rows}


def _row(system, times, reference, limits, test, memory):
    """Return one system's figures at one batch size.

    Its epochs, their growth and whether it exceeds the machine's own drift by ``GROWTH_LIMIT``,
    its speed against the reference, PyTorch and the matmul limit, its test accuracy and memory.
    """
    seconds, limit, drift = times[system.name], statistics.median(limits), growth(limits)
    median = statistics.median(seconds)
    base = statistics.median(times[reference]) if reference else None
    torch = statistics.median(times["pytorch"]) if times.get("pytorch") else None
    return {"epoch_seconds": seconds, "median_epoch_seconds": median,
            "first_epoch_seconds": seconds[0], "last_epoch_seconds": seconds[-1],
            "growth": growth(seconds), "grows": growth(seconds) - max(drift, 0.0) > GROWTH_LIMIT,
            "reference_over_system": base / median if base else None,
            "multiple_of_pytorch": median / torch if torch else None,
            "multiple_of_matmul_limit": median / limit, "test_accuracy": system.accuracy(*test),
            **dict(zip(("peak_rss_mib", "peak_rss_mib_later"), memory or (None, None)))}


def build_parser():
    """Return the argument parser of ``barenet bench``."""
    parser = argparse.ArgumentParser(
        prog="barenet bench",
        description="Training speed against PyTorch, JAX, Keras and scikit-learn, side by side: the same network "
                    "at each batch size, a sweep of wider networks, and inference.",
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
    parser.add_argument("--widths", default="256,1024,2048,4096",
                        help="the width sweep: 784-w-w-10 for each w, comma-separated (default: 256,1024,2048,4096; "
                             "'none' to skip it)")
    parser.add_argument("--sweep-batch-size", type=int, default=128, help="the width sweep's batch size (default 128)")
    parser.add_argument("--sweep-train-size", type=int, default=10_000,
                        help="the width sweep trains on this many training images (default 10,000)")
    parser.add_argument("--out", default="bench-results", help="folder for results.json and the plots")
    return parser


def main(argv=None):
    """Run ``barenet bench`` from the command line: write results.json, print the tables, plot.

    Returns 0; a wrong argument in ``argv`` (default ``sys.argv[1:]``) exits through the parser.
    """
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
    batch_sizes = _positive_ints(parser, "--batch-sizes", args.batch_sizes)
    widths = _positive_ints(parser, "--widths", args.widths, allow_none=True)
    for option in ("sweep_batch_size", "sweep_train_size"):
        if getattr(args, option) < 1:
            parser.error(f"--{option.replace('_', '-')} must be at least 1, got {getattr(args, option)}")
    report = run(batch_sizes, args.epochs, systems, args.threads, args.train_size,
                 not args.no_memory and args.device == "cpu", device=args.device, widths=widths,
                 sweep_batch_size=args.sweep_batch_size, sweep_train_size=args.sweep_train_size)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with atomic_write(out / "results.json", "w") as handle:
        json.dump(report, handle, indent=2)
    print("\n" + format_table(report))
    if flagged(report):
        print(f"\nepochs grew by more than {GROWTH_LIMIT:.0%} beyond the machine's drift: " + "; ".join(flagged(report)))
    if report["inference"]:
        print("\n" + format_inference(report["inference"]))
    if "sweep" in report:
        print("\n" + format_sweep(report))
    try:
        plot(report, out / "epoch_times.png")
        written = [out / "epoch_times.png"]
        if "sweep" in report:
            plot_sweep(report, out / "width_sweep.png")
            written.append(out / "width_sweep.png")
        print(f"\nwrote {out / 'results.json'} and " + " and ".join(map(str, written)))
    except ImportError:
        print(f"\nwrote {out / 'results.json'} (install matplotlib for the plots)")
    return 0


def _positive_ints(parser, option, text, allow_none=False):
    """Return a comma-separated list of positive whole numbers as a tuple (``none``: empty, where allowed)."""
    if allow_none and text.strip().lower() in ("none", ""):
        return ()
    try:
        values = tuple(int(v) for v in text.split(","))
        if min(values) < 1:
            raise ValueError
    except ValueError:
        parser.error(f"{option} must be positive whole numbers separated by commas"
                     f"{' (or none)' if allow_none else ''}, got {text!r}")
    return values


if __name__ == "__main__":
    sys.exit(main())
