"""Model files: everything round-trips, and no crafted or damaged file can do more than raise
ValueError: never run code, never allocate what it declares without checking, never load NaN."""
import io
import json
import os
import struct
from pathlib import Path
import zipfile

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import barenet as bn


def _trained(seed=0, with_extras=True):
    X, y = bn.datasets.make_clusters(300, seed=seed)
    layers = ([bn.Standardizer().fit(X)] if with_extras else []) + [bn.Dense(2, 8), bn.GELU()] \
        + ([bn.Dropout(0.1)] if with_extras else []) + [bn.Dense(8, 3)]
    model = bn.Sequential(*layers, seed=seed)
    model.fit(X, y, loss=bn.CrossEntropy(label_smoothing=0.05),
              optimizer=bn.Adam(bn.schedules.CosineDecay(0.01, epochs=4), weight_decay=1e-4),
              epochs=2, batch_size=32, verbose=0)
    return model, X, y


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    model, X, y = _trained()
    path = tmp_path_factory.mktemp("m") / "model.npz"
    model.save(path, metadata={"classes": ["a", "b", "c"]})
    return path, model, X, y


def test_round_trip_keeps_predictions_loss_history_and_metadata(saved):
    path, model, X, y = saved
    loaded = bn.load(path)
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))
    assert repr(loaded.loss) == repr(model.loss) and loaded.history.to_dict() == model.history.to_dict()
    assert loaded.metadata == {"classes": ["a", "b", "c"]}
    assert loaded.dtype == np.float32 and [type(l) for l in loaded.layers] == [type(l) for l in model.layers]


def test_numpy_reads_the_file_without_pickle(saved):
    path, model, _, _ = saved
    with np.load(path, allow_pickle=False) as archive:
        assert set(archive.files) >= {"meta", "param.1.W", "buffer.0.mean", "optimizer.exp_avg"}
        meta = json.loads(archive["meta"].tobytes())
        assert meta["format"] == "barenet-model" and meta["version"] == 2
        np.testing.assert_array_equal(archive["param.1.W"], model.layers[1].params["W"])


def test_training_resumed_from_a_file_matches_uninterrupted_training(saved, tmp_path):
    _, _, X, y = saved
    straight, _, _ = _trained(seed=3)
    interrupted, _, _ = _trained(seed=3)
    interrupted.save(tmp_path / "ckpt.npz")
    resumed = bn.load(tmp_path / "ckpt.npz")
    straight.fit(X, y, epochs=2, batch_size=32, verbose=0)
    resumed.fit(X, y, epochs=2, batch_size=32, verbose=0)
    assert np.array_equal(straight.parameter_vectors()[0], resumed.parameter_vectors()[0])
    assert resumed.history.epochs == [0, 1, 2, 3, 4]


def test_without_optimizer_state_the_file_still_loads_for_inference(tmp_path):
    model, X, _ = _trained(with_extras=False)
    model.save(tmp_path / "m.npz", include_optimizer=False)
    loaded = bn.load(tmp_path / "m.npz")
    assert loaded.optimizer is None
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))


def test_ensembles_round_trip(tmp_path):
    a, X, y = _trained(seed=1, with_extras=False)
    b, _, _ = _trained(seed=2, with_extras=False)
    ensemble = bn.Ensemble([a, b])
    ensemble.save(tmp_path / "e.npz")
    loaded = bn.load(tmp_path / "e.npz")
    assert isinstance(loaded, bn.Ensemble) and len(loaded) == 2
    np.testing.assert_allclose(loaded.predict_proba(X), (a.predict_proba(X) + b.predict_proba(X)) / 2, rtol=1e-6)


