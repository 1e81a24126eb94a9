"""Recipes: every one is a valid run, and a recipe run's model.npz reproduces the run's reported
test figure from data exactly as the loaders return it (normalisation, augmentation layers and
ensembles are part of the saved model). The full-length runs are recorded in the README; here
the recipes run shortened (fewer epochs, narrower layers) so that the suite stays quick."""
import json
import runpy
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import barenet as bn
from barenet.app import runs
from barenet.app.recipes import RECIPES

pytestmark = pytest.mark.slow  # the fast lane (pytest -m 'not slow') leaves these out


def test_the_recipes_the_issue_names_exist_and_are_valid_runs():
    assert {"fashion-mnist", "mnist-10k", "digits", "regression", "clusters"} <= set(RECIPES)
    for name, settings in RECIPES.items():
        config = runs.RunConfig.from_dict({**settings, "recipe": name})
        assert config.dataset in runs.DATASETS


def test_every_recipe_is_a_candidate_that_was_scored_on_validation():
    """A recipe's settings (apart from whether the final run holds the split out) are one of the
    candidates of benchmarks/recipe_search.py, and its log holds that candidate's validation score."""
    search = Path(__file__).resolve().parents[2] / "benchmarks"
    candidates = runpy.run_path(str(search / "recipe_search.py"))["CANDIDATES"]
    logged = [json.loads(line) for line in (search / "recipe_search.jsonl").read_text().splitlines()]
    for name, recipe in RECIPES.items():
        settings = {k: v for k, v in recipe.items() if k not in ("dataset", "validation_split")}
        assert settings in candidates[name], name
        scores = [r for r in logged if r.get("recipe", r["dataset"]) == name and r["settings"] == settings
                  and "train_fraction" not in r]
        assert scores and all("val_accuracy" in r or "val_mse" in r for r in scores), name


def _shortened(name, tmp_path, **changes):
    config = runs.RunConfig.from_dict({**RECIPES[name], "recipe": name, **changes})
    model, report = runs.train_run(config, tmp_path / name, verbose=0, plots=False, log=lambda *a: None)
    return config, report, bn.load(tmp_path / name / "model.npz")


def test_digits_recipe_model_file_reproduces_the_held_out_quarter_figure(tmp_path):
    config, report, model = _shortened("digits", tmp_path, epochs=3)
    X, y = bn.datasets.load_digits()  # the loader's default: float32 in [0, 1], 64 columns
    _, X_test, _, y_test = bn.train_test_split(X, y, test_size=0.25, stratify=y, seed=config.seed)
    assert len(y_test) == 450
    assert float((model.predict(X_test) == y_test).mean()) == report["test"]["accuracy"]


def test_regression_recipe_keeps_its_standardisation_inside_the_model_file(tmp_path):
    _, report, model = _shortened("regression", tmp_path, epochs=1, hidden=[32, 32])
    assert isinstance(model.layers[0], bn.Standardizer)
    data = runs.load_dataset("regression", seed=0)
    mse = float(np.mean((model.predict(data.X_test).ravel() - data.y_test.ravel()) ** 2))
    assert mse == pytest.approx(report["test"]["mse"], rel=1e-6)


def test_an_ensembled_recipe_saves_one_file_that_loads_as_the_ensemble(tmp_path):
    _, report, model = _shortened("clusters", tmp_path, epochs=2, ensemble=2)
    assert isinstance(model, bn.Ensemble) and len(model.members) == 2
    data = runs.load_dataset("clusters", seed=0)
    assert float((model.predict(data.X_test) == data.y_test).mean()) == report["test"]["accuracy"]


def _loaders_test_set(load):
    """The test images exactly as ``load`` returns them by default (float32 in [0, 1], 784 columns)."""
    _, (X_test, y_test) = load(download=False)
    assert X_test.dtype == np.float32 and X_test.shape == (10000, 784)
    return X_test, y_test


@pytest.mark.data("mnist")
def test_mnist_10k_recipe_trains_on_10000_images_and_its_file_reads_the_loaders_test_set(tmp_path):
    X_test, y_test = _loaders_test_set(bn.datasets.load_mnist)
    config, report, model = _shortened("mnist-10k", tmp_path, epochs=2, warmup=1, hidden=[64])
    assert config.augment == "light" and isinstance(model.layers[0], bn.RandomAffine)
    assert "training images: 10000 " in (tmp_path / "mnist-10k" / "report.txt").read_text()
    assert float((model.predict(X_test) == y_test).mean()) == report["test"]["accuracy"]


