"""The static web export's files, checked from Python: what the folder holds, the weight format
(decoded here as a browser would), int8 quantization, refusals, and writes that never leave a
half-written folder. The browser's own numbers are tested in tests/app/test_web_export_browser.py."""
import base64
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import barenet as bn
from barenet.core import registry
from barenet.integrations import web
from barenet.integrations.web import export as web_export

SHIPPED = Path(bn.__file__).parent / "app" / "web" / "default_model.npz"


@pytest.fixture(scope="module")
def shipped():
    return bn.load(SHIPPED)


def _mlp(seed=0, inputs=784, loss=None):
    model = bn.Sequential(bn.Dense(inputs, 16), bn.ReLU(), bn.Dropout(0.2), bn.Dense(16, 10), seed=seed)
    model.loss = loss or bn.CrossEntropy()
    return model


def _description(script: str) -> dict:
    """The JSON inside model.js: barenet.useModel({...});"""
    start, end = script.index("barenet.useModel(") + len("barenet.useModel("), script.rindex(");")
    return json.loads(script[start:end])


def _arrays(description):
    """Every array of every layer, decoded from the weights as barenet.js decodes them."""
    raw = base64.b64decode(description["weights"])
    out = []
    for layer in description["members"][0]:
        arrays = {}
        for name, spec in layer["arrays"].items():
            size = int(np.prod(spec["shape"]))
            if spec["dtype"] == "float32":
                arrays[name] = np.frombuffer(raw, "<f4", size, spec["offset"]).reshape(spec["shape"])
            else:
                q = np.frombuffer(raw, "i1", size, spec["offset"]).reshape(spec["shape"])
                axis = spec.get("axis", len(spec["shape"]) - 1)
                scales = np.frombuffer(raw, "<f4", spec["shape"][axis], spec["scales"])
                arrays[name] = q * np.expand_dims(scales, tuple(a for a in range(q.ndim) if a != axis))
        out.append((layer["kind"], layer["config"], arrays))
    return out


def test_the_folder_holds_the_page_and_nothing_it_loads_is_outside_it(tmp_path, shipped):
    sizes = web.export_web(shipped, tmp_path / "site")
    names = {p.name for p in (tmp_path / "site").iterdir()}
    assert names == {"index.html", "model.js", *web.ASSETS} == set(sizes)
    index = (tmp_path / "site" / "index.html").read_text()
    assert "<!-- barenet:" not in index and 'id="view-train"' not in index  # no serve-only view
    referenced = set(__import__("re").findall(r'(?:src|href)="([^"]+)"', index)) - {"data:,"}
    assert referenced == {"model.js", *web.ASSETS}  # relative names, all in the folder
    for name in names:
        text = (tmp_path / "site" / name).read_text()
        assert "http://" not in text and "https://" not in text and "//cdn" not in text, name
        assert sizes[name] == (tmp_path / "site" / name).stat().st_size


def test_the_weights_decode_to_the_models_arrays_exactly(shipped):
    description = _description(web.model_script(shipped))
    assert description["format"] == "barenet-web" and description["input_width"] == 784
    assert description["classes"] == [str(d) for d in range(10)] and description["output"] == "softmax"
    computing = [layer for layer in shipped.layers if not layer.identity_at_inference]
    decoded = _arrays(description)
    assert [kind for kind, _, _ in decoded] == [type(layer).__name__ for layer in computing]
    for (kind, config, arrays), layer in zip(decoded, computing):
        assert config == json.loads(json.dumps(layer.get_config()))  # tuples (kernel sizes, shapes) as lists
        assert arrays.keys() == layer.params.keys()
        for name, value in arrays.items():
            np.testing.assert_array_equal(value, bn.to_numpy(layer.params[name]))


@pytest.mark.parametrize("seed", range(20))
def test_int8_quantization_keeps_every_column_within_half_a_step(seed):
    rng = np.random.default_rng(seed)
    W = rng.normal(0, rng.uniform(0.01, 3), (int(rng.integers(1, 60)), int(rng.integers(1, 40))))
    W[:, rng.integers(W.shape[1])] = 0.0  # a dead unit: its column stays zero
    q, scales = web.quantize_int8(W)
    assert q.dtype == np.int8 and scales.dtype == np.float32 and scales.shape == (W.shape[1],)
    assert np.abs(q).max() <= 127
    live = np.abs(W).max(axis=0) > 0
    assert np.all(np.abs(q[:, live]).max(axis=0) == 127) and np.all(q[:, ~live] == 0)
    assert np.all(np.abs(q * scales - W) <= scales / 2 * (1 + 1e-6))


