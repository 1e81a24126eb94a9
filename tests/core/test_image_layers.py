"""The layers for images (convolution, pooling, batch normalisation, flatten and reshape): each
one's backward matches finite differences inside a network, backward leaves its argument alone,
shapes pass through a network and a mismatch names both layers, and bad arguments are refused
with the argument's name."""
import re

import numpy as np
import pytest

import barenet as bn

# Every layer that takes images of 3 channels, 6 × 7 pixels, inside the same network.
IMAGE_LAYERS = {
    "Conv2D": lambda: bn.Conv2D(3, 4, 3),
    "Conv2D-stride2-pad1": lambda: bn.Conv2D(3, 2, 3, stride=2, padding=1),
    "Conv2D-same-even-kernel": lambda: bn.Conv2D(3, 2, (2, 4), padding="same"),
    "Conv2D-no-bias": lambda: bn.Conv2D(3, 2, (3, 2), stride=(2, 1), bias=False),
    "MaxPool2D": lambda: bn.MaxPool2D(2),
    "MaxPool2D-overlapping": lambda: bn.MaxPool2D(3, 2),
    "AvgPool2D": lambda: bn.AvgPool2D(2),
    "AvgPool2D-overlapping": lambda: bn.AvgPool2D((3, 2), 1),
    "GlobalAvgPool2D": bn.GlobalAvgPool2D,
    "BatchNorm2D": lambda: bn.BatchNorm2D(3),
    "Flatten": bn.Flatten,
    "Reshape": lambda: bn.Reshape((6, 3, 7)),
    "Dropout": lambda: bn.Dropout(0.3),
}


def _network(layer, *, first=False, dtype="float64"):
    """[Conv2D(2, 3), Tanh] (unless ``first``), the layer, then Flatten and Dense(·, 3); the
    network takes images (2 or 3, 6, 7)."""
    before = [] if first else [bn.Conv2D(2, 3, 3, padding=1), bn.Tanh()]
    shape = (3, 6, 7)
    for known in [layer, bn.Flatten()]:
        shape = known.output_shape(shape)
    tail = [bn.Flatten(), bn.Dense(shape[0], 3)] if not isinstance(layer, bn.GlobalAvgPool2D) else [bn.Dense(3, 3)]
    return bn.Network(*before, layer, *tail, dtype=dtype, seed=3)


@pytest.mark.parametrize("name", IMAGE_LAYERS)
def test_layer_backward_matches_finite_differences_inside_a_network(name, rng):
    model = _network(IMAGE_LAYERS[name]())
    report = bn.check_gradients(model, rng.normal(size=(4, 2, 6, 7)), rng.integers(0, 3, 4), bn.CrossEntropy(),
                                verbose=False)
    assert report.passed(1e-6), str(report)
    assert set(report.errors) == set(model.params) | {"input"}


@pytest.mark.parametrize("name", IMAGE_LAYERS)
def test_layer_first_in_network_gets_input_gradient_right(name, rng):
    model = _network(IMAGE_LAYERS[name](), first=True)
    X = rng.normal(size=(3, 3, 6, 7))
    if model.input_width is not None:  # Reshape takes rows
        X = X.reshape(3, model.input_width)
    report = bn.check_gradients(model, X, rng.normal(size=(3, 3)), bn.MSE(), verbose=False)
    assert report.passed(1e-6), str(report)


def test_batchnorm1d_backward_matches_finite_differences_between_dense_layers(rng):
    model = bn.Network(bn.Dense(4, 5), bn.Tanh(), bn.BatchNorm1D(5, momentum=0.5), bn.Dense(5, 3),
                       dtype="float64", seed=1)
    report = bn.check_gradients(model, rng.normal(size=(6, 4)), rng.integers(0, 3, 6), bn.CrossEntropy(),
                                verbose=False)
    assert report.passed(1e-6), str(report)


