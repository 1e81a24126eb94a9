"""Checks at the public boundary: every argument is validated and converted once, before any
work, and a bad one gets a ValueError or TypeError that names it and says what was expected."""
from __future__ import annotations

import math

import numpy as np

_FLOAT_LIMITS = {np.dtype("float32"): float(np.finfo(np.float32).max)}


def positive_int(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int, got {type(value).__name__} {value!r}")
    if value < 1:
        raise ValueError(f"{name} must be at least 1, got {value}")
    return int(value)


def non_negative_int(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int, got {type(value).__name__} {value!r}")
    if value < 0:
        raise ValueError(f"{name} must be at least 0, got {value}")
    return int(value)


def _as_array(value, name: str) -> np.ndarray:
    if hasattr(value, "get") and not isinstance(value, (np.ndarray, dict)):  # a CuPy array
        value = value.get()
    try:
        array = np.asarray(value)
    except (ValueError, TypeError) as error:
        raise ValueError(f"{name} must be a rectangular array of numbers ({error})") from None
    if array.dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold real numbers, got dtype {array.dtype}")
    return array


_CHUNK = 1 << 20  # elements per block when scanning a large array


def _first_non_finite(array):
    """The index of the first NaN or infinity in array, scanning it in blocks, or None."""
    flat = array.reshape(-1)  # a view when it can be, a copy only for exotic layouts
    for start in range(0, flat.size, _CHUNK):
        bad = np.flatnonzero(~np.isfinite(flat[start:start + _CHUNK]))
        if bad.size:
            return np.unravel_index(start + int(bad[0]), array.shape)
    return None


def _require_finite(array, name):
    # A float64 sum is NaN or infinite if any value is, allocates nothing, and cannot overflow
    # for float32 data; only when it is not finite do we look for the culprit.
    if array.dtype.kind != "f":
        return
    if array.size <= _CHUNK:  # small: one direct test is cheapest
        if np.isfinite(array).all():
            return
    else:
        with np.errstate(over="ignore", invalid="ignore"):  # an overflowing sum only means: look closer
            if np.isfinite(np.add.reduce(array, axis=None, dtype=np.float64)):
                return
    position = _first_non_finite(array)
    if position is not None:
        index = tuple(int(i) for i in position)
        where = index[0] if len(index) == 1 else index
        raise ValueError(f"{name} contains NaN or infinity ({array[index]} at index {where})")


def _convert(array, dtype, name):
    """array as a C-ordered array of dtype (no copy if it already is one), rejecting values
    that the conversion would turn into infinity."""
    limit = _FLOAT_LIMITS.get(np.dtype(dtype))
    if limit is not None and array.dtype != dtype and array.dtype.kind == "f" and array.size \
            and max(array.max(), -array.min()) > limit:
        raise ValueError(f"{name} holds values beyond the range of {np.dtype(dtype)} (max {limit:.3g})")
    return np.ascontiguousarray(array, dtype=dtype)


def features(X, name: str, width: int | None, dtype) -> np.ndarray:
    """X as a finite (n, width) C-ordered array of the model's dtype."""
    X = _as_array(X, name)
    if X.ndim != 2:
        hint = {1: "; use X.reshape(1, -1) for one sample or X.reshape(-1, 1) for one feature",
                3: "; flatten images with X.reshape(len(X), -1)"}.get(X.ndim, "")
        raise ValueError(f"{name} must be 2-D (samples, features), got shape {X.shape}{hint}")
    if X.shape[0] == 0:
        raise ValueError(f"{name} is empty: it has 0 samples")
    if width is not None and X.shape[1] != width:
        raise ValueError(f"{name} has {X.shape[1]} features per sample but the model expects {width}")
    _require_finite(X, name)
    return _convert(X, dtype, name)


def targets(y, name: str, n: int, task: str, outputs: int | None, dtype) -> np.ndarray:
    """y checked against the loss's task and the model's output width.

    classification: class ids (n,) as int64 in [0, outputs), or one-hot/probability rows (n, outputs)
    binary: values in [0, 1], shaped like the outputs
    regression: finite values, shaped like the outputs ((n,) allowed for one output)
    """
    y = _as_array(y, name)
    if y.ndim == 0 or y.shape[0] != n:
        raise ValueError(f"{name} must have one row per sample of X ({n}), got shape {y.shape}")
    _require_finite(y, name)
    if task == "classification" and y.ndim == 1:
        if y.dtype.kind == "f" and not np.array_equal(y, np.round(y)):
            raise ValueError(f"{name} must hold integer class ids for CrossEntropy, got non-integer values "
                             f"(for probability targets pass an (n, classes) array)")
        if y.dtype.kind == "b":
            raise TypeError(f"{name} must hold integer class ids, got booleans")
        low, high = y.min(), y.max()
        if low < 0 or (outputs is not None and high >= outputs):
            raise ValueError(f"{name} holds class ids from {low} to {high} but the model has "
                             f"{outputs} outputs, so ids must be in [0, {outputs - 1}]")
        return y.astype(np.int64)
    if y.ndim == 1 and outputs is not None and outputs != 1:
        raise ValueError(f"{name} has one value per sample but the model has {outputs} outputs; "
                         f"pass an (n, {outputs}) array" + ("" if task != "classification" else
                                                              " or class ids for CrossEntropy"))
    if y.ndim > 2 or (y.ndim == 2 and outputs is not None and y.shape[1] != outputs):
        raise ValueError(f"{name} must have shape ({n}, {outputs}) to match the model's outputs, got {y.shape}")
    if task in ("classification", "binary") and y.size and (y.min() < 0 or (task == "binary" and y.max() > 1)):
        expected = "in [0, 1]" if task == "binary" else "non-negative (one-hot or probabilities)"
        raise ValueError(f"{name} must be {expected} for this loss, got values from {y.min()} to {y.max()}")
    return _convert(y, dtype, name)


def sample_weights(weight, name: str, n: int) -> np.ndarray:
    weight = _as_array(weight, name)
    if weight.shape != (n,):
        raise ValueError(f"{name} must have shape ({n},), one weight per sample, got {weight.shape}")
    _require_finite(weight, name)
    if weight.size and weight.min() < 0:
        raise ValueError(f"{name} must be non-negative, got {weight.min()}")
    return weight.astype(np.float64)


def class_weights(class_weight, y: np.ndarray, classes: int) -> np.ndarray:
    """Per-sample weights from {class id: weight} or "balanced" (n / (classes · count))."""
    labels = y if y.ndim == 1 else y.argmax(axis=1)
    if isinstance(class_weight, str):
        if class_weight != "balanced":
            raise ValueError(f"class_weight must be a dict or 'balanced', got {class_weight!r}")
        counts = np.bincount(labels, minlength=classes).astype(np.float64)
        table = np.where(counts > 0, labels.size / (classes * np.maximum(counts, 1)), 0.0)
        return table[labels]
    if not isinstance(class_weight, dict):
        raise TypeError(f"class_weight must be a dict {{class id: weight}} or 'balanced', got {type(class_weight).__name__}")
    table = np.ones(classes)
    for key, value in class_weight.items():
        if isinstance(key, bool) or not isinstance(key, (int, np.integer)) or not 0 <= key < classes:
            raise ValueError(f"class_weight keys must be class ids in [0, {classes - 1}], got {key!r}")
        if isinstance(value, bool) or not isinstance(value, (int, float, np.number)) \
                or not math.isfinite(value) or value < 0:
            raise ValueError(f"class_weight[{key}] must be a non-negative number, got {value!r}")
        table[key] = float(value)
    return table[labels]


def fraction(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value < 1.0:
        raise ValueError(f"{name} must be a fraction in [0, 1), got {value!r}")
    return float(value)
