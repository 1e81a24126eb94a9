"""Feed ``bn.load`` model files damaged the way a crafted or unlucky file would be, and sort what
happens. A seeded mutator edits one thing per file:

- the JSON of ``meta.npy``: any field, at any depth, replaced by a value of another type or range
  (null, numbers huge, negative or non-finite as ``1e400``, strings with a lone surrogate, lists,
  objects, kernel sizes and strides of the wrong length or size), deleted, or duplicated; the
  base models include convolutional networks (Conv2D, pooling, BatchNorm, Flatten, Reshape);
- the arrays: a weight scaled to 3e38, optimizer state vectors swapped or made negative, a
  BatchNorm's running variance made negative;
- the zip structure: the encryption flag set, or an unknown compression method.

Every file must either raise ValueError (or a subclass), or load into a model whose summary
prints and whose ``predict_proba`` is finite. Anything else is counted as a failure and shown.

    python benchmarks/fuzz_model_files.py --count 5000 --seed 1
"""
from __future__ import annotations

import argparse
import io
import json
import struct
import sys
import tempfile
import time
import zipfile
from collections import Counter
from pathlib import Path

import numpy as np

import barenet as bn

INFINITE = "__barenet_fuzz_1e400__"  # written into the JSON text as the token 1e400
VALUES = [None, 0, -1, 1, 3, 2**31, 2**70, 0.5, -1e308, 1e-320, True, False, "", "x", "Dense", "\ud800",
          [], {}, [None], [[1, 2]], [1e9], {"type": 1}, {"type": "Dense", "config": 7}, INFINITE,
          "float16", "float64", {"schedule": "CosineDecay", "config": []}, [-5], list(range(40)),
          "same", [2, 2], [1, 0], [3, 3, 3], [1, 2**30, 2**30], -2]


def base_models():
    """Small trained models that use every part of the file format."""
    X, y = bn.datasets.make_clusters(200, seed=0)
    models = []
    adam = bn.Sequential(bn.Standardizer().fit(X), bn.Dense(2, 8), bn.LeakyReLU(0.1), bn.Dropout(0.1),
                         bn.Dense(8, 3), seed=0)
    adam.fit(X, y, loss=bn.CrossEntropy(0.05), optimizer=bn.Adam(bn.schedules.CosineDecay(0.01, epochs=4)),
             epochs=2, verbose=0)
    models.append(adam)
    sgd = bn.Sequential(bn.Dense(2, 6), bn.Tanh(), bn.Dense(6, 3), seed=1, dtype="float64")
    sgd.fit(X, y, loss=bn.CrossEntropy(), optimizer=bn.SGD(0.05, momentum=0.9), epochs=1, verbose=0)
    models.append(sgd)
    rms = bn.Sequential(bn.Dense(2, 4), bn.GELU(), bn.Dense(4, 3), seed=2)
    rms.fit(X, y, loss=bn.CrossEntropy(), optimizer=bn.RMSProp(0.01, centered=True), epochs=1, verbose=0)
    models.append(rms)
    models.append(bn.Ensemble([sgd, rms]))
    images = np.resize(X, (len(X), 64))  # rows of 64 values, seen as 8 × 8 images
    cnn = bn.Sequential(bn.Reshape((1, 8, 8)), bn.Conv2D(1, 3, 3, padding="same", bias=False), bn.BatchNorm2D(3),
                        bn.ReLU(), bn.MaxPool2D(2), bn.Conv2D(3, 4, 2, stride=2), bn.AvgPool2D(2, 1), bn.Flatten(),
                        bn.Dense(4, 6), bn.BatchNorm1D(6), bn.ReLU(), bn.Dense(6, 3), seed=3)
    cnn.fit(images, y, loss=bn.CrossEntropy(), optimizer=bn.Adam(0.01), epochs=1, verbose=0)
    models.append(cnn)
    gap = bn.Sequential(bn.Conv2D(2, 3, 3), bn.GlobalAvgPool2D(), bn.Dense(3, 3), seed=4)
    gap.fit(np.resize(X, (len(X), 2, 5, 5)), y, loss=bn.CrossEntropy(), epochs=1, verbose=0)
    models.append(gap)  # takes images (n, 2, height, width)
    return models, X


def _inputs(model, X):
    """X made to fit what the model takes: rows of its width, or images of its channels."""
    shape = model.input_shape or (X.shape[1],)
    return np.resize(X, (len(X),) + tuple(8 if size is None else size for size in shape)).astype(model.dtype)


def _nodes(value, path=()):
    """Every (path, value) in a JSON tree."""
    yield path, value
    if isinstance(value, dict):
        for key, child in value.items():
            yield from _nodes(child, path + (key,))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from _nodes(child, path + (index,))