def test_a_small_convolutional_network_matches_finite_differences_end_to_end(rng):
    """(A bias before a BatchNorm has a gradient of exactly zero, which finite differences can
    only measure as noise: those layers have none, as usual.)"""
    model = bn.Network(bn.Reshape((1, 8, 8)), bn.Conv2D(1, 3, 3, padding="same", bias=False), bn.BatchNorm2D(3),
                       bn.ReLU(), bn.MaxPool2D(2), bn.Conv2D(3, 4, 2, stride=2), bn.GELU(), bn.AvgPool2D(2),
                       bn.Flatten(), bn.Dense(4, 6, bias=False), bn.BatchNorm1D(6), bn.Tanh(), bn.Dense(6, 3),
                       dtype="float64", seed=5)
    report = bn.check_gradients(model, rng.normal(size=(5, 64)), rng.integers(0, 3, 5), bn.CrossEntropy(),
                                verbose=False)
    assert report.passed(1e-6), str(report)


ALL_NEW = {**IMAGE_LAYERS, "BatchNorm1D": lambda: bn.BatchNorm1D(4)}


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("name", ALL_NEW)
def test_forward_and_backward_never_modify_their_arguments(name, training, rng):
    layer = ALL_NEW[name]()
    x = rng.normal(size=(5, 4) if name == "BatchNorm1D" else (5, 3, 6, 7))
    bn.Network(layer, dtype="float64", seed=0)
    x_before = x.copy()
    y = layer.forward(x, training)
    grad_out = rng.normal(size=y.shape)
    grad_before = grad_out.copy()
    grad_in = layer.backward(grad_out)
    assert np.array_equal(x, x_before) and np.array_equal(grad_out, grad_before)
    assert grad_in.shape == x.shape


def test_dropout_works_on_images_entry_by_entry(rng):
    layer = bn.Dropout(0.25, seed=0)
    x = rng.normal(size=(64, 3, 8, 8)) + 5.0
    y = layer.forward(x, training=True)
    kept = y != 0
    assert y.shape == x.shape
    assert 0.7 < kept.mean() < 0.8  # each entry on its own: no whole channel or sample dropped together
    assert kept.any(axis=(2, 3)).all() and not kept.all(axis=(2, 3)).any()
    np.testing.assert_allclose(y[kept], x[kept] / 0.75)
    grad = rng.normal(size=x.shape)
    np.testing.assert_allclose(layer.backward(grad), grad * kept / 0.75)
    assert layer.forward(x, training=False) is x


# -- shapes through a network ---------------------------------------------------------------------

def test_the_reference_network_takes_rows_and_summarises_its_shapes():
    model = bn.Network(bn.Reshape((1, 28, 28)), bn.Conv2D(1, 32, 3, padding=1), bn.ReLU(), bn.MaxPool2D(2),
                       bn.Conv2D(32, 64, 3, padding=1), bn.ReLU(), bn.MaxPool2D(2), bn.Flatten(),
                       bn.Dense(3136, 128), bn.ReLU(), bn.Dense(128, 10), seed=0)
    assert (model.input_shape, model.input_width, model.output_shape_, model.output_width_) == ((784,), 784, (10,), 10)
    lines = []
    model.summary(print_fn=lines.append)
    text = "\n".join(lines)
    for shown in ["(batch, 1, 28, 28)", "(batch, 32, 28, 28)", "(batch, 32, 14, 14)", "(batch, 64, 7, 7)",
                  "(batch, 3136)", "(batch, 10)", "320", "18,496", "401,536"]:
        assert shown in text
    assert model.forward(np.zeros((2, 784), np.float32)).shape == (2, 10)


