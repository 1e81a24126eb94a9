"""What a network has learned, in the numbers the "watch it learn" view draws every epoch.

- Points in the plane (xor, moons, spirals, clusters, blobs): the decision regions, the class the
  model gives each cell of a grid over the data and how sure it is (as TensorFlow Playground
  shows them), under the training points.
- Regression: the model's prediction against the true value, for held-out samples.
- Pictures (MNIST, Fashion-MNIST, the 8×8 digits): the first layer's weights, one small picture
  per unit, the input pattern that unit responds to (for a convolutional network, per filter:
  the stroke it looks for).

``describe(data, X_val, y_val)`` gives the fixed part, sent once (the "data" event), and a
function ``picture(model)`` that gives the part that changes, sent with each epoch.
"""
from __future__ import annotations

import numpy as np

from ..plots import first_layer_pictures

__all__ = ["describe", "GRID", "POINTS", "UNITS"]

GRID = 48      # cells per side of the decision-region grid
POINTS = 400   # training points drawn under the regions, held-out samples in the regression view
UNITS = 25     # first-layer units shown as pictures (a 5×5 square)


def describe(data, X_val, y_val, seed: int = 0):
    """Return (the fixed part as a dict, ``picture(model) -> dict``) for a data set.

    Or (None, None) for data sets this view has no picture of; ``X_val, y_val`` are the held-out
    samples of the regression view, ``seed`` draws the samples shown.
    """
    rng = np.random.default_rng(seed)
    if data.image_shape is not None:
        return {"kind": "weights", "image_shape": list(data.image_shape)}, _first_layer(tuple(data.image_shape))
    if data.task == "regression":
        rows = rng.choice(len(X_val), min(POINTS, len(X_val)), replace=False)
        X, y = X_val[rows], np.asarray(y_val[rows], dtype=np.float64).ravel()
        return {"kind": "regression", "true": _rounded(y)}, lambda model: {"predicted": _rounded(model.predict(X).ravel())}
    if data.X_train.shape[1] == 2:
        return _regions(data, rng)
    return None, None


def _rounded(values, digits: int = 3):
    return [round(float(v), digits) for v in values]


def _regions(data, rng):
    """Return the grid over the data (10% margin on each side) and a sample of the training points."""
    low, high = data.X_train.min(axis=0), data.X_train.max(axis=0)
    margin = 0.1 * (high - low)
    low, high = low - margin, high + margin
    xs = np.linspace(low[0], high[0], GRID)
    ys = np.linspace(high[1], low[1], GRID)  # row 0 is the top of the picture: the largest y
    grid = np.stack(np.meshgrid(xs, ys), axis=-1).reshape(-1, 2).astype(np.float32)
    rows = rng.choice(len(data.X_train), min(POINTS, len(data.X_train)), replace=False)
    fixed = {"kind": "regions", "grid": GRID, "extent": _rounded([low[0], high[0], low[1], high[1]], 4),
             "classes": list(data.class_names),
             "points": [[*_rounded(x), int(label)] for x, label in zip(data.X_train[rows], data.y_train[rows])]}

    def picture(model):
        probabilities = model.predict_proba(grid)
        return {"regions": probabilities.argmax(axis=1).tolist(),
                "sure": np.round(100 * probabilities.max(axis=1)).astype(int).tolist()}  # percent
    return fixed, picture


def _first_layer(image_shape):
    """Return the picture function of image data.

    It gives the first Dense layer's weights into the first UNITS units, or a first convolution's
    first UNITS filters (with their ``shape``), each scaled by its largest magnitude into whole
    numbers from -127 to 127 (a picture needs no more).
    """
    def picture(model):
        pictures, what = first_layer_pictures(model, image_shape, UNITS)
        W = np.asarray(pictures, dtype=np.float64).reshape(len(pictures), -1)
        peak = np.abs(W).max(axis=1, keepdims=True)
        weights = np.round(127 * W / np.where(peak > 0, peak, 1)).astype(int).tolist()
        return {"weights": weights} if what == "units" else {"weights": weights, "shape": list(pictures.shape[1:])}
    return picture
