"""Layers: each one's backward matches finite differences inside a network, and the forward
passes behave as their formulas say, stably for inputs of any size."""
import re

import numpy as np
import pytest

import barenet as bn
from layer_example import documented_scale_layer


def _standardizer():
    return bn.Standardizer().fit(np.random.default_rng(5).normal(2.0, 3.0, size=(30, 5)))


# Every layer that keeps 5 features, so it fits between the same two dense layers.
LAYERS = {
    "Dense": lambda: bn.Dense(5, 5),
    "Dense-no-bias": lambda: bn.Dense(5, 5, bias=False),
    "Identity": bn.Identity,
    "ReLU": bn.ReLU,
    "LeakyReLU": lambda: bn.LeakyReLU(0.1),
    "Sigmoid": bn.Sigmoid,
    "Tanh": bn.Tanh,
    "Softmax": bn.Softmax,
    "GELU": bn.GELU,
    "Dropout": lambda: bn.Dropout(0.4),
    "Standardizer": _standardizer,
}


@pytest.mark.parametrize("name", LAYERS)
def test_layer_backward_matches_finite_differences_inside_a_network(name, rng):
    model = bn.Sequential(bn.Dense(4, 5), bn.Tanh(), LAYERS[name](), bn.Dense(5, 3),
                          dtype="float64", seed=3)
    X = rng.normal(size=(7, 4))
    y = rng.integers(0, 3, size=7)
    report = bn.check_gradients(model, X, y, bn.CrossEntropy(), verbose=False)
    assert report.passed(1e-6), str(report)
    assert set(report.errors) == set(model.params) | {"input"}


@pytest.mark.parametrize("name", LAYERS)
def test_layer_first_in_network_gets_input_gradient_right(name, rng):
    first = LAYERS[name]()
    model = bn.Sequential(bn.Dense(5, 5), first, bn.Dense(5, 2), dtype="float64", seed=4) \
        if name == "Standardizer" else bn.Sequential(first, bn.Dense(5, 2), dtype="float64", seed=4)
    X = rng.normal(size=(6, 5))
    report = bn.check_gradients(model, X, rng.normal(size=(6, 2)), bn.MSE(), verbose=False)
    assert report.passed(1e-6), str(report)


def test_deep_mlp_with_every_kind_of_layer_matches_finite_differences(rng):
    model = bn.Sequential(
        bn.Dense(6, 8, init="xavier"), bn.Sigmoid(), bn.Dropout(0.2), bn.Dense(8, 7, init="lecun_uniform"),
        bn.GELU(), bn.Dense(7, 7), bn.LeakyReLU(0.05), bn.Dense(7, 6), bn.Tanh(), bn.Dense(6, 4),
        dtype="float64", seed=11)
    report = bn.check_gradients(model, rng.normal(size=(9, 6)), rng.integers(0, 4, 9), bn.CrossEntropy(),
                                verbose=False)
    assert report.passed(1e-6), str(report)


def test_check_gradients_catches_a_wrong_backward(rng):
    class WrongTanh(bn.Tanh):
        def backward(self, grad_out):
            return grad_out * (1.0 - self.y)  # should be 1 - y²

    model = bn.Sequential(bn.Dense(3, 4), WrongTanh(), bn.Dense(4, 2), dtype="float64", seed=0)
    report = bn.check_gradients(model, rng.normal(size=(5, 3)), rng.integers(0, 2, 5), "cross_entropy",
                                verbose=False)
    assert not report.passed(1e-3)
    assert report.errors["0.W"] > 1e-2 and report.errors["2.W"] < 1e-6  # only layers before it are wrong


