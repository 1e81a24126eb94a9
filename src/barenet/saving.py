"""Model files: one ``.npz`` that can never run code.

A model file is an ordinary NumPy ``.npz`` archive (``numpy.load(path, allow_pickle=False)`` reads
it) holding

- ``meta.npy``: UTF-8 JSON as bytes: the format version, the architecture (layer types and
  constructor arguments), the loss, the optimizer's settings, the training history, the random
  generator's state and free-form metadata (class names, the data set...);
- ``param.<layer>.<name>.npy`` and ``buffer.<layer>.<name>.npy``: the arrays, float32 or float64;
- ``optimizer.<name>.npy``: the optimizer's state vectors (optional), so that training resumes
  exactly where it stopped.

Loading trusts nothing. Before reading any array it checks every member name against the exact
list that the architecture implies (no others, no duplicates, no paths), parses every array
header and compares its dtype, shape and byte count with what is expected and with size caps,
bounds the JSON's size and nesting, and accepts only known layer types and format versions.
Only then are arrays read, and they must be finite. Anything wrong raises ``ValueError``.
Writing is atomic: a temporary file, fsync, rename; a failed save leaves the old file as it was.
"""
from __future__ import annotations

import json
import math
import re
import zipfile
from pathlib import Path

import numpy as np

from . import activations, augment, data, layers, losses, optimizers, schedules
from ._io import atomic_write
from .backend import to_numpy

__all__ = ["save", "load", "FORMAT_VERSION", "LAYER_TYPES"]

FORMAT = "barenet-model"
FORMAT_VERSION = 1
SUPPORTED_VERSIONS = (1,)
MAX_FILE_BYTES = 4 << 30  # 4 GiB of arrays in all
MAX_META_BYTES = 16 << 20
MAX_JSON_DEPTH = 32
MAX_MEMBERS = 4096
_ARRAY_DTYPES = (np.dtype("<f4"), np.dtype("<f8"))

LAYER_TYPES = {cls.__name__: cls for cls in (
    layers.Dense, layers.Dropout, layers.Identity, activations.ReLU, activations.LeakyReLU,
    activations.Sigmoid, activations.Tanh, activations.Softmax, activations.GELU,
    data.Standardizer, augment.RandomAffine)}
LOSS_TYPES = {cls.__name__: cls for cls in (losses.MSE, losses.MAE, losses.BinaryCrossEntropy, losses.CrossEntropy)}
OPTIMIZER_TYPES = {cls.__name__: cls for cls in (optimizers.SGD, optimizers.RMSProp, optimizers.Adam, optimizers.AdamW)}
SCHEDULE_TYPES = {cls.__name__: cls for cls in (schedules.Constant, schedules.StepDecay,
                                                 schedules.ExponentialDecay, schedules.CosineDecay)}

_NAME = re.compile(r"^(?:(?:m(\d{1,3})\.)?(param|buffer)\.(\d{1,4})\.([A-Za-z_][A-Za-z0-9_]{0,63})"
                   r"|(?:m(\d{1,3})\.)?optimizer\.([a-z_]{1,32})|meta)\.npy$")


# -- writing -------------------------------------------------------------------------------------

def _layer_entry(layer):
    return {"type": type(layer).__name__, "config": layer.get_config()}


def _schedule_entry(lr):
    if isinstance(lr, schedules.Schedule):
        return {"schedule": type(lr).__name__, "config": lr.get_config()}
    return lr


def _optimizer_entry(optimizer):
    config = optimizer.get_config()
    config["lr"] = _schedule_entry(optimizer.lr)
    return {"type": type(optimizer).__name__, "config": config, "steps": optimizer.steps,
            "progress": optimizer.progress, "state": sorted(k for k in optimizer.state if k != "scratch")}


def _arrays_of(model, prefix=""):
    arrays = {}
    for i, layer in enumerate(model.layers):
        for name, value in layer.params.items():
            arrays[f"{prefix}param.{i}.{name}"] = to_numpy(value)
        for name, value in getattr(layer, "buffers", {}).items():
            arrays[f"{prefix}buffer.{i}.{name}"] = to_numpy(value)
    return arrays