def test_custom_layers_load_when_their_class_is_given(tmp_path, rng):
    class Scale(bn.Layer):
        def __init__(self, features):
            super().__init__()
            self.features = features

        def build(self, rng, dtype):
            self.params = {"s": np.full(self.features, 2.0, dtype)}
            self.grads = {"s": np.zeros(self.features, dtype)}

        def forward(self, x, training=True):
            return x * self.params["s"]

        def backward(self, grad_out):
            return grad_out * self.params["s"]

        def get_config(self):
            return {"features": self.features}

    model = bn.Sequential(bn.Dense(3, 4), Scale(4), seed=0)
    model.layers[1].params["s"][...] = [1, 2, 3, 4]
    model.save(tmp_path / "c.npz")
    with pytest.raises(ValueError, match=r"unknown layer type 'Scale'; accepted: .*Dense.*custom_layers"):
        bn.load(tmp_path / "c.npz")
    loaded = bn.load(tmp_path / "c.npz", custom_layers={"Scale": Scale})
    np.testing.assert_array_equal(loaded.layers[1].params["s"], [1, 2, 3, 4])


# -- atomic writes -------------------------------------------------------------------------------

def test_a_failing_fsync_leaves_the_previous_file_byte_identical(saved, tmp_path, monkeypatch):
    path, model, _, _ = saved
    target = tmp_path / "model.npz"
    model.save(target)
    before = target.read_bytes()
    other, _, _ = _trained(seed=9)

    def broken_fsync(fd):
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(OSError, match="Input/output error"):
        other.save(target)
    assert target.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.npz"]


def test_a_crash_while_writing_leaves_no_temporary_file(saved, tmp_path, monkeypatch):
    _, model, _, _ = saved

    def crash(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(np, "savez", crash)
    with pytest.raises(KeyboardInterrupt):
        model.save(tmp_path / "model.npz")
    assert list(tmp_path.iterdir()) == []


def test_a_killed_writers_temporary_file_is_removed_by_the_next_save(saved, tmp_path):
    """SIGKILL leaves no chance to clean up: the next save of the same path does it, sparing a
    fresh temporary file that a concurrent writer may still be filling."""
    _, model, _, _ = saved
    old = tmp_path / ".model.npz.k1ll3d.tmp"
    old.write_bytes(b"x" * 1000)
    os.utime(old, (0, 0))  # untouched for decades
    fresh = tmp_path / ".model.npz.w0rk1ng.tmp"
    fresh.write_bytes(b"y")
    other = tmp_path / ".other.npz.k1ll3d.tmp"
    other.write_bytes(b"z")
    os.utime(other, (0, 0))
    model.save(tmp_path / "model.npz")
    assert not old.exists() and fresh.exists() and other.exists()  # only this path's, only stale ones
    assert bn.load(tmp_path / "model.npz").count_params() == model.count_params()


# -- hostile and damaged files -------------------------------------------------------------------

def _rewrite(path, out, change):
    """Copy the zip at path to out, passing each member's (name, bytes) through change."""
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            result = change(info.filename, src.read(info))
            if result is not None:
                for name, data in (result if isinstance(result, list) else [result]):
                    dst.writestr(name, data)
    return out


def _npy(array):
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, np.asarray(array), allow_pickle=False)
    return buffer.getvalue()


def _meta_with(path, **changes):
    with np.load(path, allow_pickle=False) as archive:
        meta = json.loads(archive["meta"].tobytes())
    meta.update(changes)
    return _npy(np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8))


