"""A fitted barenet.sklearn estimator, or a Pipeline of a StandardScaler and one, as ONNX: in
onnxruntime it gives predict_proba and predict (classes_ included, strings too) and predict for
regressors, to 1e-5, from float64 or float32 input; ``barenet export`` does the same from a
pickle, which it reads without running code from it."""
import json
import os
import pickle
import subprocess
import sys
import warnings

import numpy as np
import pytest

pytest.importorskip("sklearn")
pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import MinMaxScaler, StandardScaler  # noqa: E402

import barenet as bn  # noqa: E402
from barenet.integrations.sklearn.files import load_estimator  # noqa: E402
from barenet.sklearn import MLPClassifier, MLPRegressor  # noqa: E402

ENV = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in [str(bn.__path__[0].rsplit("/", 1)[0]),
                                                               os.environ.get("PYTHONPATH")] if p))


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        yield


def _session(proto):
    return ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])


def _run(proto, X):
    session = _session(proto)
    dtype = np.float64 if session.get_inputs()[0].type == "tensor(double)" else np.float32
    return dict(zip([o.name for o in session.get_outputs()], session.run(None, {"input": X.astype(dtype)})))


def _metadata(proto):
    return {entry.key: entry.value for entry in proto.metadata_props}


def _data(n=240):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(n, 5)) * [1, 10, 100, 1, 0.1] + [0, 50, 1000, 0, 0]
    return X, rng


@pytest.mark.parametrize("input_dtype", [None, "float32"])
def test_a_pipeline_with_string_classes_gives_predict_proba_and_predict(input_dtype):
    X, rng = _data()
    y = np.array(["cat", "dog", "emu"])[np.argmax((X[:, :3] - X[:, :3].mean(0)) / X[:, :3].std(0)
                                                 + rng.normal(size=(240, 3)), axis=1)]
    pipeline = make_pipeline(StandardScaler(), MLPClassifier((16,), max_iter=30, random_state=0)).fit(X, y)
    proto = bn.to_onnx(pipeline, input_dtype=input_dtype)
    got = _run(proto, X)
    assert _session(proto).get_inputs()[0].type == ("tensor(float)" if input_dtype else "tensor(double)")
    np.testing.assert_allclose(got["probabilities"], pipeline.predict_proba(X), atol=1e-5)
    assert list(got["label"]) == list(pipeline.predict(X))
    assert json.loads(_metadata(proto)["classes"]) == ["cat", "dog", "emu"]


def test_two_classes_have_one_logistic_unit_and_two_probability_columns():
    X, rng = _data()
    y = (X[:, 0] + rng.normal(size=240) > 0).astype(int) * 7  # labels 0 and 7
    clf = MLPClassifier((8,), max_iter=30, random_state=0).fit(X / X.std(axis=0), y)
    proto = bn.to_onnx(clf)
    assert sum(node.op_type == "Sigmoid" for node in proto.graph.node) == 1
    got = _run(proto, X / X.std(axis=0))
    np.testing.assert_allclose(got["probabilities"], clf.predict_proba(X / X.std(axis=0)), atol=1e-5)
    np.testing.assert_array_equal(got["label"], clf.predict(X / X.std(axis=0)))
    assert json.loads(_metadata(proto)["classes"]) == [0, 7]


def test_multilabel_targets_give_a_probability_and_a_label_per_output():
    X, rng = _data()
    Y = (X[:, :3] / [1, 10, 100] + rng.normal(size=(240, 3)) > [0, 5, 10]).astype(int)
    clf = make_pipeline(StandardScaler(), MLPClassifier((8,), max_iter=30, random_state=0)).fit(X, Y)
    got = _run(bn.to_onnx(clf), X)
    np.testing.assert_allclose(got["probabilities"], clf.predict_proba(X), atol=1e-5)
    np.testing.assert_array_equal(got["label"], clf.predict(X))


@pytest.mark.parametrize("loss, outputs", [("squared_error", 1), ("squared_error", 2), ("poisson", 1)])
def test_regressors_give_predict(loss, outputs):
    X, rng = _data()
    z = (X[:, :outputs] - X[:, :outputs].mean(0)) / X[:, :outputs].std(0)
    y = rng.poisson(np.exp(0.5 * z[:, 0])) if loss == "poisson" else z.ravel() if outputs == 1 else z
    model = make_pipeline(StandardScaler(), MLPRegressor(loss, (8,), max_iter=30, random_state=0)).fit(X, y)
    for dtype in (None, "float32"):
        got = _run(bn.to_onnx(model, input_dtype=dtype), X)["predictions"]
        assert got.shape == model.predict(X).shape
        np.testing.assert_allclose(got, model.predict(X), rtol=1e-5, atol=1e-5)


