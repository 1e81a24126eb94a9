"""Feed ``load_mnist`` (and ``read_idx`` under it) IDX files damaged the way a crafted or unlucky
file would be, and sort what happens. A seeded mutator makes a small, valid MNIST folder (four
files, some gzipped, some not) and edits one file in it:

- the header: the magic bytes, the type code, the number of dimensions, or one dimension set to
  0, 1, 14, 27, 29, 56, 784, the count ±1, or a value near 2³²;
- the bytes: random bytes flipped, the file cut short, bytes appended;
- the gzip stream: bytes flipped in the compressed data or its trailer, the stream cut, a
  second member appended, a bomb (a small file inflating past the header's promise);
- the files: images and labels swapped, a file replaced by another split's.

Every folder must either raise ValueError (or a subclass) naming a file, or load into what the
loader promises: float32 images of 784 columns in [0, 1], int64 labels 0 to 9, as many of each.
Anything else is a failure and is shown. Time and peak memory per load are reported.

    python benchmarks/fuzz_idx_files.py --count 5000 --seed 1
"""
from __future__ import annotations

import argparse
import gzip
import random
import shutil
import struct
import sys
import tempfile
import time
import tracemalloc
from collections import Counter
from pathlib import Path

import numpy as np

from barenet.training.datasets import load_mnist
from barenet.training.datasets.idx import write_idx

FILES = {"train-images-idx3-ubyte": 60, "train-labels-idx1-ubyte": 60,
         "t10k-images-idx3-ubyte": 20, "t10k-labels-idx1-ubyte": 20}
DIMENSIONS = [0, 1, 14, 27, 29, 56, 784, 2**31, 2**32 - 1]


def make_folder(folder: Path, rng: np.random.Generator, gzipped: dict) -> None:
    """A valid MNIST-shaped folder: random images and labels, each file gzipped or not."""
    folder.mkdir(parents=True, exist_ok=True)
    for stem, n in FILES.items():
        array = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8) if "images" in stem else \
            rng.integers(0, 10, n, dtype=np.uint8)
        write_idx(folder / (stem + (".gz" if gzipped[stem] else "")), array)


def _raw(path: Path) -> bytes:
    data = path.read_bytes()
    return gzip.decompress(data) if path.suffix == ".gz" else data


def _store(path: Path, raw: bytes) -> None:
    path.write_bytes(gzip.compress(raw, mtime=0) if path.suffix == ".gz" else raw)


def mutate(folder: Path, r: random.Random) -> str:
    """Edit one file in folder; returns a description of the edit."""
    paths = sorted(folder.iterdir())
    path = r.choice(paths)
    kind = r.choice(["magic", "type", "ndim", "dimension", "dimension", "flip", "cut", "append",
                     "gzip flip", "gzip cut", "gzip member", "bomb", "swap", "other split"])
    if kind.startswith("gzip") and path.suffix != ".gz":
        kind = "flip"
    raw = bytearray(_raw(path))
    if kind == "magic":
        raw[r.randrange(2)] = r.randrange(1, 256)
    elif kind == "type":
        raw[2] = r.choice([0x00, 0x07, 0x09, 0x0B, 0x0C, 0x0D, 0x0E, 0xFF])
    elif kind == "ndim":
        raw[3] = r.choice([0, 2, 3, 4, 5, 200])
    elif kind == "dimension":
        ndim = raw[3]
        which = r.randrange(ndim)
        current = struct.unpack_from(">I", raw, 4 + 4 * which)[0]
        value = r.choice(DIMENSIONS + [current - 1, current + 1])
        struct.pack_into(">I", raw, 4 + 4 * which, max(0, min(value, 2**32 - 1)))
    elif kind == "flip":
        for _ in range(r.randint(1, 8)):
            raw[r.randrange(len(raw))] ^= 1 << r.randrange(8)
    elif kind == "cut":
        raw = raw[: r.randrange(len(raw))]
    elif kind == "append":
        raw += bytes(r.randrange(256) for _ in range(r.randint(1, 64)))
    if kind in ("magic", "type", "ndim", "dimension", "flip", "cut", "append"):
        _store(path, bytes(raw))
        return f"{kind} in {path.name}"
    if kind == "gzip flip":
        data = bytearray(path.read_bytes())
        for _ in range(r.randint(1, 4)):
            data[r.randrange(10, len(data))] ^= 1 << r.randrange(8)
        path.write_bytes(bytes(data))
    elif kind == "gzip cut":
        data = path.read_bytes()
        path.write_bytes(data[: r.randrange(len(data))])
    elif kind == "gzip member":
        path.write_bytes(path.read_bytes() + gzip.compress(bytes(r.randint(1, 5000))))
    elif kind == "bomb":  # the header as it is, then 300 MB of zeros that deflate to 300 kB
        header = bytes(raw[: 4 + 4 * raw[3]]) if len(raw) >= 4 and raw[3] <= 4 else bytes(raw[:16])
        path = path if path.suffix == ".gz" else path.rename(path.with_name(path.name + ".gz"))
        path.write_bytes(gzip.compress(header, mtime=0) + _zeros_member())  # members read as one stream
    elif kind == "swap":
        images = next(p for p in paths if "train-images" in p.name)
        labels = next(p for p in paths if "train-labels" in p.name)
        images_data, labels_data = images.read_bytes(), labels.read_bytes()
        _store(images, _raw_of(labels, labels_data))
        _store(labels, _raw_of(images, images_data))
        return "train images and labels swapped"
    elif kind == "other split":
        train = next(p for p in paths if "train-images" in p.name)
        test = next(p for p in paths if "t10k-images" in p.name)
        _store(test, _raw(train))
        return "test images replaced by the training images"
    return f"{kind} in {path.name}"


