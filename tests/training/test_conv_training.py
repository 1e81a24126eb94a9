"""Training convolutional networks with ``Sequential``: fit, predict, evaluate and train_step take
images (n, channels, height, width) where the network starts with a convolution, or rows where
it starts with ``Reshape``; BatchNorm's running statistics move only while training, and a batch
that diverges leaves them as they were."""
import numpy as np
import pytest

import barenet as bn


def _stripes(rng, n=160):
    """Images (n, 2, 7, 6) whose class is which channel carries vertical stripes."""
    X = rng.normal(0.0, 0.3, size=(n, 2, 7, 6)).astype(np.float32)
    y = rng.integers(0, 2, n)
    X[np.arange(n), y, :, ::2] += 1.0
    return X, y


def _images_model(seed=0):
    return bn.Sequential(bn.Conv2D(2, 4, 3, padding="same", bias=False), bn.BatchNorm2D(4), bn.ReLU(),
                         bn.MaxPool2D(2), bn.Dropout(0.1), bn.Conv2D(4, 4, 2), bn.GlobalAvgPool2D(), bn.Dense(4, 2),
                         seed=seed)


def test_fit_predict_and_evaluate_take_images_for_a_network_that_starts_with_a_convolution(rng):
    X, y = _stripes(rng)
    model = _images_model()
    history = model.fit(X, y, loss=bn.CrossEntropy(), optimizer=bn.Adam(0.02), epochs=8, batch_size=16,
                        validation_split=0.25, verbose=0)
    assert history["val_accuracy"][-1] > 0.9
    assert model.predict(X, batch_size=7).shape == (160,)  # in batches, put back together
    np.testing.assert_array_equal(model.predict(X, batch_size=7), model.predict(X))
    assert model.predict_proba(X[:3]).shape == (3, 2)
    assert model.evaluate(X, y)["accuracy"] > 0.9
    assert set(model.train_step(X[:8], y[:8])) == {"loss", "accuracy"}
    with pytest.raises(ValueError, match=r"X must have shape \(samples, 2, any, any\), got \(160, 84\)"):
        model.predict(X.reshape(160, -1))


def test_a_network_that_starts_with_reshape_takes_rows(rng):
    X, y = _stripes(rng)
    rows = X.reshape(len(X), -1)
    model = bn.Sequential(bn.Reshape((2, 7, 6)), *_images_model().layers, seed=0)
    assert model.input_width == 84
    model.fit(rows, y, loss=bn.CrossEntropy(), optimizer=bn.Adam(0.02), epochs=8, batch_size=16, verbose=0)
    assert model.evaluate(rows, y)["accuracy"] > 0.9
    with pytest.raises(ValueError, match="must be 2-D"):
        model.predict(X)


def test_batchnorm_statistics_move_while_training_and_not_while_predicting(rng):
    X, y = _stripes(rng)
    model = _images_model()
    norm = model.layers[1]
    model.fit(X, y, loss=bn.CrossEntropy(), epochs=1, batch_size=32, verbose=0)
    trained = {name: value.copy() for name, value in norm.buffers.items()}
    assert not np.allclose(trained["running_var"], 1.0)
    model.predict(X)
    model.evaluate(X, y)
    for name, value in trained.items():
        np.testing.assert_array_equal(norm.buffers[name], value)


def test_a_batch_that_diverges_leaves_the_running_statistics_as_they_were(rng):
    X, y = _stripes(rng, 64)
    model = _images_model()
    model.fit(X, y, loss=bn.CrossEntropy(), epochs=1, batch_size=32, verbose=0)
    norm = model.layers[1]
    before = {name: value.copy() for name, value in norm.buffers.items()}
    theta = model.parameter_vectors()[0].copy()
    X_huge = X.copy()
    X_huge[0] = 3e38  # one image at the edge of float32: the convolution's outputs overflow
    with pytest.raises(bn.NonFiniteError), np.errstate(over="ignore", invalid="ignore"):
        model.fit(X_huge, y, epochs=1, batch_size=64, shuffle=False, verbose=0)
    np.testing.assert_array_equal(model.parameter_vectors()[0], theta)
    for name, value in before.items():
        np.testing.assert_array_equal(norm.buffers[name], value)


def test_a_network_whose_outputs_are_images_cannot_be_given_a_loss(rng):
    model = bn.Sequential(bn.Conv2D(2, 3, 3), seed=0)
    with pytest.raises(ValueError, match=r"outputs are rows .* \(batch, 3, \?, \?\): end it with Flatten\(\)"):
        model.fit(*_stripes(rng, 8), loss=bn.CrossEntropy(), verbose=0)


def test_an_ensemble_of_convolutional_networks_reads_images(rng):
    X, y = _stripes(rng)
    members = [_images_model(seed) for seed in (0, 1)]
    for member in members:
        member.fit(X, y, loss=bn.CrossEntropy(), optimizer=bn.Adam(0.02), epochs=4, batch_size=16, verbose=0)
    ensemble = bn.Ensemble(members)
    np.testing.assert_allclose(ensemble.predict_proba(X), (members[0].predict_proba(X) + members[1].predict_proba(X)) / 2,
                               rtol=1e-6)
    with pytest.raises(ValueError, match="share input and output shapes"):
        bn.Ensemble([members[0], bn.Sequential(bn.Reshape((2, 7, 6)), *_images_model(2).layers)])