@pytest.mark.parametrize("seed", range(10))
def test_int8_quantization_of_a_convolution_takes_one_scale_per_filter(seed):
    """A convolution's W is (F, C, kh, kw): its outputs are the first axis, so each filter has its
    own scale (one per kw column, the last axis, made every filter share the largest's)."""
    rng = np.random.default_rng(seed)
    W = rng.normal(size=(int(rng.integers(1, 20)), int(rng.integers(1, 5)), 3, int(rng.integers(1, 6))))
    W *= rng.uniform(0.001, 3, size=(len(W), 1, 1, 1))  # filters of very different sizes
    W[rng.integers(len(W))] = 0.0  # a dead filter stays zero
    q, scales = web.quantize_int8(W, axis=0)
    assert q.dtype == np.int8 and scales.shape == (len(W),)
    live = np.abs(W).reshape(len(W), -1).max(axis=1) > 0
    assert np.all(np.abs(q[live]).reshape(live.sum(), -1).max(axis=1) == 127) and np.all(q[~live] == 0)
    assert np.all(np.abs(q * scales[:, None, None, None] - W) <= scales[:, None, None, None] / 2 * (1 + 1e-6))


def test_an_int8_export_of_a_convolutional_network_scales_each_filter(shipped):
    """The shipped model is a CNN: each convolution's W decodes (as barenet.js does) to within half
    of its filter's step, the step being that filter's largest magnitude over 127."""
    decoded = _arrays(_description(web.model_script(shipped, quantize="int8")))
    convolutions = [(arrays, layer) for (kind, _, arrays), layer in
                    zip(decoded, [layer for layer in shipped.layers if not layer.identity_at_inference])
                    if kind == "Conv2D"]
    assert convolutions
    for arrays, layer in convolutions:
        W = bn.to_numpy(layer.params["W"]).astype(np.float64)
        step = np.abs(W).reshape(len(W), -1).max(axis=1)[:, None, None, None] / 127
        assert np.all(np.abs(arrays["W"] - W) <= step / 2 * (1 + 1e-6))


def test_int8_stores_weight_matrices_as_int8_and_the_rest_as_float32(shipped, tmp_path):
    description = _description(web.model_script(shipped, quantize="int8"))
    for layer in description["members"][0]:
        for name, spec in layer["arrays"].items():
            assert spec["dtype"] == ("int8" if len(spec["shape"]) >= 2 else "float32"), (layer["kind"], name)
    float_size = web.export_web(shipped, tmp_path / "f32")["model.js"]
    int8_size = web.export_web(shipped, tmp_path / "int8", quantize="int8")["model.js"]
    assert int8_size <= 0.3 * float_size, (int8_size, float_size)


def test_every_layer_a_model_can_hold_runs_in_the_browser_or_is_the_identity_there():
    kinds = set(web.browser_layer_kinds())
    for name in registry.layers.names():
        cls = registry.layers[name]
        assert name in kinds or cls.identity_at_inference, f"{name} cannot run in the browser: add it to barenet.js"


class Doubler(bn.Layer):
    def forward(self, x, training=True):
        return 2 * x


def test_a_layer_the_browser_cannot_run_is_refused_by_name(tmp_path):
    model = bn.Sequential(bn.Dense(784, 8), Doubler(), bn.Dense(8, 10), seed=0)
    model.loss = bn.CrossEntropy()
    with pytest.raises(ValueError, match=r"layer 1, Doubler\(\), cannot run in the browser: the web export runs Dense"):
        web.export_web(model, tmp_path / "site")
    assert not (tmp_path / "site").exists() and list(tmp_path.iterdir()) == []
    ensemble = bn.Ensemble([_mlp(0), model])
    with pytest.raises(ValueError, match=r"layer 1\.1, Doubler\(\)"):
        web.model_script(ensemble)


@pytest.mark.parametrize("model, problem", [
    (_mlp(inputs=64), "784 inputs, not 64"),
    (_mlp(loss=bn.MSE()), "classifier trained with CrossEntropy, not MSE"),
])
def test_the_draw_page_needs_a_784_input_classifier(tmp_path, model, problem):
    with pytest.raises(ValueError, match=problem):
        web.export_web(model, tmp_path / "site")