@pytest.mark.parametrize("norm", ["BatchNorm1D", "BatchNorm2D"])
def test_check_gradients_passes_a_bias_whose_true_gradient_is_zero_and_still_catches_a_tiny_wrong_one(norm, rng):
    """A bias just before batch normalisation has a gradient of exactly zero (the mean is taken
    out), where the differences give only their rounding, about 1e-11: measured against a hundredth
    of the network's largest gradient, not against 1e-8, it passes (it read 5.55e-03, a failure).
    A backward wrong by a thousandth, on gradients two hundred times smaller than the network's
    largest, still fails."""
    if norm == "BatchNorm1D":
        layers, X = [bn.Dense(3, 4), bn.BatchNorm1D(4), bn.ReLU(), bn.Dense(4, 2)], rng.normal(size=(5, 3))
    else:
        layers = [bn.Reshape((1, 6, 6)), bn.Conv2D(1, 2, 3), bn.BatchNorm2D(2), bn.ReLU(), bn.Flatten(),
                  bn.Dense(32, 2)]
        X = rng.normal(size=(5, 36))
    y = np.array([0, 1, 0, 1, 1])
    report = bn.check_gradients(bn.Sequential(*layers, seed=0, dtype="float64"), X, y, bn.CrossEntropy(),
                                verbose=False)
    assert report.passed(1e-6), str(report)

    class SlightlyWrong(bn.Tanh):
        def backward(self, grad_out):
            return super().backward(grad_out) * 1.001

    model = bn.Sequential(bn.Dense(3, 4), SlightlyWrong(), bn.Dense(4, 2), seed=0, dtype="float64")
    model.layers[0].params["W"] *= 1e-3
    report = bn.check_gradients(model, X[:, :3] * 1e-3, y, bn.CrossEntropy(), verbose=False)
    assert not report.passed(1e-6), str(report)


def test_check_gradients_prints_a_row_per_array_and_leaves_the_model_untouched(rng, capsys):
    model = bn.Sequential(bn.Dense(3, 4), bn.ReLU(), bn.Dense(4, 2), seed=0)
    before = {k: v.copy() for k, v in model.params.items()}
    bn.check_gradients(model, rng.normal(size=(4, 3)), [0, 1, 1, 0], bn.CrossEntropy(), max_checks=5)
    printed = capsys.readouterr().out
    for name in ["0.W", "0.b", "2.W", "2.b", "input"]:
        assert name in printed
    for k, v in model.params.items():
        assert v.dtype == np.float32 and np.array_equal(v, before[k])


def test_custom_layer_from_the_layer_docstring_works(rng):
    Scale = documented_scale_layer()
    model = bn.Sequential(bn.Dense(3, 4), Scale(4), bn.Tanh(), bn.Dense(4, 2), dtype="float64", seed=2)
    assert bn.check_gradients(model, rng.normal(size=(5, 3)), [0, 1, 0, 1, 1], "cross_entropy",
                              verbose=False).passed(1e-6)
    X, y = rng.normal(size=(64, 3)), rng.integers(0, 2, 64)
    scale_before = model.layers[1].params["s"].copy()
    model.fit(X, y, loss="cross_entropy", optimizer=bn.SGD(0.5), epochs=3, verbose=0)
    assert not np.array_equal(model.layers[1].params["s"], scale_before)


def test_custom_layer_that_assigns_new_gradient_arrays_still_trains(rng):
    class Bias(bn.Layer):
        def build(self, rng, dtype):
            self.params = {"c": np.zeros(2, dtype)}
            self.grads = {"c": np.zeros(2, dtype)}

        def forward(self, x, training=True):
            return x + self.params["c"]

        def backward(self, grad_out):
            self.grads["c"] = grad_out.sum(axis=0)  # a new array, not written in place
            return grad_out

    model = bn.Sequential(bn.Dense(2, 2), Bias(), dtype="float64", seed=0)
    X, y = rng.normal(size=(32, 2)), rng.normal(size=(32, 2)) + 5.0
    model.fit(X, y, loss="mse", optimizer=bn.SGD(0.1), epochs=20, verbose=0)
    assert model.layers[1].params["c"].mean() > 1.0  # learned the offset


