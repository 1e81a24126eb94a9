"""Model files: one ``.npz`` that can never run code.

A model file is an ordinary NumPy ``.npz`` archive (``numpy.load(path, allow_pickle=False)`` reads
it) holding

- ``meta.npy``: UTF-8 JSON as bytes: the format version, the architecture (each layer's
  registered type and constructor arguments), the loss, the optimizer's settings, the training
  history, the random generator's state and free-form metadata (class names, the data set...);
- ``param.<layer>.<name>.npy`` and ``buffer.<layer>.<name>.npy``: the arrays, float32 or float64;
- ``optimizer.<name>.npy``: the optimizer's state vectors (optional), so that training resumes
  exactly where it stopped.

Loading trusts nothing: ``untrusted`` checks the archive, the JSON and every array header
against the exact list of arrays the architecture implies before anything is read. Writing is
atomic: a temporary file, fsync, rename; a failed save leaves the old file as it was.
"""
from __future__ import annotations

import json
import math
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..core import registry
from ..core.backend import on_device, to_device, to_numpy
from ..core.network import Network
from ..core.schedules import Schedule
from . import untrusted
from .atomic import atomic_write
from .untrusted import FORMAT, FORMAT_VERSION, Problem, construct

__all__ = ["write", "read", "Saved", "FORMAT_VERSION"]


# -- writing --------------------------------------------------------------------------------------

def _entry(obj, **extra):
    return {"type": type(obj).__name__, "config": obj.get_config(), **extra}


def _optimizer_entry(optimizer):
    config = optimizer.get_config()
    if isinstance(optimizer.lr, Schedule):
        config["lr"] = {"schedule": type(optimizer.lr).__name__, "config": optimizer.lr.get_config()}
    return _entry(optimizer, config=config, steps=optimizer.steps, progress=optimizer.progress,
                  state=sorted(k for k in optimizer.state if k != "scratch"))


def _network_entry(network):
    return {"type": "Sequential", **network.get_config()}


def _arrays_of(network, prefix=""):
    arrays = {}
    for i, layer in enumerate(network.layers):
        for name, value in layer.params.items():
            arrays[f"{prefix}param.{i}.{name}"] = to_numpy(value)
        for name, value in getattr(layer, "buffers", {}).items():
            arrays[f"{prefix}buffer.{i}.{name}"] = to_numpy(value)
    return arrays


