"""Sparse input: a first Dense layer multiplies a scipy sparse batch, with the same numbers as
the dense batch, and nothing turns the data into a dense array."""
import pickle

import numpy as np
import pytest

import barenet as bn
from barenet.core import checks
from barenet.core.sparse import SparseRows, is_sparse

sparse = pytest.importorskip("scipy.sparse")


def _batch(rng, n=12, width=20, density=0.2):
    return sparse.random(n, width, density=density, format="csr", random_state=rng.integers(1 << 31))


@pytest.mark.parametrize("kind", ["csr_matrix", "csc_matrix", "csr_array"])
def test_a_first_dense_layer_gives_the_dense_batchs_outputs_and_gradients(kind, rng):
    X = getattr(sparse, kind)(_batch(rng))
    dense = bn.Network(bn.Dense(20, 5), bn.Tanh(), bn.Dense(5, 3), dtype="float64", seed=0)
    sparse_net = bn.Network(bn.Dense(20, 5), bn.Tanh(), bn.Dense(5, 3), dtype="float64", seed=0)
    grad_out = rng.normal(size=(12, 3))
    np.testing.assert_allclose(sparse_net.forward(X), dense.forward(X.toarray()), rtol=1e-12)
    sparse_net.backward_params(grad_out)
    dense.backward_params(grad_out)
    np.testing.assert_allclose(sparse_net.parameter_vectors()[1], dense.parameter_vectors()[1], rtol=1e-12)


def test_a_network_that_does_not_start_with_dense_refuses_sparse_input(rng):
    network = bn.Network(bn.Dropout(0.1), bn.Dense(20, 3), seed=0)
    with pytest.raises(TypeError, match="sparse input needs a first layer that takes it"):
        network.forward(_batch(rng))


def test_sparse_features_are_checked_like_arrays_and_keep_their_sparsity(rng):
    X = _batch(rng).astype(np.float64)
    rows = checks.features(X.tocsc(), "X", 20, np.float32)
    assert isinstance(rows, SparseRows) and is_sparse(rows) and len(rows) == 12 and rows.dtype == np.float32
    assert sparse.issparse(rows[np.array([3, 1])]) and rows[2:5].shape == (3, 20)
    with pytest.raises(ValueError, match="expects 7"):
        checks.features(X, "X", 7, np.float32)
    X.data[0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        checks.features(X, "X", 20, np.float32)
    assert not is_sparse(X.toarray())


def test_copies_and_pickles_of_a_trained_network_hold_no_gradient_and_no_work_space(rng):
    """The gradients and the optimizer's scratch vector come from the last batch's data: neither
    is kept (the next backward pass and step make them again)."""
    network = bn.Network(bn.Dense(20, 5), bn.Dense(5, 3), dtype="float64", seed=0)
    network.forward(_batch(rng).toarray())
    network.backward_params(rng.normal(size=(12, 3)))
    optimizer = bn.Adam(0.01)
    optimizer.step(network)
    gradient = network.parameter_vectors()[1].copy()
    assert np.abs(gradient).max() > 0 and "scratch" in optimizer.state
    again = pickle.loads(pickle.dumps(network))
    assert gradient.tobytes()[:64] not in pickle.dumps(network)
    assert not np.any(again.parameter_vectors()[1])  # zeros until its next backward pass
    np.testing.assert_array_equal(again.parameter_vectors()[0], network.parameter_vectors()[0])
    copied = pickle.loads(pickle.dumps(optimizer))
    assert set(copied.state) == {"exp_avg", "exp_avg_sq"} and "scratch" in optimizer.state
