"""Training speed of a convolutional network: barenet (numba and NumPy backends) beside PyTorch,
and beside the floor of its convolutions' matrix products, interleaved in one run.

    python benchmarks/conv_speed.py [--batch-sizes 64,128,256] [--steps 30] [--rounds 6] [--threads 2]
                                    [--out benchmarks/results/conv_speed.json]

The network is issue 28's reference: conv 1→32 3×3 pad 1, ReLU, max-pool 2, conv 32→64 3×3 pad 1,
ReLU, max-pool 2, flatten (3,136), dense 128, ReLU, dense 10; Adam 1e-3, cross-entropy, float32,
on the first MNIST training images (random data of that shape where MNIST is not found).

Each system runs in its own worker process, started once and kept (so one library's idle threads
never spin beside another's work), and the workers take turns: every round times one epoch of
``--steps`` batches of each system at each batch size, in the same order. The first round is a
warm-up (compilation, allocator, the optimizer's state) and is left out; the figure is the median
of the others, and the last round against the second shows whether a system slows down as it
trains. The systems:

- ``barenet-numba``, ``barenet-numpy``: ``Sequential.fit`` on that backend, ``bn.set_threads(T)``;
- ``pytorch``: the same network in eager mode, ``torch.set_num_threads(T)``, a shuffled epoch;
- ``im2col floor``: only the convolutions' matrix products a step needs, one large NumPy (BLAS)
  product each: the forward W·cols of both convolutions, their weight gradients dY·colsᵀ, and the
  second one's input gradient Wᵀ·dY (nobody needs the first one's), with T BLAS threads.

Then, for each barenet backend at the middle batch size: the peak memory a step allocates (Python's
tracemalloc, which sees NumPy's arrays) beyond the model and the data, the memory still held after
each of three epochs (a figure that grows would be a leak), and a step profile: the median time of
each layer (or the layers a backend runs as one), the loss, the gradient norm and the update.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

SYSTEMS = ("barenet-numba", "barenet-numpy", "pytorch", "im2col floor")
ROOT = Path(__file__).resolve().parents[1]


# -- the workers ------------------------------------------------------------------------------------

def load_images(rows):
    """Return (X, y): ``rows`` MNIST training images as float32 rows of 784 in [0, 1], and labels."""
    import numpy as np
    try:
        import barenet as bn
        (X, y), _ = bn.datasets.load_mnist(download=False)
        if len(X) >= rows:
            return X[:rows].astype(np.float32), y[:rows]
    except Exception:  # no MNIST here: random images of the same shape time the same
        pass
    rng = np.random.default_rng(0)
    return rng.random((rows, 784), dtype=np.float32), rng.integers(0, 10, rows)


class BarenetWorker:
    def __init__(self, backend, threads):
        import barenet as bn
        self.bn, self.backend, self.models = bn, backend, {}
        bn.set_threads(threads)

    def network(self):
        bn = self.bn
        return bn.Sequential(bn.Reshape((1, 28, 28)), bn.Conv2D(1, 32, 3, padding=1), bn.ReLU(), bn.MaxPool2D(2),
                             bn.Conv2D(32, 64, 3, padding=1), bn.ReLU(), bn.MaxPool2D(2), bn.Flatten(),
                             bn.Dense(3136, 128), bn.ReLU(), bn.Dense(128, 10), seed=0, backend=self.backend)

    def epoch(self, X, y, batch):
        model = self.models.get(batch)
        if model is None:
            model = self.models[batch] = self.network()
        started = time.perf_counter()
        model.fit(X, y, loss=model.loss or self.bn.CrossEntropy(), optimizer=model.optimizer or self.bn.Adam(1e-3),
                  epochs=1, batch_size=batch, verbose=0)
        return time.perf_counter() - started

    def memory(self, X, y, batch):
        """Peak bytes a step allocates beyond the model and data, bytes held after each epoch, and the
        buffers a backend keeps from step to step (allocated once, so outside the peak)."""
        import tracemalloc
        model = self.network()
        model.fit(X[:batch], y[:batch], loss=self.bn.CrossEntropy(), optimizer=self.bn.Adam(1e-3), epochs=1,
                  batch_size=batch, verbose=0)  # the optimizer's state and compiled kernels, before counting
        tracemalloc.start()
        base = tracemalloc.get_traced_memory()[0]
        held = []
        for _ in range(3):
            model.fit(X, y, epochs=1, batch_size=batch, verbose=0)
            held.append(tracemalloc.get_traced_memory()[0] - base)
        peak = tracemalloc.get_traced_memory()[1] - base
        tracemalloc.stop()
        kept = 0  # the numba backend's column buffers, made in the warm-up and reused by every step
        if self.backend == "numba":
            from barenet.core.backends import fused_images
            kept = sum(fused_images._BUFFERS[layer].nbytes for layer in model.layers if layer in fused_images._BUFFERS)
        return {"peak_bytes_per_step": peak, "held_after_each_epoch": held, "kept_between_steps": kept}

    def profile(self, X, y, batch, steps):
        """{part: median milliseconds} of one training step, as fit runs it."""
        import contextlib

        import numpy as np
        from barenet.training.threads import ThreadLimit
        model = self.network()
        model.loss, model.optimizer = self.bn.CrossEntropy(), self.bn.Adam(1e-3)
        ops = model.ops
        groups = ops.groups(model.layers)
        label = [" + ".join(type(layer).__name__ for layer in group) for group in groups]
        names = ([f"{k} {name} forward" for k, name in enumerate(label)] + ["loss"]
                 + [f"{k} {name} backward" for k, name in reversed(list(enumerate(label))) if k]
                 + ["grad norm", "update"])
        parts = {name: [] for name in names}
        rng = np.random.default_rng(0)
        clock = time.perf_counter
        with contextlib.closing(ThreadLimit(own=ops.own_threads(model))) as limit:
            limit.epoch()  # the threads fit would use
            for step in range(steps + 10):
                idx = rng.integers(0, len(X), batch)
                x, yb = ops.xp.asarray(X[idx]), y[idx]
                times = [clock()]
                for group in groups:
                    x = ops.forward_group(group, x, True)
                    times.append(clock())
                float(ops.loss_value(model.loss, x, yb, None))
                grad = ops.loss_gradient(model.loss)
                times.append(clock())
                model.parameters.grad
                for k in reversed(range(1, len(groups))):  # nothing goes back into the Reshape in front
                    if k > 1:
                        grad = ops.backward_group(groups[k], grad)
                    elif k == 1:  # the first convolution: its parameters' gradients only
                        ops.backward_params(groups[k][0], grad)
                    for layer in groups[k]:
                        layer.forget()
                    times.append(clock())
                groups[0][0].forget()
                float(ops.squared_norm(model.parameter_vectors()[1]))
                times.append(clock())
                model.optimizer.step(model.parameters)
                times.append(clock())
                if step >= 10:
                    for name, a, b in zip(names, times, times[1:]):
                        parts[name].append(b - a)
        return {name: statistics.median(t) * 1e3 for name, t in parts.items()}


class TorchWorker:
    def __init__(self, threads):
        import torch
        self.torch, self.models = torch, {}
        torch.set_num_threads(threads)
        torch.manual_seed(0)

    def epoch(self, X, y, batch):
        torch, nn = self.torch, self.torch.nn
        if batch not in self.models:
            net = nn.Sequential(nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                                nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                                nn.Linear(3136, 128), nn.ReLU(), nn.Linear(128, 10))
            self.models[batch] = net, torch.optim.Adam(net.parameters(), lr=1e-3)
        net, optimizer = self.models[batch]
        loss = nn.CrossEntropyLoss()
        started = time.perf_counter()
        Xt, yt = torch.from_numpy(X.reshape(-1, 1, 28, 28)), torch.from_numpy(y.astype("int64"))
        order = torch.randperm(len(Xt))
        for lo in range(0, len(Xt), batch):
            idx = order[lo:lo + batch]
            optimizer.zero_grad()
            loss(net(Xt[idx]), yt[idx]).backward()
            optimizer.step()
        return time.perf_counter() - started


class FloorWorker:
    def __init__(self, threads):
        from threadpoolctl import threadpool_limits
        self.limit = threadpool_limits(threads)  # held for the worker's life

    def epoch(self, X, y, batch):
        import numpy as np
        rng = np.random.default_rng(0)
        pixels = (28 * 28, 14 * 14)
        W1, W2 = rng.random((32, 9), dtype=np.float32), rng.random((64, 288), dtype=np.float32)
        cols1, cols2 = (rng.random((9, batch * pixels[0]), dtype=np.float32),
                        rng.random((288, batch * pixels[1]), dtype=np.float32))
        dY1, dY2 = (rng.random((32, batch * pixels[0]), dtype=np.float32),
                    rng.random((64, batch * pixels[1]), dtype=np.float32))
        W2t = np.ascontiguousarray(W2.T)
        started = time.perf_counter()
        for _ in range(len(X) // batch):
            W1 @ cols1, dY1 @ cols1.T
            W2 @ cols2, dY2 @ cols2.T, W2t @ dY2
        return time.perf_counter() - started


def worker(system, threads, rows):
    """Answer the driver's requests, one JSON line each, until stdin closes."""
    X, y = load_images(rows)
    if system.startswith("barenet"):
        work = BarenetWorker(system.partition("-")[2], threads)
    elif system == "pytorch":
        work = TorchWorker(threads)
    else:
        work = FloorWorker(threads)
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        request = json.loads(line)
        batch, steps = request["batch"], request["steps"]
        Xs, ys = X[:batch * steps], y[:batch * steps]
        if request["do"] == "epoch":
            answer = {"seconds": work.epoch(Xs, ys, batch)}
        elif request["do"] == "memory":
            answer = work.memory(Xs, ys, batch)
        else:
            answer = work.profile(X, y, batch, steps)
        print(json.dumps(answer), flush=True)