def write(path, networks, *, ensemble: bool = False, loss=None, optimizer=None, history: dict | None = None,
          rng_state: dict | None = None, metadata: dict | None = None) -> Path:
    """Write a model file atomically: one network with its training state, or an ensemble's members.

    Parameters
    ----------
    path : str or Path
        The file (its folder is made).
    networks : list of Network
        One network, or the members of an ensemble.
    ensemble : bool, default False
        Whether ``networks`` are an ensemble's members.
    loss : Loss, optional
        The loss, saved by type and settings.
    optimizer : Optimizer, optional
        Its settings and state vectors (one network only).
    history : dict, optional
        ``{name: [value per epoch]}``, plain data.
    rng_state : dict, optional
        The random generator's state.
    metadata : dict, optional
        Free-form plain data (class names, the data set...).

    Returns
    -------
    Path
        The file written.
    """
    path = Path(path)
    networks = list(networks)
    if not networks or not all(isinstance(n, Network) for n in networks) or (len(networks) > 1 and not ensemble):
        raise TypeError("write needs one barenet network, or the members of an ensemble")
    if ensemble:  # every member's arrays under its own prefix
        entry = {"type": "Ensemble", "members": [_network_entry(n) for n in networks]}
        arrays = {k: v for i, member in enumerate(networks) for k, v in _arrays_of(member, f"m{i}.").items()}
    else:
        entry, arrays = _network_entry(networks[0]), _arrays_of(networks[0])
    meta = {"format": FORMAT, "version": FORMAT_VERSION, "model": entry,
            "loss": None if loss is None else _entry(loss), "optimizer": None, "history": history or {},
            "rng_state": rng_state, "metadata": dict(metadata or {})}
    if optimizer is not None:
        meta["optimizer"] = _optimizer_entry(optimizer)
        for name in meta["optimizer"]["state"]:
            arrays[f"optimizer.{name}"] = to_numpy(optimizer.state[name])
    arrays["meta"] = np.frombuffer(json.dumps(meta, allow_nan=False).encode("utf-8"), dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(path) as handle:
        np.savez(handle, **arrays)
    return path


# -- reading --------------------------------------------------------------------------------------

@dataclass
class Saved:
    """What a model file holds: its networks, built with their weights, and the rest.

    Parameters
    ----------
    networks : list of Network
        One network, or an ensemble's members.
    ensemble : bool
        Whether they are an ensemble's members.
    loss, optimizer
        The objects, or None.
    history, metadata : dict
        Plain data.
    """

    networks: list
    ensemble: bool
    loss: object = None
    optimizer: object = None
    history: dict = field(default_factory=dict)
    metadata: dict = field(default_factory=dict)


def read(path, *, network_class=Network, custom_layers: dict | None = None,
         max_bytes: int = untrusted.MAX_FILE_BYTES) -> Saved:
    """Read a model file written by ``write``.

    Parameters
    ----------
    path : str or Path
        The file.
    network_class : type, default Network
        What the networks are built as (``Sequential`` for ``bn.load``); the random generator gets
        the file's state.
    custom_layers : dict, optional
        Your own layer types, accepted only when named: ``custom_layers={"Scale": Scale}``.
    max_bytes : int, default 1 GiB
        The most the arrays may declare in all, checked before anything is decompressed; loading
        then takes about that much memory and no more.

    Returns
    -------
    Saved

    Raises
    ------
    ValueError
        For anything wrong with the file, naming the file and the problem.
    FileNotFoundError
        If there is no such file.
    """
    path = Path(path)
    if isinstance(max_bytes, bool) or not isinstance(max_bytes, int) or max_bytes < 1:
        raise ValueError(f"max_bytes must be a positive int, got {max_bytes!r}")
    try:
        return _read(path, network_class, custom_layers or {}, max_bytes)
    except Problem as problem:
        raise ValueError(f"{path}: {problem}") from None
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, NotImplementedError) as error:
        if isinstance(error, FileNotFoundError):
            raise
        raise ValueError(f"{path}: not a readable barenet model file ({type(error).__name__}: {error})") from None


def _read(path, network_class, custom, max_bytes):
    if path.stat().st_size > max_bytes + untrusted.MAX_META_BYTES + (1 << 20):
        raise Problem(f"file is larger than the {max_bytes:,}-byte limit on its arrays")
    with zipfile.ZipFile(path) as archive:
        untrusted.check_members(archive.infolist())
        meta = untrusted.read_meta(archive, archive.getinfo("meta.npy"))
        entries, prefixes = _members(meta.get("model"))
        plans = [_plan(entry, custom, prefix) for entry, prefix in zip(entries, prefixes)]
        expected = {name: shape for _, shapes, _ in plans for name, shape in shapes.items()}
        optimizer_entry = meta.get("optimizer")
        if optimizer_entry is not None:
            names = optimizer_entry.get("state") if isinstance(optimizer_entry, dict) else None
            if len(entries) > 1 or not isinstance(names, list) or not all(isinstance(n, str) for n in names):
                raise Problem("optimizer must be an object listing its state vectors (and no ensemble has one)")
            expected.update({f"optimizer.{name}": None for name in names})
        custom_prefixes = tuple(prefix for _, _, prefixes_ in plans for prefix in prefixes_)
        arrays = untrusted.read_arrays(archive, expected, custom_prefixes, max_bytes, lambda: {
            name: view for entry, (layers, _, custom_), prefix in zip(entries, plans, prefixes)
            if not custom_ for name, view in _places_in_theta(entry, layers, prefix).items()}, _labels(plans))

    networks = [_assemble(entry, layers, arrays, prefix, network_class)
                for entry, (layers, _, _), prefix in zip(entries, plans, prefixes)]
    ensemble = meta["model"].get("type") == "Ensemble"
    saved = Saved(networks, ensemble)
    if not ensemble:
        if optimizer_entry is not None:
            saved.optimizer = _restore_optimizer(optimizer_entry, arrays, networks[0].count_params(), networks[0].dtype,
                                                 meta["version"])
        _restore_rng(networks[0], meta.get("rng_state"))
    loss_entry = meta.get("loss")
    saved.loss = None if loss_entry is None else construct(registry.losses, loss_entry, "loss")
    saved.history = _checked_history(meta.get("history") or {})
    metadata = meta.get("metadata") or {}
    if not isinstance(metadata, dict):
        raise Problem("metadata must be an object")
    saved.metadata = metadata
    return saved


