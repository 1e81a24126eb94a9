"""Data helpers: one-hot, splits (stratified), minibatches without copying, standardisation."""
import tracemalloc

import numpy as np
import pytest

import barenet as bn


def test_one_hot():
    np.testing.assert_array_equal(bn.one_hot([2, 0], 3), [[0, 0, 1], [1, 0, 0]])
    assert bn.one_hot([1, 0]).shape == (2, 2)
    with pytest.raises(ValueError, match="beyond num_classes"):
        bn.one_hot([3], 3)
    with pytest.raises(ValueError, match="non-negative class ids"):
        bn.one_hot([-1, 0])


def test_train_test_split_is_seeded_and_disjoint(rng):
    X, y = np.arange(100).reshape(50, 2), np.arange(50)
    X_train, X_test, y_train, y_test = bn.train_test_split(X, y, test_size=0.2, seed=0)
    assert len(X_test) == 10 and len(X_train) == 40
    assert sorted(np.concatenate([y_train, y_test])) == list(range(50))
    np.testing.assert_array_equal(X_train[:, 0] // 2, y_train)
    again = bn.train_test_split(X, y, test_size=0.2, seed=0)
    assert np.array_equal(again[3], y_test)
    assert np.array_equal(bn.train_test_split(X, y, test_size=10, shuffle=False)[3], np.arange(40, 50))


def test_stratified_split_keeps_class_shares(rng):
    y = np.repeat([0, 1, 2], [100, 50, 10])
    _, y_test = bn.train_test_split(y, test_size=0.2, stratify=y, seed=1)
    np.testing.assert_array_equal(np.bincount(y_test), [20, 10, 2])


def test_split_rejects_bad_sizes():
    with pytest.raises(ValueError, match="test_size"):
        bn.train_test_split(np.arange(10), test_size=1.5)
    with pytest.raises(ValueError, match="same length"):
        bn.train_test_split(np.arange(10), np.arange(9))


def test_minibatches_cover_every_sample_once_per_epoch_in_a_seeded_order():
    X, y = np.arange(103)[:, None] * np.ones((1, 3)), np.arange(103)
    batches = list(bn.minibatches(X, y, batch_size=10, seed=0))
    assert [len(b[1]) for b in batches] == [10] * 10 + [3]
    seen = np.concatenate([b[1] for b in batches])
    assert sorted(seen) == list(range(103)) and not np.array_equal(seen, np.arange(103))
    assert np.array_equal(seen, np.concatenate([b[1] for b in bn.minibatches(X, y, batch_size=10, seed=0)]))
    assert all(np.array_equal(xb[:, 0], yb) for xb, yb in batches)
    assert len(list(bn.minibatches(X, batch_size=10, drop_last=True, seed=0))) == 10


def test_minibatches_never_copy_the_whole_data_set():
    X = np.zeros((20_000, 500), dtype=np.float32)  # 40 MB
    tracemalloc.start()
    for (xb,) in bn.minibatches(X, batch_size=100, seed=0):
        pass
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 2_000_000  # a batch (200 kB) and the index permutation, not 40 MB


def test_standardizer_fits_on_train_and_applies_everywhere(rng):
    X = rng.normal(5.0, 3.0, size=(200, 4))
    X[:, 3] = 7.0  # a constant feature keeps scale 1 instead of dividing by zero
    scaler = bn.Standardizer().fit(X)
    Z = scaler.transform(X)
    np.testing.assert_allclose(Z[:, :3].mean(axis=0), 0, atol=1e-6)
    np.testing.assert_allclose(Z[:, :3].std(axis=0), 1, atol=1e-5)
    np.testing.assert_array_equal(Z[:, 3], 0)
    np.testing.assert_allclose(scaler.inverse_transform(Z), X, rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match=r"shape \(n, 4\)"):
        scaler.transform(X[:, :2])
    with pytest.raises(RuntimeError, match="fit"):
        bn.Standardizer().transform(X)
    with pytest.raises(RuntimeError, match=r"fit\(X_train\) before inverse_transform"):
        bn.Standardizer().inverse_transform(Z)


def test_standardizer_inside_a_model_lets_the_model_take_raw_data(rng):
    X = rng.normal(100.0, 20.0, size=(300, 3)).astype(np.float32)
    y = ((X[:, 0] - 100) * (X[:, 1] - 100) > 0).astype(int)
    scaler = bn.Standardizer().fit(X)
    model = bn.Sequential(scaler, bn.Dense(3, 16), bn.Tanh(), bn.Dense(16, 2), seed=0)
    assert model.input_width == 3
    model.fit(X, y, loss="cross_entropy", optimizer=bn.Adam(0.02), epochs=40, verbose=0)
    assert model.evaluate(X, y)["accuracy"] > 0.9
    np.testing.assert_allclose(model.layers[0].forward(X), scaler.transform(X), rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match="fitted on 3 features, got 4"):
        bn.Sequential(bn.Dense(2, 4), scaler)
