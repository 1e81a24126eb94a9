"""The convolutional layers against PyTorch (CPU, float64, the same weights copied in): forward
values, input gradients and parameter gradients agree to 1e-10 of the largest value, across
kernel sizes, strides, paddings ("same" too), odd image sizes and pooling windows that do not
divide the image; BatchNorm in training and evaluation, with the running statistics of several
batches; and the reference network of issue 28, its gradients and a few Adam steps. On the NumPy
backend, the numba backend and the strict stand-in for CuPy (``cpu_backend``)."""
import numpy as np
import pytest

import barenet as bn

torch = pytest.importorskip("torch")
F = torch.nn.functional
TOLERANCE = 1e-10


def assert_close(actual, expected):
    """Within 1e-10 of PyTorch's, relative to the array's largest value (or to 1 if below)."""
    actual = bn.to_numpy(actual)
    expected = expected.detach().numpy() if isinstance(expected, torch.Tensor) else np.asarray(expected)
    assert actual.shape == expected.shape
    scale = max(1.0, float(np.abs(expected).max(initial=0)))
    assert float(np.abs(actual - expected).max(initial=0)) <= TOLERANCE * scale


def _built(layer, rng):
    """The layer built in float64, with biases, γ and β drawn at random (zeros and ones would
    hide a wrong gradient); its parameters as NumPy arrays, by name."""
    bn.Network(layer, dtype="float64", seed=0)
    for name, value in layer.params.items():
        if name in ("b", "beta", "gamma"):
            layer.params[name] = rng.normal(size=value.shape) + (1.0 if name == "gamma" else 0.0)
    return {name: bn.to_numpy(value).copy() for name, value in layer.params.items()}


def _compare(layer, module, x, rng, params=(), training=True):
    """Forward, then backward of a random dY, through the barenet layer and the torch module;
    ``params`` pairs a barenet parameter's name with the torch parameter it equals."""
    y = layer.forward(bn.to_device(x), training)
    grad_out = rng.normal(size=y.shape)
    grad_in = layer.backward(bn.to_device(grad_out))
    xt = torch.tensor(x, requires_grad=True)
    yt = module(xt)
    yt.backward(torch.tensor(grad_out))
    assert_close(y, yt)
    assert_close(grad_in, xt.grad)
    for name, their_param in params:
        assert_close(layer.grads[name], their_param.grad)


CONVOLUTIONS = {  # name: (Conv2D keyword arguments, image height and width)
    "3x3": (dict(kernel_size=3), (7, 9)),
    "3x3-pad1": (dict(kernel_size=3, padding=1), (8, 8)),
    "3x3-stride2-pad1": (dict(kernel_size=3, stride=2, padding=1), (9, 8)),
    "5x5-stride2-pad2": (dict(kernel_size=5, stride=2, padding=2), (11, 13)),
    "5x5-stride3": (dict(kernel_size=5, stride=3), (13, 12)),  # the stride leaves pixels out
    "1x1": (dict(kernel_size=1), (5, 6)),
    "2x3-stride(1,2)-pad(1,0)": (dict(kernel_size=(2, 3), stride=(1, 2), padding=(1, 0)), (7, 10)),
    "same-3x3": (dict(kernel_size=3, padding="same"), (7, 9)),
    "same-4x4": (dict(kernel_size=4, padding="same"), (6, 7)),  # even: 1 before, 2 after
    "same-3x5": (dict(kernel_size=(3, 5), padding="same"), (5, 8)),
    "valid": (dict(kernel_size=3, padding="valid"), (6, 6)),
    "no-bias": (dict(kernel_size=3, padding=1, bias=False), (5, 7)),
    "kernel-as-large-as-the-image": (dict(kernel_size=(5, 6)), (5, 6)),
}


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")  # torch pads a copy: fine
@pytest.mark.parametrize("name", CONVOLUTIONS)
def test_conv2d_matches_torch_conv2d(name, rng, cpu_backend):
    options, (height, width) = CONVOLUTIONS[name]
    layer = bn.Conv2D(3, 4, **options)
    params = _built(layer, rng)
    conv = torch.nn.Conv2d(3, 4, **options).double()
    with torch.no_grad():
        conv.weight.copy_(torch.tensor(params["W"]))  # the same layout: (out, in, kh, kw)
        if conv.bias is not None:
            conv.bias.copy_(torch.tensor(params["b"]))
    pairs = [("W", conv.weight)] + ([("b", conv.bias)] if conv.bias is not None else [])
    _compare(layer, conv, rng.normal(size=(2, 3, height, width)), rng, pairs)


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")
@pytest.mark.parametrize("name", ["3x3-pad1", "5x5-stride2-pad2", "same-4x4", "no-bias"])
def test_conv2d_in_inference_builds_its_columns_a_few_images_at_a_time_and_still_matches_torch(
        name, rng, cpu_backend, monkeypatch):
    """Chunks of two images here (the budget is set to two images' columns): Y as torch's, and a
    backward after it (in evaluation, on a layer used alone) builds the columns from the X it kept."""
    from barenet.core import conv as conv_module
    options, (height, width) = CONVOLUTIONS[name]
    layer = bn.Conv2D(3, 4, **options)
    params = _built(layer, rng)
    _, oh, ow = layer.output_shape((3, height, width))
    monkeypatch.setattr(conv_module, "INFERENCE_BYTES", 2 * 3 * layer.kernel_size[0] * layer.kernel_size[1] * oh * ow * 8)
    conv = torch.nn.Conv2d(3, 4, **options).double()
    with torch.no_grad():
        conv.weight.copy_(torch.tensor(params["W"]))
        if conv.bias is not None:
            conv.bias.copy_(torch.tensor(params["b"]))
    pairs = [("W", conv.weight)] + ([("b", conv.bias)] if conv.bias is not None else [])
    x = rng.normal(size=(5, 3, height, width))  # chunks of 2, 2 and 1 images
    _compare(layer, conv, x, rng, pairs, training=False)
    assert layer.cols is not None  # built by backward
    inference = bn.to_numpy(layer.forward(bn.to_device(x), training=False))
    np.testing.assert_array_equal(inference, bn.to_numpy(layer.forward(bn.to_device(x), training=True)))