def _checked_history(history):
    """Return the history, ``{"epochs": [0, 1, ...], name: [number or null per epoch]}``, or raise a Problem."""
    if not isinstance(history, dict) or not all(isinstance(v, list) for v in history.values()):
        raise Problem("history must map names to lists")
    epochs = history.get("epochs", [])
    for epoch in epochs:
        untrusted.integer(epoch, "history.epochs entry", 0, 10**9)
    if any(b <= a for a, b in zip(epochs, epochs[1:])):
        raise Problem("history.epochs must increase")
    for name, values in history.items():
        if name == "epochs":
            continue
        if len(values) != len(epochs):
            raise Problem(f"history.{name[:40]} has {len(values)} entries for {len(epochs)} epochs")
        for value in values:
            if value is not None:
                untrusted.number(value, f"history.{name[:40]} entry")
    return history


def _members(model_entry):
    """Return the Sequential entries of the file (one, or an Ensemble's) and their array prefixes."""
    if isinstance(model_entry, dict) and model_entry.get("type") == "Ensemble":
        entries = model_entry.get("members")
        if not isinstance(entries, list) or not 0 < len(entries) <= 100:
            raise Problem("an Ensemble needs a list of 1 to 100 member models")
        return entries, [f"m{k}." for k in range(len(entries))]
    return [model_entry], [""]


def _plan(entry, custom, prefix):
    """Return (unbuilt layers, {array name: shape} the architecture implies, custom layers' prefixes).

    The custom layers' arrays have shapes known only once they are built.
    """
    if not isinstance(entry, dict) or entry.get("type") != "Sequential":
        raise Problem(f"model type must be 'Sequential', got {str(entry)[:80]}")
    if entry.get("dtype") not in ("float32", "float64"):
        raise Problem(f"model dtype must be 'float32' or 'float64', got {entry.get('dtype')!r}")
    seed = entry.get("seed")
    if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool) or seed < 0):
        raise Problem(f"model seed must be null or a non-negative int, got {seed!r}")
    specs = entry.get("layers")
    if not isinstance(specs, list) or not 0 < len(specs) <= 1000:
        raise Problem("model layers must be a non-empty list (at most 1000)")
    layers, shapes, custom_prefixes = [], {}, []
    for i, spec in enumerate(specs):
        layer = construct(registry.layers, spec, "layer", custom)
        if spec["type"] in custom:
            custom_prefixes.append(f"{prefix}param.{i}.")
        else:
            shapes.update({f"{prefix}param.{i}.{name}": shape for name, shape in layer.param_shapes().items()})
        shapes.update({f"{prefix}buffer.{i}.{name}": shape for name, shape in layer.buffer_shapes().items()})
        layers.append(layer)
    return layers, shapes, custom_prefixes


def _labels(plans):
    """Return {array name: "layer 1 Conv2D"}: the layer each array the architecture implies belongs to."""
    return {name: f"layer {name.split('.')[-2]} {type(layers[int(name.split('.')[-2])]).__name__}"
            for layers, shapes, _ in plans for name in shapes}


def _places_in_theta(entry, layers, prefix):
    """Return {array name: its place in a new flat vector θ} for a network the architecture declares.

    So that the file's weights are read straight into the vector the network keeps them in
    (``core.parameters``) and loading holds them once, not twice.
    """
    if on_device():
        return {}
    shapes = [(f"{prefix}param.{i}.{name}", shape) for i, layer in enumerate(layers)
              for name, shape in layer.param_shapes().items()]
    theta = np.empty(sum(math.prod(shape) for _, shape in shapes), dtype=entry["dtype"])
    places, offset = {}, 0
    for name, shape in shapes:
        size = math.prod(shape)
        places[name] = theta[offset:offset + size].reshape(shape)
        offset += size
    return places


