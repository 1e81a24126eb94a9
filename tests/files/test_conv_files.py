"""Model files with convolutional layers: they round-trip (BatchNorm's running statistics too, and
training resumes exactly), and a file whose configuration is hostile (wrong kernel shapes,
channels that do not match, zero or negative strides, absurd sizes, a negative variance) is
refused with a ValueError that names the layer, quickly and without a large allocation."""
import io
import json
import time
import tracemalloc
import zipfile

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import barenet as bn


def _data(seed=0, n=96):
    rng = np.random.default_rng(seed)
    X = rng.random((n, 64)).astype(np.float32)
    return X, (X[:, :32].sum(axis=1) > X[:, 32:].sum(axis=1)).astype(int) + (X[:, 0] > 0.8)


def _cnn(seed=0):
    """Every kind of image layer, trained for an epoch on rows of 64 values seen as 8 × 8 images."""
    model = bn.Sequential(
        bn.Reshape((1, 8, 8)), bn.Conv2D(1, 4, 3, padding="same", bias=False), bn.BatchNorm2D(4), bn.ReLU(),
        bn.MaxPool2D(2), bn.Conv2D(4, 6, (2, 3), stride=(1, 2), padding=(1, 1)), bn.ReLU(), bn.AvgPool2D(2, 1),
        bn.Flatten(), bn.Dropout(0.2), bn.Dense(24, 8), bn.BatchNorm1D(8, momentum=0.3), bn.ReLU(),
        bn.Dense(8, 3), seed=seed)
    X, y = _data(seed)
    model.fit(X, y, loss=bn.CrossEntropy(), optimizer=bn.Adam(0.01), epochs=1, batch_size=16, verbose=0)
    return model, X, y


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    model, X, y = _cnn()
    path = tmp_path_factory.mktemp("cnn") / "cnn.npz"
    model.save(path)
    return path, model, X


def test_a_convolutional_model_round_trips_with_its_running_statistics(saved):
    path, model, X = saved
    loaded = bn.load(path)
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))
    for ours, theirs in zip(loaded.layers, model.layers):
        assert repr(ours) == repr(theirs)
        for name, value in getattr(theirs, "buffers", {}).items():
            np.testing.assert_array_equal(ours.buffers[name], value)
            assert ours.buffers[name].dtype == np.float32
    assert not np.array_equal(model.layers[2].buffers["running_mean"], np.zeros(4))  # training moved them
    with np.load(path, allow_pickle=False) as archive:
        assert archive["param.1.W"].shape == (4, 1, 3, 3) and "param.1.b" not in archive.files
        assert archive["buffer.11.running_var"].shape == (8,)


def test_training_a_convolutional_model_resumes_exactly_from_its_file(tmp_path):
    straight, X, y = _cnn(seed=4)
    interrupted, _, _ = _cnn(seed=4)
    interrupted.save(tmp_path / "checkpoint.npz")
    resumed = bn.load(tmp_path / "checkpoint.npz")
    for model in (straight, resumed):
        model.fit(X, y, epochs=1, batch_size=16, verbose=0)
    np.testing.assert_array_equal(resumed.parameter_vectors()[0], straight.parameter_vectors()[0])
    for ours, theirs in zip(resumed.layers, straight.layers):
        for name, value in getattr(theirs, "buffers", {}).items():
            np.testing.assert_array_equal(ours.buffers[name], value)


def test_pickles_and_copies_of_a_trained_convolutional_model_hold_none_of_the_images_it_saw():
    """The windows a convolution copied (im2col), the argmax of a max-pooling, BatchNorm's x̂:
    released once backward has run, and after every inference pass."""
    import copy
    import pickle
    model, X, _ = _cnn(seed=2)
    model.predict_proba(X[:40])
    images = X.reshape(-1, 8, 8)
    runs = {images[i, r, c:c + 3].tobytes() for i in range(len(X)) for r in range(8) for c in range(6)}
    for blob in (pickle.dumps(model), pickle.dumps(copy.deepcopy(model))):
        assert not any(run in blob for run in runs)  # 3 neighbouring pixels of any image, as a window holds them
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(model)).predict_proba(X), model.predict_proba(X))


# -- hostile configurations -----------------------------------------------------------------------

def _npy(array):
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, np.asarray(array), allow_pickle=False)
    return buffer.getvalue()