HOSTILE = {
    "extra member": (lambda p: lambda n, d: [(n, d), ("evil.npy", d)] if n == "meta.npy" else (n, d),
                     "unexpected member 'evil.npy'"),
    "path traversal": (lambda p: lambda n, d: [(n, d), ("../param.1.W.npy", d)] if n == "meta.npy" else (n, d),
                       "unexpected member '../param.1.W.npy'"),
    "absolute path": (lambda p: lambda n, d: [(n, d), ("/etc/param.npy", d)] if n == "meta.npy" else (n, d),
                      "unexpected member"),
    "duplicate": (lambda p: lambda n, d: [(n, d), (n, d)] if n == "param.1.W.npy" else (n, d), "duplicate member"),
    "missing array": (lambda p: lambda n, d: None if n == "param.4.b.npy" else (n, d), "missing arrays: param.4.b.npy"),
    "array for another architecture": (lambda p: lambda n, d: [(n, d), ("param.2.W.npy", d)] if n == "meta.npy" else (n, d),
                                       "unexpected array 'param.2.W.npy'"),
    "no meta": (lambda p: lambda n, d: None if n == "meta.npy" else (n, d), "no meta.npy"),
    "object dtype": (lambda p: lambda n, d: (n, _npy(np.array([1, 2], dtype=np.int64))) if n == "param.1.b.npy" else (n, d),
                     "dtype int64 is not float32 or float64"),
    "wrong shape": (lambda p: lambda n, d: (n, _npy(np.zeros((3, 3), np.float32))) if n == "param.1.W.npy" else (n, d),
                    r"shape \(3, 3\), the architecture needs \(2, 8\)"),
    "NaN weight": (lambda p: lambda n, d: (n, _npy(np.full((2, 8), np.nan, np.float32))) if n == "param.1.W.npy" else (n, d),
                   "contains NaN or infinity"),
    "huge declared array": (lambda p: lambda n, d: (n, d[:10] + d[10:].replace(b"(2, 8)", b"(1000000000000, 8)", 1))
                            if n == "param.1.W.npy" else (n, d), "arrays declare more than"),
    "header lies about size": (lambda p: lambda n, d: (n, d[:-4]) if n == "param.1.W.npy" else (n, d),
                               "zip entry declares"),
    "unknown layer": (lambda p: lambda n, d: (n, _meta_with(p, model={"type": "Sequential", "dtype": "float32", "seed": 0,
                                                                     "layers": [{"type": "os.system", "config": {}}]}))
                      if n == "meta.npy" else (n, d), r"unknown layer type 'os.system'; accepted: "),
    "future version": (lambda p: lambda n, d: (n, _meta_with(p, version=99)) if n == "meta.npy" else (n, d),
                       "format version 99 is not supported; this barenet reads versions 1"),
    "bad layer config": (lambda p: lambda n, d: (n, _meta_with(p, model={"type": "Sequential", "dtype": "float32", "seed": 0,
                                                                        "layers": [{"type": "Dense", "config": {"in_features": -2}}]}))
                         if n == "meta.npy" else (n, d), "invalid layer Dense configuration"),
    "deep json": (lambda p: lambda n, d: (n, _npy(np.frombuffer(('{"format": "barenet-model", "x": ' + "[" * 5000 + "]" * 5000 + "}").encode(), np.uint8)))
                  if n == "meta.npy" else (n, d), "nests deeper than"),
    "bad rng state": (lambda p: lambda n, d: (n, _meta_with(p, rng_state={"bit_generator": "MT19937"})) if n == "meta.npy" else (n, d),
                      "rng_state is not a valid PCG64 state"),
    "pickle in meta": (lambda p: lambda n, d: (n, _npy(np.array([{"a": 1}], dtype=object).astype(object))) if n == "meta.npy" else (n, d),
                       "not a valid .npy header|meta.npy must be"),
}


@pytest.mark.parametrize("case", HOSTILE)
def test_crafted_files_are_refused_with_value_error(saved, tmp_path, case):
    path = saved[0]
    make_change, message = HOSTILE[case]
    if case == "pickle in meta":
        target = tmp_path / "bad.npz"
        with zipfile.ZipFile(path) as src, zipfile.ZipFile(target, "w") as dst:
            for info in src.infolist():
                data = src.read(info)
                if info.filename == "meta.npy":
                    buffer = io.BytesIO()
                    np.lib.format.write_array(buffer, np.array([{"a": 1}], dtype=object), allow_pickle=True)
                    data = buffer.getvalue()
                dst.writestr(info.filename, data)
    else:
        target = _rewrite(path, tmp_path / "bad.npz", make_change(path))
    with pytest.raises(ValueError, match=message):
        bn.load(target)


