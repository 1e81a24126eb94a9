"""Checks at the public boundary: every argument is validated and converted once, before any work.

A bad one gets a ValueError or TypeError that names it and says what was expected. Constructor
arguments are declared, one line each, in the spirit of scikit-learn's ``_parameter_constraints``::

    class Dropout(Layer):
        constraints = {"p": Real(0, 1, closed="left", what="a probability")}

        def __init__(self, p=0.5):
            check.arguments(self, p=p)        # sets self.p, converted, or raises naming "p"

Each kind of constraint (``Real``, ``Integer``, ``Options``...) implements the methods of
``Constraint`` for its values. Arrays (features, targets, weights) are checked further down.
"""
from __future__ import annotations

import math

import numpy as np

from .sparse import SparseRows, is_sparse

_FLOAT_LIMITS = {np.dtype("float32"): float(np.finfo(np.float32).max)}


# -- declared constraints on scalar arguments ---------------------------------------------------

class Constraint:
    """Checks one value: ``constraint(value, name)`` returns it (converted) or raises."""

    def accepts(self, value) -> bool:
        """Return whether ``value`` is acceptable."""
        raise NotImplementedError

    def convert(self, value):
        """Return ``value`` (accepted) in the form the code uses: a float, an int..."""
        return value

    def describe(self) -> str:
        """Return what is acceptable, in words: "a positive number"."""
        raise NotImplementedError

    error = ValueError  # the exception a value of the right type but out of range gets

    def parse(self, text: str):
        """Return the value a word of text means (from the command line), or None if it means none."""
        return text

    def why(self, value) -> str:
        """Return what is wrong with a value it refuses, where there is more to say than ``describe``."""
        return ""

    def __call__(self, value, name: str):
        """Return ``value`` converted, or raise ``error`` (TypeError for Boolean) naming it ``name``."""
        if not self.accepts(value):
            raise self.error(self.refusal(f"{name} must be", value))
        return self.convert(value)

    def __or__(self, other):
        return AnyOf(self, other)

    def refusal(self, start: str, value) -> str:
        """Return "<start> <what it takes>, got <the value>[: why]", a long value cut short."""
        shown = repr(value) if len(repr(value)) <= 120 else f"{repr(value)[:100]}... ({len(repr(value))} characters)"
        return f"{start} {self.describe()}, got {shown}" + (f": {why}" if (why := self.why(value)) else "")


def _is_number(value) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))


class Real(Constraint):
    """A finite number from ``low`` to ``high``; ``closed`` ("both", "left", "right", "neither") says which ends."""

    def __init__(self, low=-math.inf, high=math.inf, closed="both", what="a number"):
        self.low, self.high, self.closed, self.what = low, high, closed, what

    def accepts(self, value):
        if not _is_number(value) or not math.isfinite(value):
            return False
        low_ok = value > self.low or (value == self.low and self.closed in ("both", "left"))
        high_ok = value < self.high or (value == self.high and self.closed in ("both", "right"))
        return low_ok and high_ok

    def convert(self, value):
        return float(value)

    def parse(self, text):
        try:
            return float(text)
        except ValueError:
            return None

    def describe(self):
        noun = self.what.removeprefix("a ").removeprefix("an ")
        if self.low == -math.inf and self.high == math.inf:
            return f"a finite {noun}"
        if self.low == 0 and self.high == math.inf:
            return f"a non-negative {noun}" if self.closed in ("both", "left") else f"a positive {noun}"
        if self.low == 0 and self.closed == "right":
            return f"a positive {noun} up to {self.high:g}"
        left = "[" if self.closed in ("both", "left") else "("
        right = "]" if self.closed in ("both", "right") else ")"
        return f"{self.what} in {left}{self.low:g}, {self.high:g}{right}"


class Integer(Constraint):
    """An int (not a bool) of at least ``low`` (and at most ``high``)."""

    def __init__(self, low=1, high=None):
        self.low, self.high = low, high

    def accepts(self, value):
        return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_)) \
            and value >= self.low and (self.high is None or value <= self.high)

    def convert(self, value):
        return int(value)

    def parse(self, text):
        try:
            return int(text)
        except ValueError:
            return None

    def describe(self):
        if self.high is not None:
            return f"a whole number from {self.low} to {self.high}"
        return {1: "a positive whole number", 0: "a non-negative whole number"}.get(
            self.low, f"a whole number of at least {self.low}")