def test_a_network_that_starts_with_a_convolution_takes_images_of_any_size():
    model = bn.Network(bn.Conv2D(3, 4, 3), bn.GlobalAvgPool2D(), bn.Dense(4, 2), seed=0)
    assert model.input_shape == (3, None, None) and model.input_width is None and model.output_width_ == 2
    for height, width in [(5, 5), (9, 12)]:
        assert model.forward(np.zeros((2, 3, height, width), np.float32)).shape == (2, 2)
    lines = []
    model.summary(print_fn=lines.append)
    assert "(batch, 4, ?, ?)" in "\n".join(lines)


@pytest.mark.parametrize("layers, words", [
    ([bn.Conv2D(1, 4, 3), bn.Conv2D(3, 4, 3)], ["layer 1 Conv2D(3, 4", "layer 0 Conv2D(1, 4", "3 channels"]),
    ([bn.Reshape((1, 8, 8)), bn.Conv2D(1, 2, 3), bn.Dense(72, 3)], ["layer 2 Dense(72, 3)", "Flatten()"]),
    ([bn.Reshape((1, 8, 8)), bn.Conv2D(1, 2, 3), bn.Flatten(), bn.Dense(100, 3)], ["expects 100", "got 72"]),
    ([bn.Reshape((1, 4, 4)), bn.Conv2D(1, 2, 5)], ["does not fit", "(4, 4)"]),
    ([bn.Reshape((1, 4, 4)), bn.MaxPool2D(5)], ["MaxPool2D(5)", "does not fit"]),
    ([bn.Dense(4, 6), bn.Reshape((2, 2, 2))], ["Reshape((2, 2, 2))", "8 values"]),
    ([bn.Dense(4, 6), bn.MaxPool2D(2)], ["MaxPool2D(2)", "takes images"]),
    ([bn.Reshape((2, 4, 4)), bn.BatchNorm2D(3)], ["BatchNorm2D(3)", "(2, 4, 4)"]),
    ([bn.Dense(4, 6), bn.BatchNorm1D(5)], ["BatchNorm1D(5)", "(6,)"]),
])
def test_a_shape_mismatch_names_both_layers(layers, words):
    with pytest.raises(ValueError) as error:
        bn.Network(*layers, seed=0)
    for word in words:
        assert word in str(error.value)


def test_images_given_to_a_network_of_rows_and_rows_given_to_a_convolution_are_refused(rng):
    rows = bn.Network(bn.Reshape((1, 4, 4)), bn.Conv2D(1, 2, 3), bn.Flatten(), bn.Dense(8, 2), dtype="float64")
    with pytest.raises(ValueError, match="X has 1 features|must be 2-D"):
        bn.check_gradients(rows, rng.normal(size=(2, 1, 4, 4)), [0, 1], bn.CrossEntropy(), verbose=False)
    images = bn.Network(bn.Conv2D(1, 2, 3), bn.Flatten(), bn.Dense(8, 2), dtype="float64")
    with pytest.raises(ValueError, match=r"X must have shape \(samples, 1, any, any\)"):
        bn.check_gradients(images, rng.normal(size=(2, 16)), [0, 1], bn.CrossEntropy(), verbose=False)
    with pytest.raises(ValueError, match="does not fit"):
        images.forward(rng.normal(size=(2, 1, 2, 2)))


