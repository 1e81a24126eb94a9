"""Parameters: a network's arrays live in one flat vector θ, their gradients in another g, and each
layer holds views of them by name; assigning a layer's gradient writes into g."""
import numpy as np
import pytest

import barenet as bn
from barenet.core.network import Network
from barenet.core.parameters import Parameters, Slots
from layer_example import documented_scale_layer


Scale = documented_scale_layer()  # the Layer docstring's custom layer, y = x ⊙ s, which assigns its gradient


def test_layers_hold_views_of_the_two_flat_vectors_in_layer_order():
    network = Network(bn.Dense(3, 4), bn.ReLU(), bn.Dense(4, 2), seed=0, dtype="float64")
    theta, grad = network.parameter_vectors()
    assert isinstance(network.parameters, Parameters) and len(network.parameters) == 3 * 4 + 4 + 4 * 2 + 2
    assert network.parameters.names == ["0.W", "0.b", "2.W", "2.b"]
    W0 = network.layers[0].params["W"]
    assert np.shares_memory(W0, theta) and np.array_equal(theta[:12], W0.ravel())
    theta[0] = 42.0
    assert W0[0, 0] == 42.0
    assert np.shares_memory(network.layers[2].grads["b"], grad)


def test_a_layer_that_assigns_its_gradient_fills_the_flat_gradient_vector(rng):
    network = Network(bn.Dense(3, 5), Scale(5), bn.Dense(5, 2), seed=0, dtype="float64")
    scale = network.layers[1]
    assert isinstance(scale.grads, Slots)
    x = rng.normal(size=(7, 3))
    network.forward(x)
    network.backward(rng.normal(size=(7, 2)))
    _, grad = network.parameter_vectors()
    offset = 3 * 5 + 5
    np.testing.assert_array_equal(grad[offset:offset + 5], scale.grads["s"])
    assert np.abs(grad[offset:offset + 5]).sum() > 0
    report = bn.check_gradients(network, x, rng.integers(0, 2, 7), bn.CrossEntropy(), verbose=False)
    assert report.passed(1e-6)


def test_assigning_a_parameter_copies_into_theta_and_unknown_names_are_refused():
    network = Network(bn.Dense(2, 2), seed=0)
    dense = network.layers[0]
    dense.params["W"] = np.full((2, 2), 3.0)
    assert np.array_equal(network.parameter_vectors()[0][:4], [3, 3, 3, 3])
    with pytest.raises(KeyError, match="no array 'V'"):
        dense.params["V"] = np.zeros(2)


def test_an_optimizer_steps_a_parameters_object_or_the_model_alike(rng):
    a = bn.Sequential(bn.Dense(3, 2), seed=0, dtype="float64")
    b = bn.Sequential(bn.Dense(3, 2), seed=0, dtype="float64")
    for model, target in ((a, a.parameters), (b, b)):
        loss = bn.MSE()
        loss.forward(model.forward(np.ones((4, 3))), np.zeros((4, 2)))
        model.backward(loss.backward())
        bn.SGD(0.1).step(target)
    np.testing.assert_array_equal(a.parameter_vectors()[0], b.parameter_vectors()[0])


def test_a_pickled_network_keeps_its_layers_as_views_of_its_own_vectors():
    """Pickling (scikit-learn's clone and joblib, multiprocessing) must not cut the layers off
    from θ: after unpickling, an optimizer step on θ is what the layers compute with."""
    import pickle

    from barenet.core.activations import ReLU
    from barenet.core.layers import Dense
    from barenet.core.network import Network

    net = Network([Dense(3, 4), ReLU(), Dense(4, 2)], seed=0)
    again = pickle.loads(pickle.dumps(net))
    theta = again.parameter_vectors()[0]
    assert np.array_equal(theta, net.parameter_vectors()[0])
    theta += 1.0  # what an optimizer does
    assert np.array_equal(again.layers[0].params["W"], net.layers[0].params["W"] + 1.0)
    assert np.shares_memory(again.layers[2].params["b"], theta)