def test_a_member_that_inflates_past_its_declared_size_is_refused(saved, tmp_path):
    path = saved[0]
    target = tmp_path / "bomb.npz"
    with zipfile.ZipFile(path) as src:
        members = {info.filename: src.read(info) for info in src.infolist()}
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as dst:
        for name, data in members.items():
            dst.writestr(name, data)
    raw = bytearray(target.read_bytes())
    # lower the declared uncompressed size of param.1.W.npy in both headers: the data now
    # inflates past what the zip entry says
    name = b"param.1.W.npy"
    size = len(members["param.1.W.npy"])
    for marker, offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        position = raw.find(marker)
        while position != -1:
            name_at = position + (30 if marker == b"PK\x03\x04" else 46)
            if raw[name_at:name_at + len(name)] == name:
                struct.pack_into("<I", raw, position + offset, size - 16)
            position = raw.find(marker, position + 1)
    target.write_bytes(bytes(raw))
    with pytest.raises(ValueError):
        bn.load(target)


def test_not_a_zip_and_missing_files(tmp_path):
    (tmp_path / "x.npz").write_bytes(b"definitely not a zip")
    with pytest.raises(ValueError, match="not a readable barenet model file"):
        bn.load(tmp_path / "x.npz")
    with pytest.raises(FileNotFoundError):
        bn.load(tmp_path / "nope.npz")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_truncated_or_bit_flipped_files_only_ever_raise_value_error(saved, tmp_path, data):
    original = saved[0].read_bytes()
    mutation = data.draw(st.sampled_from(["truncate", "flip", "both"]))
    raw = bytearray(original)
    if mutation in ("flip", "both"):
        for _ in range(data.draw(st.integers(1, 8))):
            position = data.draw(st.integers(0, len(raw) - 1))
            raw[position] ^= data.draw(st.integers(1, 255))
    if mutation in ("truncate", "both"):
        raw = raw[:data.draw(st.integers(0, len(raw) - 1))]
    target = tmp_path / "fuzzed.npz"
    target.write_bytes(bytes(raw))
    try:
        model = bn.load(target)
    except ValueError:
        return
    # a flip that left the file valid (say, in a weight's low bits) must still give a working model
    assert np.isfinite(model.parameter_vectors()[0]).all()


# -- structural mutations, bombs and values that would make a model useless ---------------------

def _fuzzer():
    import runpy
    from pathlib import Path
    return runpy.run_path(str(Path(__file__).resolve().parents[2] / "benchmarks" / "fuzz_model_files.py"))


@pytest.mark.slow
def test_hundreds_of_structurally_mutated_files_give_value_error_or_a_working_model(tmp_path):
    """benchmarks/fuzz_model_files.py's seeded mutator (JSON fields of every type and depth, arrays,
    zip flags), a few hundred files here; the script runs thousands."""
    report = _fuzzer()["run"](300, 0, tmp_path)
    assert report["failures"] == [], report["failures"][:5]
    assert report["outcomes"]["refused"] > 100 and report["outcomes"]["loaded"] > 20  # both paths exercised
    assert report["slowest_s"] < 5