POOLINGS = {  # name: (barenet layer, torch function, image height and width)
    "max-2": (lambda: bn.MaxPool2D(2), lambda x: F.max_pool2d(x, 2), (8, 8)),
    "max-2-odd-image": (lambda: bn.MaxPool2D(2), lambda x: F.max_pool2d(x, 2), (7, 9)),
    "max-3-stride2-overlapping": (lambda: bn.MaxPool2D(3, 2), lambda x: F.max_pool2d(x, 3, 2), (9, 8)),
    "max-3-stride1": (lambda: bn.MaxPool2D(3, 1), lambda x: F.max_pool2d(x, 3, 1), (5, 6)),
    "max-2x3-stride(1,2)": (lambda: bn.MaxPool2D((2, 3), (1, 2)), lambda x: F.max_pool2d(x, (2, 3), (1, 2)), (6, 9)),
    # 272 offsets: more than the 256 a byte counts, so the argmax is kept in a wider integer
    "max-17x16-window": (lambda: bn.MaxPool2D((17, 16), 1), lambda x: F.max_pool2d(x, (17, 16), 1), (18, 18)),
    "avg-2": (lambda: bn.AvgPool2D(2), lambda x: F.avg_pool2d(x, 2), (8, 8)),
    "avg-2-odd-image": (lambda: bn.AvgPool2D(2), lambda x: F.avg_pool2d(x, 2), (7, 9)),
    "avg-3-stride2-overlapping": (lambda: bn.AvgPool2D(3, 2), lambda x: F.avg_pool2d(x, 3, 2), (9, 8)),
    "avg-2x3-stride(1,2)": (lambda: bn.AvgPool2D((2, 3), (1, 2)), lambda x: F.avg_pool2d(x, (2, 3), (1, 2)), (6, 9)),
    "global-avg": (bn.GlobalAvgPool2D, lambda x: F.adaptive_avg_pool2d(x, 1).flatten(1), (5, 7)),
}


@pytest.mark.parametrize("name", POOLINGS)
def test_pooling_matches_torch(name, rng, cpu_backend):
    make, theirs, (height, width) = POOLINGS[name]
    _compare(make(), theirs, rng.normal(size=(2, 3, height, width)), rng)


def test_max_pooling_breaks_ties_as_torch_does(rng, cpu_backend):
    """After a ReLU many windows hold only zeros: the gradient goes to the same one as in torch
    (the first in the window), also where overlapping windows share a winner."""
    x = np.maximum(np.round(rng.normal(size=(3, 2, 9, 9))), 0.0)
    _compare(bn.MaxPool2D(3, 2), lambda t: F.max_pool2d(t, 3, 2), x, rng)
    _compare(bn.MaxPool2D(2), lambda t: F.max_pool2d(t, 2), x, rng)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