@pytest.mark.parametrize("init, variance", [
    ("he", 2 / 400), ("he_uniform", 2 / 400), ("xavier", 2 / 700), ("glorot_uniform", 2 / 700),
    ("lecun", 1 / 400), ("lecun_uniform", 1 / 400)])
def test_dense_initializers_have_the_documented_variance(init, variance):
    model = bn.Sequential(bn.Dense(400, 300, init=init), seed=0)
    W, b = model.layers[0].params["W"], model.layers[0].params["b"]
    assert W.shape == (400, 300) and W.dtype == np.float32
    assert abs(W.var() / variance - 1) < 0.02
    assert abs(W.mean()) < 0.01 * np.sqrt(variance)
    assert np.all(b == 0)
    if init.endswith("uniform"):
        assert np.abs(W).max() <= np.sqrt(3 * variance)


def test_dense_rejects_bad_arguments():
    with pytest.raises(ValueError, match="in_features"):
        bn.Dense(0, 3)
    with pytest.raises(ValueError, match="out_features"):
        bn.Dense(3, 2.5)
    with pytest.raises(ValueError, match="init must be one of"):
        bn.Dense(3, 2, init="normal")
    with pytest.raises(TypeError, match="bias"):
        bn.Dense(3, 2, bias="yes")


def test_dense_on_its_own_builds_itself_on_first_use(rng):
    layer = bn.Dense(3, 2)
    y = layer.forward(rng.normal(size=(4, 3)))
    assert y.shape == (4, 2) and layer.params["W"].shape == (3, 2)
    assert layer.backward(np.ones((4, 2))).shape == (4, 3)


@pytest.mark.parametrize("name", LAYERS)
def test_backward_never_modifies_its_argument(name, rng):
    model = bn.Sequential(bn.Dense(5, 5), LAYERS[name](), dtype="float64", seed=0)
    model.forward(rng.normal(size=(4, 5)))
    grad_out = rng.normal(size=(4, 5))
    kept = grad_out.copy()
    model.layers[1].backward(grad_out)
    assert np.array_equal(grad_out, kept)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_sigmoid_softmax_and_friends_are_stable_for_huge_inputs(dtype):
    x = np.array([[-1e4, -50.0, 0.0, 50.0, 1e4]], dtype=dtype)
    s = bn.Sigmoid().forward(x)
    assert s.dtype == dtype
    np.testing.assert_allclose(s[0, [0, 2, 4]], [0.0, 0.5, 1.0])
    assert 0 < s[0, 1] < 1e-20 if dtype == "float64" else s[0, 1] >= 0
    p = bn.Softmax().forward(x)
    np.testing.assert_allclose(p, [[0, 0, 0, 0, 1]], atol=1e-30)
    for layer in (bn.Tanh(), bn.GELU(), bn.LeakyReLU(), bn.ReLU()):
        out = layer.forward(x)
        assert np.isfinite(out).all() and out.dtype == dtype
        assert np.isfinite(layer.backward(np.ones_like(x))).all()
    np.testing.assert_allclose(bn.GELU().forward(x)[0, [0, 4]], [0.0, 1e4])


def test_activation_values_match_their_formulas(rng):
    x = rng.normal(size=(3, 4)) * 3
    np.testing.assert_allclose(bn.ReLU().forward(x), np.maximum(x, 0))
    np.testing.assert_allclose(bn.LeakyReLU(0.2).forward(x), np.where(x > 0, x, 0.2 * x))
    np.testing.assert_allclose(bn.Sigmoid().forward(x), 1 / (1 + np.exp(-x)), rtol=1e-15)
    np.testing.assert_allclose(bn.Tanh().forward(x), np.tanh(x))
    e = np.exp(x)
    np.testing.assert_allclose(bn.Softmax().forward(x), e / e.sum(axis=1, keepdims=True), rtol=1e-14)
    gelu = 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x ** 3)))
    np.testing.assert_allclose(bn.GELU().forward(x), gelu, rtol=1e-14)
    np.testing.assert_array_equal(bn.Identity().forward(x), x)