class Widths(Constraint):
    """Layer widths: a non-empty list of ints from 1 to ``high``, at most ``most`` of them; as text "256,128"."""

    def __init__(self, high=None, most=None):
        self.each, self.most = Integer(1, high), most

    def accepts(self, value):
        return isinstance(value, (list, tuple)) and len(value) >= 1 and (self.most is None or len(value) <= self.most) \
            and all(self.each.accepts(v) for v in value)

    def convert(self, value):
        return [int(v) for v in value]

    def parse(self, text):
        try:
            return [int(part) for part in text.split(",")]
        except ValueError:  # an empty part (256,,128), a letter, a fraction
            return None

    def describe(self):
        count = "" if self.most is None else f" (at most {self.most})"
        top = "" if self.each.high is None else f" up to {self.each.high}"
        return f"comma-separated positive layer widths{top}{count} like 256,128"


class Options(Constraint):
    """One of a few ``values`` (strings, or None)."""

    def __init__(self, *values):
        self.values = values

    def accepts(self, value):
        return isinstance(value, (str, type(None))) and value in self.values

    def parse(self, text):
        return text if text in self.values else None

    def describe(self):
        return "None" if self.values == (None,) else f"one of {', '.join(map(str, self.values))}"


class Boolean(Constraint):
    """True or False (a TypeError otherwise: 0 and "no" are not booleans)."""

    error = TypeError

    def accepts(self, value):
        return isinstance(value, (bool, np.bool_))

    def convert(self, value):
        return bool(value)

    def describe(self):
        return "True or False"


class Instance(Constraint):
    """An instance of the class ``cls``, described as ``what``."""

    def __init__(self, cls, what=None):
        self.cls, self.what = cls, what or f"a {cls.__name__}"

    def accepts(self, value):
        return isinstance(value, self.cls)

    def describe(self):
        return self.what


class AnyOf(Constraint):
    """Whatever the first accepting constraint accepts (``Real(...) | Instance(Schedule)``)."""

    def __init__(self, *constraints):
        self.constraints = constraints

    def accepts(self, value):
        return any(c.accepts(value) for c in self.constraints)

    def convert(self, value):
        return next(c for c in self.constraints if c.accepts(value)).convert(value)

    def parse(self, text):
        for constraint in self.constraints:
            value = constraint.parse(text)
            if value is not None and constraint.accepts(value):
                return value
        return None

    def describe(self):
        return " or ".join(c.describe() for c in self.constraints)


NONE = Options(None)


def arguments(obj, **values) -> None:
    """Check each value against ``obj.constraints[name]`` and set it, converted, as ``obj.name``."""
    for name, value in values.items():
        setattr(obj, name, obj.constraints[name](value, name))


def argument(value, name: str, constraint: Constraint):
    """Return one value checked against a constraint and converted (for a function's arguments)."""
    return constraint(value, name)


# -- arrays ---------------------------------------------------------------------------------------

def positive_int(value, name: str) -> int:
    """Return ``value`` as an int of at least 1 (TypeError for another type, ValueError below 1)."""
    return _int_at_least(value, name, 1)


def non_negative_int(value, name: str) -> int:
    """Return ``value`` as an int of at least 0 (TypeError for another type, ValueError below 0)."""
    return _int_at_least(value, name, 0)


