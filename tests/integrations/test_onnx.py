"""ONNX export (barenet.integrations.onnx): every exportable layer, every recipe's model and an
ensemble give in onnxruntime what barenet gives, to 1e-5 (float32)."""
import subprocess
import sys

import numpy as np
import pytest

import barenet as bn

pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
from barenet.app import runs  # noqa: E402
from barenet.app.recipes import RECIPES  # noqa: E402
from barenet.integrations.onnx import to_onnx  # noqa: E402


def _run(model, X, tmp_path):
    path = tmp_path / "model.onnx"
    to_onnx(model, path)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    return dict(zip(names, session.run(None, {"input": np.asarray(X, dtype=np.float32)})))


def test_every_exportable_layer_gives_barenets_outputs_and_probabilities(tmp_path):
    X, y = bn.datasets.make_clusters(400, seed=0)
    model = bn.Sequential(bn.Standardizer().fit(X), bn.Dense(2, 32), bn.GELU(), bn.Dropout(0.2),
                          bn.Dense(32, 16), bn.LeakyReLU(0.1), bn.Dense(16, 16), bn.Tanh(), bn.Identity(),
                          bn.Dense(16, 16, bias=False), bn.Sigmoid(), bn.Dense(16, 16), bn.ReLU(),
                          bn.Dense(16, 3), seed=0)
    model.fit(X, y, loss=bn.CrossEntropy(0.1), epochs=3, verbose=0)
    got = _run(model, X, tmp_path)
    assert set(got) == {"output", "probabilities"}
    np.testing.assert_allclose(got["output"], model.outputs(X), atol=1e-5)
    np.testing.assert_allclose(got["probabilities"], model.predict_proba(X), atol=1e-5)
    assert (got["probabilities"].argmax(1) == model.predict(X)).all()


def test_a_softmax_layer_a_regression_and_a_binary_classifier(tmp_path):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(200, 5)).astype(np.float32)
    regression = bn.Sequential(bn.Dense(5, 8), bn.ReLU(), bn.Dense(8, 2), seed=0)
    regression.fit(X, X[:, :2] ** 2, loss=bn.MSE(), epochs=2, verbose=0)
    got = _run(regression, X, tmp_path)
    assert set(got) == {"output"}
    np.testing.assert_allclose(got["output"], regression.predict(X), atol=1e-5)
    mse_on_softmax = bn.Sequential(bn.Dense(5, 4), bn.Softmax(), seed=0)
    mse_on_softmax.fit(X, np.eye(4)[rng.integers(0, 4, 200)], loss=bn.MSE(), epochs=1, verbose=0)
    np.testing.assert_allclose(_run(mse_on_softmax, X, tmp_path)["output"], mse_on_softmax.predict(X), atol=1e-5)
    binary = bn.Sequential(bn.Dense(5, 8), bn.Tanh(), bn.Dense(8, 1), seed=0)
    binary.fit(X, (X[:, :1] > 0).astype(np.float32), loss=bn.BinaryCrossEntropy(), epochs=2, verbose=0)
    np.testing.assert_allclose(_run(binary, X, tmp_path)["probabilities"], binary.predict_proba(X), atol=1e-5)


def _needs(recipe):
    """The recipe's name, marked with the data set it reads where that is MNIST or Fashion-MNIST."""
    dataset = {"mnist-10k": "mnist"}.get(RECIPES[recipe]["dataset"], RECIPES[recipe]["dataset"])
    return pytest.param(recipe, marks=pytest.mark.data(dataset)) if dataset in ("mnist", "fashion-mnist") else recipe


@pytest.mark.slow
@pytest.mark.parametrize("recipe", [_needs(recipe) for recipe in RECIPES])
def test_each_recipes_model_gives_barenets_predictions_on_its_test_set(recipe, tmp_path):
    """The recipe's architecture (augmentation, standardisation, dropout, ensembles), its weights
    moved by a few training steps, on the recipe's whole test set."""
    config = runs.RunConfig.from_dict(RECIPES[recipe])
    data = runs.load_dataset(config.dataset, 0)
    loss = bn.CrossEntropy() if data.task == "classification" else bn.MSE()
    members = []
    for member in range(config.ensemble):
        model = runs.build_model(config, data, member)
        for start in range(0, 256 * 3, 256):
            model.train_step(data.X_train[start:start + 256], data.y_train[start:start + 256], loss=loss,
                             optimizer=runs.make_optimizer(config) if start == 0 else None)
        members.append(model)
    model = members[0] if len(members) == 1 else bn.Ensemble(members)
    got = _run(model, data.X_test, tmp_path)
    if data.task == "classification":
        np.testing.assert_allclose(got["probabilities"], model.predict_proba(data.X_test), atol=1e-5)
        assert (got["probabilities"].argmax(1) == model.predict(data.X_test)).mean() > 0.999  # ties aside
    else:
        np.testing.assert_allclose(got["output"], model.predict(data.X_test).reshape(got["output"].shape), atol=1e-5)


def test_a_layer_with_no_onnx_form_is_refused_by_name():
    class Scale(bn.Layer):
        def forward(self, x, training=True):
            return 2 * x

        def backward(self, grad_out):
            return 2 * grad_out

    model = bn.Sequential(bn.Dense(3, 4), Scale(), bn.Dense(4, 2), seed=0)
    model.loss = bn.CrossEntropy()
    with pytest.raises(ValueError, match=r"layer 1 Scale.* has no ONNX form"):
        to_onnx(model)


