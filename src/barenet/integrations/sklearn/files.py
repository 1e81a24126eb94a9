"""Reading a pickled estimator without running code from the file, for ``barenet export``.

A pickle names the functions and classes that rebuild its objects, and ``pickle.load`` calls
them: a file from elsewhere can name any function of any module. Here the unpickler knows a
short list of names (Python's "restricting globals") and refuses every other: barenet's
estimators, network, layers, losses, optimizers, schedules and history; scikit-learn's
``Pipeline``, ``StandardScaler`` and ``LabelBinarizer``; NumPy's arrays, scalars, dtypes and
random generators. What those rebuild holds no more data than the file does.

joblib's files are not read here: joblib reads arrays of objects (string labels) with plain
``pickle.load``, so a joblib file can run code. Load one yourself where you trust it, and call
``bn.to_onnx`` on the estimator.
"""
from __future__ import annotations

import io
import pickle
import pickletools
import warnings
from pathlib import Path

import numpy as np
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import LabelBinarizer, StandardScaler

from ...core import registry
from ...core.backends.reference import Backend
from ...training.history import History
from ...training.model import Sequential
from .estimators import MLPClassifier, MLPRegressor

__all__ = ["load_estimator", "MAX_BYTES"]

MAX_BYTES = 1 << 30  # a file larger than this is refused before it is read


def _barenet_classes():
    tables = (registry.layers, registry.losses, registry.optimizers, registry.schedules)
    classes = [table[name] for table in tables for name in table.names()]
    return classes + [Sequential, History, MLPClassifier, MLPRegressor, Pipeline, StandardScaler, LabelBinarizer]


def _backend(cls, name):
    """Return ``cls.shared``: a network's backend is pickled as ``getattr(cls, "shared")``, that call alone."""
    if not (isinstance(cls, type) and issubclass(cls, Backend) and name == "shared"):
        raise pickle.UnpicklingError(f"this file asks for getattr({cls!r}, {name!r}), which an estimator never does")
    return cls.shared


def _numpy_names():
    names = {("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode")}
    for core in ("numpy.core", "numpy._core"):  # NumPy 1 and 2 name their internals differently
        names |= {(f"{core}.multiarray", "_reconstruct"), (f"{core}.multiarray", "scalar"),
                  (f"{core}.numeric", "_frombuffer")}
    names |= {("numpy.random._pickle", "__generator_ctor"), ("numpy.random._pickle", "__bit_generator_ctor"),
              ("numpy.random._pickle", "__randomstate_ctor"), ("numpy.random.bit_generator", "SeedSequence"),
              ("numpy.random.bit_generator", "__pyx_unpickle_SeedSequence")}
    return names


class _Restricted(pickle.Unpickler):
    """An unpickler that rebuilds only the objects an estimator is made of."""

    def __init__(self, file):
        super().__init__(file)
        self.known = {(cls.__module__, cls.__qualname__): cls for cls in _barenet_classes()}
        for name in ("MT19937", "PCG64", "PCG64DXSM", "Philox", "SFC64"):
            cls = getattr(np.random, name)
            self.known[(cls.__module__, cls.__qualname__)] = cls
        self.numpy = _numpy_names()

    def find_class(self, module, name):
        """Return the class or function a pickle names, if an estimator is made of it; else UnpicklingError."""
        if (module, name) in self.known:
            return self.known[module, name]
        if (module, name) in self.numpy:
            return super().find_class(module, name)
        if module in ("builtins", "__builtin__"):  # the second name: pickle's protocol 2
            if name == "getattr":
                return _backend
            if name in ("dict", "list", "tuple", "set", "frozenset"):  # each copies what the file holds
                return super().find_class("builtins", name)
        if module.startswith("barenet.core.backends."):  # a network's backend class (numba's, CuPy's...)
            found = super().find_class(module, name)
            if isinstance(found, type) and issubclass(found, Backend):
                return found
        raise pickle.UnpicklingError(f"this file names {module}.{name}, which is not part of an estimator; "
                                     f"it is not read (a pickle can run any function it names)")


def _declares_no_more_than_it_holds(data: bytes) -> None:
    """Read the opcodes first, without acting on them (``pickletools.genops``).

    A counted string longer than the file, or a memo index beyond its length, is refused before the
    unpickler allocates what the file declares (it makes the string, or grows its memo to the index,
    before it finds the file too short).
    """
    try:
        with warnings.catch_warnings():  # pickletools decodes damaged text with Python's escapes, which warn
            warnings.simplefilter("ignore", DeprecationWarning)
            for opcode, argument, _ in pickletools.genops(data):
                if opcode.name in ("PUT", "BINPUT", "LONG_BINPUT") and int(argument) > len(data):
                    raise ValueError(f"a memo index of {int(argument):,} in {len(data):,} bytes")
    except ValueError as error:
        raise pickle.UnpicklingError(f"the file declares more than it holds ({error})") from None


def load_estimator(path):
    """Return the estimator (or Pipeline) pickled in ``path``, read without running code from it.

    Raises
    ------
    ValueError
        Saying why the file is not a pickled barenet estimator.
    """
    path = Path(path)
    if path.stat().st_size > MAX_BYTES:
        raise ValueError(f"{path} has {path.stat().st_size:,} bytes, more than an estimator's {MAX_BYTES:,}")
    data = path.read_bytes()  # from memory, a length the file declares cannot make a read allocate it
    try:
        _declares_no_more_than_it_holds(data)
        estimator = _Restricted(io.BytesIO(data)).load()
    except Exception as error:  # whatever a damaged file makes the rebuilding code meet
        raise ValueError(f"{path} is not a pickled barenet estimator: {type(error).__name__}: {error}") from None
    if not hasattr(estimator, "get_params"):
        raise ValueError(f"{path} holds a {type(estimator).__name__}, not an estimator")
    return estimator