def _model_entry(model):
    return {"type": "Sequential", "dtype": str(model.dtype), "seed": model.seed,
            "layers": [_layer_entry(layer) for layer in model.layers]}


def save(model, path, *, include_optimizer: bool = True, metadata: dict | None = None) -> Path:
    """Write ``model`` (a ``Sequential`` or an ``Ensemble``) to ``path`` atomically."""
    from .model import Sequential

    path = Path(path)
    members = getattr(model, "members", None)
    arrays = {}
    if members is not None:  # an ensemble: every member's arrays under its own prefix
        entry = {"type": "Ensemble", "members": [_model_entry(m) for m in members]}
        for k, member in enumerate(members):
            arrays.update(_arrays_of(member, f"m{k}."))
    elif isinstance(model, Sequential):
        entry = _model_entry(model)
        arrays.update(_arrays_of(model))
    else:
        raise TypeError(f"save needs a barenet Sequential or Ensemble, got {type(model).__name__}")
    meta = {"format": FORMAT, "version": FORMAT_VERSION, "model": entry,
            "loss": None if model.loss is None else {"type": type(model.loss).__name__,
                                                     "config": model.loss.get_config()},
            "optimizer": None, "history": model.history.to_dict(),
            "rng_state": model.rng.bit_generator.state if members is None else None,
            "metadata": {**getattr(model, "metadata", {}), **(metadata or {})}}
    optimizer = getattr(model, "optimizer", None)
    if include_optimizer and optimizer is not None and members is None:
        meta["optimizer"] = _optimizer_entry(optimizer)
        for name in meta["optimizer"]["state"]:
            arrays[f"optimizer.{name}"] = to_numpy(optimizer.state[name])
    text = json.dumps(meta, allow_nan=False)
    arrays["meta"] = np.frombuffer(text.encode("utf-8"), dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(path) as handle:
        np.savez(handle, **arrays)
    return path


# -- reading -------------------------------------------------------------------------------------

class _Problem(ValueError):
    pass


def _json_depth_ok(text: str) -> bool:
    """Whether brackets nest at most MAX_JSON_DEPTH deep (checked before parsing)."""
    depth, in_string, escaped = 0, False, False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > MAX_JSON_DEPTH:
                return False
        elif char in "]}":
            depth -= 1
    return True


def _header(archive, info):
    """(dtype, shape, header length) of one .npy member, read from its first bytes only."""
    with archive.open(info) as stream:
        try:
            version = np.lib.format.read_magic(stream)
            if version == (1, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_1_0(stream)
            elif version in ((2, 0), (3, 0)):
                shape, fortran, dtype = np.lib.format.read_array_header_2_0(stream)
            else:
                raise _Problem(f"unsupported .npy version {version}")
        except _Problem:
            raise
        except Exception as error:  # the header is text parsed by ast.literal_eval: never executed
            raise _Problem(f"member {info.filename}: not a valid .npy header ({error})") from None
        offset = stream.tell()
    if fortran:
        raise _Problem(f"member {info.filename}: Fortran-ordered arrays are not accepted")
    return np.dtype(dtype), tuple(shape), offset


def _read_array(archive, info, offset, dtype, shape):
    with archive.open(info) as stream:
        stream.read(offset)
        count = math.prod(shape)
        data = stream.read(count * dtype.itemsize + 1)
    if len(data) != count * dtype.itemsize:
        raise _Problem(f"member {info.filename}: holds {len(data)} bytes of data, its header declares "
                       f"{count * dtype.itemsize}")
    return np.frombuffer(data, dtype=dtype).reshape(shape).copy()


def _construct(registry, entry, what, extra=None):
    """An instance of registry[entry["type"]](**entry["config"]), with a clear error."""
    kinds = dict(registry, **(extra or {}))
    if not isinstance(entry, dict) or not isinstance(entry.get("type"), str) or not isinstance(entry.get("config", {}), dict):
        raise _Problem(f"{what} must be {{'type': ..., 'config': {{...}}}}, got {str(entry)[:80]}")
    if entry["type"] not in kinds:
        raise _Problem(f"unknown {what} type {entry['type']!r}; accepted: {', '.join(sorted(kinds))}"
                       + ("" if what != "layer" else " (pass custom_layers={'Name': cls} for your own)"))
    try:
        return kinds[entry["type"]](**entry.get("config", {}))
    except (TypeError, ValueError) as error:
        raise _Problem(f"invalid {what} {entry['type']} configuration: {error}") from None


def _build_layer(entry, custom):
    config = dict(entry.get("config", {})) if isinstance(entry, dict) else {}
    if isinstance(entry, dict) and entry.get("type") == "Standardizer":
        features = config.pop("features", None)
        layer = _construct(LAYER_TYPES, {"type": "Standardizer", "config": config}, "layer")
        return layer, {"mean": (features,), "scale": (features,)} if isinstance(features, int) and features > 0 else None
    if isinstance(entry, dict) and entry.get("type") == "RandomAffine" and "image_shape" in config:
        config["image_shape"] = tuple(config["image_shape"]) if isinstance(config["image_shape"], list) else None
        entry = {"type": "RandomAffine", "config": config}
    return _construct(LAYER_TYPES, entry, "layer", custom), None


def _expected_param_shapes(layer):
    if isinstance(layer, layers.Dense):
        shapes = {"W": (layer.in_features, layer.out_features)}
        if layer.bias:
            shapes["b"] = (layer.out_features,)
        return shapes
    if type(layer).__name__ in LAYER_TYPES:
        return {}
    return None  # a custom layer: known only once built


def _plan_model(entry, custom, prefix):
    """Unbuilt layers and the exact array members (name -> shape or None) the entry implies."""
    if not isinstance(entry, dict) or entry.get("type") != "Sequential":
        raise _Problem(f"model type must be 'Sequential', got {str(entry)[:80]}")
    if entry.get("dtype") not in ("float32", "float64"):
        raise _Problem(f"model dtype must be 'float32' or 'float64', got {entry.get('dtype')!r}")
    seed = entry.get("seed")
    if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool) or seed < 0):
        raise _Problem(f"model seed must be null or a non-negative int, got {seed!r}")
    specs = entry.get("layers")
    if not isinstance(specs, list) or not 0 < len(specs) <= 1000:
        raise _Problem("model layers must be a non-empty list (at most 1000)")
    built, expected = [], {}
    for i, spec in enumerate(specs):
        layer, buffers = _build_layer(spec, custom)
        shapes = _expected_param_shapes(layer)
        for name, shape in (shapes or {}).items():
            expected[f"{prefix}param.{i}.{name}"] = shape
        for name, shape in (buffers or {}).items():
            expected[f"{prefix}buffer.{i}.{name}"] = shape
        built.append((layer, shapes is None))
    return built, expected


