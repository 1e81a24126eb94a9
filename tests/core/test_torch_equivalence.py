"""barenet against PyTorch (CPU): every layer's and loss's forward values and gradients, and
every optimizer's parameter trajectory, agree to 1e-10 in float64 and 1e-5 in float32, on the
NumPy backend, the numba backend and the strict stand-in for CuPy (``cpu_backend``)."""
import numpy as np
import pytest

import barenet as bn

torch = pytest.importorskip("torch")
F = torch.nn.functional

DTYPES = {"float64": torch.float64, "float32": torch.float32}
RTOL = {"float64": 1e-10, "float32": 1e-5}


def assert_close(actual, expected, dtype):
    """Equal to the dtype's tolerance, relative to each value and, for entries near zero, to the
    array's largest value (float32 rounding of O(1) terms leaves ~1e-7 absolute noise)."""
    actual = bn.to_numpy(actual)
    expected = np.asarray(expected)
    scale = max(1.0, float(np.abs(expected).max(initial=0)))
    np.testing.assert_allclose(actual, expected, rtol=RTOL[dtype], atol=RTOL[dtype] * scale * 1e-2
                               if dtype == "float64" else RTOL[dtype] * scale)

ACTIVATIONS = {
    "ReLU": (bn.ReLU, torch.relu),
    "LeakyReLU": (lambda: bn.LeakyReLU(0.07), lambda x: F.leaky_relu(x, 0.07)),
    "Sigmoid": (bn.Sigmoid, torch.sigmoid),
    "Tanh": (bn.Tanh, torch.tanh),
    "Softmax": (bn.Softmax, lambda x: torch.softmax(x, dim=1)),
    "GELU": (bn.GELU, lambda x: F.gelu(x, approximate="tanh")),
    "Identity": (bn.Identity, lambda x: x),
}


def _compare_function(ours, theirs, x, grad_out, dtype, params=()):
    """Forward values and input/parameter gradients of a barenet layer and a torch function."""
    y = ours.forward(bn.to_device(x))
    grad_in = ours.backward(bn.to_device(grad_out))
    xt = torch.tensor(x, requires_grad=True)
    yt = theirs(xt)
    yt.backward(torch.tensor(grad_out))
    assert_close(y, yt.detach().numpy(), dtype)
    assert_close(grad_in, xt.grad.numpy(), dtype)
    for ours_grad, their_param in params:
        assert_close(ours_grad(), their_param(), dtype)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name", ACTIVATIONS)
def test_activation_matches_torch(name, dtype, rng, cpu_backend):
    make, theirs = ACTIVATIONS[name]
    x = (rng.normal(size=(16, 7)) * 4).astype(dtype)
    x[0, :3] = [30.0, -30.0, 0.5]
    _compare_function(make(), theirs, x, rng.normal(size=(16, 7)).astype(dtype), dtype)