_ZEROS = []


def _zeros_member() -> bytes:
    """A gzip member of 300 MB of zeros (about 300 kB), compressed once."""
    if not _ZEROS:
        _ZEROS.append(gzip.compress(bytes(300 << 20), compresslevel=9, mtime=0))
    return _ZEROS[0]


def _raw_of(path: Path, data: bytes) -> bytes:
    return gzip.decompress(data) if path.suffix == ".gz" else data


def check(folder: Path) -> tuple[str, str]:
    """('refused' | 'loaded' | 'failure', detail)."""
    try:
        (X, y), (X_test, y_test) = load_mnist(path=folder, download=False)
    except ValueError as error:
        if not any(stem in str(error) for stem in FILES):
            return "failure", f"ValueError not naming a file: {error}"
        return "refused", str(error).replace(f"{folder}/", "")
    except Exception as error:  # noqa: BLE001 - anything else is what this looks for
        return "failure", f"{type(error).__name__}: {error}"
    for images, labels in ((X, y), (X_test, y_test)):
        if images.dtype != np.float32 or images.ndim != 2 or images.shape[1] != 784:
            return "failure", f"images {images.dtype} {images.shape}"
        if images.size and not (0 <= images.min() and images.max() <= 1):
            return "failure", "images outside [0, 1]"
        if labels.dtype != np.int64 or labels.shape != (len(images),):
            return "failure", f"labels {labels.dtype} {labels.shape} for {len(images)} images"
        if labels.size and not (0 <= labels.min() and labels.max() <= 9):
            return "failure", "labels outside 0-9"
    return "loaded", ""


def run(count: int, seed: int, workdir: Path) -> dict:
    r = random.Random(seed)
    rng = np.random.default_rng(seed)
    outcomes, reasons, failures = Counter(), Counter(), []
    slowest, peak = 0.0, 0
    base = workdir / "base"
    for i in range(count):
        if i % 50 == 0:  # a fresh base now and then: other contents, other files gzipped
            shutil.rmtree(base, ignore_errors=True)
            make_folder(base, rng, {stem: r.random() < 0.5 for stem in FILES})
        folder = workdir / "mutant"
        shutil.rmtree(folder, ignore_errors=True)
        shutil.copytree(base, folder)
        edit = mutate(folder, r)
        tracemalloc.start()
        started = time.perf_counter()
        outcome, detail = check(folder)
        slowest = max(slowest, time.perf_counter() - started)
        peak = max(peak, tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
        outcomes[outcome] += 1
        if outcome == "refused":
            reasons[detail.split(" (")[0].split(": ", 1)[-1][:48]] += 1
        if outcome == "failure":
            failures.append(f"#{i} {edit}: {detail}")
    return {"outcomes": outcomes, "reasons": reasons, "failures": failures, "slowest_s": slowest,
            "peak_mib": peak / 2**20}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as workdir:
        started = time.perf_counter()
        report = run(args.count, args.seed, Path(workdir))
    print(f"{args.count} mutated MNIST folders (seed {args.seed}) in {time.perf_counter() - started:.0f} s: "
          f"{report['outcomes']['refused']} refused with ValueError, {report['outcomes']['loaded']} loaded as "
          f"promised, {report['outcomes']['failure']} failures")
    print(f"slowest load {report['slowest_s']:.2f} s, peak traced memory {report['peak_mib']:.1f} MiB")
    print("most common refusals:")
    for reason, n in report["reasons"].most_common(12):
        print(f"  {n:5d}  {reason}")
    for failure in report["failures"][:30]:
        print(f"  FAILURE {failure}")
    return 1 if report["failures"] else 0


if __name__ == "__main__":
    sys.exit(main())