@pytest.mark.parametrize("make, argument", [
    (lambda: bn.Conv2D(0, 4, 3), "in_channels"),
    (lambda: bn.Conv2D(1, 4, 0), "kernel_size"),
    (lambda: bn.Conv2D(1, 4, (3, 3, 3)), "kernel_size"),
    (lambda: bn.Conv2D(1, 4, 3, stride=-1), "stride"),
    (lambda: bn.Conv2D(1, 4, 3, stride=0), "stride"),
    (lambda: bn.Conv2D(1, 4, 3, padding=-1), "padding"),
    (lambda: bn.Conv2D(1, 4, 3, padding=3), "padding"),
    (lambda: bn.Conv2D(1, 4, 3, stride=2, padding="same"), "padding='same'"),
    (lambda: bn.Conv2D(1, 4, 3, padding="full"), "padding"),
    (lambda: bn.Conv2D(1, 2**40, 3), "out_channels"),
    (lambda: bn.Conv2D(1, 4, 2**20), "kernel_size"),
    (lambda: bn.Conv2D(1, 4, 3.0), "kernel_size"),
    (lambda: bn.MaxPool2D(0), "kernel_size"),
    (lambda: bn.AvgPool2D(2, stride=-2), "stride"),
    (lambda: bn.BatchNorm2D(0), "num_features"),
    (lambda: bn.BatchNorm1D(4, momentum=1.5), "momentum"),
    (lambda: bn.BatchNorm1D(4, eps=0.0), "eps"),
    (lambda: bn.Reshape((1, -28, 28)), "shape"),
    (lambda: bn.Reshape(784), "shape"),
    (lambda: bn.Reshape((2**20, 2**20)), "shape"),
])
def test_bad_arguments_are_refused_naming_them(make, argument):
    with pytest.raises((ValueError, TypeError), match=argument):
        make()


def test_batchnorm_refuses_to_train_on_one_value_per_channel():
    layer = bn.BatchNorm1D(3)
    with pytest.raises(ValueError, match="more than one value per channel"):
        layer.forward(np.ones((1, 3)), training=True)
    assert layer.forward(np.ones((1, 3)), training=False).shape == (1, 3)  # inference is fine


@pytest.mark.parametrize("name", ALL_NEW)
def test_each_layer_is_rebuilt_from_its_config_and_declares_its_arrays(name):
    layer = ALL_NEW[name]()
    again = type(layer)(**layer.get_config())
    assert repr(again) == repr(layer) and again.get_config() == layer.get_config()
    bn.Network(layer, dtype="float64", seed=0)
    assert {k: v.shape for k, v in layer.params.items()} == layer.param_shapes()
    assert {k: v.shape for k, v in getattr(layer, "buffers", {}).items()} == layer.buffer_shapes()


def test_conv2d_starts_with_he_initialisation_and_zero_biases():
    layer = bn.Conv2D(16, 64, (3, 5))
    bn.Network(layer, seed=0)
    W, b = layer.params["W"], layer.params["b"]
    assert W.shape == (64, 16, 3, 5) and W.dtype == np.float32 and not b.any()
    assert W.std() == pytest.approx(np.sqrt(2 / (16 * 3 * 5)), rel=0.03)  # fan_in = in · kh · kw
    assert abs(W.mean()) < 0.01


@pytest.mark.parametrize("backend", ["numpy", "numba"])
@pytest.mark.parametrize("layers, batch, says", [
    (lambda: [bn.Dense(2, 8), bn.ReLU(), bn.Dense(8, 3)], (4, 3), "Dense(2, 8) expects 2 input features, got 3"),
    (lambda: [bn.Reshape((1, 8, 8)), bn.Conv2D(1, 4, 3, padding=1), bn.Flatten(), bn.Dense(256, 3)], (5, 63),
     "needs samples of 64 values"),
    (lambda: [bn.Conv2D(1, 4, 3, padding=1), bn.ReLU(), bn.MaxPool2D(2), bn.Flatten(), bn.Dense(64, 3)],
     (4, 1, 10, 10), "Dense(64, 3) expects 64 input features, got 100"),
    (lambda: [bn.Conv2D(3, 4, 3)], (2, 1, 8, 8), "channels"),
])
def test_a_batch_the_network_cannot_take_is_refused_naming_the_layer(layers, batch, says, backend):
    """forward and predict, not only fit: where NumPy would raise from its matmul or its reshape."""
    if backend == "numba":
        pytest.importorskip("numba")
    model = bn.Sequential(*layers(), seed=0, backend=backend)
    X = np.ones(batch, dtype=np.float32)
    with pytest.raises(ValueError, match=f"samples of shape {re.escape(str(batch[1:]))} cannot go through") as raised:
        model.forward(X)
    assert says in str(raised.value)
    with pytest.raises(ValueError) as raised:  # predict checks X first; either way, no word from NumPy's insides
        model.predict(X)
    assert "matmul" not in str(raised.value) and "reshape array" not in str(raised.value)


