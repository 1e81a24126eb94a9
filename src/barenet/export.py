"""Models as plain JSON, for programs outside Python (the browser demo, say).

The JSON lists the inference-time layers in order with their arrays as nested lists::

    {"format": "barenet-json", "version": 1, "input_width": 784, "task": "classification",
     "class_names": [...], "layers": [{"type": "Dense", "W": [[...]], "b": [...]},
                                      {"type": "ReLU"}, ...]}

Layers that are the identity at inference (Dropout, RandomAffine, Identity) are left out; a
Standardizer becomes {"type": "Standardize", "mean": [...], "scale": [...]}. For an ensemble,
"members" holds one such layer list per model, whose probabilities are averaged.
"""
from __future__ import annotations

import numpy as np

from .backend import to_numpy

INFERENCE_IDENTITY = ("Dropout", "RandomAffine", "Identity")


def _layers(model):
    out = []
    for layer in model.layers:
        kind = type(layer).__name__
        if kind in INFERENCE_IDENTITY:
            continue
        entry = {"type": "Standardize" if kind == "Standardizer" else kind}
        for name, value in list(layer.params.items()) + list(getattr(layer, "buffers", {}).items()):
            entry[name] = np.asarray(to_numpy(value), dtype=np.float64).round(7).tolist()
        if kind == "LeakyReLU":
            entry["alpha"] = layer.alpha
        out.append(entry)
    return out


def to_json(model) -> dict:
    """A JSON-serialisable dict describing ``model`` (a Sequential or an Ensemble)."""
    meta = getattr(model, "metadata", {}) or {}
    document = {"format": "barenet-json", "version": 1, "input_width": model.input_width,
                "task": None if model.loss is None else model.loss.task,
                "class_names": meta.get("class_names"), "image_shape": meta.get("image_shape")}
    if hasattr(model, "members"):
        document["members"] = [_layers(member) for member in model.members]
    else:
        document["layers"] = _layers(model)
    return document
