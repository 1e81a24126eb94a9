"""Peak memory and time of one inference pass through fashion-cnn's network, on each CPU backend.

    python benchmarks/inference_memory.py [--batch 1024] [--backends numpy,numba]

The network is the one the ``fashion-cnn`` recipe builds (two blocks of two normalised 3 × 3
convolutions, 32 then 64 filters, each block max-pooled; a dense layer of 256), untrained: memory
and time do not depend on the weights. One forward pass in inference mode of ``--batch`` images,
the size ``predict``, ``evaluate`` and ``fit``'s full passes take, twice (the second is the one to
read: the first may still compile numba's loops for new shapes). Memory is the peak that Python's
tracemalloc sees (NumPy's arrays, on every thread) during the pass. Each backend runs in a process
of its own, so that one's allocations do not colour the other's.

Inference builds each convolution's columns (kh·kw copies of every pixel) a few images at a time
and keeps none; before it did, the batch's whole columns were allocated at once, about 0.9 GB for
the 32 → 32 convolution at 1,024 images.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import time
import tracemalloc

import numpy as np


def network(backend):
    import barenet as bn

    def block(c_in, c_out):
        return [bn.Conv2D(c_in, c_out, 3, padding="same"), bn.BatchNorm2D(c_out), bn.ReLU(),
                bn.Conv2D(c_out, c_out, 3, padding="same"), bn.BatchNorm2D(c_out), bn.ReLU(), bn.MaxPool2D(2)]

    return bn.Sequential(bn.Reshape((1, 28, 28)), *block(1, 32), bn.Dropout(0.2), *block(32, 64), bn.Dropout(0.3),
                         bn.Flatten(), bn.Dense(3136, 256), bn.ReLU(), bn.Dropout(0.4), bn.Dense(256, 10),
                         seed=0, backend=backend)


def measure(backend, batch):
    """Print the peak MiB and the seconds of two inference passes of ``batch`` images."""
    model = network(backend)
    x = np.random.default_rng(0).random((batch, 784), dtype=np.float32)
    model.forward(x[:8], training=False)  # built, and numba's loops compiled for these windows
    for attempt in (1, 2):
        tracemalloc.start()
        started = time.perf_counter()
        model.forward(x, training=False)
        seconds = time.perf_counter() - started
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        print(f"{backend:>6}, pass {attempt}: peak {peak / 2**20:6.0f} MiB, {seconds:5.2f} s", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch", type=int, default=1024, help="images in the pass (default: 1024)")
    parser.add_argument("--backends", default="numpy,numba", help="comma-separated (default: numpy,numba)")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        measure(args.worker, args.batch)
        return
    print(f"fashion-cnn's network, one inference pass of {args.batch} images")
    for backend in args.backends.split(","):
        subprocess.run([sys.executable, __file__, "--worker", backend, "--batch", str(args.batch)], check=True)


if __name__ == "__main__":
    main()
