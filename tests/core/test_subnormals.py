"""Subnormal numbers never build up in training state.

A momentum or moment whose gradient entry is exactly zero decays geometrically (m ← β m) into the
subnormal floats below the dtype's smallest normal number, where many CPUs compute 10 to 100
times slower, so epochs would grow slower as training goes on. Every optimizer flushes its state
to zero below that threshold, and cross-entropy flushes the gradient of a confident softmax."""
import numpy as np
import pytest

import barenet as bn
from barenet.core import backend, optimizers

# No L2 weight decay here: it adds λθ to every gradient entry, so none is ever exactly zero.
OPTIMIZERS = {
    "SGD-momentum": lambda: bn.SGD(0.01, momentum=0.9),
    "SGD-nesterov": lambda: bn.SGD(0.01, momentum=0.9, nesterov=True),
    "SGD-dampening": lambda: bn.SGD(0.01, momentum=0.9, dampening=0.5),
    "RMSProp": lambda: bn.RMSProp(1e-3),
    "RMSProp-centered-momentum": lambda: bn.RMSProp(1e-3, centered=True, momentum=0.9),
    "Adam": lambda: bn.Adam(1e-3),
    "AdamW": lambda: bn.AdamW(1e-3, weight_decay=0.01),
}


class FlatParameters:
    """Just what an optimizer needs: a parameter vector and its gradient (as ``Parameters``)."""

    def __init__(self, theta, grad):
        self.theta, self.grad = theta, grad

    def vectors(self):
        return self.theta, self.grad


def _subnormal_count(array):
    tiny = np.finfo(array.dtype).tiny
    return int(((array != 0) & (np.abs(array) < tiny)).sum())


def _train_with_dead_entries(make_optimizer, dtype, steps=300, seed=0):
    """An optimizer driven by gradients of which most entries are exactly zero after the first
    step: those entries' state decays towards zero from magnitudes chosen so that, unflushed, a
    good share of every state vector is subnormal after ``steps`` steps. The other entries get
    ordinary gradients throughout. Returns (θ, the state vectors by name)."""
    rng = np.random.default_rng(seed)
    tiny = float(np.finfo(dtype).tiny)
    n, live = 3000, 500
    theta = rng.normal(size=n).astype(dtype)
    first = np.empty(n, dtype)
    first[:1000] = tiny * 10.0 ** rng.uniform(0, 16, 1000)               # decays through m, b, a
    first[1000:] = np.sqrt(tiny * 10.0 ** rng.uniform(-2, 2, n - 1000))  # its square through v, s
    first *= rng.choice([-1, 1], n)
    model = FlatParameters(bn.to_device(theta), bn.to_device(first))
    optimizer = make_optimizer()
    live_gradients = bn.to_device(rng.normal(scale=1e-2, size=(steps, live)).astype(dtype))
    for step in range(steps):
        if step:
            model.grad[...] = 0
            model.grad[-live:] = live_gradients[step]
        optimizer.step(model)
    return bn.to_numpy(model.theta), {k: bn.to_numpy(v) for k, v in optimizer.state.items() if k != "scratch"}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", OPTIMIZERS)
def test_without_the_flush_this_training_would_leave_subnormal_state(name, dtype, monkeypatch):
    """The scenario of the next test is a real one: unflushed, every state vector holds subnormals."""
    monkeypatch.setattr(optimizers, "flush_subnormals", lambda array, scratch=None: None)
    with bn.using_backend("numpy"):  # the reference code, whose flush is switched off here
        _, state = _train_with_dead_entries(OPTIMIZERS[name], dtype)
    assert state and all(_subnormal_count(vector) > 20 for vector in state.values()), \
        {k: _subnormal_count(v) for k, v in state.items()}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", OPTIMIZERS)
def test_optimizer_state_holds_no_subnormals_after_many_steps_with_zero_gradients(name, dtype, cpu_backend):
    theta, state = _train_with_dead_entries(OPTIMIZERS[name], dtype)
    assert np.isfinite(theta).all()
    assert {k: _subnormal_count(v) for k, v in state.items()} == dict.fromkeys(state, 0)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", OPTIMIZERS)
def test_flushing_changes_nothing_but_the_subnormals(name, dtype, monkeypatch):
    """The parameters come out identical, and the state is the unflushed state with its
    subnormals set to zero: the fix changes no result by more than flushing subnormals would."""
    theta, state = _train_with_dead_entries(OPTIMIZERS[name], dtype)
    monkeypatch.setattr(optimizers, "flush_subnormals", lambda array, scratch=None: None)
    theta_unflushed, state_unflushed = _train_with_dead_entries(OPTIMIZERS[name], dtype)
    np.testing.assert_array_equal(theta, theta_unflushed)
    for key, vector in state_unflushed.items():
        backend.flush_subnormals(vector)
        np.testing.assert_array_equal(state[key], vector, err_msg=key)


def test_flush_subnormals_zeroes_exactly_the_subnormals_and_keeps_nan_and_infinity():
    tiny = np.finfo(np.float32).tiny
    values = np.array([tiny, -tiny, tiny / 2, -tiny * 0.9, 1e-45, 0.0, 1.0, -3e38, np.inf, -np.inf, np.nan],
                      dtype=np.float32)
    flushed = values.copy()
    backend.flush_subnormals(flushed)
    expected = values.copy()
    expected[2:5] = 0
    np.testing.assert_array_equal(flushed, expected)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_cross_entropy_gradient_of_a_confident_network_holds_no_subnormals(dtype, cpu_backend):
    """Logits 95 apart: the losing classes' softmax probabilities, e^-95, are subnormal in
    float32 (and e^-720 in float64); their gradient entries are flushed to zero."""
    spread = 95.0 if dtype == "float32" else 720.0
    z = np.zeros((4, 3), dtype)
    z[:, 0] = spread
    z[1, 1] = spread - 2.0  # an ordinary small probability stays
    assert _subnormal_count(np.exp(-z[:1, 0])) == 1  # the probability itself is subnormal
    loss = bn.CrossEntropy()
    value = loss.forward(bn.to_device(z), bn.to_device(np.zeros(4, dtype=np.int64)))
    grad = bn.to_numpy(loss.backward())
    assert _subnormal_count(grad) == 0
    assert grad[0, 1] == 0 and grad[1, 1] > 0 and 0 <= value < 0.05
