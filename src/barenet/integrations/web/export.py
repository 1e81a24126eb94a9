"""The static web export: a trained model as a folder of plain files that draws and predicts in a browser.

Opened from disk (``file://``) or put on any static host, with no server and no library:
``barenet export MODEL --format web --out DIR`` or ``export_web(model, DIR)``. The folder::

    index.html     the draw page (the same page as ``barenet serve``'s draw view)
    style.css      its look
    prepare.js     barenet.prepareDigit and prepareSilhouette: images.py's preparation, step for step
    barenet.js     barenet.predict: the forward pass, one small function per kind of layer
    draw.js        the page: the canvas, the probability bars, "what the network sees"
    model.js       the model: a JSON description and its weights, ``barenet.useModel({...})``

The weights are binary (little-endian float32, or int8 with a float32 scale per output
channel), base64-encoded inside model.js. Binary, because numbers as JSON text take about
twelve characters each for float32 exactness against five and a third for base64 float32, and
one and a third for int8; inside a script, because a page opened from disk may load scripts but
may not fetch files (browsers refuse ``fetch`` and XMLHttpRequest on ``file://``).
"""
from __future__ import annotations

import base64
import json
import os
import re
import secrets
import shutil
from pathlib import Path

import numpy as np

from ...core import registry
from ...core.backend import to_numpy
from ...core.losses import BinaryCrossEntropy, CrossEntropy
from ...files.atomic import atomic_write, fsync_directory

__all__ = ["export_web", "model_script", "render_page", "quantize_int8", "OUTPUT_AXIS", "browser_layer_kinds", "PAGE",
           "ASSETS"]

PAGE = Path(__file__).with_name("page")
ASSETS = ("style.css", "prepare.js", "barenet.js", "draw.js")  # the page's files besides index.html and model.js
GENERATOR = '<meta name="generator" content="barenet web export">'  # how a folder is known to be an export
SLOTS = ("nav", "views", "scripts")  # where barenet serve adds its training view to the page


def browser_layer_kinds() -> list:
    """Return the layer kinds the browser runs: the names of the LAYERS table in barenet.js."""
    engine = (PAGE / "barenet.js").read_text()
    table = engine[engine.index("const LAYERS = {"):]
    table = table[:table.index("\n  };")]
    return re.findall(r"^    (\w+)[(:]", table, re.M)


def quantize_int8(array, axis=-1):
    """Return (int8 values, float32 scales) with q·scale ≈ array.

    One scale per index of ``axis``, the layer's outputs: the largest magnitude of that output's
    weights over 127. A Dense layer's W (in, out) takes one per column (the last axis, the
    default), a convolution's W (F, C, kh, kw) one per filter (axis 0).
    """
    array = np.asarray(array, dtype=np.float64)
    axis = axis % array.ndim
    peak = np.abs(array).max(axis=tuple(a for a in range(array.ndim) if a != axis))
    scales = np.where(peak > 0, peak / 127.0, 1.0).astype(np.float32)
    along = [1] * array.ndim
    along[axis] = -1  # the scales broadcast along their axis
    q = np.clip(np.rint(array / scales.reshape(along)), -127, 127).astype(np.int8)
    return q, scales


OUTPUT_AXIS = {"Conv2D": 0}  # the axis of a layer's weights that indexes its outputs, where not the last


class _Weights:
    """The binary weights, each array at an offset that is a multiple of 4."""

    def __init__(self):
        self.data = bytearray()

    def add(self, array, dtype) -> int:
        self.data += bytes(-len(self.data) % 4)
        offset = len(self.data)
        self.data += np.ascontiguousarray(array, dtype=dtype).tobytes()
        return offset

    def entry(self, array, quantize, axis=-1):
        array = np.asarray(array)
        if quantize and array.ndim >= 2:
            q, scales = quantize_int8(array, axis)
            return {"dtype": "int8", "shape": list(array.shape), "offset": self.add(q, "i1"),
                    "scales": self.add(scales, "<f4"), "axis": axis % array.ndim}
        return {"dtype": "float32", "shape": list(array.shape), "offset": self.add(array, "<f4")}


def _layers(model, weights, quantize, where=""):
    """Return each layer that computes something at inference, as {kind, config, shape, arrays}.

    ``shape`` is that of one sample at the layer's input ([784], [1, 28, 28]...).
    """
    kinds, out, shape = browser_layer_kinds(), [], model.input_shape
    for i, layer in enumerate(model.layers):
        shape, input_shape = layer.output_shape(shape), shape
        if layer.identity_at_inference:
            continue
        try:
            kind = registry.layers.name_of(layer)
        except KeyError:
            kind = None
        if kind not in kinds:
            raise ValueError(f"layer {where}{i}, {layer!r}, cannot run in the browser: the web export runs "
                             f"{', '.join(kinds)}, and the layers that are the identity at inference")
        config = {k: v for k, v in layer.get_config().items() if isinstance(v, (bool, int, float, str, type(None)))
                  or isinstance(v, list) and all(isinstance(e, int) for e in v)}  # kernel sizes, strides, shapes
        arrays = {name: weights.entry(to_numpy(value), quantize and name in layer.params, OUTPUT_AXIS.get(kind, -1))
                  for name, value in {**layer.params, **getattr(layer, "buffers", {})}.items()}
        out.append({"kind": kind, "config": config, "shape": None if input_shape is None else list(input_shape),
                    "arrays": arrays})
    return out


