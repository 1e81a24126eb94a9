"""Models as plain JSON, for programs outside Python (the browser demo, say).

The JSON lists the inference-time layers in order, each with its constructor arguments and its
arrays as nested lists::

    {"format": "barenet-json", "version": 1, "input_width": 784, "input_shape": [784],
     "task": "classification", "class_names": [...],
     "layers": [{"type": "Dense", "in_features": 784, ..., "W": [[...]], "b": [...]},
                {"type": "ReLU"}, ...]}

Layers that are the identity at inference (Dropout, RandomAffine, Identity) are left out; a
Standardizer becomes {"type": "Standardize", "mean": [...], "scale": [...]}. The image layers
carry their arguments as the model file does: a ``Conv2D`` its ``kernel_size``, ``stride`` and
``padding`` as [height, width] (or "same": k − 1 zeros, (k − 1) // 2 before), and W as
(out, in, kh, kw); a ``BatchNorm1D``/``BatchNorm2D`` its ``eps``, gamma, beta, running_mean and
running_var; a ``Reshape`` its ``shape``. "input_shape" is the shape of one sample ([784] for
rows, [1, null, null] for images of any size), null where the model takes anything. For an
ensemble, "members" holds one such layer list per model, whose probabilities are averaged.
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
        entry.update({k: v for k, v in layer.get_config().items() if not isinstance(v, dict)})
        for name, value in list(layer.params.items()) + list(getattr(layer, "buffers", {}).items()):
            entry[name] = np.asarray(to_numpy(value), dtype=np.float64).round(7).tolist()
        out.append(entry)
    return out


def to_json(model) -> dict:
    """Return a JSON-serialisable dict describing ``model`` (a Sequential or an Ensemble).

    The format is the module's: the inference-time layers, each with its arguments and arrays.
    """
    meta = getattr(model, "metadata", {}) or {}
    shape = model.input_shape
    document = {"format": "barenet-json", "version": 1, "input_width": model.input_width,
                "input_shape": None if shape is None else list(shape),
                "task": None if model.loss is None else model.loss.task,
                "class_names": meta.get("class_names"), "image_shape": meta.get("image_shape")}
    if hasattr(model, "members"):
        document["members"] = [_layers(member) for member in model.members]
    else:
        document["layers"] = _layers(model)
    return document