def _edited(path, target, edit_config=None, arrays=None):
    """A copy of the model file with one layer's config edited ({layer: {key: value}}) or arrays
    replaced ({name: array})."""
    with zipfile.ZipFile(path) as archive:
        members = {info.filename: archive.read(info) for info in archive.infolist()}
    meta = json.loads(np.load(io.BytesIO(members["meta.npy"])).tobytes())
    for index, changes in (edit_config or {}).items():
        meta["model"]["layers"][index]["config"].update(changes)
    members["meta.npy"] = _npy(np.frombuffer(json.dumps(meta).encode(), np.uint8))
    for name, array in (arrays or {}).items():
        members[f"{name}.npy"] = _npy(array)
    with zipfile.ZipFile(target, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return target


HOSTILE = {  # what the file says: (config edits, array replacements, what the message must say)
    "kernel of another size": ({1: {"kernel_size": [5, 5]}}, None, r"param.1.W.npy \(layer 1 Conv2D\)"),
    "kernel of three sizes": ({1: {"kernel_size": [3, 3, 3]}}, None, "Conv2D configuration: kernel_size"),
    "kernel of no size": ({5: {"kernel_size": [0, 3]}}, None, "Conv2D configuration: kernel_size"),
    "kernel of 2**40": ({5: {"kernel_size": 2**40}}, None, "Conv2D configuration: kernel_size"),
    "weights for other channels": ({5: {"in_channels": 3}}, None, r"param.5.W.npy \(layer 5 Conv2D\)"),
    "images of other channels": ({0: {"shape": [2, 4, 8]}}, None, "layer 1 Conv2D.* cannot follow layer 0 Reshape"),
    "channels as text": ({1: {"out_channels": "4"}}, None, "Conv2D configuration: out_channels"),
    "out_channels 2**40": ({1: {"out_channels": 2**40}}, None, "Conv2D configuration: out_channels"),
    "zero stride": ({5: {"stride": [1, 0]}}, None, "Conv2D configuration: stride"),
    "negative stride": ({5: {"stride": -2}}, None, "Conv2D configuration: stride"),
    "stride 2**62": ({5: {"stride": 2**62}}, None, "Conv2D configuration: stride"),
    "padding past the kernel": ({5: {"padding": [9, 9]}}, None, "Conv2D configuration: padding"),
    "negative padding": ({5: {"padding": [-1, 1]}}, None, "Conv2D configuration: padding"),
    "same padding with a stride": ({1: {"padding": "same", "stride": [2, 2]}}, None, "Conv2D configuration"),
    "unknown padding": ({1: {"padding": "full"}}, None, "Conv2D configuration: padding"),
    "bias as a number": ({5: {"bias": 1}}, None, "Conv2D configuration: bias"),
    "pooling window past the image": ({4: {"kernel_size": [9, 9]}}, None, "layer 4 MaxPool2D.*does not fit"),
    "pooling window 2**40": ({7: {"kernel_size": [2**40, 1]}}, None, "AvgPool2D configuration: kernel_size"),
    "pooling stride 0": ({4: {"stride": 0}}, None, "MaxPool2D configuration: stride"),
    "images of 2**60 pixels": ({0: {"shape": [1, 2**30, 2**30]}}, None, "Reshape configuration: shape"),
    "images of another size": ({0: {"shape": [1, 4, 16]}}, None, "layer 10 Dense.* cannot follow layer 9 Dropout"),
    "shape of no size": ({0: {"shape": []}}, None, "Reshape configuration: shape"),
    "statistics of other channels": ({2: {"num_features": 5}}, None, r"\(layer 2 BatchNorm2D\)"),
    "momentum past one": ({11: {"momentum": 7}}, None, "BatchNorm1D configuration: momentum"),
    "negative eps": ({2: {"eps": -1e-5}}, None, "BatchNorm2D configuration: eps"),
    "negative variance": (None, {"buffer.2.running_var": -np.ones(4, np.float32)},
                          "layer 2 BatchNorm2D: running_var must not be negative"),
    "variance of another shape": (None, {"buffer.11.running_var": np.ones(9, np.float32)},
                                  r"\(layer 11 BatchNorm1D\)"),
}


@pytest.mark.parametrize("case", HOSTILE)
def test_a_hostile_configuration_is_refused_naming_the_layer_quickly_and_in_little_memory(saved, tmp_path, case):
    edits, arrays, message = HOSTILE[case]
    target = _edited(saved[0], tmp_path / "hostile.npz", edits, arrays)
    started = time.perf_counter()
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match=message):
            bn.load(target)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert time.perf_counter() - started < 2 and peak < 16 << 20


SENSITIVE = [(0, "shape"), (1, "in_channels"), (1, "out_channels"), (1, "kernel_size"), (1, "padding"),
             (2, "num_features"), (2, "momentum"), (2, "eps"), (4, "kernel_size"), (4, "stride"),
             (5, "kernel_size"), (5, "stride"), (5, "padding"), (5, "bias"), (7, "kernel_size"), (7, "stride"),
             (11, "num_features")]
SIZES = st.integers(-3, 12) | st.sampled_from([0, 2**16, 2**16 + 1, 2**31, 2**62, -2**40])
PLAUSIBLE = [1, 2, 3, 4, [1, 1], [2, 2], [1, 2], [3, 3], [1, 8, 8], [4, 4, 4], "same", "valid", True, False, 1e-3,
             0.5]  # values that may well load
