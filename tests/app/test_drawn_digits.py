"""Drawings are read well because they are prepared like MNIST and read by a convolutional network:
the served model reads at least 98% of synthetic canvas drawings (off-centre, any size, any pen
width) after prepare_digit (the MLP it replaced read 94%, the CNN trained on MNIST alone 97.7%),
and far fewer when the canvas is simply shrunk to 28×28 as the tutorials do."""
import numpy as np
import pytest

import barenet as bn

Image = pytest.importorskip("PIL.Image")
from barenet.training.datasets.drawn import DIGIT_STROKES, make_drawn_digits  # noqa: E402
from barenet.app.images import prepare_digit  # noqa: E402
from barenet.app.web.default_model import SHIPPED  # noqa: E402


@pytest.fixture(scope="module")
def drawings():
    return make_drawn_digits(300, seed=123)


def test_the_served_model_reads_prepared_drawings_and_not_naively_shrunk_ones(drawings):
    images, labels = drawings
    model = bn.load(SHIPPED)
    prepared = np.stack([prepare_digit(image) for image in images]).reshape(len(images), -1)
    naive = np.stack([1 - np.asarray(Image.fromarray(image).resize((28, 28), Image.Resampling.BILINEAR),
                                     dtype=np.float32) / 255 for image in images]).reshape(len(images), -1)
    with_preparation = float((model.predict(prepared) == labels).mean())
    without = float((model.predict(naive) == labels).mean())
    assert with_preparation >= 0.98, with_preparation
    assert without <= with_preparation - 0.3, (without, with_preparation)


def test_drawings_vary_as_users_draw(drawings):
    images, labels = drawings
    assert images.shape == (300, 280, 280) and images.dtype == np.uint8
    assert np.array_equal(np.bincount(labels), [30] * 10)
    ink = images < 128
    rows = np.array([np.flatnonzero(i.any(axis=1))[[0, -1]] for i in ink])
    heights = rows[:, 1] - rows[:, 0]
    assert heights.min() < 110 and heights.max() > 200  # small and large digits
    centres = rows.mean(axis=1)
    assert centres.min() < 110 and centres.max() > 170  # not centred
    assert all(len(DIGIT_STROKES[d]) >= 2 for d in range(10))  # at least two styles of every digit
    again, _ = make_drawn_digits(300, seed=123)
    assert np.array_equal(again, images)


def test_the_draw_pages_figures_are_the_shipped_cnns(drawings):
    """benchmarks/results/draw_model.json (the serve page's figures) measured the file that ships."""
    import json
    from pathlib import Path
    recorded = json.loads((Path(__file__).resolve().parents[2] / "benchmarks" / "results" / "draw_model.json")
                          .read_text())["models"]["shipped"]
    model = bn.load(SHIPPED)
    assert any(isinstance(layer, bn.Conv2D) for layer in model.layers)
    assert recorded["file_bytes"] == SHIPPED.stat().st_size and recorded["parameters"] == model.count_params()
    images, labels = drawings
    prepared = np.stack([prepare_digit(image) for image in images]).reshape(len(images), -1)
    assert recorded["read"] == int((model.predict(prepared) == labels).sum())


@pytest.mark.data("mnist")
def test_the_default_models_training_data_adds_drawings_none_of_them_the_measured_ones(monkeypatch):
    """training_data: MNIST's training part grows by 500 drawings a seed, prepared as the page
    prepares them, every digit 50 times a seed, the test part untouched; none of the drawings
    benchmarks/draw_model.py scores (seed 123) is among them, nor a seed the choice was made on."""
    from barenet.app.data import load_dataset
    from barenet.app.runs import RunConfig
    from barenet.app.web import default_model

    assert not set(default_model.DRAWING_SEEDS) & {123, 1001, 1002, 1003, 1004, 1005}
    monkeypatch.setattr(default_model, "DRAWING_SEEDS", (10, 11))  # two of them, to stay quick
    config = RunConfig.from_dict(default_model.SETTINGS)
    data, base = default_model.training_data(config), load_dataset(config.dataset, config.seed)
    added, labels = data.X_train[len(base.X_train):], data.y_train[len(base.y_train):]
    assert np.array_equal(data.X_train[:len(base.X_train)], base.X_train)
    assert added.shape == (1000, 784) and added.dtype == base.X_train.dtype and labels.dtype == base.y_train.dtype
    assert 0 <= added.min() and added.max() <= 1 and np.array_equal(np.bincount(labels), [100] * 10)
    assert np.array_equal(data.X_test, base.X_test) and np.array_equal(data.y_test, base.y_test)
    drawn = np.concatenate([make_drawn_digits(500, seed=seed)[0] for seed in (10, 11)])
    assert np.array_equal(added, np.stack([prepare_digit(d) for d in drawn]).reshape(1000, -1))
    trained_on = {d.tobytes() for d in drawn}
    assert not any(m.tobytes() in trained_on for m in make_drawn_digits(300, seed=123)[0])


def test_summary_says_what_the_shipped_model_learned_from_and_prints_no_escape_a_file_holds():
    from barenet.app.report import describe

    lines = describe(bn.load(SHIPPED))
    assert "trained on: mnist" in lines
    assert any(line.startswith("description: CNN") and "synthetic drawings" in line for line in lines), lines
    model = bn.load(SHIPPED)
    model.metadata.update(description="a\x1b[2J\nmodel\x07 " + "x" * 1000, dataset="mnist\x1b]0;owned\x07",
                          class_names=["zero\x1b[31m"] + [str(i) for i in range(1, 10)])
    lines = describe(model)
    line = next(line for line in lines if line.startswith("description"))
    assert line.startswith("description: a[2J model x") and len(line) == len("description: ") + 500
    assert "trained on: mnist]0;owned" in lines and any(line.startswith("classes: zero[31m, 1") for line in lines)
    assert all(ch.isprintable() for line in lines for ch in line)