def load(path, *, custom_layers: dict | None = None):
    """Read a model file written by ``save``; see the module docstring for what is checked."""
    path = Path(path)
    try:
        return _load(path, custom_layers or {})
    except _Problem as problem:
        raise ValueError(f"{path}: {problem}") from None
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, NotImplementedError) as error:
        if isinstance(error, FileNotFoundError):
            raise
        raise ValueError(f"{path}: not a readable barenet model file ({type(error).__name__}: {error})") from None


def _load(path, custom):
    from .model import History, Sequential

    if path.stat().st_size > MAX_FILE_BYTES:
        raise _Problem(f"file is larger than the {MAX_FILE_BYTES:,}-byte limit")
    with zipfile.ZipFile(path) as archive:
        infos = archive.infolist()
        names = [info.filename for info in infos]
        if len(names) > MAX_MEMBERS:
            raise _Problem(f"{len(names)} members, more than {MAX_MEMBERS}")
        if len(set(names)) != len(names):
            raise _Problem("duplicate member names")
        for name in names:
            if not _NAME.match(name):
                raise _Problem(f"unexpected member {name!r}")
        by_name = {info.filename: info for info in infos}
        if "meta.npy" not in by_name:
            raise _Problem("no meta.npy member: not a barenet model file")
        meta = _read_meta(archive, by_name["meta.npy"])
        model_entry = meta.get("model")
        ensemble = isinstance(model_entry, dict) and model_entry.get("type") == "Ensemble"
        if ensemble:
            entries = model_entry.get("members")
            if not isinstance(entries, list) or not 0 < len(entries) <= 100:
                raise _Problem("an Ensemble needs a list of 1 to 100 member models")
        else:
            entries = [model_entry]
        prefixes = [f"m{k}." for k in range(len(entries))] if ensemble else [""]
        plans = [_plan_model(entry, custom, prefix) for entry, prefix in zip(entries, prefixes)]
        expected = {name: shape for _, shapes in plans for name, shape in shapes.items()}
        optimizer_entry = meta.get("optimizer")
        if optimizer_entry is not None:
            state_names = optimizer_entry.get("state") if isinstance(optimizer_entry, dict) else None
            if ensemble or not isinstance(state_names, list) or not all(isinstance(n, str) for n in state_names):
                raise _Problem("optimizer must be an object listing its state vectors (and no ensemble has one)")
            expected.update({f"optimizer.{name}": None for name in state_names})
        # custom layers' parameters are known only once built; their shapes are checked then
        custom_prefixes = tuple(f"{prefix}param.{i}." for (built, _), prefix in zip(plans, prefixes)
                                for i, (_, is_custom) in enumerate(built) if is_custom)
        actual = set(names) - {"meta.npy"}
        expected_files = {f"{name}.npy" for name in expected}
        for name in actual - expected_files:
            if not name.startswith(custom_prefixes):
                raise _Problem(f"unexpected array {name!r} for this architecture")
        missing = expected_files - actual
        if missing:
            raise _Problem(f"missing arrays: {', '.join(sorted(missing))}")
        headers, total = {}, 0
        for name in sorted(actual):
            info = by_name[name]
            dtype, shape, offset = _header(archive, info)
            if dtype not in _ARRAY_DTYPES:
                raise _Problem(f"member {name}: dtype {dtype} is not float32 or float64")
            if any(not isinstance(d, int) or d < 0 for d in shape) or len(shape) > 4:
                raise _Problem(f"member {name}: invalid shape {shape}")
            nbytes = math.prod(shape) * dtype.itemsize
            total += nbytes
            if total > MAX_FILE_BYTES:
                raise _Problem(f"arrays declare more than {MAX_FILE_BYTES:,} bytes in all")
            if info.file_size != offset + nbytes:
                raise _Problem(f"member {name}: zip entry declares {info.file_size} bytes, its .npy header "
                               f"implies {offset + nbytes}")
            want = expected.get(name[:-4])
            if isinstance(want, tuple) and shape != want:
                raise _Problem(f"member {name}: shape {shape}, the architecture needs {want}")
            headers[name] = (dtype, shape, offset)
        arrays = {}
        for name, (dtype, shape, offset) in headers.items():
            array = _read_array(archive, by_name[name], offset, dtype, shape)
            if not np.isfinite(array).all():
                raise _Problem(f"member {name}: contains NaN or infinity")
            arrays[name[:-4]] = array

    models = [_assemble(entry, built, arrays, prefix) for entry, (built, _), prefix in zip(entries, plans, prefixes)]
    if ensemble:
        from .ensemble import Ensemble
        model = Ensemble(models)
    else:
        model = models[0]
        if optimizer_entry is not None:
            model.optimizer = _restore_optimizer(optimizer_entry, arrays, model.count_params(), model.dtype)
        _restore_rng(model, meta.get("rng_state"))
    loss_entry = meta.get("loss")
    model.loss = None if loss_entry is None else _construct(LOSS_TYPES, loss_entry, "loss")
    history = meta.get("history") or {}
    if not isinstance(history, dict) or not all(isinstance(v, list) for v in history.values()):
        raise _Problem("history must map names to lists")
    model.history = History.from_dict(history)
    metadata = meta.get("metadata") or {}
    if not isinstance(metadata, dict):
        raise _Problem("metadata must be an object")
    model.metadata = metadata
    return model


