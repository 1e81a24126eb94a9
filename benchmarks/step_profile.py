"""Where one barenet training step spends its time, per batch size and network width: the
explanation of the benchmark's multiples of the matrix-product limit.

    python benchmarks/step_profile.py [--batch-sizes 32,128,512] [--width W] [--backend numba]
    python benchmarks/step_profile.py --backend numba --record   # what the speed page shows

``--record`` profiles the benchmark's network at batch 32, 128 and 512 and 784-w-w-10 at batch
128 for w = 256, 1024, 2048 and 4096 (the width sweep of ``barenet bench``), and writes
``benchmarks/results/step_profile.json``, from which the speed page draws its table of where a
step's time goes beyond its matrix products.

It trains the benchmark's network (784-256-128-10, or 784-W-W-10 with ``--width``; ReLU, Adam
1e-3, cross-entropy, float32) on Fashion-MNIST (or random data of that shape) and times each part
of ``barenet.training.steps.step`` as fit runs it: gathering the minibatch, each layer's forward
pass, the loss and its gradient, each layer's backward pass, the gradient-norm check, the
optimizer's update; beside them the same step's matrix products alone (the benchmark's limit)
and a whole step timed without the split. Medians over ``--steps`` steps (after a warm-up), in
microseconds. A cProfile of one epoch of ``fit`` follows (``--cprofile``).
"""
from __future__ import annotations

import argparse
import cProfile
import json
import os
import platform
import pstats
import statistics
import time
from pathlib import Path

import numpy as np

from barenet.app.bench import Barenet, BarenetNumba, load_data, matmul_limit
from barenet.app.bench.peers import SIZES, widths_network
from barenet.core import backend
from barenet.training.steps import step as one_step


def build(seed=0, backend="numpy", sizes=SIZES):
    """The benchmark's barenet model, with its loss and optimizer attached as fit attaches them."""
    system = (BarenetNumba if backend == "numba" else Barenet)(batch_size=None, seed=seed, sizes=sizes)
    system.model.loss, system.model.optimizer = system.loss, system.optimizer
    return system.model


def profile_steps(X, y, batch_size, steps, backend="numpy", sizes=SIZES):
    """{part: median microseconds} for one step of the network ``sizes`` at ``batch_size``."""
    model = build(backend=backend, sizes=sizes)
    ops, layers = model.ops, model.layers
    rng = np.random.default_rng(0)
    names = (["gather"] + [f"{i} {type(layer).__name__} forward" for i, layer in enumerate(layers)] + ["loss"]
             + [f"{i} {type(layer).__name__} backward" for i, layer in reversed(list(enumerate(layers)))]
             + ["grad norm", "update"])
    parts = {name: [] for name in names}
    whole = []
    clock = time.perf_counter
    for step in range(steps + 50):
        idx = rng.integers(0, len(X), batch_size)
        times = [clock()]
        x, yb = X[idx], y[idx]
        times.append(clock())
        for layer in layers:
            x = ops.forward(layer, x, True)
            times.append(clock())
        float(ops.loss_value(model.loss, x, yb, None))
        grad = ops.loss_gradient(model.loss)
        times.append(clock())
        for i, layer in reversed(list(enumerate(layers))):
            if i:
                grad = ops.backward(layer, grad)
            else:  # the first layer: only its parameters' gradients, as backward_params does
                ops.backward_params(layer, grad)
            layer.forget()
            times.append(clock())
        float(ops.squared_norm(model.parameter_vectors()[1]))
        times.append(clock())
        model.optimizer.step(model)
        times.append(clock())
        started = clock()
        one_step(model, X[idx], y[idx], None)
        ended = clock()
        if step >= 50:  # warm-up: caches, allocator, compilation, the optimizer's state
            for name, a, b in zip(names, times, times[1:]):
                parts[name].append(b - a)
            whole.append(ended - started)
    result = {name: statistics.median(times) * 1e6 for name, times in parts.items()}
    result["sum of parts"] = sum(result.values())
    result["whole step"] = statistics.median(whole) * 1e6
    result["matmul limit"] = matmul_limit(batch_size * 200, batch_size, repeats=3, sizes=sizes) / 200 * 1e6
    return result


