"""The backend seam: all array maths of layers, losses and optimizers goes through barenet's
``xp``, so swapping the array module (CuPy on a GPU) needs no change in them."""
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


@pytest.fixture
def recording():
    module = Recording()
    previous = backend.xp.module
    backend.xp.module = module
    yield module
    backend.xp.module = previous


def test_layers_losses_and_optimizers_reach_the_array_module_through_the_seam(recording, rng):
    model = bn.Sequential(bn.Dense(3, 8), bn.ReLU(), bn.Dense(8, 8), bn.Sigmoid(), bn.Dense(8, 8), bn.GELU(),
                          bn.Dense(8, 3), dtype="float64", seed=0)
    assert {"empty", "zeros"} <= recording.calls  # parameters are created through it
    X, y = rng.normal(size=(10, 3)), rng.integers(0, 3, 10)
    model.fit(X, y, loss="cross_entropy", optimizer=bn.Adam(), epochs=1, verbose=0)
    assert {"exp", "log", "tanh", "matmul", "sqrt", "square", "divide", "dot"} <= recording.calls


def test_backend_names_and_errors():
    assert bn.get_backend() == "numpy"
    with pytest.raises(ValueError, match="backend must be one of"):
        bn.set_backend("jax")
    try:
        import cupy  # noqa: F401
    except ImportError:
        with pytest.raises(ImportError, match="needs CuPy"):
            bn.set_backend("cupy")
        assert bn.get_backend() == "numpy"