def _read_meta(archive, info):
    dtype, shape, offset = _header(archive, info)
    if dtype != np.dtype("uint8") or len(shape) != 1:
        raise _Problem("meta.npy must be a 1-D uint8 array of JSON text")
    if shape[0] > MAX_META_BYTES:
        raise _Problem(f"meta.npy is {shape[0]:,} bytes, more than the {MAX_META_BYTES:,}-byte limit")
    if info.file_size != offset + shape[0]:
        raise _Problem("meta.npy: zip entry size does not match its header")
    raw = _read_array(archive, info, offset, dtype, shape).tobytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise _Problem("meta.npy is not UTF-8 text") from None
    if not _json_depth_ok(text):
        raise _Problem(f"meta.npy nests deeper than {MAX_JSON_DEPTH} levels")
    try:
        meta = json.loads(text, parse_constant=lambda c: (_ for _ in ()).throw(_Problem(f"{c} is not valid JSON")))
    except (json.JSONDecodeError, RecursionError) as error:
        raise _Problem(f"meta.npy is not valid JSON ({error})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise _Problem("not a barenet model file (meta.format is not 'barenet-model')")
    if meta.get("version") not in SUPPORTED_VERSIONS:
        raise _Problem(f"format version {meta.get('version')!r} is not supported; this barenet reads "
                       f"versions {', '.join(map(str, SUPPORTED_VERSIONS))}")
    return meta


def _assemble(entry, built, arrays, prefix):
    from .model import Sequential

    layer_list = []
    for i, (layer, _) in enumerate(built):
        if isinstance(layer, data.Standardizer):
            layer.buffers = {name: arrays[f"{prefix}buffer.{i}.{name}"] for name in ("mean", "scale")}
            if np.any(layer.buffers["scale"] <= 0):
                raise _Problem(f"layer {i} Standardizer: scale must be positive")
        layer_list.append(layer)
    try:
        model = Sequential(*layer_list, dtype=entry["dtype"], seed=entry.get("seed"))
    except (TypeError, ValueError) as error:
        raise _Problem(f"the layers do not fit together: {error}") from None
    for i, layer in enumerate(model.layers):
        for name in list(layer.params):
            key = f"{prefix}param.{i}.{name}"
            if key not in arrays or arrays[key].shape != layer.params[name].shape:
                raise _Problem(f"layer {i} {layer!r} needs {key} of shape {layer.params[name].shape}")
            layer.params[name][...] = arrays[key]
    return model


def _restore_optimizer(entry, arrays, size, dtype):
    config = dict(entry.get("config") or {})
    lr = config.get("lr")
    if isinstance(lr, dict):
        config["lr"] = _construct(SCHEDULE_TYPES, {"type": lr.get("schedule"), "config": lr.get("config", {})},
                                  "schedule")
    if "betas" in config and isinstance(config["betas"], list):
        config["betas"] = tuple(config["betas"])
    optimizer = _construct(OPTIMIZER_TYPES, {"type": entry.get("type"), "config": config}, "optimizer")
    steps, progress = entry.get("steps"), entry.get("progress")
    if not isinstance(steps, int) or isinstance(steps, bool) or steps < 0:
        raise _Problem(f"optimizer steps must be a non-negative int, got {steps!r}")
    if not isinstance(progress, (int, float)) or isinstance(progress, bool) or not math.isfinite(progress) or progress < 0:
        raise _Problem(f"optimizer progress must be a non-negative number, got {progress!r}")
    expected = sorted(optimizer.state_names) if steps else []  # state exists once it has stepped
    if sorted(entry["state"]) != expected:
        raise _Problem(f"optimizer {entry.get('type')} after {steps} steps has state {expected}, "
                       f"the file has {sorted(entry['state'])}")
    optimizer.steps, optimizer.progress = steps, float(progress)
    if entry["state"]:
        optimizer.state = {}
        for name in entry["state"]:
            vector = arrays[f"optimizer.{name}"]
            if vector.shape != (size,):
                raise _Problem(f"optimizer.{name} has shape {vector.shape}, the model has {size} parameters")
            optimizer.state[name] = vector.astype(dtype)
        optimizer.state["scratch"] = np.empty(size, dtype=dtype)
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
        raise _Problem("rng_state is not a valid PCG64 state")
    model.rng.bit_generator.state = state