def test_relu_derivative_at_zero_is_zero():
    layer = bn.ReLU()
    layer.forward(np.array([[0.0, 1.0, -1.0]]))
    np.testing.assert_array_equal(layer.backward(np.ones((1, 3))), [[0.0, 1.0, 0.0]])


def test_dropout_is_inverted_and_identity_at_inference(rng):
    layer = bn.Dropout(0.25, seed=0)
    x = np.ones((400, 50), dtype=np.float32)
    y = layer.forward(x, training=True)
    assert y.dtype == np.float32
    assert set(np.unique(y)) == {0.0, np.float32(1 / 0.75)}
    assert abs((y == 0).mean() - 0.25) < 0.01
    assert abs(y.mean() - 1.0) < 0.02  # expected value kept
    np.testing.assert_array_equal(layer.backward(np.ones_like(x)), y)  # same mask and scale
    np.testing.assert_array_equal(layer.forward(x, training=False), x)
    np.testing.assert_array_equal(layer.backward(x), x)


def test_dropout_seed_fixes_its_masks():
    x = np.ones((10, 10))
    assert np.array_equal(bn.Dropout(0.5, seed=7).forward(x), bn.Dropout(0.5, seed=7).forward(x))
    assert not np.array_equal(bn.Dropout(0.5, seed=7).forward(x), bn.Dropout(0.5, seed=8).forward(x))


def test_dropout_inside_a_model_draws_from_the_model_generator():
    def masks(seed):
        model = bn.Sequential(bn.Dense(4, 6), bn.Dropout(0.5, seed=123), seed=seed)
        return model.layers[1].rng is model.rng, model.forward(np.ones((3, 4)))

    same_generator, a = masks(1)
    assert same_generator
    assert np.array_equal(a, masks(1)[1])
    assert not np.array_equal(a, masks(2)[1])


@pytest.mark.parametrize("p", [-0.1, 1.0, 1.5, "0.5", True])
def test_dropout_rejects_bad_probability(p):
    with pytest.raises(ValueError, match="p must be a probability"):
        bn.Dropout(p)


@pytest.mark.parametrize("method", ["backward", "backward_params"])
def test_a_network_backward_needs_a_training_forward_just_before_and_a_gradient_of_its_outputs_shape(method):
    """Each backward uses what the last training forward kept, then drops it: without one (none
    yet, an inference pass, or a backward already run) it is refused with a RuntimeError that says
    so; a dL/d outputs of another shape is refused naming both shapes (a Dense layer took a wrong
    one silently, broadcast, and a convolution's numba loops wrote outside their arrays)."""
    model = bn.Sequential(bn.Dense(3, 4), bn.ReLU(), bn.BatchNorm1D(4), bn.Dense(4, 2), seed=0)
    x = np.random.default_rng(0).normal(size=(5, 3))
    backward = getattr(model, method)
    never = r"backward needs a forward pass with training=True just before it"
    with pytest.raises(RuntimeError, match=never):
        backward(np.ones((5, 2)))
    model.forward(x, training=False)
    with pytest.raises(RuntimeError, match=never):
        backward(np.ones((5, 2)))
    model.forward(x, training=True)
    for wrong in [(5, 3), (1, 2), (2,), (5, 2, 1)]:
        with pytest.raises(ValueError, match=re.escape(f"outputs, (5, 2), got {wrong}")):
            backward(np.ones(wrong))
    backward(np.ones((5, 2)))  # still the forward's: a refused gradient changes nothing
    assert all(np.isfinite(g).all() for g in model.grads.values())
    with pytest.raises(RuntimeError, match=never):
        backward(np.ones((5, 2)))
    model.forward(x, training=True)
    with pytest.raises(ValueError, match="expects 3 input features"):
        model.forward(np.ones((5, 4)), training=True)  # a forward that fails: the one before it is gone too
    with pytest.raises(RuntimeError, match=never):
        backward(np.ones((5, 2)))