def _mutate_meta(meta, rng):
    paths = [p for p, _ in _nodes(meta) if p]
    path = paths[rng.integers(len(paths))]
    parent = meta
    for key in path[:-1]:
        parent = parent[key]
    key = path[-1]
    action = rng.integers(4)
    if action == 0 and isinstance(parent, dict):
        del parent[key]
        return f"delete {'.'.join(map(str, path))}"
    if action == 1 and isinstance(parent, list):
        parent.insert(key, parent[key])
        return f"duplicate {'.'.join(map(str, path))}"
    value = VALUES[rng.integers(len(VALUES))]
    parent[key] = json.loads(json.dumps(value)) if value is not INFINITE else INFINITE
    return f"{'.'.join(map(str, path))} = {str(value)[:30]}"


def _npy(array):
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, np.asarray(array), allow_pickle=False)
    return buffer.getvalue()


def _write(members, path):
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)


def mutate(original: Path, target: Path, rng) -> str:
    """Write one mutation of the model file ``original`` to ``target``; returns what was done."""
    with zipfile.ZipFile(original) as archive:
        members = {info.filename: archive.read(info) for info in archive.infolist()}
    kind = rng.random()
    if kind < 0.75:
        meta = json.loads(np.load(io.BytesIO(members["meta.npy"])).tobytes())
        what = _mutate_meta(meta, rng)
        text = json.dumps(meta).replace(f'"{INFINITE}"', "1e400")
        members["meta.npy"] = _npy(np.frombuffer(text.encode("utf-8"), dtype=np.uint8))
        _write(members, target)
        return "json: " + what
    arrays = sorted(n for n in members if n != "meta.npy")
    if kind < 0.9:
        name = arrays[rng.integers(len(arrays))]
        array = np.load(io.BytesIO(members[name]))
        choice = rng.integers(3)
        if choice == 0:
            array = np.full_like(array, 3e38)
        elif choice == 1:
            array = -np.abs(array) - 1
        else:
            others = [n for n in arrays if n != name and np.load(io.BytesIO(members[n])).shape == array.shape]
            if others:
                other = others[rng.integers(len(others))]
                members[name], members[other] = members[other], members[name]
                _write(members, target)
                return f"arrays: swap {name} and {other}"
            array = array * 1e30
        members[name] = _npy(array.astype(array.dtype))
        _write(members, target)
        return f"arrays: {name} variant {choice}"
    _write(members, target)
    raw = bytearray(target.read_bytes())
    position = raw.find(b"PK\x01\x02", rng.integers(len(raw) // 2))
    if position == -1:
        position = raw.find(b"PK\x01\x02")
    if rng.random() < 0.5:
        struct.pack_into("<H", raw, position + 8, struct.unpack_from("<H", raw, position + 8)[0] | 1)
        what = "zip: encryption flag"
    else:
        struct.pack_into("<H", raw, position + 10, 99)
        what = "zip: compression method 99"
    target.write_bytes(bytes(raw))
    return what


def outcome(path: Path, X) -> str:
    """'refused', 'loaded', or a failure: an exception other than ValueError, or a loaded model
    whose summary or predictions break."""
    from barenet.app.runs import describe
    try:
        model = bn.load(path)
    except ValueError:
        return "refused"
    except Exception as error:  # noqa: BLE001 -- sorting every kind of failure is the point
        return f"FAILED: {type(error).__name__}: {str(error)[:100]}"
    try:
        "\n".join(describe(model)).encode("utf-8")
        first = model.members[0] if hasattr(model, "members") else model
        inputs = _inputs(first, X)
        if model.loss is None:  # a file saved without its loss: the network's outputs only
            outputs = np.concatenate([bn.to_numpy(m.forward(bn.to_device(inputs), training=False))
                                      for m in getattr(model, "members", [model])])
        else:
            outputs = model.predict_proba(inputs)
    except Exception as error:  # noqa: BLE001
        return f"FAILED after loading: {type(error).__name__}: {str(error)[:100]}"
    if not np.isfinite(outputs).all():
        return "FAILED after loading: non-finite outputs"
    return "loaded"


def run(count: int, seed: int, folder: Path, verbose: bool = False) -> dict:
    models, X = base_models()
    originals = []
    for i, model in enumerate(models):
        originals.append(folder / f"base{i}.npz")
        model.save(originals[-1])
    rng = np.random.default_rng(seed)
    results, failures, slowest = Counter(), [], 0.0
    for i in range(count):
        original = originals[i % len(originals)]
        target = folder / "mutant.npz"
        what = mutate(original, target, rng)
        started = time.perf_counter()
        result = outcome(target, X)
        slowest = max(slowest, time.perf_counter() - started)
        results[result.split(":")[0]] += 1
        if result.startswith("FAILED"):
            failures.append(f"{original.name} / {what}: {result}")
            if verbose:
                print(failures[-1])
    return {"count": count, "outcomes": dict(results), "failures": failures, "slowest_s": slowest}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        report = run(args.count, args.seed, Path(folder), verbose=True)
    print(f"{report['count']} mutated files: {report['outcomes']}; slowest load {report['slowest_s']:.2f} s")
    return report


if __name__ == "__main__":
    sys.exit(1 if main()["failures"] else 0)