@pytest.mark.parametrize("backend_name", ["numpy", "numba"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_relu_takes_infinities_as_torch_does_alone_and_before_a_max_pooling(backend_name, dtype):
    """max(0, −∞) is 0, not −∞ · 0 = NaN; NaN stays NaN; a negative input gives +0: bit for bit as
    torch.relu, and so through ReLU then MaxPool2D, which numba runs as one pass, forward and, for
    finite dY, backward. Not compared: an infinite dY at a unit at or below 0 (dY · 0 is NaN, torch
    gives 0: only a training that has diverged meets one), the gradient at a NaN input, and the
    sign of the 0 that −0.0 gives (+0, np.maximum's; torch keeps −0)."""
    if backend_name == "numba":
        pytest.importorskip("numba", reason="the numba backend needs numba (pip install 'barenet[fast]')")
    x = np.array([[-np.inf, -3.0, -1e-30, 0.0, 2.0, np.inf, np.nan, -1.0, -0.0]] * 2, dtype=dtype)
    grad_out = np.array([[1.0, -2.0, 3.0, -4.0, -1.5, 2.0, 1.0, -2.0, 1.0]] * 2, dtype=dtype)
    model = bn.Sequential(bn.ReLU(), backend=backend_name, dtype=dtype)
    y, dx = model.forward(x), model.backward(grad_out)
    xt = torch.tensor(x, requires_grad=True)
    yt = torch.relu(xt)
    yt.backward(torch.tensor(grad_out))
    np.testing.assert_array_equal(y, yt.detach().numpy())
    negative_zero = (x == 0) & np.signbit(x)
    np.testing.assert_array_equal(np.signbit(y)[~negative_zero], np.signbit(yt.detach().numpy())[~negative_zero])
    assert not np.signbit(y[negative_zero]).any()
    finite_input = ~np.isnan(x)
    np.testing.assert_array_equal(dx[finite_input], xt.grad.numpy()[finite_input])
    images = np.array([[[[-np.inf, -1.0, 3.0, np.inf], [-2.0, -5.0, np.inf, 1.0],
                         [-4.0, -6.0, 0.0, -np.inf], [-7.0, -1.0, -np.inf, -np.inf]]]], dtype=dtype)
    grad_pooled = np.array([[[[2.0, 1.0], [-3.0, 0.5]]]], dtype=dtype)
    model = bn.Sequential(bn.ReLU(), bn.MaxPool2D(2), backend=backend_name, dtype=dtype)
    y, dx = model.forward(images), model.backward(grad_pooled)
    xt = torch.tensor(images, requires_grad=True)
    yt = F.max_pool2d(torch.relu(xt), 2)
    yt.backward(torch.tensor(grad_pooled))
    np.testing.assert_array_equal(y, yt.detach().numpy())
    np.testing.assert_array_equal(dx, xt.grad.numpy())


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("bias", [True, False])
def test_dense_matches_torch_linear(dtype, bias, rng):
    layer = bn.Sequential(bn.Dense(6, 4, bias=bias), dtype=dtype, seed=0).layers[0]
    linear = torch.nn.Linear(6, 4, bias=bias, dtype=DTYPES[dtype])
    with torch.no_grad():
        linear.weight.copy_(torch.tensor(bn.to_numpy(layer.params["W"]).T))
        if bias:
            layer.params["b"] = rng.normal(size=4)
            linear.bias.copy_(torch.tensor(bn.to_numpy(layer.params["b"])))
    params = [(lambda: layer.grads["W"], lambda: linear.weight.grad.numpy().T)]
    if bias:
        params.append((lambda: layer.grads["b"], lambda: linear.bias.grad.numpy()))
    x = rng.normal(size=(10, 6)).astype(dtype)
    _compare_function(layer, linear, x, rng.normal(size=(10, 4)).astype(dtype), dtype, params)


def _torch_ce(smoothing):
    return lambda z, t: F.cross_entropy(z, t, label_smoothing=smoothing)


LOSSES = {
    "CrossEntropy-ids": (bn.CrossEntropy, _torch_ce(0.0), "ids"),
    "CrossEntropy-probabilities": (bn.CrossEntropy, _torch_ce(0.0), "probabilities"),
    "CrossEntropy-smoothed": (lambda: bn.CrossEntropy(0.2), _torch_ce(0.2), "ids"),
    "MSE": (bn.MSE, F.mse_loss, "values"),
    "MAE": (bn.MAE, F.l1_loss, "values"),
    "BinaryCrossEntropy": (bn.BinaryCrossEntropy, F.binary_cross_entropy_with_logits, "unit"),
}


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name", LOSSES)
def test_loss_matches_torch(name, dtype, rng, cpu_backend):
    make, theirs, kind = LOSSES[name]
    z = (rng.normal(size=(12, 5)) * 5).astype(dtype)
    z[0, 0] = 60.0
    targets = {"ids": rng.integers(0, 5, 12),
               "probabilities": rng.dirichlet(np.ones(5), 12).astype(dtype),
               "values": rng.normal(size=(12, 5)).astype(dtype),
               "unit": rng.uniform(size=(12, 5)).astype(dtype)}[kind]
    loss = make()
    value = loss.forward(bn.to_device(z), bn.to_device(targets))
    grad = loss.backward()
    zt = torch.tensor(z, requires_grad=True)
    value_t = theirs(zt, torch.tensor(targets))
    value_t.backward()
    assert_close(value, value_t.item(), dtype)
    assert_close(grad, zt.grad.numpy(), dtype)


def _twin_models(seed=0):
    ours = bn.Sequential(bn.Dense(6, 8), bn.ReLU(), bn.Dense(8, 5), bn.Tanh(), bn.Dense(5, 3),
                         dtype="float64", seed=seed)
    theirs = torch.nn.Sequential(torch.nn.Linear(6, 8), torch.nn.ReLU(), torch.nn.Linear(8, 5),
                                 torch.nn.Tanh(), torch.nn.Linear(5, 3)).double()
    with torch.no_grad():
        for i, module in enumerate(theirs):
            if isinstance(module, torch.nn.Linear):
                module.weight.copy_(torch.tensor(bn.to_numpy(ours.layers[i].params["W"]).T))
                module.bias.copy_(torch.tensor(bn.to_numpy(ours.layers[i].params["b"]) + 0.01 * (i + 1)))
                ours.layers[i].params["b"] = module.bias.detach().numpy()
    return ours, theirs


OPTIMIZERS = {
    "SGD": (lambda: bn.SGD(0.1), lambda p: torch.optim.SGD(p, lr=0.1)),
    "SGD-momentum": (lambda: bn.SGD(0.05, momentum=0.9), lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9)),
    "SGD-nesterov-decay": (lambda: bn.SGD(0.05, momentum=0.8, nesterov=True, weight_decay=1e-2),
                           lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.8, nesterov=True, weight_decay=1e-2)),
    "SGD-dampening": (lambda: bn.SGD(0.05, momentum=0.9, dampening=0.3),
                      lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9, dampening=0.3)),
    "RMSProp": (lambda: bn.RMSProp(0.01), lambda p: torch.optim.RMSprop(p, lr=0.01)),
    "RMSProp-momentum-centered-decay": (
        lambda: bn.RMSProp(0.005, alpha=0.9, momentum=0.5, centered=True, weight_decay=1e-3),
        lambda p: torch.optim.RMSprop(p, lr=0.005, alpha=0.9, momentum=0.5, centered=True, weight_decay=1e-3)),
    "Adam": (lambda: bn.Adam(1e-2), lambda p: torch.optim.Adam(p, lr=1e-2)),
    "Adam-decay": (lambda: bn.Adam(3e-3, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1),
                   lambda p: torch.optim.Adam(p, lr=3e-3, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1)),
    "AdamW": (lambda: bn.AdamW(1e-2, weight_decay=0.05),
              lambda p: torch.optim.AdamW(p, lr=1e-2, weight_decay=0.05)),
}