VALUES = st.one_of(SIZES, st.lists(SIZES, max_size=4), st.sampled_from(["", None, 1e300, *PLAUSIBLE]),
                   st.floats(-10, 10, allow_nan=False))


def _outcome(path, X, target):
    """'refused' (a ValueError, quickly) or 'loaded' (a model whose probabilities are finite)."""
    started = time.perf_counter()
    try:
        model = bn.load(target)
    except ValueError:
        assert time.perf_counter() - started < 2
        return "refused"
    assert np.isfinite(model.predict_proba(X)).all()
    return "loaded"


def test_every_plausible_value_of_every_field_gives_value_error_or_a_model_that_predicts(saved, tmp_path):
    path, _, X = saved
    outcomes = [_outcome(path, X, _edited(path, tmp_path / "edited.npz", {index: {key: value}}))
                for index, key in SENSITIVE for value in PLAUSIBLE]
    assert outcomes.count("loaded") > 20 and outcomes.count("refused") > 100  # both paths taken


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(field=st.sampled_from(SENSITIVE), value=VALUES)
def test_any_configuration_gives_value_error_or_a_model_that_predicts(saved, tmp_path, field, value):
    """One field of one layer's configuration at a time, any value."""
    path, _, X = saved
    _outcome(path, X, _edited(path, tmp_path / "fuzzed.npz", {field[0]: {field[1]: value}}))


# -- JSON export ----------------------------------------------------------------------------------

def _windows_of(x, kernel, stride):
    """(n, C, oh, ow, kh, kw) windows, by plain loops: the reader outside barenet."""
    n, c, h, w = x.shape
    (kh, kw), (sh, sw) = kernel, stride
    oh, ow = (h - kh) // sh + 1, (w - kw) // sw + 1
    out = np.empty((n, c, oh, ow, kh, kw))
    for i in range(oh):
        for j in range(ow):
            out[:, :, i, j] = x[:, :, i * sh:i * sh + kh, j * sw:j * sw + kw]
    return out


def _run_json(layers, x):
    """A forward pass that reads nothing but the exported JSON."""
    for entry in layers:
        kind = entry["type"]
        if kind == "Reshape":
            x = x.reshape((len(x), *entry["shape"]))
        elif kind == "Flatten":
            x = x.reshape(len(x), -1)
        elif kind == "Conv2D":
            W = np.asarray(entry["W"])
            kh, kw = entry["kernel_size"]
            if entry["padding"] == "same":
                pads = ((kh - 1) // 2, kh // 2), ((kw - 1) // 2, kw // 2)
            else:
                pads = (entry["padding"][0],) * 2, (entry["padding"][1],) * 2
            x = _windows_of(np.pad(x, ((0, 0), (0, 0), *pads)), (kh, kw), entry["stride"])
            x = np.einsum("ncijpq,fcpq->nfij", x, W) + (np.asarray(entry["b"])[:, None, None] if entry["bias"] else 0)
        elif kind in ("MaxPool2D", "AvgPool2D"):
            x = _windows_of(x, entry["kernel_size"], entry["stride"])
            x = x.max(axis=(4, 5)) if kind == "MaxPool2D" else x.mean(axis=(4, 5))
        elif kind in ("BatchNorm1D", "BatchNorm2D"):
            shape = (1, -1) + (1,) * (x.ndim - 2)
            scale = np.asarray(entry["gamma"]) / np.sqrt(np.asarray(entry["running_var"]) + entry["eps"])
            x = (x - np.reshape(entry["running_mean"], shape)) * scale.reshape(shape) + np.reshape(entry["beta"], shape)
        elif kind == "Dense":
            x = x @ np.asarray(entry["W"]) + np.asarray(entry["b"])
        elif kind == "ReLU":
            x = np.maximum(x, 0)
        else:
            raise AssertionError(f"unexpected layer {kind}")
    return x


def test_the_json_export_carries_every_image_layer_and_computes_the_same_outputs(saved):
    from barenet.files.export import to_json
    path, model, X = saved
    document = json.loads(json.dumps(to_json(bn.load(path))))
    assert document["input_shape"] == [64] and document["input_width"] == 64
    kinds = [entry["type"] for entry in document["layers"]]
    assert kinds == ["Reshape", "Conv2D", "BatchNorm2D", "ReLU", "MaxPool2D", "Conv2D", "ReLU", "AvgPool2D",
                     "Flatten", "Dense", "BatchNorm1D", "ReLU", "Dense"]  # Dropout is left out
    assert document["layers"][1]["padding"] == "same" and document["layers"][5]["stride"] == [1, 2]
    np.testing.assert_allclose(_run_json(document["layers"], X[:20].astype(np.float64)), model.outputs(X[:20]),
                               atol=1e-5)
