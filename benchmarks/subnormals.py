"""Subnormal numbers in training: where they appear, what they cost here, and what the flush costs.

    python benchmarks/subnormals.py [--epochs 30] [--batch-size 128] [--blocks 60]

Part 1 trains the benchmark network (784-256-128-10 ReLU, Adam 1e-3, Fashion-MNIST, NumPy backend)
with barenet's flush switched off, as every version before it trained. After each epoch it counts
the subnormal entries (nonzero, below float32's smallest normal number 1.2e-38) of Adam's two
moments, of the parameters, of the gradient vector, of the hidden activations and of the loss
gradient on a few probe batches, and it times one Adam step on the state as it is against the
same step on the state with those entries set to zero (medians of 50 steps, NumPy backend). That
difference is what subnormals cost this CPU.

Part 2 times training steps of the NumPy backend with the flush and without it, interleaved in
blocks of 20 steps, on two copies of the model: what the flush costs where subnormals are cheap.

Part 3 asks the question behind a slowdown that grows epoch by epoch directly, with the noise of a
shared machine taken out: it trains a model for ``--age`` epochs (flush on, as barenet trains),
then times steps from that state against steps from a model one epoch old, on the same batches,
in interleaved blocks (both restored after each block). Equal times: nothing in the trained state
(subnormals or anything else) makes steps slower.
"""
from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from barenet.core import optimizers
from barenet.app.bench import Barenet, BarenetNumba, load_data
from barenet.training import steps

TINY = np.finfo(np.float32).tiny


def subnormals(array) -> int:
    array = np.asarray(array)
    return int(((array != 0) & (np.abs(array) < TINY)).sum())


def no_flush(array, scratch=None):
    return None


def adam_step_seconds(model, flushed, repeats=50):
    """Median time of one Adam step from the model's current state (restored before each)."""
    optimizer = model.optimizer
    theta, grad = model.parameter_vectors()
    saved = theta.copy(), {k: v.copy() for k, v in optimizer.state.items()}, optimizer.steps
    start_state = {k: v.copy() for k, v in saved[1].items()}
    if flushed:
        for key in ("exp_avg", "exp_avg_sq"):
            start_state[key][np.abs(start_state[key]) < TINY] = 0
    times = []
    for _ in range(repeats):
        theta[...] = saved[0]
        for key, value in start_state.items():
            optimizer.state[key][...] = value
        optimizer.steps = saved[2]
        started = time.perf_counter()
        optimizer.step(model)
        times.append(time.perf_counter() - started)
    theta[...] = saved[0]
    for key, value in saved[1].items():
        optimizer.state[key][...] = value
    optimizer.steps = saved[2]
    return statistics.median(times)