def _run_twins(make_ours, make_theirs, rng, steps=20, clip=None, schedules=None):
    ours, theirs = _twin_models()
    opt, opt_t = make_ours(), make_theirs(theirs.parameters())
    scheduler = schedules[1](opt_t) if schedules else None
    loss = bn.CrossEntropy()
    for step in range(steps):
        X, y = rng.normal(size=(16, 6)), rng.integers(0, 3, 16)
        opt.progress = float(step)  # one step per "epoch" so per-epoch schedulers line up
        loss.forward(ours.forward(X), bn.to_device(y))
        ours.backward(loss.backward())
        opt.step(ours)
        opt_t.zero_grad()
        F.cross_entropy(theirs(torch.tensor(X)), torch.tensor(y)).backward()
        if clip is not None:
            torch.nn.utils.clip_grad_norm_(theirs.parameters(), clip)
        opt_t.step()
        if scheduler is not None:
            scheduler.step()
    for i, module in enumerate(theirs):
        if isinstance(module, torch.nn.Linear):
            np.testing.assert_allclose(bn.to_numpy(ours.layers[i].params["W"]), module.weight.detach().numpy().T,
                                       rtol=1e-8, atol=1e-12)
            np.testing.assert_allclose(bn.to_numpy(ours.layers[i].params["b"]), module.bias.detach().numpy(),
                                       rtol=1e-8, atol=1e-12)


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_optimizer_follows_torch_for_20_steps(name, rng, cpu_backend):
    _run_twins(*OPTIMIZERS[name], rng)