# -- the driver -------------------------------------------------------------------------------------

class Worker:
    def __init__(self, system, threads, rows):
        self.process = subprocess.Popen([sys.executable, __file__, "--worker", system, "--threads", str(threads),
                                         "--rows", str(rows)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        text=True)
        self.ask_raw()

    def ask_raw(self):
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError("a worker ended early: its error is above")
        return json.loads(line)

    def ask(self, **request):
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        return self.ask_raw()

    def close(self):
        self.process.stdin.close()
        self.process.wait()


def versions():
    import numpy
    found = {"python": platform.python_version(), "numpy": numpy.__version__}
    for name in ("numba", "torch"):
        try:
            found[name] = __import__(name).__version__
        except ImportError:
            pass
    return found


def run(batch_sizes, steps, rounds, threads):
    rows = max(batch_sizes) * steps
    workers = {system: Worker(system, threads, rows) for system in SYSTEMS}
    seconds = {system: {b: [] for b in batch_sizes} for system in SYSTEMS}
    try:
        for r in range(rounds):
            for b in batch_sizes:
                for system, work in workers.items():
                    seconds[system][b].append(work.ask(do="epoch", batch=b, steps=steps)["seconds"])
            print(f"round {r + 1} of {rounds} done", file=sys.stderr, flush=True)
        middle = batch_sizes[len(batch_sizes) // 2]
        memory = {s: workers[s].ask(do="memory", batch=middle, steps=steps) for s in SYSTEMS if s.startswith("barenet")}
        profile = {s: workers[s].ask(do="profile", batch=middle, steps=steps) for s in SYSTEMS if s.startswith("barenet")}
    finally:
        for work in workers.values():
            work.close()
    step_ms = {s: {b: statistics.median(t[1:]) / steps * 1e3 for b, t in per.items()} for s, per in seconds.items()}
    drift = {s: {b: t[-1] / t[1] for b, t in per.items()} for s, per in seconds.items()}
    return {"machine": {"processor": platform.processor() or platform.machine(), "cores": os.cpu_count(), **versions()},
            "date": time.strftime("%Y-%m-%d"), "threads": threads, "steps": steps, "rounds": rounds,
            "batch_sizes": batch_sizes, "profile_batch_size": middle,
            "epoch_seconds": {s: {str(b): t for b, t in per.items()} for s, per in seconds.items()},
            "ms_per_step": {s: {str(b): v for b, v in per.items()} for s, per in step_ms.items()},
            "last_over_second_round": {s: {str(b): v for b, v in per.items()} for s, per in drift.items()},
            "memory": memory, "profile": profile}


def report(result):
    """The tables, as text."""
    sizes = [str(b) for b in result["batch_sizes"]]
    ms = result["ms_per_step"]
    lines = [f"milliseconds per step (median of {result['rounds'] - 1} rounds of {result['steps']} steps), "
             f"{result['threads']} threads; in brackets, a multiple of PyTorch's and of the im2col floor",
             f"{'':16}" + "".join(f"{'batch ' + b:>26}" for b in sizes)]
    for system in SYSTEMS:
        cells = "".join(f"{ms[system][b]:8.1f} ({ms[system][b] / ms['pytorch'][b]:4.2f}×, "
                        f"{ms[system][b] / ms['im2col floor'][b]:4.2f}×)" for b in sizes)
        lines.append(f"{system:16}{cells}")
    lines.append("\nlast round / second round: " + "; ".join(
        f"{s} " + ", ".join(f"{v:.2f}" for v in per.values()) for s, per in result["last_over_second_round"].items()))
    for system, memory in result["memory"].items():
        held = ", ".join(f"{m / 2**20:.1f}" for m in memory["held_after_each_epoch"])
        lines.append(f"{system}: peak {memory['peak_bytes_per_step'] / 2**20:.0f} MiB in a step of batch "
                     f"{result['profile_batch_size']}, and {memory.get('kept_between_steps', 0) / 2**20:.0f} MiB kept "
                     f"from step to step; held after each of three epochs: {held} MiB")
    for system, parts in result["profile"].items():
        lines.append(f"\n{system}, one step at batch {result['profile_batch_size']} (ms):")
        lines += [f"  {name:40}{value:7.2f}" for name, value in parts.items()]
        lines.append(f"  {'sum':40}{sum(parts.values()):7.2f}")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] + " The network: the convolution "
                                     "chapter's reference, on MNIST where found, else random images.")
    parser.add_argument("--batch-sizes", default="64,128,256", help="comma-separated (default: 64,128,256)")
    parser.add_argument("--steps", type=int, default=30, help="batches in each timed epoch")
    parser.add_argument("--rounds", type=int, default=6, help="timed epochs of each system (the first a warm-up)")
    parser.add_argument("--threads", type=int, default=os.cpu_count(),
                        help="threads for every system (default: all cores)")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "conv_speed.json",
                        help="the JSON the docs' speed page is made from (default: benchmarks/results/conv_speed.json)")
    parser.add_argument("--worker", choices=SYSTEMS, help=argparse.SUPPRESS)
    parser.add_argument("--rows", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return worker(args.worker, args.threads, args.rows)
    if args.rounds < 2:
        parser.error("--rounds: at least 2 (the first is a warm-up)")
    batch_sizes = [int(b) for b in args.batch_sizes.split(",")]
    result = run(batch_sizes, args.steps, args.rounds, args.threads)
    print(report(result))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"\nwritten to {args.out}")


if __name__ == "__main__":
    main()