def census(epochs, batch_size, X, y, flush=False, backend="numpy"):
    system = (BarenetNumba if backend == "numba" else Barenet)(batch_size)
    model = system.model
    real_flush = optimizers.flush_subnormals
    if not flush:
        optimizers.flush_subnormals = no_flush
    try:
        print(f"part 1: {epochs} epochs at batch {batch_size}, flush {'on' if flush else 'off'}; subnormal "
              f"entries after each epoch\n")
        print(f"{'epoch':>5} {'seconds':>8} {'m':>7} {'v':>5} {'θ':>3} {'grad':>6} {'acts':>5} {'dL/dz':>6}"
              f" {'Adam step as is':>16} {'flushed':>8}")
        for epoch in range(1, epochs + 1):
            seconds = system.epoch(X, y)
            activations = loss_grad = grad = 0
            for start in range(0, len(X), len(X) // 10):  # ten probe batches
                xb, yb = X[start:start + batch_size], y[start:start + batch_size]
                h = xb
                for layer in model.layers:  # each layer's outputs, for their subnormals
                    h = layer.forward(h, training=False)
                    activations += subnormals(h)
                model.loss.forward(model.forward(xb, training=True), yb)  # the forward backward_params uses
                dz = model.loss.backward()
                loss_grad += subnormals(dz)
                model.backward_params(dz)
                grad += subnormals(model.parameter_vectors()[1])
            state = model.optimizer.state
            model.loss.forward(model.forward(X[:batch_size]), y[:batch_size])
            model.backward_params(model.loss.backward())
            as_is, flushed = adam_step_seconds(model, False), adam_step_seconds(model, True)
            print(f"{epoch:>5} {seconds:>8.2f} {subnormals(state['exp_avg']):>7} {subnormals(state['exp_avg_sq']):>5} "
                  f"{subnormals(model.parameter_vectors()[0]):>3} {grad:>6} {activations:>5} {loss_grad:>6}"
                  f" {as_is * 1e6:>13.0f} µs {flushed * 1e6:>5.0f} µs", flush=True)
    finally:
        optimizers.flush_subnormals = real_flush


def flush_cost(batch_size, blocks, X, y):
    models = {}
    for flushed in (True, False):
        system = Barenet(batch_size)
        system.model.loss, system.model.optimizer = system.loss, system.optimizer
        models[flushed] = system.model
    rng = np.random.default_rng(0)
    real_flush = optimizers.flush_subnormals
    times = {True: [], False: []}
    for block in range(blocks + 2):
        for flushed, model in models.items():
            optimizers.flush_subnormals = real_flush if flushed else no_flush
            started = time.perf_counter()
            for _ in range(20):
                idx = rng.integers(0, len(X), batch_size)
                steps.step(model, X[idx], y[idx], None)
            if block >= 2:  # two blocks of warm-up
                times[flushed].append((time.perf_counter() - started) / 20)
    optimizers.flush_subnormals = real_flush
    ratio = statistics.median(a / b for a, b in zip(times[True], times[False]))
    print(f"\npart 2: a NumPy-backend step at batch {batch_size}: {statistics.median(times[True]) * 1e6:.0f} µs "
          f"with the flush, {statistics.median(times[False]) * 1e6:.0f} µs without (median of {blocks} interleaved "
          f"blocks of 20 steps); with ÷ without = {ratio:.3f}")


def age_test(backend, age, batch_size, blocks, X, y):
    kind = BarenetNumba if backend == "numba" else Barenet
    old, young = kind(batch_size), kind(batch_size)
    for _ in range(age):
        old.epoch(X, y)
    young.epoch(X, y)
    rng = np.random.default_rng(0)
    times = {"old": [], "young": []}
    for block in range(blocks):
        batches = [rng.integers(0, len(X), batch_size) for _ in range(50)]
        for name, system in (("old", old), ("young", young)):
            model = system.model
            theta = model.parameter_vectors()[0]
            saved = theta.copy(), {k: v.copy() for k, v in model.optimizer.state.items()}, model.optimizer.steps
            started = time.perf_counter()
            for idx in batches:
                steps.step(model, X[idx], y[idx], None)
            times[name].append((time.perf_counter() - started) / len(batches))
            theta[...] = saved[0]
            for key, value in saved[1].items():
                model.optimizer.state[key][...] = value
            model.optimizer.steps = saved[2]
    ratio = statistics.median(a / b for a, b in zip(times["old"], times["young"]))
    print(f"\npart 3 ({backend} backend, batch {batch_size}): a step from a state trained {age} epochs takes "
          f"{statistics.median(times['old']) * 1e6:.0f} µs, from a state trained 1 epoch "
          f"{statistics.median(times['young']) * 1e6:.0f} µs (median of {blocks} interleaved blocks of 50 steps); "
          f"old ÷ young = {ratio:.3f}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--flush-batch-sizes", default="32,512", help="batch sizes for part 2")
    parser.add_argument("--blocks", type=int, default=60)
    parser.add_argument("--flush", action="store_true", help="part 1 with barenet's flush on (as it trains now)")
    parser.add_argument("--backend", default="numpy", choices=("numpy", "numba"), help="backend of parts 1 and 3")
    parser.add_argument("--age", type=int, default=10, help="epochs of the old state in part 3 (0: skip part 3)")
    args = parser.parse_args(argv)
    name, X, y, _, _ = load_data()
    if args.backend == "numba" and not args.flush:
        parser.error("the numba kernels always flush: --backend numba needs --flush")
    print(f"data: {name}; part 1 on the {args.backend} backend\n")
    census(args.epochs, args.batch_size, X, y, args.flush, args.backend)
    # part 2 times the NumPy reference (its systems are built on it)
    for batch_size in (int(b) for b in args.flush_batch_sizes.split(",") if b.strip()):
        flush_cost(batch_size, args.blocks, X, y)
    if args.age:
        age_test(args.backend, args.age, args.batch_size, max(args.blocks // 2, 2), X, y)


if __name__ == "__main__":
    main()