RESULTS = Path(__file__).resolve().parent / "results" / "step_profile.json"
RECORDED = [(None, 32), (None, 128), (None, 512), (256, 128), (1024, 128), (2048, 128), (4096, 128)]


def grouped(parts: dict) -> dict:
    """One step's parts summed into what they are: the matrix products (the Dense layers' passes,
    which include their bias), the element-wise passes of the activations, the loss, gathering the
    batch, the gradient's norm and the update; beside the whole step and its matmul limit."""
    def total(test):
        return sum(v for k, v in parts.items() if test(k))
    return {"dense layers": total(lambda k: "Dense" in k), "activations": total(lambda k: "ReLU" in k),
            "loss": parts["loss"], "gather": parts["gather"], "grad norm": parts["grad norm"],
            "update": parts["update"], "whole step": parts["whole step"], "matmul limit": parts["matmul limit"]}


def record(X, y, steps, backend_name):
    """Profile the ``RECORDED`` cases and write them, with the machine, to ``RESULTS``."""
    import numba
    cases = []
    for width, batch_size in RECORDED:
        network = SIZES if width is None else widths_network(width)
        parts = profile_steps(X, y, batch_size, steps, backend_name, network)
        parameters = sum(a * b + b for a, b in zip(network, network[1:]))
        cases.append({"network": "-".join(map(str, network)), "parameters": parameters, "batch_size": batch_size,
                      "microseconds": parts, "grouped": grouped(parts)})
        print(f"{cases[-1]['network']} batch {batch_size}: whole step / limit "
              f"{parts['whole step'] / parts['matmul limit']:.2f}", flush=True)
    report = {"date": time.strftime("%Y-%m-%d"), "backend": backend_name, "steps": steps,
              "machine": {"processor": platform.processor() or platform.machine(), "cores": os.cpu_count(),
                          "python": platform.python_version(), "numpy": np.__version__, "numba": numba.__version__},
              "cases": cases}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=1))
    print(f"wrote {RESULTS}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch-sizes", default="32,128,512")
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--backend", default="numpy", choices=("numpy", "numba"))
    parser.add_argument("--width", type=int, default=None, help="profile 784-W-W-10 instead of 784-256-128-10")
    parser.add_argument("--threads", type=int, default=None,
                        help="threads for the matrix products and the kernels (default: the libraries' own)")
    parser.add_argument("--cprofile", type=int, default=0, metavar="BATCH",
                        help="also cProfile one epoch of fit at this batch size")
    parser.add_argument("--record", action="store_true",
                        help="profile the speed page's cases (every width of the sweep) into results/step_profile.json")
    args = parser.parse_args(argv)
    if args.threads:
        from barenet.app.bench import set_threads
        set_threads(args.threads)
        backend.set_kernel_threads(args.threads)
    name, X, y, _, _ = load_data()
    if args.record:
        return record(X, y, args.steps, args.backend)
    sizes = [int(b) for b in args.batch_sizes.split(",")]
    network = SIZES if args.width is None else widths_network(args.width)
    print(f"data: {name}; network: {'-'.join(map(str, network))}; backend: {args.backend}; "
          f"microseconds per step, medians of {args.steps} steps\n")
    rows = {b: profile_steps(X, y, b, args.steps, args.backend, network) for b in sizes}
    names = list(next(iter(rows.values())))
    print(f"{'':22}" + "".join(f"{'batch ' + str(b):>16}" for b in sizes))
    for part in names:
        cells = "".join(f"{rows[b][part]:9.0f} ({rows[b][part] / rows[b]['whole step']:4.0%})" for b in sizes)
        print(f"{part:22}{cells}")
    print("\nwhole step / matmul limit: " + ", ".join(
        f"batch {b}: {rows[b]['whole step'] / rows[b]['matmul limit']:.2f}" for b in sizes))
    if args.cprofile:
        model = build(backend=args.backend, sizes=network)
        profiler = cProfile.Profile()
        profiler.enable()
        model.fit(X, y, epochs=1, batch_size=args.cprofile, verbose=0)
        profiler.disable()
        pstats.Stats(profiler).sort_stats("tottime").print_stats(15)


if __name__ == "__main__":
    main()
