"""Training works: small problems are learned quickly and reliably."""
import time

import numpy as np
import pytest

import barenet as bn
from barenet.training.datasets import make_blobs, make_xor


def test_mlp_learns_three_gaussian_clusters_above_97_percent_in_seconds():
    centers = [(0.0, 0.0), (4.0, 1.0), (1.5, 4.0)]
    X, y = make_blobs(3000, centers=centers, cluster_std=0.8, seed=0)
    X_train, X_test, y_train, y_test = bn.train_test_split(X, y, test_size=0.3, stratify=y, seed=0)
    model = bn.Sequential(bn.Dense(2, 32), bn.ReLU(), bn.Dense(32, 3), seed=0)
    started = time.perf_counter()
    model.fit(X_train, y_train, loss=bn.CrossEntropy(), optimizer=bn.Adam(1e-2), epochs=20, batch_size=64,
              verbose=0)
    assert time.perf_counter() - started < 10  # a generous ceiling: it takes well under a second
    assert model.evaluate(X_test, y_test)["accuracy"] > 0.97


def test_xor_is_learned_by_a_hidden_layer_but_not_without_one():
    X, y = make_xor(400, noise=0.1, seed=1)
    deep = bn.Sequential(bn.Dense(2, 8), bn.Tanh(), bn.Dense(8, 2), seed=0)
    deep.fit(X, y, loss="cross_entropy", optimizer=bn.Adam(0.05), epochs=60, batch_size=32, verbose=0)
    assert deep.evaluate(X, y)["accuracy"] == 1.0
    linear = bn.Sequential(bn.Dense(2, 2), seed=0)
    linear.fit(X, y, loss="cross_entropy", optimizer=bn.Adam(0.05), epochs=60, batch_size=32, verbose=0)
    assert linear.evaluate(X, y)["accuracy"] < 0.8


def test_the_four_point_xor_truth_table_is_learned_with_sgd():
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
    y = np.array([0, 1, 1, 0])
    model = bn.Sequential(bn.Dense(2, 4, init="xavier"), bn.Sigmoid(), bn.Dense(4, 1, init="xavier"), seed=3)
    model.fit(X, y.astype(np.float32), loss=bn.BinaryCrossEntropy(), optimizer=bn.SGD(2.0, momentum=0.9),
              epochs=500, batch_size=4, verbose=0)
    np.testing.assert_array_equal(model.predict(X), y)


def test_loss_decreases_monotonically_full_batch_with_a_small_learning_rate(rng):
    X = rng.normal(size=(64, 5))
    y = rng.integers(0, 3, 64)
    model = bn.Sequential(bn.Dense(5, 16), bn.Tanh(), bn.Dense(16, 3), dtype="float64", seed=0)
    history = model.fit(X, y, loss="cross_entropy", optimizer=bn.SGD(0.05), epochs=40, batch_size=64,
                        shuffle=False, verbose=0)
    losses = history["loss"]  # full batch: each epoch's loss is the loss before its one step
    assert all(b < a for a, b in zip(losses[1:], losses[2:]))
    assert losses[-1] < 0.9 * losses[1]


def test_regression_reaches_near_the_noise_floor():
    X, y, info = bn.datasets.make_regression(4000, noise=0.3, seed=0, return_info=True)
    X_train, X_test, y_train, y_test = bn.train_test_split(X, y, test_size=0.25, seed=0)
    model = bn.Sequential(bn.Dense(8, 64), bn.Tanh(), bn.Dense(64, 64), bn.Tanh(), bn.Dense(64, 1), seed=0)
    model.fit(X_train, y_train, loss=bn.MSE(), optimizer=bn.Adam(3e-3), epochs=60, batch_size=64, verbose=0)
    mse = model.evaluate(X_test, y_test)["loss"]
    assert mse < 2.5 * info["noise_variance"]  # the floor is noise²; y itself varies far more
    assert np.var(y_test) > 10 * mse


@pytest.mark.parametrize("name", ["numpy", "numba"])
def test_the_history_says_which_backend_fit_ran_on(name):
    if name == "numba":
        pytest.importorskip("numba", reason="the numba backend needs numba (pip install 'barenet[fast]')")
    X, y = bn.datasets.make_clusters(64, seed=0)
    model = bn.Sequential(bn.Dense(2, 4), bn.ReLU(), bn.Dense(4, 3), seed=0, backend=name)
    assert model.history.backend is None
    history = model.fit(X, y, loss=bn.CrossEntropy(), epochs=1, verbose=0)
    assert history.backend == name and repr(history).endswith(f", on {name})")
