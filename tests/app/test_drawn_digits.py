"""Drawings are read well because they are prepared like MNIST and read by a convolutional network:
the served model reads at least 97% of synthetic canvas drawings (off-centre, any size, any pen
width) after prepare_digit (the MLP it replaced read 94%), and far fewer when the canvas is simply
shrunk to 28×28 as the tutorials do."""
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
    assert with_preparation >= 0.97, with_preparation
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