@pytest.mark.parametrize("name", ["numpy", "numba"])
def test_inference_through_a_convolution_never_holds_the_whole_batch_of_columns(name):
    """A batch's columns are kh·kw times its images, here 116 MB for 256 images: inference builds
    them a few images at a time, so that the pass (traced by tracemalloc, NumPy's allocations on
    every thread) takes its output and about one budget of columns more, never all of them."""
    import tracemalloc

    from barenet.core import conv

    if name == "numba":
        pytest.importorskip("numba", reason="the numba backend needs numba (pip install 'barenet[fast]')")
    model = bn.Sequential(bn.Conv2D(16, 16, 3, padding=1), seed=0, backend=name)
    x = np.random.default_rng(0).normal(size=(256, 16, 28, 28)).astype(np.float32)
    expected = model.forward(x, training=True)
    model.forward(x[:2], training=False)  # compiled, on numba
    tracemalloc.start()
    try:
        y = model.forward(x, training=False)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    columns = 256 * 16 * 9 * 28 * 28 * 4
    assert peak < y.nbytes + 2 * conv.INFERENCE_BYTES + (4 << 20) < columns / 2
    np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", ["numpy", "numba"])
def test_an_empty_batch_goes_through_every_image_layer_and_batch_norm_refuses_to_train_on_it(name):
    """Data-parallel training runs a process's share of a last batch smaller than the number of
    processes, which may be empty (the random draws must still be made): Flatten's reshape to −1
    could not resolve it, nor could numba's chunks and BatchNorm's reshape. Batch statistics of
    nothing are refused by name, as the reference does."""
    if name == "numba":
        pytest.importorskip("numba", reason="the numba backend needs numba (pip install 'barenet[fast]')")
    empty = np.zeros((0, 64), dtype=np.float32)
    for norm in (False, True):
        layers = [bn.Reshape((1, 8, 8)), bn.Conv2D(1, 4, 3, padding=1), *([bn.BatchNorm2D(4)] if norm else []),
                  bn.ReLU(), bn.MaxPool2D(2), bn.AvgPool2D(2, 1), bn.Dropout(0.2), bn.GlobalAvgPool2D(), bn.Dense(4, 3)]
        model = bn.Sequential(*layers, seed=0, backend=name)
        assert model.forward(empty, training=False).shape == (0, 3)
        if norm:
            with pytest.raises(ValueError, match=r"BatchNorm2D\(4\) needs more than one value per channel"):
                model.forward(empty, training=True)
        else:
            assert model.forward(empty, training=True).shape == (0, 3)
    flatten = bn.Sequential(bn.Reshape((2, 4, 8)), bn.Flatten(), backend=name)
    assert flatten.forward(empty, training=True).shape == (0, 64)


def test_a_convolution_used_alone_in_inference_gives_the_type_training_gives_and_wants_a_forward_first():
    """Float64 weights on float32 images: inference's output has matmul's type, as training's. A
    backward with no forward before it says so, naming the layer."""
    layer = bn.Conv2D(2, 3, 3)
    bn.Network(layer, dtype="float64", seed=0)
    x = np.random.default_rng(0).normal(size=(2, 2, 5, 5)).astype(np.float32)
    inference, training = layer.forward(x, training=False), layer.forward(x, training=True)
    assert inference.dtype == training.dtype == np.float64
    np.testing.assert_array_equal(inference, training)
    with pytest.raises(RuntimeError, match=r"Conv2D\(2, 3, kernel_size=3\): backward needs a forward pass"):
        bn.Conv2D(2, 3, 3).backward(np.ones((2, 3, 3, 3)))
