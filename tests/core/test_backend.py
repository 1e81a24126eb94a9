"""The backend seam: all array maths of layers, losses and optimizers goes through the backend
of the network that runs them (its ``xp`` and its operations), so swapping the array module (CuPy
on a GPU) or fusing an operation (numba) needs no change in them; and the default backend is
per thread, so two trainings in two threads cannot change each other's."""
import copy
import pickle
import threading

import numpy as np
import pytest

import barenet as bn
from barenet.core import backend


class Recording:
    """An array module that is NumPy but records which functions were called through it."""

    __name__ = "recording"

    def __init__(self):
        self.calls = set()

    def __getattr__(self, name):
        self.calls.add(name)
        return getattr(np, name)


class RecordingBackend(backend.Backend):
    name = "recording"

    def __init__(self):
        self.xp = Recording()
        self.operations = []

    def forward(self, layer, x, training):
        self.operations.append(("forward", type(layer).__name__))
        return super().forward(layer, x, training)

    def update(self, optimizer, theta, grad, state, constants):
        self.operations.append(("update", type(optimizer).__name__))
        super().update(optimizer, theta, grad, state, constants)

    def __reduce__(self):
        return RecordingBackend, ()


def test_layers_losses_and_optimizers_reach_the_network_s_backend(rng):
    ops = RecordingBackend()
    model = bn.Sequential(bn.Dense(3, 8), bn.ReLU(), bn.Dense(8, 8), bn.Sigmoid(), bn.Dense(8, 8), bn.GELU(),
                          bn.Dense(8, 3), dtype="float64", seed=0, backend=ops)
    assert {"empty", "zeros"} <= ops.xp.calls  # parameters are created through it
    X, y = rng.normal(size=(10, 3)), rng.integers(0, 3, 10)
    model.fit(X, y, loss="cross_entropy", optimizer=bn.Adam(), epochs=1, verbose=0)
    assert {"exp", "log", "tanh", "sqrt", "divide", "dot"} <= ops.xp.calls
    assert ("forward", "GELU") in ops.operations and ("update", "Adam") in ops.operations
    assert bn.get_backend() != "recording"  # the default did not move


def test_backend_names_and_errors():
    assert bn.get_backend() in ("numba", "numpy")  # "auto": numba where it is installed
    with pytest.raises(ValueError, match="backend must be one of"):
        bn.set_backend("jax")
    with pytest.raises(ValueError, match="backend must be one of"):
        bn.Sequential(bn.Dense(2, 2), backend="jax")
    try:
        import cupy  # noqa: F401
    except ImportError:
        before = bn.get_backend()
        with pytest.raises(ImportError, match="needs CuPy"):
            bn.set_backend("cupy")
        assert bn.get_backend() == before


def test_set_backend_and_using_backend_choose_the_default_for_new_networks():
    with bn.using_backend("numpy") as ops:
        assert ops.name == bn.get_backend() == "numpy"
        assert bn.Sequential(bn.Dense(2, 2)).ops.name == "numpy"
        assert bn.Sequential(bn.Dense(2, 2), backend="strict").ops.name == "strict"


def test_a_network_keeps_its_backend_through_copies_and_pickles():
    model = bn.Sequential(bn.Dense(2, 3), seed=0, backend="numpy")
    model.loss = bn.CrossEntropy()
    assert copy.deepcopy(model).ops is model.ops
    assert pickle.loads(pickle.dumps(model)).ops is model.ops


def test_two_threads_training_on_two_backends_each_keep_their_own(rng):
    """One thread sets NumPy and trains, another sets the strict stand-in (device arrays that
    refuse NumPy's) and trains, at the same time: neither sees the other's backend."""
    X, y = rng.normal(size=(400, 4)).astype("float32"), rng.integers(0, 3, 400)
    seen, errors, barrier = {}, [], threading.Barrier(2)

    def train(name):
        try:
            bn.set_backend(name)
            barrier.wait()
            model = bn.Sequential(bn.Dense(4, 16), bn.ReLU(), bn.Dense(16, 3), seed=0)
            for _ in range(3):
                model.fit(X, y, loss="cross_entropy", epochs=1, batch_size=16, verbose=0)
                seen.setdefault(name, set()).add((bn.get_backend(), model.ops.name,
                                                  type(model.parameters.theta).__name__))
        except Exception as error:  # reported below: an assertion in a thread would be lost
            errors.append(f"{name}: {error!r}")

    threads = [threading.Thread(target=train, args=(name,)) for name in ("numpy", "strict")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert seen == {"numpy": {("numpy", "numpy", "ndarray")}, "strict": {("strict", "strict", "StrictArray")}}