@pytest.mark.parametrize("kernel_size, stride", [(2, None), (3, 2)])  # apart, and overlapping
def test_max_pooling_routes_a_non_finite_gradient_only_to_the_winner_as_torch_does(bad, kernel_size, stride, rng,
                                                                                     cpu_backend):
    """0 · NaN is NaN: the gradient of the pixels that lost stays 0 however bad dY is."""
    x = rng.normal(size=(2, 3, 7, 7))
    layer = bn.MaxPool2D(kernel_size, stride)
    y = layer.forward(bn.to_device(x))
    grad_out = rng.normal(size=y.shape)
    grad_out[0, 1, 1, 2] = bad
    ours = bn.to_numpy(layer.backward(bn.to_device(grad_out)))
    t = torch.tensor(x, requires_grad=True)
    F.max_pool2d(t, kernel_size, stride).backward(torch.tensor(grad_out))
    np.testing.assert_array_equal(ours, t.grad.numpy())
    assert np.count_nonzero(~np.isfinite(ours)) == 1


@pytest.mark.parametrize("kernel_size, stride", [(2, None), (3, 2), ((2, 3), (1, 2))])
def test_max_pooling_takes_np_argmax_of_each_window_nan_included(kernel_size, stride, rng, cpu_backend):
    """Each window's maximum and winner are np.argmax's: the first of tied maxima, and the first NaN
    over every number (the NaN then is the maximum). Checked window by window, by a loop."""
    x = np.maximum(np.round(rng.normal(size=(2, 3, 8, 9))), 0.0)  # many ties
    x[0, 0, 1, 1] = x[0, 2, 4, 5] = x[1, 1, 0, 0] = np.nan
    x[1, 2, :3, :3] = np.nan  # windows of NaN only
    layer = bn.MaxPool2D(kernel_size, stride)
    y = bn.to_numpy(layer.forward(bn.to_device(x)))
    (kh, kw), (sh, sw) = layer.kernel_size, layer.stride
    for m, c, i, j in np.ndindex(*y.shape):
        window = x[m, c, sh * i:sh * i + kh, sw * j:sw * j + kw].ravel()
        assert int(layer.argmax[m, c, i, j]) == np.argmax(window)
        np.testing.assert_array_equal(y[m, c, i, j], window[np.argmax(window)])
    assert np.isnan(y).any()


def test_flatten_and_reshape_match_torch(rng, cpu_backend):
    x = rng.normal(size=(4, 3, 5, 6))
    _compare(bn.Flatten(), torch.nn.Flatten(), x, rng)
    _compare(bn.Reshape((6, 15)), lambda t: t.reshape(4, 6, 15), x, rng)
    _compare(bn.Reshape((2, 3, 15)), lambda t: t.reshape(4, 2, 3, 15), x.reshape(4, 90), rng)


BATCHNORMS = {  # name: (barenet class, torch class, shape of a batch, keyword arguments)
    "1D": (bn.BatchNorm1D, torch.nn.BatchNorm1d, (16, 5), {}),
    "1D-momentum-eps": (bn.BatchNorm1D, torch.nn.BatchNorm1d, (6, 5), dict(eps=1e-3, momentum=0.3)),
    "2D": (bn.BatchNorm2D, torch.nn.BatchNorm2d, (4, 5, 6, 7), {}),
    "2D-momentum-eps": (bn.BatchNorm2D, torch.nn.BatchNorm2d, (3, 5, 4, 3), dict(eps=0.01, momentum=0.05)),
    "2D-one-image": (bn.BatchNorm2D, torch.nn.BatchNorm2d, (1, 5, 3, 4), {}),
}


def _batchnorm_twins(name, rng):
    ours_class, their_class, shape, options = BATCHNORMS[name]
    layer = ours_class(5, **options)
    params = _built(layer, rng)
    module = their_class(5, **options).double()
    with torch.no_grad():
        module.weight.copy_(torch.tensor(params["gamma"]))
        module.bias.copy_(torch.tensor(params["beta"]))
    return layer, module, shape


@pytest.mark.parametrize("name", BATCHNORMS)
def test_batchnorm_in_training_matches_torch_and_so_do_its_running_statistics(name, rng, cpu_backend):
    layer, module, shape = _batchnorm_twins(name, rng)
    module.train()
    for _ in range(4):  # each batch: values, gradients; the running statistics move each time
        module.zero_grad()
        x = rng.normal(2.0, 3.0, size=shape)
        _compare(layer, module, x, rng, [("gamma", module.weight), ("beta", module.bias)], training=True)
    assert_close(layer.buffers["running_mean"], module.running_mean)
    assert_close(layer.buffers["running_var"], module.running_var)