def _assemble(entry, layers, arrays, prefix, network_class):
    preset = set()  # layers given the file's weights before the network gathers them into θ
    for i, layer in enumerate(layers):
        if layer.buffer_shapes():
            buffers = {name: arrays[f"{prefix}buffer.{i}.{name}"] for name in layer.buffer_shapes()}
            try:
                layer.check_buffers(buffers)
            except ValueError as error:
                raise Problem(f"layer {i} {type(layer).__name__}: {error}") from None
            layer.buffers = {name: to_device(value.astype(entry["dtype"], copy=False)) for name, value in buffers.items()}
        shapes = layer.param_shapes()
        if shapes and all(f"{prefix}param.{i}.{name}" in arrays for name in shapes):
            # the file's weights, not random ones: building would draw and then discard a full set
            layer.params = {name: to_device(arrays[f"{prefix}param.{i}.{name}"].astype(entry["dtype"], copy=False))
                            for name in shapes}
            layer.built = True
            preset.add(i)
    try:
        model = network_class(*layers, dtype=entry["dtype"], seed=entry.get("seed"))
    except (TypeError, ValueError) as error:
        raise Problem(f"the layers do not fit together: {error}") from None
    for i, layer in enumerate(model.layers):  # custom layers: built, then given the file's weights
        if i in preset:
            continue
        for name in list(layer.params):
            key = f"{prefix}param.{i}.{name}"
            if key not in arrays or arrays[key].shape != layer.params[name].shape:
                raise Problem(f"layer {i} {layer!r} needs {key} of shape {layer.params[name].shape}")
            layer.params[name] = arrays[key]
    return model


def _restore_optimizer(entry, arrays, size, dtype, version):
    if not isinstance(entry.get("config") or {}, dict):
        raise Problem(f"optimizer config must be an object, got {str(entry.get('config'))[:40]}")
    config = dict(entry.get("config") or {})
    if isinstance(config.get("lr"), dict):
        lr = config["lr"]
        config["lr"] = construct(registry.schedules, {"type": lr.get("schedule"), "config": lr.get("config", {})},
                                 "schedule")
    if isinstance(config.get("betas"), list):
        config["betas"] = tuple(config["betas"])
    optimizer = construct(registry.optimizers, {"type": entry.get("type"), "config": config}, "optimizer")
    steps, progress = entry.get("steps"), entry.get("progress")
    if not isinstance(steps, int) or isinstance(steps, bool) or steps < 0:
        raise Problem(f"optimizer steps must be a non-negative int, got {steps!r}")
    if not isinstance(progress, (int, float)) or isinstance(progress, bool) or not math.isfinite(progress) or progress < 0:
        raise Problem(f"optimizer progress must be a non-negative number, got {progress!r}")
    expected = sorted(optimizer.state_names) if steps else []  # state exists once it has stepped
    if sorted(entry["state"]) != expected:
        raise Problem(f"optimizer {entry.get('type')} after {steps} steps has state {expected}, "
                      f"the file has {sorted(entry['state'])}")
    optimizer.steps, optimizer.progress = steps, float(progress)
    if entry["state"]:
        optimizer.state = {}
        for name in entry["state"]:
            vector = arrays[f"optimizer.{name}"]
            if vector.shape != (size,):
                raise Problem(f"optimizer.{name} has shape {vector.shape}, the model has {size} parameters")
            if name in ("exp_avg_sq", "square_avg") and vector.min() < 0:  # averages of squares
                raise Problem(f"optimizer.{name} holds negative values; it averages squared gradients")
            optimizer.state[name] = to_device(vector.astype(dtype, copy=False))
        if version == 1 and hasattr(optimizer, "betas"):  # format 1 kept Adam's m/(1-β₁) and v/(1-β₂)
            optimizer.state["exp_avg"] *= 1.0 - optimizer.betas[0]
            optimizer.state["exp_avg_sq"] *= 1.0 - optimizer.betas[1]
    return optimizer


def _restore_rng(model, state):
    if state is None:
        return
    ok = (isinstance(state, dict) and state.get("bit_generator") == "PCG64"
          and isinstance(state.get("state"), dict)
          and all(isinstance(state["state"].get(k), int) and 0 <= state["state"][k] < 2 ** 128 for k in ("state", "inc"))
          and state.get("has_uint32") in (0, 1) and isinstance(state.get("uinteger"), int)
          and 0 <= state["uinteger"] < 2 ** 32)
    if not ok:
        raise Problem("rng_state is not a valid PCG64 state")
    model.rng.bit_generator.state = state

