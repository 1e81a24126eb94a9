"""Where one barenet training step spends its time, per batch size: the explanation of the
benchmark's multiples of the matrix-product limit.

    python benchmarks/step_profile.py [--batch-sizes 32,128,512] [--steps 300]

It trains the benchmark's network (784-256-128-10 ReLU, Adam 1e-3, cross-entropy, float32) on
Fashion-MNIST (or random data of that shape) and times each part of ``barenet.training.steps.step`` as fit
runs it: gathering the minibatch, the forward pass, the loss and its gradient, the backward pass,
the gradient-norm check, the Adam update; beside them the same step's matrix products alone
(the benchmark's limit) and a whole step timed without the split. Medians over ``--steps`` steps
(after a warm-up), in microseconds. A cProfile of one epoch of ``fit`` follows (``--cprofile``).
"""
from __future__ import annotations

import argparse
import cProfile
import pstats
import statistics
import time

import numpy as np

from barenet.app.bench import Barenet, BarenetNumba, load_data, matmul_limit
from barenet.training.steps import step as one_step


def build(seed=0, backend="numpy"):
    """The benchmark's barenet model, with its loss and optimizer attached as fit attaches them."""
    system = (BarenetNumba if backend == "numba" else Barenet)(batch_size=None, seed=seed)
    system.model.loss, system.model.optimizer = system.loss, system.optimizer
    return system.model


def profile_steps(X, y, batch_size, steps, backend="numpy"):
    model = build(backend=backend)
    ops = model.ops
    rng = np.random.default_rng(0)
    parts = {name: [] for name in ("gather", "forward", "loss", "backward", "grad norm", "adam")}
    whole = []
    clock = time.perf_counter
    for step in range(steps + 50):
        idx = rng.integers(0, len(X), batch_size)
        t0 = clock()
        xb, yb = X[idx], y[idx]
        t1 = clock()
        outputs = model.forward(xb, training=True)
        t2 = clock()
        float(ops.loss_value(model.loss, outputs, yb, None))
        grad = ops.loss_gradient(model.loss)
        t3 = clock()
        model.backward_params(grad)
        t4 = clock()
        g = model.parameter_vectors()[1]
        float(ops.squared_norm(g))
        t5 = clock()
        model.optimizer.step(model)
        t6 = clock()
        started = clock()
        one_step(model, X[idx], y[idx], None)
        ended = clock()
        if step >= 50:  # warm-up: caches, allocator, Adam state
            for name, (a, b) in zip(parts, ((t0, t1), (t1, t2), (t2, t3), (t3, t4), (t4, t5), (t5, t6))):
                parts[name].append(b - a)
            whole.append(ended - started)
    result = {name: statistics.median(times) * 1e6 for name, times in parts.items()}
    result["sum of parts"] = sum(result.values())
    result["whole step"] = statistics.median(whole) * 1e6
    result["matmul limit"] = matmul_limit(batch_size * 200, batch_size, repeats=3) / 200 * 1e6
    return result


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch-sizes", default="32,128,512")
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--backend", default="numpy", choices=("numpy", "numba"))
    parser.add_argument("--cprofile", type=int, default=0, metavar="BATCH",
                        help="also cProfile one epoch of fit at this batch size")
    args = parser.parse_args(argv)
    name, X, y, _, _ = load_data()
    sizes = [int(b) for b in args.batch_sizes.split(",")]
    print(f"data: {name}; backend: {args.backend}; microseconds per step, medians of {args.steps} steps\n")
    rows = {b: profile_steps(X, y, b, args.steps, args.backend) for b in sizes}
    names = list(next(iter(rows.values())))
    print(f"{'':14}" + "".join(f"{'batch ' + str(b):>16}" for b in sizes))
    for part in names:
        cells = "".join(f"{rows[b][part]:9.0f} ({rows[b][part] / rows[b]['whole step']:4.0%})" for b in sizes)
        print(f"{part:14}{cells}")
    print("\nwhole step / matmul limit: " + ", ".join(
        f"batch {b}: {rows[b]['whole step'] / rows[b]['matmul limit']:.2f}" for b in sizes))
    if args.cprofile:
        model = build(backend=args.backend)
        profiler = cProfile.Profile()
        profiler.enable()
        model.fit(X, y, epochs=1, batch_size=args.cprofile, verbose=0)
        profiler.disable()
        pstats.Stats(profiler).sort_stats("tottime").print_stats(15)


if __name__ == "__main__":
    main()
