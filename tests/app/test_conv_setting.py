"""The conv setting: a convolutional network built from the command line and the web form, without
Python. Its text is parsed by one grammar (training.convolutions), refused with a message that
names the argument and the item, written out in one form in the run's config, and the run resumes
from that config. The CNN recipes build, train a short epoch on a small subset, and save a file that
reads as it trained."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import barenet as bn
from barenet.app import runs
from barenet.app.data import Dataset
from barenet.app.recipes import RECIPES
from barenet.training import convolutions
from barenet.training.builder import conv_layers

SCRIPT = shutil.which("barenet") or str(Path(sys.executable).parent / "barenet")


def _barenet(*args):
    return subprocess.run([SCRIPT, *map(str, args)], capture_output=True, text=True, timeout=300, env=dict(os.environ))


# -- the grammar ----------------------------------------------------------------------------------

def test_conv_text_is_written_out_in_one_form_with_every_number_given():
    assert convolutions.ConvLayers().convert("conv 32,  POOL , norm,dropout .25") == \
        "conv 32 3, pool 2, norm, dropout 0.25"


@pytest.mark.parametrize("text, says", [
    ("conv 32 x", "item 1, 'conv 32 x', is not conv FILTERS [KERNEL]"),
    ("conv 8, pool 40", "item 2, 'pool 40', asks for a window of 40 pixels: from 2 to 16"),
    ("conv 0", "asks for 0 filters: from 1 to 1024"),
    ("conv 8, , pool", "item 2 is empty"),
    ("dense 10", "item 1, 'dense 10', is not one of conv FILTERS [KERNEL], pool [SIZE], norm, dropout P"),
    ("dropout 1.5", "a dropout probability of 1.5: above 0 and below 1"),
    ("conv ３２", "only letters, digits, spaces, commas and points"),
    ("", "it is empty"),
])
def test_bad_conv_text_is_refused_naming_the_item_and_what_was_expected(text, says):
    with pytest.raises(ValueError) as refused:
        convolutions.parse(text)
    assert says in str(refused.value)


def test_pooling_that_leaves_no_image_is_refused_naming_the_item_and_the_size_it_gets():
    with pytest.raises(ValueError, match=r"item 3, 'pool 2', gets 1×1 images \(from 8×8\)"):
        convolutions.output_shape(convolutions.parse("pool 4, pool 2, pool 2"), (8, 8))


def test_conv_layers_turn_flat_rows_into_images_and_back_to_rows_of_the_width_they_say():
    layers, width = conv_layers("conv 4 5, pool 2, norm, dropout 0.1, conv 6, pool 3", (28, 28), bn.ReLU)
    assert [type(layer).__name__ for layer in layers] == ["Reshape", "Conv2D", "ReLU", "MaxPool2D", "BatchNorm2D",
                                                          "Dropout", "Conv2D", "ReLU", "MaxPool2D", "Flatten"]
    assert width == 6 * 4 * 4
    net = bn.Sequential(*layers, bn.Dense(width, 10), seed=0)
    assert net.predict(np.zeros((3, 784), np.float32)).shape == (3, 10)


# -- the command line, in a fresh process -----------------------------------------------------------

def test_train_help_shows_the_conv_setting_and_its_syntax():
    text = " ".join(_barenet("train", "--help").stdout.split())
    assert "--conv LAYERS" in text and "conv FILTERS [KERNEL], pool [SIZE], norm, dropout P" in text


@pytest.mark.parametrize("args, message", [
    (["--dataset", "digits", "--conv", "conv 8 x"],
     "--conv: expected convolutional layers like 'conv 32 3, pool 2, conv 64 3, pool 2'"),
    (["--dataset", "digits", "--conv", "conv 8, pool 4, pool 4"], "gets 2×2 images (from 8×8), too small"),
    (["--dataset", "moons", "--conv", "conv 8"], "moons is not an image data set"),
])
def test_train_refuses_bad_conv_with_exit_code_2_naming_it_before_any_folder(tmp_path, args, message):
    result = _barenet("train", *args, "--out", tmp_path / "x")
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert message in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "x").exists()


def test_a_conv_run_stores_its_layers_in_its_config_and_resumes_from_them(tmp_path):
    folder = tmp_path / "run"
    first = _barenet("train", "--dataset", "digits", "--conv", "conv 4, pool", "--hidden", "16", "--epochs", "1",
                     "--out", folder, "--no-plots")
    assert first.returncode == 0, first.stderr
    assert json.loads((folder / "config.json").read_text())["conv"] == "conv 4 3, pool 2"
    again = _barenet("train", "--resume", folder, "--epochs", "2", "--no-plots")
    assert again.returncode == 0, again.stderr
    model = bn.load(folder / "model.npz")
    assert model.history.epochs[-1] == 2
    assert [type(layer).__name__ for layer in model.layers[:4]] == ["Reshape", "Conv2D", "ReLU", "MaxPool2D"]


# -- the recipes: a short epoch on a small subset ---------------------------------------------------

@pytest.mark.parametrize("name", ["mnist-cnn", "fashion-cnn"])
def test_a_cnn_recipe_trains_a_short_epoch_and_its_file_gives_the_same_answers(tmp_path, name):
    config = runs.RunConfig.from_dict({**RECIPES[name], "recipe": name, "epochs": 1, "warmup": 0})
    assert config.conv and config.dataset in ("mnist-10k", "fashion-mnist")
    rng = np.random.default_rng(0)
    X, y = rng.random((256, 784), dtype=np.float32), rng.integers(0, 10, 256)
    data = Dataset(config.dataset, X[:192], y[:192], X[192:], y[192:], "classification", image_shape=(28, 28))
    model = runs.build_model(config, data)
    model.fit(data.X_train, data.y_train, loss=bn.CrossEntropy(config.label_smoothing),
              optimizer=runs.make_optimizer(config), epochs=1, batch_size=config.batch_size, verbose=0)
    assert any(isinstance(layer, bn.Conv2D) for layer in model.layers)
    assert np.isfinite(model.history["loss"][-1])
    model.save(tmp_path / "m.npz", include_optimizer=False)
    np.testing.assert_array_equal(bn.load(tmp_path / "m.npz").predict_proba(data.X_test), model.predict_proba(data.X_test))


def test_the_mnist_cnn_recipe_runs_unchanged_on_all_of_mnist():
    config = runs.RunConfig.from_dict({**RECIPES["mnist-cnn"], "recipe": "mnist-cnn", "dataset": "mnist"})
    assert config.dataset == "mnist" and config.conv == RECIPES["mnist-cnn"]["conv"]


# -- the web page's "watch it learn" ------------------------------------------------------------------

@pytest.fixture
def web():
    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    from barenet.app.web.app import create_app
    net = bn.Sequential(bn.Dense(784, 10), seed=0)
    net.fit(np.zeros((20, 784), np.float32), np.arange(20) % 10, loss="cross_entropy", epochs=1, verbose=0)
    app = create_app(net, "a test model")
    with TestClient(app, raise_server_exceptions=False) as client:
        yield app, client


def test_watch_it_learn_trains_a_cnn_and_shows_its_first_filters(web):
    app, client = web
    reply = client.post("/api/train", json={"dataset": "digits", "conv": "conv 6 3, pool", "hidden": [16], "epochs": 2})
    assert reply.status_code == 202, reply.text
    job_id = reply.json()["job"]
    app.state.training.wait(job_id, timeout=300)
    status = client.get(f"/api/train/{job_id}").json()
    assert status["status"] == "finished", status["error"]
    assert app.state.training.get(job_id).config.conv == "conv 6 3, pool 2"
    learned = status["epochs"][-1]["learned"]
    assert learned["shape"] == [3, 3] and len(learned["weights"]) == 6
    assert all(len(w) == 9 and max(abs(v) for v in w) == 127 for w in learned["weights"])


@pytest.mark.parametrize("settings, status, says", [
    ({"dataset": "xor", "conv": "conv 8"}, 422, "xor is not an image data set"),
    ({"dataset": "digits", "conv": "conv 8, pool 40"}, 422, "item 2, 'pool 40'"),
    ({"dataset": "digits", "conv": "conv 65"}, 422, "from 1 to 64"),  # the web form's own, smaller, limits
])
def test_watch_it_learn_refuses_a_bad_network_naming_conv(web, settings, status, says):
    _, client = web
    reply = client.post("/api/train", json={**settings, "hidden": [8], "epochs": 1})
    assert reply.status_code == status and says in reply.text and "conv" in reply.text, reply.text