def _edited(saved_path, tmp_path, edit_meta=None, edit_arrays=None):
    with zipfile.ZipFile(saved_path) as archive:
        members = {info.filename: archive.read(info) for info in archive.infolist()}
    if edit_meta is not None:
        meta = json.loads(np.load(io.BytesIO(members["meta.npy"])).tobytes())
        text = edit_meta(meta) or json.dumps(meta)
        members["meta.npy"] = _npy(np.frombuffer(text.encode("utf-8"), dtype=np.uint8))
    if edit_arrays is not None:
        edit_arrays(members)
    target = tmp_path / "edited.npz"
    with zipfile.ZipFile(target, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return target


def _set(path, value):
    def edit(meta):
        node = meta
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value
    return edit


@pytest.mark.parametrize("edit, message", [
    (_set(("model", "layers", 1, "config"), 5), "layer must be"),
    (_set(("optimizer", "config"), 5), "optimizer config must be an object"),
    (_set(("history", "epochs", 1), None), "history.epochs entry must be an integer"),
    (_set(("history", "epochs", 1), [1]), "history.epochs entry must be an integer"),
    (lambda meta: json.dumps(meta).replace('"epochs": [0, 1, 2]', '"epochs": [0, 1e400, 2]'), "1e400, which is not finite"),
    (_set(("metadata", "classes"), ["a", "\ud800", "c"]), "lone surrogate"),
    (_set(("model", "layers", 2), {"type": "LeakyReLU", "config": {"alpha": 1e300}}), "alpha"),
    (_set(("history", "loss"), [1.0]), "history.loss has 1 entries for 3 epochs"),
])
def test_json_fields_of_the_wrong_type_or_range_are_refused(saved, tmp_path, edit, message):
    with pytest.raises(ValueError, match=message):
        bn.load(_edited(saved[0], tmp_path, edit_meta=edit))


def test_values_that_would_make_the_model_useless_are_refused(saved, tmp_path):
    def huge(members):
        members["param.1.W.npy"] = _npy(np.full((2, 8), 3e38, np.float32))
    with pytest.raises(ValueError, match="beyond"):
        bn.load(_edited(saved[0], tmp_path, edit_arrays=huge))

    def swapped(members):  # Adam's moments swapped: the second one would be negative
        members["optimizer.exp_avg.npy"], members["optimizer.exp_avg_sq.npy"] = \
            members["optimizer.exp_avg_sq.npy"], members["optimizer.exp_avg.npy"]
    with pytest.raises(ValueError, match="exp_avg_sq holds negative values"):
        bn.load(_edited(saved[0], tmp_path, edit_arrays=swapped))


def test_encrypted_or_unknown_compression_members_are_refused(saved, tmp_path):
    for offset, value, message in ((8, 1, "is encrypted"), (10, 99, "compression method 99")):
        raw = bytearray(saved[0].read_bytes())
        position = raw.find(b"PK\x01\x02")
        old = struct.unpack_from("<H", raw, position + offset)[0]
        struct.pack_into("<H", raw, position + offset, old | value if offset == 8 else value)
        target = tmp_path / f"zip{offset}.npz"
        target.write_bytes(bytes(raw))
        with pytest.raises(ValueError, match=message):
            bn.load(target)


def _bomb(tmp_path, rows, cols, name="bomb.npz"):
    """A valid-looking model file whose one Dense layer declares rows×cols float32 weights, all
    zeros, deflated: a file of about rows×cols/1000 bytes that inflates rows×cols×4."""
    model = bn.Sequential(bn.Dense(2, 3), seed=0)
    model.loss = bn.CrossEntropy()
    small = tmp_path / "small.npz"
    model.save(small)
    meta = json.loads(np.load(small)["meta"].tobytes())
    meta["model"]["layers"][0]["config"].update(in_features=rows, out_features=cols)
    target = tmp_path / name
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f4", "fortran_order": False, "shape": (rows, cols)})
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("meta.npy", _npy(np.frombuffer(json.dumps(meta).encode(), np.uint8)))
        archive.writestr("param.0.b.npy", _npy(np.zeros(cols, np.float32)))
        with archive.open("param.0.W.npy", "w", force_zip64=True) as stream:
            stream.write(header.getvalue())
            chunk = bytes(4 * cols * 64)
            for _ in range(rows // 64):
                stream.write(chunk)
    return target


@pytest.mark.slow
def test_a_compression_bomb_is_refused_before_inflating_and_a_large_file_takes_only_its_size(tmp_path):
    import time
    import tracemalloc
    bomb = _bomb(tmp_path, 64 * 1024, 1024 * 5)  # declares 1.25 GiB in a file of about 1.3 MB
    assert bomb.stat().st_size < 3 << 20
    started = time.perf_counter()
    tracemalloc.start()
    with pytest.raises(ValueError, match="arrays declare more than 1,073,741,824 bytes"):
        bn.load(bomb)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 32 << 20 and time.perf_counter() - started < 2  # refused from the headers alone
    with pytest.raises(ValueError, match="max_bytes"):
        bn.load(bomb, max_bytes=0)
    # within the limit, loading reads the weights straight into the model's flat vector θ and
    # holds them once: no inflated stream, no second copy, no gradient vector until training asks
    # for one, no random weights drawn and discarded (it was three times the weights before, five
    # before that)
    large = _bomb(tmp_path, 64 * 200, 1024 * 5, "large.npz")  # 250 MiB of weights
    tracemalloc.start()
    model = bn.load(large, max_bytes=300 << 20)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert model.parameters.theta.nbytes >= 250 << 20
    assert peak < 1.05 * (250 << 20), peak / 2**20
    with pytest.raises(ValueError, match="more than 104,857,600 bytes"):
        bn.load(large, max_bytes=100 << 20)


LOAD_UNDER_A_CAP = """
import resource, sys
resource.setrlimit(resource.RLIMIT_AS, (int(sys.argv[2]), int(sys.argv[2])))
import barenet as bn
model = bn.load(sys.argv[1])
X = bn.to_numpy(model.parameters.theta[:1])
print(model.parameters.theta.nbytes)
"""


@pytest.mark.slow
def test_a_model_of_954_mib_loads_in_a_process_capped_at_2_gib_of_address_space(tmp_path):
    """The loader needs the arrays once plus a small constant: the largest array's finiteness
    and range are checked in chunks, not on a copy, and the weights are read into place."""
    import subprocess
    import sys
    path = _bomb(tmp_path, 64 * 763, 1024 * 5, "huge.npz")  # one float32 array of 954 MiB
    done = subprocess.run([sys.executable, "-c", LOAD_UNDER_A_CAP, str(path), str(2 << 30)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert int(done.stdout) == 64 * 763 * 1024 * 5 * 4 + 1024 * 5 * 4


DATA = Path(__file__).resolve().parent / "data"


@pytest.mark.parametrize("optimizer", ["adam", "adamw"])
def test_a_file_saved_by_the_format_1_release_loads_and_trains_on_as_it_would_have(optimizer):
    """Format 1 stored Adam's moments divided by (1 - β); format 2 stores m and v as PyTorch does.
    The files in tests/files/data were saved by the format-1 release after 3 epochs, with the weights
    that release reached after 2 more (made by that release: a float64 model on make_clusters(400,
    seed=1), batch 32). Loaded here and trained 2 more epochs, the model reaches the same weights."""
    X, y = bn.datasets.make_clusters(400, seed=1)
    model = bn.load(DATA / f"format1-{optimizer}.npz")
    assert model.history.epochs[-1] == 3 and type(model.optimizer).__name__ == {"adam": "Adam", "adamw": "AdamW"}[optimizer]
    model.fit(X, y, epochs=2, batch_size=32, verbose=0)
    expected = np.load(DATA / "format1-after-two-more-epochs.npz")[optimizer]
    np.testing.assert_allclose(model.parameter_vectors()[0], expected, rtol=1e-9, atol=1e-12)


def test_pickles_and_copies_of_a_trained_model_hold_none_of_the_data_it_saw():
    """Layers keep what backward needs only until it has run (and nothing at inference); losses
    never pickle their last batch: a model shared as a pickle or copied leaks no rows."""
    import copy
    import pickle
    rng = np.random.default_rng(3)
    X = rng.normal(size=(300, 6)).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.int64)
    model = bn.Sequential(bn.Standardizer().fit(X), bn.Dense(6, 16), bn.GELU(), bn.Dropout(0.2), bn.Dense(16, 8),
                          bn.ReLU(), bn.Dense(8, 2), seed=0)
    model.fit(X, y, loss=bn.CrossEntropy(), epochs=2, batch_size=32, verbose=0)
    model.predict_proba(X[:50])
    for blob in (pickle.dumps(model), pickle.dumps(copy.deepcopy(model))):
        for row in X:
            assert row.tobytes()[:16] not in blob  # any 4 features of any training row, in place
    unpickled = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(unpickled.predict_proba(X[:5]), model.predict_proba(X[:5]))
    assert not any(name in vars(layer) for layer in model.layers for name in type(layer).cached)