def test_adam_with_eps_hat_adds_epsilon_before_the_bias_correction(rng):
    """Keras's and scikit-learn's Adam: θ ← θ - lr·√(1-β₂ᵗ)/(1-β₁ᵗ) · m/(√v + ε), written out."""
    network = bn.Network(bn.Dense(4, 3), dtype="float64", seed=0, backend="numpy")
    theta, grad = network.parameter_vectors()
    expected, m, v = theta.copy(), np.zeros_like(theta), np.zeros_like(theta)
    optimizer = bn.Adam(0.05, betas=(0.8, 0.99), eps=1e-3, eps_hat=True)
    for t in range(1, 21):
        grad[...] = rng.normal(scale=10.0 ** -rng.integers(0, 6), size=grad.shape)
        m, v = 0.8 * m + 0.2 * grad, 0.99 * v + 0.01 * grad ** 2
        expected -= 0.05 * np.sqrt(1 - 0.99 ** t) / (1 - 0.8 ** t) * m / (np.sqrt(v) + 1e-3)
        optimizer.step(network)
    np.testing.assert_allclose(theta, expected, rtol=1e-12, atol=1e-15)


def test_gradient_clipping_matches_torch_clip_grad_norm(rng, cpu_backend):
    _run_twins(lambda: bn.SGD(0.3, momentum=0.5, clip_norm=0.05),
               lambda p: torch.optim.SGD(p, lr=0.3, momentum=0.5), rng, clip=0.05)


@pytest.mark.parametrize("ours, theirs", [
    (lambda: bn.schedules.StepDecay(0.1, step_size=3, gamma=0.5),
     lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=3, gamma=0.5)),
    (lambda: bn.schedules.CosineDecay(0.1, epochs=20, min_lr=0.001),
     lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=20, eta_min=0.001)),
    (lambda: bn.schedules.ExponentialDecay(0.1, gamma=0.9),
     lambda o: torch.optim.lr_scheduler.ExponentialLR(o, gamma=0.9)),
])
def test_schedules_match_torch_schedulers_at_whole_epochs(ours, theirs, rng):
    schedule = ours()
    _run_twins(lambda: bn.SGD(schedule, momentum=0.9), lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9),
               rng, schedules=(schedule, theirs))
    scheduler_opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
    scheduler = theirs(scheduler_opt)
    for epoch in range(21):  # torch's cosine rises again after T_max; ours stays at min_lr
        assert schedule(epoch) == pytest.approx(scheduler.get_last_lr()[0], rel=1e-12, abs=1e-15)
        scheduler_opt.step()
        scheduler.step()


def test_fit_matches_a_torch_training_loop(rng, cpu_backend):
    """fit with shuffle=False and the same batches gives the same weights as torch."""
    ours, theirs = _twin_models()
    X, y = rng.normal(size=(40, 6)), rng.integers(0, 3, 40)
    ours.fit(X, y, loss=bn.CrossEntropy(), optimizer=bn.Adam(0.01), epochs=3, batch_size=16,
             shuffle=False, verbose=0)
    opt = torch.optim.Adam(theirs.parameters(), lr=0.01)
    for _ in range(3):
        for start in range(0, 40, 16):
            opt.zero_grad()
            F.cross_entropy(theirs(torch.tensor(X[start:start + 16])), torch.tensor(y[start:start + 16])).backward()
            opt.step()
    np.testing.assert_allclose(bn.to_numpy(ours.forward(X)), theirs(torch.tensor(X)).detach().numpy(), rtol=1e-9,
                               atol=1e-12)
