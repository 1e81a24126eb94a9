"""Models as plain JSON, for programs outside Python (the browser demo, say).

The JSON lists the inference-time layers in order, each with its constructor arguments and its
arrays as nested lists::

    {"format": "barenet-json", "version": 1, "input_width": 784, "task": "classification",
     "class_names": [...], "layers": [{"type": "Dense", "in_features": 784, ..., "W": [[...]],
                                       "b": [...]}, {"type": "ReLU"}, ...]}

Layers that are the identity at inference (Dropout, RandomAffine, Identity) are left out; a
Standardizer becomes {"type": "Standardize", "mean": [...], "scale": [...]}. For an ensemble,
"members" holds one such layer list per model, whose probabilities are averaged.
"""
from __future__ import annotations

import numpy as np

from ..core.backend import to_numpy


def _layers(model):
    """Each inference-time layer as {"type", its constructor arguments, its arrays}."""
    out = []
    for layer in model.layers:
        if layer.identity_at_inference:
            continue
        kind = type(layer).__name__
        entry = {"type": "Standardize" if kind == "Standardizer" else kind}  # the JSON format's name
        entry.update({k: v for k, v in layer.get_config().items() if not isinstance(v, (list, dict))})
        for name, value in list(layer.params.items()) + list(getattr(layer, "buffers", {}).items()):
            entry[name] = np.asarray(to_numpy(value), dtype=np.float64).round(7).tolist()
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