@pytest.mark.parametrize("name", BATCHNORMS)
def test_batchnorm_in_evaluation_uses_the_running_statistics_as_torch_does(name, rng, cpu_backend):
    layer, module, shape = _batchnorm_twins(name, rng)
    for _ in range(3):
        x = bn.to_device(rng.normal(-1.0, 2.0, size=shape))
        layer.forward(x, training=True)
        module.train()(torch.tensor(bn.to_numpy(x)))
    module.eval()
    _compare(layer, module, rng.normal(size=shape), rng, [("gamma", module.weight), ("beta", module.bias)],
             training=False)


# -- the reference network of issue 28 --------------------------------------------------------------

def _reference_twins(seed=0, network=bn.Network):
    """conv 1→32 3×3 pad 1, ReLU, max-pool 2, conv 32→64 3×3 pad 1, ReLU, max-pool 2, flatten,
    dense 128, ReLU, dense 10: barenet's (taking rows of 784) and torch's, with the same weights."""
    ours = network(bn.Reshape((1, 28, 28)), bn.Conv2D(1, 32, 3, padding=1), bn.ReLU(), bn.MaxPool2D(2),
                      bn.Conv2D(32, 64, 3, padding=1), bn.ReLU(), bn.MaxPool2D(2), bn.Flatten(),
                      bn.Dense(3136, 128), bn.ReLU(), bn.Dense(128, 10), dtype="float64", seed=seed)
    theirs = torch.nn.Sequential(
        torch.nn.Conv2d(1, 32, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(32, 64, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2), torch.nn.Flatten(),
        torch.nn.Linear(3136, 128), torch.nn.ReLU(), torch.nn.Linear(128, 10)).double()
    rng = np.random.default_rng(seed)
    pairs = []  # (barenet layer, torch module, whether W is stored transposed: Dense's (in, out))
    for layer, module in zip(ours.layers[1:], theirs):
        if layer.params:
            layer.params["b"] = rng.normal(0.0, 0.05, size=layer.params["b"].shape)
            pairs.append((layer, module, isinstance(layer, bn.Dense)))
    with torch.no_grad():
        for layer, module, transposed in pairs:
            W = bn.to_numpy(layer.params["W"])
            module.weight.copy_(torch.tensor(W.T if transposed else W))
            module.bias.copy_(torch.tensor(bn.to_numpy(layer.params["b"])))
    return ours, theirs, pairs


def _digits(rng, n=8):
    """Rows of 784 values in [0, 1], mostly zero like MNIST's, and their labels."""
    return rng.random((n, 784)) * (rng.random((n, 784)) < 0.3), rng.integers(0, 10, n)


def test_the_reference_network_matches_torch_forward_and_every_gradient(rng, cpu_backend):
    ours, theirs, pairs = _reference_twins()
    X, y = _digits(rng)
    loss = bn.CrossEntropy()
    value = loss.forward(ours.forward(bn.to_device(X)), bn.to_device(y))
    grad_input = ours.backward(loss.backward())
    xt = torch.tensor(X.reshape(-1, 1, 28, 28), requires_grad=True)
    logits = theirs(xt)
    their_value = F.cross_entropy(logits, torch.tensor(y))
    their_value.backward()
    assert_close(ours.forward(bn.to_device(X)), logits)
    assert_close(value, their_value)
    assert_close(grad_input, xt.grad.reshape(-1, 784))
    for layer, module, transposed in pairs:
        assert_close(layer.grads["W"], module.weight.grad.T if transposed else module.weight.grad)
        assert_close(layer.grads["b"], module.bias.grad)


def test_the_reference_network_follows_torch_for_five_adam_steps(rng, cpu_backend):
    """``train_step``'s forward, loss, backward and Adam update against torch's loop: the
    weights after each step agree to 1e-10."""
    model, theirs, pairs = _reference_twins(seed=1, network=bn.Sequential)
    optimizer = bn.Adam(1e-3)
    their_optimizer = torch.optim.Adam(theirs.parameters(), lr=1e-3)
    for step in range(5):
        X, y = _digits(rng, 16)
        model.train_step(X, y, loss=bn.CrossEntropy(), optimizer=optimizer if step == 0 else None)
        their_optimizer.zero_grad()
        F.cross_entropy(theirs(torch.tensor(X.reshape(-1, 1, 28, 28))), torch.tensor(y)).backward()
        their_optimizer.step()
        for layer, module, transposed in pairs:
            assert_close(layer.params["W"], module.weight.T if transposed else module.weight)
            assert_close(layer.params["b"], module.bias)