def test_what_cannot_be_exported_is_refused_saying_why():
    X, _ = _data(40)
    with pytest.raises(ValueError, match="not fitted yet"):
        bn.to_onnx(MLPClassifier())
    with pytest.raises(ValueError, match="a Pipeline of a StandardScaler and a barenet estimator"):
        bn.to_onnx(make_pipeline(MinMaxScaler(), MLPRegressor(max_iter=1)).fit(X, X[:, 0]))
    with pytest.raises(ValueError, match="takes a barenet MLPClassifier or MLPRegressor"):
        bn.to_onnx(StandardScaler().fit(X))
    with pytest.raises(ValueError, match="input_dtype is for scikit-learn estimators"):
        bn.to_onnx(bn.Sequential(bn.Dense(5, 2)), input_dtype="float64")


def _export(*args):
    return subprocess.run([sys.executable, "-m", "barenet", "export", *map(str, args)], capture_output=True, text=True,
                          timeout=120, env=ENV)


@pytest.mark.slow
def test_barenet_export_writes_a_pickled_pipeline_as_onnx(tmp_path):
    X, rng = _data()
    y = np.array(["no", "yes"])[(X[:, 0] > 0).astype(int)]
    pipeline = make_pipeline(StandardScaler(), MLPClassifier((8,), max_iter=20, random_state=0)).fit(X, y)
    (tmp_path / "model.pkl").write_bytes(pickle.dumps(pipeline))
    done = _export(tmp_path / "model.pkl", "--format", "onnx", "--out", tmp_path / "model.onnx")
    assert done.returncode == 0, done.stderr
    assert "input 'input' (n, 5) float64, outputs probabilities, label" in done.stdout
    session = ort.InferenceSession(str(tmp_path / "model.onnx"), providers=["CPUExecutionProvider"])
    probabilities, labels = session.run(None, {"input": X})
    np.testing.assert_allclose(probabilities, pipeline.predict_proba(X), atol=1e-5)
    assert list(labels) == list(pipeline.predict(X))
    wrong = _export(tmp_path / "model.pkl", "--format", "json", "--out", tmp_path / "m.json")
    assert wrong.returncode == 2 and "exports to ONNX" in wrong.stderr
    (tmp_path / "model.joblib").write_bytes(b"")
    assert "can run code" in _export(tmp_path / "model.joblib", "--format", "onnx", "--out", tmp_path / "j.onnx").stderr


class _Runs:
    """A pickle that would create a file when read by plain pickle.load."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


class _Reaches:
    def __reduce__(self):
        return getattr, (np.ndarray, "tofile")


HOSTILE = {
    "runs": lambda marker: pickle.dumps(_Runs(marker)),
    "reaches": lambda marker: pickle.dumps(_Reaches()),
    "an array larger than its bytes": lambda marker: pickle.dumps(np.zeros(4)).replace(np.zeros(4).tobytes(), b"\0" * 8),
    "declares a terabyte": lambda marker: b"\x80\x04\x8e" + (1 << 40).to_bytes(8, "little") + b"abc.",
    "grows its memo": lambda marker: b"\x80\x04Nr" + (1 << 28).to_bytes(4, "little") + b".",  # 3 GB of memo
    "not an estimator": lambda marker: pickle.dumps({"a": 1}),
}


@pytest.mark.parametrize("hostile", HOSTILE)
def test_a_hostile_pickle_is_refused_and_runs_nothing(hostile, tmp_path):
    """Refused quickly: within a time and memory that no declared size changes."""
    import resource
    import time
    marker = tmp_path / "ran"
    blob = HOSTILE[hostile](marker)
    (tmp_path / "x.pkl").write_bytes(blob)
    before, started = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, time.perf_counter()
    with pytest.raises(ValueError, match="x.pkl"):
        load_estimator(tmp_path / "x.pkl")
    assert not marker.exists()
    assert time.perf_counter() - started < 5 and resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 100_000


def test_a_thousand_damaged_pickles_each_load_or_give_a_value_error(tmp_path):
    """A seeded mutator: bytes flipped, cut out, repeated and the file cut short, over pickles of
    a classifier and a regressor in a pipeline, with pickle's protocols 2 to 5."""
    X, _ = _data(60)
    models = [MLPClassifier((4,), max_iter=2).fit(X, np.arange(60) % 3),
              make_pipeline(StandardScaler(), MLPRegressor("poisson", (3,), solver="sgd", max_iter=2)).fit(X, X[:, 3] > 0)]
    blobs = [pickle.dumps(model, protocol=protocol) for model in models for protocol in (2, 3, 4, 5)]
    rng = np.random.default_rng(0)
    loaded = refused = 0
    for trial in range(1000):
        blob = bytearray(blobs[trial % len(blobs)])
        for _ in range(rng.integers(1, 4)):
            at = int(rng.integers(0, len(blob)))
            kind = rng.integers(0, 4)
            if kind == 0:
                blob[at] = int(rng.integers(0, 256))
            elif kind == 1:
                del blob[at:at + int(rng.integers(1, 16))]
            elif kind == 2:
                blob[at:at] = blob[at:at + int(rng.integers(1, 16))]
            else:
                del blob[at:]
        path = tmp_path / "damaged.pkl"
        path.write_bytes(bytes(blob))
        try:
            estimator = load_estimator(path)
        except ValueError:
            refused += 1
        else:
            assert hasattr(estimator, "get_params")
            loaded += 1
    assert refused > 500 and loaded + refused == 1000