def test_model_script_describes_any_model_the_browser_can_run():
    binary = _description(web.model_script(_mlp(inputs=2, loss=bn.BinaryCrossEntropy())))
    regression = _description(web.model_script(_mlp(inputs=3, loss=bn.MSE())))
    assert (binary["output"], binary["input_width"]) == ("sigmoid", 2)
    assert (regression["output"], regression["input_width"]) == ("identity", 3)
    with pytest.raises(ValueError, match="quantize must be None or 'int8'"):
        web.model_script(_mlp(), quantize="int4")


def test_fashion_models_get_their_class_names_and_the_silhouette_preparation():
    model = _mlp()
    model.metadata = {"dataset": "fashion-mnist", "class_names": list(bn.datasets.FASHION_CLASSES)}
    description = _description(web.model_script(model))
    assert description["classes"] == list(bn.datasets.FASHION_CLASSES)
    assert description["preparation"] == "silhouette" and description["dataset"] == "fashion-mnist"
    assert _description(web.model_script(_mlp()))["preparation"] == "digit"


def test_an_earlier_export_is_replaced_and_another_folder_is_left_alone(tmp_path):
    site = tmp_path / "site"
    web.export_web(_mlp(0), site)
    first = (site / "model.js").read_text()
    web.export_web(_mlp(1), site)
    assert (site / "model.js").read_text() != first
    assert sorted(p.name for p in tmp_path.iterdir()) == ["site"]  # no staging or old folder left
    other = tmp_path / "photos"
    other.mkdir()
    (other / "cat.jpg").write_bytes(b"meow")
    with pytest.raises(ValueError, match="not an empty folder or a barenet web export"):
        web.export_web(_mlp(), other)
    assert [p.name for p in other.iterdir()] == ["cat.jpg"]
    (tmp_path / "empty").mkdir()
    web.export_web(_mlp(), tmp_path / "empty")
    assert (tmp_path / "empty" / "index.html").is_file()


def test_the_folder_one_works_in_is_not_replaced(tmp_path, monkeypatch):
    (tmp_path / "site").mkdir()
    monkeypatch.chdir(tmp_path / "site")
    for out in (".", tmp_path / "site", tmp_path):
        with pytest.raises(ValueError, match="run it from outside that folder"):
            web.export_web(_mlp(), out)
    assert list((tmp_path / "site").iterdir()) == []


@pytest.mark.parametrize("fail_at", range(len(web.ASSETS) + 2))
def test_a_failure_while_writing_leaves_the_earlier_export_whole_and_no_half_written_folder(tmp_path, monkeypatch, fail_at):
    site = tmp_path / "site"
    web.export_web(_mlp(0), site)
    before = {p.name: p.read_bytes() for p in site.iterdir()}
    real, calls = web_export.atomic_write, []

    def failing(path, mode="wb"):
        calls.append(path)
        if len(calls) > fail_at:
            raise OSError("disk full")
        return real(path, mode)

    monkeypatch.setattr(web_export, "atomic_write", failing)
    with pytest.raises(OSError, match="disk full"):
        web.export_web(_mlp(1), site)
    assert {p.name: p.read_bytes() for p in site.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["site"]


def test_the_command_line_writes_the_folder_in_a_fresh_process(tmp_path):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(Path(bn.__file__).parents[1]), os.environ.get("PYTHONPATH", "")]))
    run = lambda *args: subprocess.run([sys.executable, "-m", "barenet", "export", str(SHIPPED), *args],  # noqa: E731
                                       capture_output=True, text=True, env=env, timeout=120)
    done = run("--format", "web", "--out", str(tmp_path / "site"), "--quantize", "int8")
    assert done.returncode == 0, done.stderr
    assert "index.html in a browser" in done.stdout and (tmp_path / "site" / "model.js").is_file()
    assert _description((tmp_path / "site" / "model.js").read_text())["quantize"] == "int8"
    for args, message in ((["--format", "web"], "--format web writes a folder: give it with --out DIR"),
                          (["--quantize", "int8"], "--quantize applies to --format web only")):
        refused = run(*args)
        assert refused.returncode == 2 and message in refused.stderr, refused.stderr