def test_cli_recipe_with_an_override_records_both_in_the_run_config(tmp_path):
    out = tmp_path / "run"
    result = subprocess.run([sys.executable, "-m", "barenet", "train", "--recipe", "clusters", "--epochs", "2",
                             "--out", str(out), "--no-plots"], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    config = runs.RunConfig.from_dict(json.loads((out / "config.json").read_text()))
    assert config.recipe == "clusters" and config.epochs == 2
    assert config.hidden == RECIPES["clusters"]["hidden"] and config.lr == RECIPES["clusters"]["lr"]
    assert "(recipe clusters)" in (out / "report.txt").read_text()


@pytest.mark.parametrize("held_out", [0.1, 0.0])  # 0.0: trained on all the training data, as fashion-mnist is
def test_a_recipe_written_out_by_hand_as_the_readme_shows_trains_the_same_weights(tmp_path, held_out):
    """The README spells the fashion-mnist recipe out in plain barenet calls; the same
    translation of the digits recipe (shortened) must give the weights train_run gives."""
    _, _, from_run = _shortened("digits", tmp_path, epochs=3, validation_split=held_out)
    X, y = bn.datasets.load_digits()
    X_train, _, y_train, _ = bn.train_test_split(X, y, test_size=0.25, stratify=y, seed=0)
    if held_out:
        X_fit, X_val, y_fit, y_val = bn.train_test_split(X_train, y_train, test_size=0.1, stratify=y_train, seed=7)
    else:
        X_fit, y_fit, X_val, y_val = X_train, y_train, None, None
    model = bn.Sequential(bn.Dense(64, 512), bn.ReLU(), bn.Dropout(0.3),
                          bn.Dense(512, 256), bn.ReLU(), bn.Dropout(0.3),
                          bn.Dense(256, 10), seed=0)
    schedule = bn.schedules.CosineDecay(2e-3, epochs=3)
    model.fit(X_fit, y_fit, loss=bn.CrossEntropy(label_smoothing=0.1), optimizer=bn.Adam(schedule),
              epochs=3, batch_size=32, validation_data=(X_val, y_val) if held_out else None, verbose=0)
    np.testing.assert_array_equal(model.parameter_vectors()[0], from_run.parameter_vectors()[0])


@pytest.mark.data("fashion-mnist")
def test_fashion_recipe_trains_both_members_on_all_60000_images_and_its_file_reads_the_loaders_test_set(tmp_path):
    X_test, y_test = _loaders_test_set(bn.datasets.load_fashion_mnist)
    config, report, model = _shortened("fashion-mnist", tmp_path, epochs=1, warmup=0, hidden=[32])
    assert config.validation_split == 0 and isinstance(model, bn.Ensemble) and len(model.members) == 2
    report_text = (tmp_path / "fashion-mnist" / "report.txt").read_text()
    assert "training images: 60000 (of which 0% held out" in report_text
    assert float((model.predict(X_test) == y_test).mean()) == report["test"]["accuracy"]


def test_a_run_given_its_data_trains_and_scores_on_that_data(tmp_path):
    """train_run(data=...): the draw page's model adds drawings to MNIST; the run trains on the rows
    it is given (here digits' training part cut to 300) and scores on the given test part."""
    data = runs.load_dataset("digits", seed=0)
    data.X_train, data.y_train = data.X_train[:300], data.y_train[:300]
    data.X_test, data.y_test = data.X_test[:100], data.y_test[:100]
    config = runs.RunConfig.from_dict({**RECIPES["digits"], "epochs": 1, "validation_split": 0.0})
    model, report = runs.train_run(config, tmp_path / "given", verbose=0, plots=False, log=lambda *a: None,
                                   data=data)
    assert (tmp_path / "given" / "report.txt").read_text().startswith("barenet run: digits")
    assert "training images: 300 " in (tmp_path / "given" / "report.txt").read_text()
    assert report["test"]["accuracy"] == float((model.predict(data.X_test) == data.y_test).mean())