def _int_at_least(value, name: str, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int, got {type(value).__name__} {value!r}")
    if value < low:
        raise ValueError(f"{name} must be at least {low}, got {value}")
    return int(value)


def as_array(value, name: str) -> np.ndarray:
    """Return ``value`` as a NumPy array of real numbers (from the host, for a CuPy array); else raise."""
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
    """Return the index of the first NaN or infinity in array, scanning it in blocks, or None."""
    flat = array.reshape(-1)  # a view when it can be, a copy only for exotic layouts
    for start in range(0, flat.size, _CHUNK):
        bad = np.flatnonzero(~np.isfinite(flat[start:start + _CHUNK]))
        if bad.size:
            return np.unravel_index(start + int(bad[0]), array.shape)
    return None


def require_finite(array, name):
    """Raise ValueError naming ``name`` and the first position if ``array`` holds NaN or infinity."""
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


def convert(array, dtype, name):
    """Return ``array`` as a C-ordered array of ``dtype`` (no copy if it is one), refusing values it overflows."""
    limit = _FLOAT_LIMITS.get(np.dtype(dtype))
    if limit is not None and array.dtype != dtype and array.dtype.kind == "f" and array.size \
            and max(array.max(), -array.min()) > limit:
        raise ValueError(f"{name} holds values beyond the range of {np.dtype(dtype)} (max {limit:.3g})")
    return np.ascontiguousarray(array, dtype=dtype)


def features(X, name: str, shape, dtype) -> np.ndarray:
    """Return X as a finite C-ordered array of the model's dtype, one sample of ``shape`` per row.

    ``shape`` is ``(width,)`` for rows (n, width), ``(channels, None, None)`` for images
    (n, channels, height, width) of any size (None: any size; an int is a width); samples of any
    shape if it is None. A scipy sparse matrix (rows only) becomes ``SparseRows`` of its values in
    that dtype, never a dense copy. ``name`` names X in the errors.
    """
    if is_sparse(X):
        width = shape if isinstance(shape, int) or shape is None else shape[0] if len(shape) == 1 else False
        if width is False:
            raise ValueError(f"{name}: a sparse matrix holds rows (samples, features); this model takes samples "
                             f"of shape {tuple(shape)}")
        return sparse_features(X, name, width, dtype)
    X = as_array(X, name)
    shape = (shape,) if isinstance(shape, int) else shape or (None,) * max(X.ndim - 1, 1)
    if X.ndim != 1 + len(shape):
        raise ValueError(_wrong_shape(X, name, shape))
    if X.shape[0] == 0:
        raise ValueError(f"{name} is empty: it has 0 samples")
    if any(size not in (None, got) for size, got in zip(shape, X.shape[1:])):
        raise ValueError(_wrong_shape(X, name, shape))
    require_finite(X, name)
    return convert(X, dtype, name)


def _wrong_shape(X, name, shape) -> str:
    if len(shape) > 1:
        sizes = ", ".join("any" if size is None else str(size) for size in shape)
        return f"{name} must have shape (samples, {sizes}), got {X.shape}"
    if X.ndim == 2:
        return f"{name} has {X.shape[1]} features per sample but the model expects {shape[0]}"
    hint = {1: "; use X.reshape(1, -1) for one sample or X.reshape(-1, 1) for one feature",
            3: "; flatten images with X.reshape(len(X), -1)"}.get(X.ndim, "")
    return f"{name} must be 2-D (samples, features), got shape {X.shape}{hint}"


def sparse_features(X, name: str, width: int | None, dtype) -> SparseRows:
    """Return a scipy sparse X as ``SparseRows``, checked as ``features`` checks arrays."""
    X = X.matrix if isinstance(X, SparseRows) else X
    if X.ndim != 2 or X.shape[0] == 0:
        raise ValueError(f"{name} must be a non-empty 2-D sparse matrix (samples, features), got shape {X.shape}")
    if width is not None and X.shape[1] != width:
        raise ValueError(f"{name} has {X.shape[1]} features per sample but the model expects {width}")
    if X.dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold real numbers, got dtype {X.dtype}")
    require_finite(X.data, name)
    return SparseRows(X.astype(dtype, copy=False))


def sample_weights(weight, name: str, n: int) -> np.ndarray:
    """Return (n,) non-negative finite weights as float64, or raise naming ``name``."""
    weight = as_array(weight, name)
    if weight.shape != (n,):
        raise ValueError(f"{name} must have shape ({n},), one weight per sample, got {weight.shape}")
    require_finite(weight, name)
    if weight.size and weight.min() < 0:
        raise ValueError(f"{name} must be non-negative, got {weight.min()}")
    return weight.astype(np.float64)


def class_weights(class_weight, labels: np.ndarray, classes: int) -> np.ndarray:
    """Return per-sample weights from class ids and {class id: weight} or "balanced" (n / (classes · count))."""
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
    """Return ``value`` as a float in [0, 1), or raise ValueError naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value < 1.0:
        raise ValueError(f"{name} must be a fraction in [0, 1), got {value!r}")
    return float(value)