def _output(loss):
    """How the outputs become what predict_proba gives."""
    if isinstance(loss, CrossEntropy):
        return "softmax"
    if isinstance(loss, BinaryCrossEntropy):
        return "sigmoid"
    return "identity"


def model_script(model, *, quantize: str | None = None, source: str | None = None) -> str:
    """Return the text of model.js for ``model``: ``barenet.useModel({...})``.

    Parameters
    ----------
    model : Sequential or Ensemble
        The model.
    quantize : {None, "int8"}
        Store the weights as int8, one scale per output channel (about a quarter of the size).
    source : str, optional
        Where the model comes from, shown on the page (by default its metadata's description).

    Raises
    ------
    ValueError
        For a layer the browser cannot run, or another ``quantize``.
    """
    if quantize not in (None, "int8"):
        raise ValueError(f"quantize must be None or 'int8', got {quantize!r}")
    members = getattr(model, "members", [model])
    weights = _Weights()
    layers = [_layers(member, weights, quantize, f"{k}." if len(members) > 1 else "") for k, member in enumerate(members)]
    meta = getattr(model, "metadata", None) or {}
    width = members[0].output_width_
    description = {
        "format": "barenet-web", "version": 1, "input_width": model.input_width, "output_width": width,
        "output": _output(model.loss), "classes": [str(c) for c in (meta.get("class_names") or range(width))],
        "dataset": meta.get("dataset"), "source": source or meta.get("description"), "test": meta.get("test"),
        "preparation": "silhouette" if meta.get("dataset") == "fashion-mnist" else "digit",
        "quantize": quantize, "members": layers, "weights": base64.b64encode(bytes(weights.data)).decode("ascii")}
    return ("// A barenet model for the browser (barenet export --format web): its description and its weights,\n"
            "// little-endian binary in base64. barenet.js reads it.\n"
            f"barenet.useModel({json.dumps(description, separators=(',', ':'))});\n")


def render_page(fragments: dict | None = None) -> str:
    """Return index.html, with ``fragments`` ({slot: HTML}) in its slots.

    ``barenet serve`` adds its training view there; the export leaves them empty.
    """
    page = (PAGE / "index.html").read_text()
    for slot in SLOTS:
        page = page.replace(f"<!-- barenet:{slot} -->", (fragments or {}).get(slot, ""))
    return page


def _check_drawable(model):
    if model.input_width != 784:
        raise ValueError(f"the web export is the draw page, for 28×28 pictures: the model must take 784 inputs, "
                         f"not {model.input_width}")
    if not isinstance(model.loss, CrossEntropy):
        raise ValueError(f"the web export is the draw page: the model must be a classifier trained with "
                         f"CrossEntropy, not {model.loss!r}")


def export_web(model, out, *, quantize: str | None = None, source: str | None = None) -> dict:
    """Write the draw page for ``model`` into the folder ``out``; return the files' sizes in bytes.

    The folder is written beside ``out`` under a temporary name and renamed into place when
    complete, so a failure leaves no half-written export. An existing export at ``out`` is
    replaced; any other folder that is not empty is refused.

    Parameters
    ----------
    model : Sequential or Ensemble
        A classifier (CrossEntropy) of 28×28 pictures: 784 inputs.
    out : str or Path
        The folder.
    quantize, source
        As for ``model_script``.

    Raises
    ------
    ValueError
        For a model the page cannot draw for, or a folder it must not replace.
    """
    _check_drawable(model)
    files = {"index.html": render_page(), "model.js": model_script(model, quantize=quantize, source=source)}
    files.update({name: (PAGE / name).read_text() for name in ASSETS})
    out = Path(out).absolute()
    if out == Path.cwd() or out in Path.cwd().parents:
        raise ValueError(f"the export replaces the folder {out} as a whole: run it from outside that folder")
    if out.exists() and not (out.is_dir() and (not any(out.iterdir()) or _is_export(out))):
        raise ValueError(f"{out} exists and is not an empty folder or a barenet web export: "
                         f"choose a new folder (the export replaces only an earlier export)")
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = _new_folder(out.parent, f".{out.name}.", ".tmp")
    try:
        for name, text in files.items():
            with atomic_write(staging / name, "w") as handle:
                handle.write(text)
        _move_into_place(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return {name: len(text.encode()) for name, text in files.items()}


def _is_export(folder: Path) -> bool:
    index = folder / "index.html"
    return index.is_file() and GENERATOR in index.read_text(errors="replace")


def _new_folder(parent: Path, prefix: str, suffix: str) -> Path:
    """Return a new folder with a fresh name, created with mode 0o777.

    So that the umask decides its permissions as for any folder (a static host's server must be able
    to read it).
    """
    while True:
        folder = parent / f"{prefix}{secrets.token_hex(4)}{suffix}"
        try:
            os.mkdir(folder, 0o777)
            return folder
        except FileExistsError:
            continue


def _move_into_place(staging: Path, out: Path):
    """Rename the complete folder to ``out``; an earlier one steps aside first and then goes."""
    old = None
    if out.exists():
        old = out.parent / f".{out.name}.{secrets.token_hex(4)}.old"
        os.rename(out, old)
    try:
        os.rename(staging, out)
    except BaseException:
        if old is not None:
            os.rename(old, out)
        raise
    fsync_directory(out.parent)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