@pytest.mark.slow
def test_barenet_export_format_onnx_writes_a_file_the_runtime_reads(tmp_path):
    X, y = bn.datasets.make_clusters(100, seed=0)
    model = bn.Sequential(bn.Dense(2, 8), bn.ReLU(), bn.Dense(8, 3), seed=0)
    model.fit(X, y, loss="cross_entropy", epochs=1, verbose=0)
    model.metadata = {"class_names": ["a", "b", "c"]}
    model.save(tmp_path / "m.npz")
    done = subprocess.run([sys.executable, "-m", "barenet", "export", str(tmp_path / "m.npz"), "--format", "onnx",
                           "--out", str(tmp_path / "m.onnx")], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "input 'input' (n, 2) float32, output and probabilities" in done.stdout
    session = ort.InferenceSession(str(tmp_path / "m.onnx"), providers=["CPUExecutionProvider"])
    assert session.get_modelmeta().custom_metadata_map["class_names"] == "a,b,c"
    probabilities = session.run(["probabilities"], {"input": X.astype(np.float32)})[0]
    np.testing.assert_allclose(probabilities, model.predict_proba(X), atol=1e-5)
    refused = subprocess.run([sys.executable, "-m", "barenet", "export", str(tmp_path / "m.npz"), "--format", "onnx"],
                             capture_output=True, text=True, timeout=120)
    assert refused.returncode == 2 and "give it with --out" in refused.stderr


def _trained_cnn(layers, X, y, seed=0):
    model = bn.Sequential(*layers, seed=seed)
    model.fit(X, y, loss=bn.CrossEntropy(), optimizer=bn.Adam(0.01), epochs=2, batch_size=32, verbose=0)
    return model  # BatchNorm's running statistics moved away from 0 and 1


def test_every_image_layer_gives_barenets_outputs_and_probabilities(tmp_path):
    """Reshape, Conv2D (padding by numbers, "same" with an even kernel, strides, no bias),
    BatchNorm2D, MaxPool2D and AvgPool2D (overlapping windows that do not divide the image),
    Flatten, Dropout, BatchNorm1D: to 1e-5 in onnxruntime."""
    rng = np.random.default_rng(3)
    X = rng.random((200, 81)).astype(np.float32)
    y = (X[:, :40].sum(axis=1) > X[:, 41:].sum(axis=1)).astype(int) + (X[:, 40] > 0.7)
    model = _trained_cnn([bn.Reshape((1, 9, 9)), bn.Conv2D(1, 4, 3, padding=1), bn.BatchNorm2D(4), bn.ReLU(),
                          bn.MaxPool2D(3, 2), bn.Conv2D(4, 5, (2, 4), padding="same", bias=False),
                          bn.BatchNorm2D(5, eps=1e-3), bn.Tanh(), bn.AvgPool2D(2, (1, 2)),
                          bn.Conv2D(5, 6, 2, stride=2, padding=(1, 0)), bn.ReLU(), bn.Flatten(), bn.Dropout(0.2),
                          bn.Dense(12, 10), bn.BatchNorm1D(10, momentum=0.3), bn.GELU(), bn.Dense(10, 3)], X, y)
    got = _run(model, X, tmp_path)
    np.testing.assert_allclose(got["output"], model.outputs(X), atol=1e-5)
    np.testing.assert_allclose(got["probabilities"], model.predict_proba(X), atol=1e-5)


def test_a_network_that_takes_images_of_any_size_exports_with_them(tmp_path):
    rng = np.random.default_rng(4)
    X = rng.random((64, 2, 7, 6)).astype(np.float32)
    y = (X[:, 0].mean(axis=(1, 2)) > X[:, 1].mean(axis=(1, 2))).astype(int)
    model = _trained_cnn([bn.Conv2D(2, 4, 3), bn.ReLU(), bn.GlobalAvgPool2D(), bn.Dense(4, 2)], X, y)
    path = tmp_path / "images.onnx"
    proto = to_onnx(model, path)
    dims = [d.dim_value or d.dim_param for d in proto.graph.input[0].type.tensor_type.shape.dim]
    assert dims == ["n", 2, "size2", "size3"]
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for images in (X, rng.random((5, 2, 11, 9)).astype(np.float32)):
        np.testing.assert_allclose(session.run(["probabilities"], {"input": images})[0], model.predict_proba(images),
                                   atol=1e-5)


def test_the_reference_network_of_issue_28_exports_through_the_command_line(tmp_path):
    rng = np.random.default_rng(5)
    X, y = rng.random((64, 784)).astype(np.float32), rng.integers(0, 10, 64)
    model = _trained_cnn([bn.Reshape((1, 28, 28)), bn.Conv2D(1, 32, 3, padding=1), bn.ReLU(), bn.MaxPool2D(2),
                          bn.Conv2D(32, 64, 3, padding=1), bn.ReLU(), bn.MaxPool2D(2), bn.Flatten(),
                          bn.Dense(3136, 128), bn.ReLU(), bn.Dense(128, 10)], X, y)
    model.save(tmp_path / "cnn.npz")
    done = subprocess.run([sys.executable, "-m", "barenet", "export", str(tmp_path / "cnn.npz"), "--format", "onnx",
                           "--out", str(tmp_path / "cnn.onnx")], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    session = ort.InferenceSession(str(tmp_path / "cnn.onnx"), providers=["CPUExecutionProvider"])
    ops = {node.op_type for node in __import__("onnx").load(str(tmp_path / "cnn.onnx")).graph.node}
    assert {"Reshape", "Conv", "MaxPool", "Flatten", "Gemm"} <= ops
    np.testing.assert_allclose(session.run(["probabilities"], {"input": X})[0], model.predict_proba(X), atol=1e-5)
