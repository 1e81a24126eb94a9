"""Losses: values match their formulas (PyTorch's reductions), gradients match finite
differences, and nothing overflows for logits of any size."""
import numpy as np
import pytest

import barenet as bn


def _targets(loss, rng, n, k):
    if isinstance(loss, bn.CrossEntropy):
        return rng.integers(0, k, n)
    if isinstance(loss, bn.BinaryCrossEntropy):
        return rng.uniform(size=(n, k))
    if isinstance(loss, bn.Poisson):
        return rng.poisson(2.0, size=(n, k)).astype(float)
    return rng.normal(size=(n, k))


LOSSES = {"MSE": bn.MSE, "MAE": bn.MAE, "Poisson": bn.Poisson, "BinaryCrossEntropy": bn.BinaryCrossEntropy,
          "CrossEntropy": bn.CrossEntropy, "CrossEntropy-smoothed": lambda: bn.CrossEntropy(0.1)}


@pytest.mark.parametrize("name", LOSSES)
def test_loss_gradient_matches_finite_differences_through_a_model(name, rng):
    loss = LOSSES[name]()
    model = bn.Sequential(bn.Dense(4, 6), bn.Tanh(), bn.Dense(6, 3), dtype="float64", seed=1)
    X = rng.normal(size=(8, 4))
    report = bn.check_gradients(model, X, _targets(loss, rng, 8, 3), loss, verbose=False)
    assert report.passed(1e-6), str(report)


@pytest.mark.parametrize("name", LOSSES)
def test_sample_weights_multiply_each_samples_loss(name, rng):
    loss = LOSSES[name]()
    outputs, targets = rng.normal(size=(6, 3)), _targets(loss, rng, 6, 3)
    weights = np.array([0.0, 1.0, 2.0, 0.5, 1.0, 3.0])
    per_sample = np.array([loss.forward(outputs[i:i + 1], targets[i:i + 1]) for i in range(6)])
    assert np.isclose(loss.forward(outputs, targets, weights), (weights * per_sample).mean())
    grad = loss.backward()
    assert np.isclose(loss.forward(outputs, targets, np.ones(6)), loss.forward(outputs, targets))
    # the gradient of the weighted loss, row by row
    for i in range(6):
        loss.forward(outputs[i:i + 1], targets[i:i + 1])
        np.testing.assert_allclose(grad[i], weights[i] * loss.backward()[0] / 6, atol=1e-15)


def test_mse_mae_are_means_over_all_elements(rng):
    o, t = rng.normal(size=(5, 3)), rng.normal(size=(5, 3))
    assert np.isclose(bn.MSE().forward(o, t), ((o - t) ** 2).mean())
    assert np.isclose(bn.MAE().forward(o, t), np.abs(o - t).mean())
    # one output column with 1-D targets
    assert np.isclose(bn.MSE().forward(o[:, :1], t[:, 0]), ((o[:, 0] - t[:, 0]) ** 2).mean())


def test_poisson_is_half_the_deviance_of_the_rates_and_predicts_them(rng):
    z, t = rng.normal(size=(5, 2)), rng.poisson(1.5, size=(5, 2)).astype(float)
    mu = np.exp(z)
    t_log_t = np.where(t > 0, t * np.log(np.where(t > 0, t, 1) / mu), 0.0)
    assert np.isclose(bn.Poisson().forward(z, t), (t_log_t - t + mu).mean())
    assert bn.Poisson().forward(np.log(t + (t == 0)), t) < bn.Poisson().forward(z, t)  # μ = t (t > 0) fits best
    np.testing.assert_allclose(bn.Poisson().predict(z[:, :1]), mu[:, 0])
    with pytest.raises(ValueError, match="non-negative"):
        bn.Poisson().check_targets(-t, "y", 5, 2, np.float64)


def test_cross_entropy_accepts_ids_one_hot_and_probabilities(rng):
    z = rng.normal(size=(4, 3))
    y = np.array([0, 2, 1, 2])
    log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    expected = -log_p[np.arange(4), y].mean()
    ce = bn.CrossEntropy()
    assert np.isclose(ce.forward(z, y), expected)
    grad_ids = ce.backward()
    assert np.isclose(ce.forward(z, bn.one_hot(y, 3).astype(np.float64)), expected)
    np.testing.assert_allclose(ce.backward(), grad_ids)
    soft = np.full((4, 3), 1 / 3)
    assert np.isclose(ce.forward(z, soft), -(soft * log_p).sum(axis=1).mean())


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_losses_from_logits_never_overflow(dtype):
    z = np.array([[1e4, -1e4], [-1e4, 1e4]], dtype=dtype)
    ce = bn.CrossEntropy()
    assert ce.forward(z, np.array([1, 1])) == pytest.approx(1e4)  # (2e4 + 0) / 2
    assert np.isfinite(ce.backward()).all()
    bce = bn.BinaryCrossEntropy()
    assert bce.forward(z, np.array([[1.0, 0.0], [0.0, 1.0]], dtype=dtype)) == pytest.approx(0.0, abs=1e-30)
    assert bce.forward(z, np.array([[0.0, 1.0], [1.0, 0.0]], dtype=dtype)) == pytest.approx(1e4)
    assert np.isfinite(bce.backward()).all()


def test_losses_return_python_floats(rng):
    o = rng.normal(size=(3, 2)).astype(np.float32)
    for loss, t in [(bn.MSE(), o), (bn.CrossEntropy(), np.array([0, 1, 1]))]:
        assert type(loss.forward(o, t)) is float
        assert loss.backward().dtype == np.float32


def test_label_smoothing_is_validated():
    with pytest.raises(ValueError, match="label_smoothing"):
        bn.CrossEntropy(label_smoothing=1.5)


def test_loss_names_resolve_and_unknown_ones_are_rejected():
    from barenet.core.losses import get_loss
    assert isinstance(get_loss("cross_entropy"), bn.CrossEntropy)
    assert isinstance(get_loss("MSE"), bn.MSE)
    with pytest.raises(TypeError, match="loss must be"):
        get_loss("hinge")
