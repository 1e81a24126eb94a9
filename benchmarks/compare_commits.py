"""Training speed of barenet at an older commit beside the working tree, interleaved: did a change
of structure leave the speed where it was?

    python benchmarks/compare_commits.py [--old 2d73cbc] [--backends numpy,numba]
                                         [--batch-sizes 32,128,512] [--epochs 5] [--train-size 10000]

The older commit is extracted with ``git archive`` into a temporary folder and imported from
there (PYTHONPATH), the working tree from ``src/``. Each (version, backend) is a worker process,
started once and kept; the workers take turns, one epoch each at each batch size, so that a
drift in the machine's load falls on both versions alike. The network is the benchmark's:
784-256-128-10, ReLU, Adam 1e-3, cross-entropy, float32, on the first ``--train-size`` MNIST
training images (random data of that shape where MNIST is not found). The figure is the median
epoch after the first (a warm-up), and the working tree's as a multiple of the older commit's.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

WORKER = """
import json, sys, time
import numpy as np
import barenet as bn
backend, rows = sys.argv[1], int(sys.argv[2])
bn.set_backend(backend)
try:
    (X, y), _ = bn.datasets.load_mnist(download=False)
    X, y = X[:rows].astype(np.float32), y[:rows]
except Exception:
    rng = np.random.default_rng(0)
    X, y = rng.random((rows, 784), dtype=np.float32), rng.integers(0, 10, rows)
models = {}
print(json.dumps({"ready": True}), flush=True)
for line in sys.stdin:
    batch = json.loads(line)["batch"]
    if batch not in models:
        models[batch] = bn.Sequential(bn.Dense(784, 256), bn.ReLU(), bn.Dense(256, 128), bn.ReLU(),
                                      bn.Dense(128, 10), seed=0)
    model = models[batch]
    started = time.perf_counter()
    model.fit(X, y, loss=model.loss or bn.CrossEntropy(), optimizer=model.optimizer or bn.Adam(1e-3), epochs=1,
              batch_size=batch, verbose=0)
    print(json.dumps({"seconds": time.perf_counter() - started}), flush=True)
"""


def start(src: Path, backend: str, rows: int):
    env = {**os.environ, "PYTHONPATH": str(src)}
    process = subprocess.Popen([sys.executable, "-c", WORKER, backend, str(rows)], env=env, text=True,
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    if not process.stdout.readline():
        raise RuntimeError(f"the worker for {src} ({backend}) did not start: its error is above")
    return process


def epoch(process, batch: int) -> float:
    process.stdin.write(json.dumps({"batch": batch}) + "\n")
    process.stdin.flush()
    return json.loads(process.stdout.readline())["seconds"]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] + " Run it in a git checkout; it prints "
                                     "each median epoch of both and their ratio.")
    parser.add_argument("--old", default="2d73cbc",
                        help="the older commit (default: 2d73cbc, before issue 25's restructuring)")
    parser.add_argument("--backends", default="numpy,numba", help="comma-separated (default: numpy,numba)")
    parser.add_argument("--batch-sizes", default="32,128,512", help="comma-separated (default: 32,128,512)")
    parser.add_argument("--epochs", type=int, default=5, help="timed epochs each, after a warm-up epoch")
    parser.add_argument("--train-size", type=int, default=10_000, help="training images (default 10,000)")
    parser.add_argument("--out", type=Path, default=None, help="also write the figures here as JSON")
    args = parser.parse_args(argv)
    backends, sizes = args.backends.split(","), [int(b) for b in args.batch_sizes.split(",")]
    with tempfile.TemporaryDirectory() as folder:
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", args.old], check=True, capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", folder], input=archive, check=True)
        sources = {args.old: Path(folder) / "src", "working tree": ROOT / "src"}
        workers = {(version, b): start(src, b, args.train_size) for version, src in sources.items() for b in backends}
        seconds = {key: {size: [] for size in sizes} for key in workers}
        try:
            for _ in range(args.epochs + 1):
                for size in sizes:
                    for key, process in workers.items():
                        seconds[key][size].append(epoch(process, size))
        finally:
            for process in workers.values():
                process.stdin.close()
                process.wait()
    print(f"median epoch after a warm-up ({args.epochs} epochs), 784-256-128-10 on {args.train_size:,} images")
    print(f"{'backend':8}{'batch':>6}{args.old:>14}{'working tree':>14}{'ratio':>8}")
    table = []
    for b in backends:
        for size in sizes:
            old, new = (statistics.median(seconds[(v, b)][size][1:]) for v in sources)
            table.append({"backend": b, "batch": size, "old_s": old, "new_s": new, "new_over_old": new / old})
            print(f"{b:8}{size:6}{old:13.3f}s{new:13.3f}s{new / old:8.2f}")
    if args.out:
        args.out.write_text(json.dumps({"old": args.old, "epochs": args.epochs, "train_size": args.train_size,
                                        "rows": table, "seconds": {f"{v} {b}": per for (v, b), per in seconds.items()}},
                                       indent=1) + "\n")


if __name__ == "__main__":
    main()
