"""The numba backend: NumPy arrays, with the hot loops compiled into one pass each. The NumPy code
is the reference: the optimizers' kernels must give its numbers bit for bit, ReLU's too, and the
fused softmax cross-entropy must agree to rounding."""
import subprocess
import sys

import numpy as np
import pytest

import barenet as bn
numba = pytest.importorskip("numba", reason="the numba backend needs numba (pip install 'barenet[fast]')")
from barenet.core import backend  # noqa: E402
from barenet.core.backends import fused as numba_backend  # noqa: E402
from barenet.core.backends import pool  # noqa: E402

OPTIMIZERS = {
    "SGD": lambda: bn.SGD(0.1),
    "SGD-decay": lambda: bn.SGD(0.1, weight_decay=1e-2),
    "SGD-momentum-dampening": lambda: bn.SGD(0.05, momentum=0.9, dampening=0.3, weight_decay=1e-3),
    "SGD-nesterov": lambda: bn.SGD(0.05, momentum=0.9, nesterov=True),
    "RMSProp": lambda: bn.RMSProp(1e-2),
    "RMSProp-centered-momentum-decay": lambda: bn.RMSProp(5e-3, alpha=0.9, centered=True, momentum=0.5,
                                                          weight_decay=1e-3),
    "Adam": lambda: bn.Adam(1e-3),
    "Adam-decay": lambda: bn.Adam(3e-3, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1),
    "AdamW": lambda: bn.AdamW(1e-2, weight_decay=0.05),
    "Adam-eps-hat": lambda: bn.Adam(1e-2, eps=1e-4, eps_hat=True),
    "Adam-clipped-scheduled": lambda: bn.Adam(bn.schedules.CosineDecay(1e-2, epochs=3), clip_norm=0.5),
}


def _trajectory(make_optimizer, dtype, backend_name, steps=40, fused_loss=True):
    """Train a small network on data with blank columns (exact-zero gradients) and tiny inputs
    (subnormal-bound state); return its parameter vector and the optimizer's state."""
    rng = np.random.default_rng(7)
    model = bn.Sequential(bn.Dense(12, 16), bn.ReLU(), bn.Dense(16, 4), dtype=dtype, seed=3, backend=backend_name)
    X = rng.normal(size=(64, 12)).astype(dtype)
    X[:, :3] = 0
    X[:, 3] *= 1e-30
    y = rng.integers(0, 4, 64)
    targets = y if fused_loss else np.eye(4, dtype=dtype)[y]  # one-hot rows: the reference loss on both
    optimizer = make_optimizer()
    for step in range(steps):
        optimizer.progress = step / 20
        idx = rng.integers(0, 64, 16)
        model.train_step(X[idx], targets[idx], loss=bn.CrossEntropy(), optimizer=optimizer)
    return model.parameter_vectors()[0].copy(), {k: v.copy() for k, v in optimizer.state.items() if k != "scratch"}


@pytest.mark.parametrize("threads", [1, 3])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", OPTIMIZERS)
def test_fused_optimizer_gives_the_numpy_reference_bit_for_bit(name, dtype, threads, monkeypatch):
    """On one thread, and split among three (a short vector made long by lowering PER_THREAD)."""
    monkeypatch.setattr(pool, "PER_THREAD", 40)  # the 276 parameters in ranges of about 92
    token = backend.set_kernel_threads(threads)
    calls = []
    fused = dict(numba_backend._UPDATE)
    monkeypatch.setattr(numba_backend, "_UPDATE", {kind: _recorded(kernel, calls) for kind, kernel in fused.items()})
    theta, state = _trajectory(OPTIMIZERS[name], dtype, "numpy", fused_loss=False)
    theta_fused, state_fused = _trajectory(OPTIMIZERS[name], dtype, "numba", fused_loss=False)
    assert calls, "the numba backend's optimizer kernel was never called"
    np.testing.assert_array_equal(theta_fused, theta)
    assert state_fused.keys() == state.keys()
    for key in state:
        np.testing.assert_array_equal(state_fused[key], state[key], err_msg=key)
    backend.set_kernel_threads.reset(token)


@pytest.mark.parametrize("n, threads", [(0, 2), (5, 3), (1000, 3), (1001, 7), (64, 64)])
def test_split_runs_every_index_once_in_ranges_of_whole_cache_lines(n, threads, monkeypatch):
    monkeypatch.setattr(pool, "PER_THREAD", 1)
    counts, ranges = np.zeros(n, dtype=np.int64), []

    def loop(part, offset):
        start = part.__array_interface__["data"][0] // 8 - counts.__array_interface__["data"][0] // 8
        ranges.append((start, start + part.size))
        part += offset
    pool.split(loop, n, threads, counts, 1)
    assert (counts == 1).all()
    assert all(start % 16 == 0 for start, _ in ranges)
    assert len(ranges) == max(1, min(threads, n // 16))


@pytest.mark.parametrize("layers, own", [
    (lambda: [bn.Dense(16, 3)], False),
    (lambda: [bn.Reshape((1, 4, 4)), bn.Conv2D(1, 2, 3), bn.MaxPool2D(2), bn.Flatten(), bn.Dense(2, 3)], True),
])
def test_fit_gives_the_threads_to_the_blas_library_or_to_the_backend_and_takes_them_back(rng, layers, own):
    """A dense network's matrix products run on the BLAS library's threads, the backend's loops
    on one; a convolutional network's threads are the backend's own, the BLAS library's one."""
    threadpoolctl = pytest.importorskip("threadpoolctl")
    seen = []

    def blas_threads():
        return next(p["num_threads"] for p in threadpoolctl.threadpool_info() if p["user_api"] == "blas")

    class Watch(bn.callbacks.Callback):
        def on_epoch_end(self, epoch, logs):
            seen.append((backend.kernel_threads(), blas_threads()))
    model = bn.Sequential(*layers(), backend="numba", seed=0)
    assert model.ops.own_threads(model) is own
    X, y = rng.normal(size=(32, 16)), rng.integers(0, 3, 32)
    before = blas_threads()
    with bn.threads(2):
        model.fit(X, y, loss=bn.CrossEntropy(), optimizer=bn.Adam(), epochs=2, verbose=0, callbacks=[Watch()])
    assert seen == ([(2, 1)] * 2 if own else [(1, 2)] * 2)
    assert backend.kernel_threads() is None and blas_threads() == before


def _recorded(kernel, calls):
    def call(*args, **kwargs):
        calls.append(kernel.__name__)
        return kernel(*args, **kwargs)
    return call


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_fused_relu_gives_the_numpy_reference_bit_for_bit(dtype):
    x = np.array([[-2.0, -0.0, 0.0, 1e-40, 3.0, np.inf, -np.inf, np.nan]], dtype=dtype)
    grad_out = np.array([[1.0, 2.0, 3.0, np.inf, -4.0, 5.0, 6.0, -7.0]], dtype=dtype)
    ops, reference = backend.backend_named("numba"), bn.ReLU()
    fused = bn.ReLU()
    with np.errstate(invalid="ignore"):
        y, grad_in = ops.forward(fused, x, True), ops.backward(fused, grad_out)
        y_ref, grad_ref = reference.forward(x), reference.backward(grad_out)
    np.testing.assert_array_equal(y, y_ref)
    np.testing.assert_array_equal(np.signbit(y), np.signbit(y_ref))  # -0.0 where NumPy gives -0.0
    np.testing.assert_array_equal(grad_in, grad_ref)
    assert y.dtype == grad_in.dtype == np.dtype(dtype)


@pytest.mark.parametrize("dtype, rtol", [("float32", 2e-6), ("float64", 1e-13)])
@pytest.mark.parametrize("smoothing", [0.0, 0.15])
@pytest.mark.parametrize("weighted", [False, True])
def test_fused_cross_entropy_agrees_with_the_numpy_reference(dtype, rtol, smoothing, weighted, rng):
    z = (rng.normal(size=(50, 10)) * 6).astype(dtype)
    z[0, :] = 0.0
    z[1, 3] = 80.0
    ids = rng.integers(0, 10, 50)
    weight = rng.uniform(0, 3, 50) if weighted else None
    results = []
    for name in ("numpy", "numba"):
        ops, loss = backend.backend_named(name), bn.CrossEntropy(label_smoothing=smoothing)
        results.append((float(ops.loss_value(loss, z, ids, weight)), ops.loss_gradient(loss)))
    (value, grad), (value_fused, grad_fused) = results
    assert value_fused == pytest.approx(value, rel=rtol)
    np.testing.assert_allclose(grad_fused, grad, rtol=rtol, atol=rtol * np.abs(grad).max())
    assert grad_fused.dtype == np.dtype(dtype)


def test_numba_backend_trains_to_the_same_model_as_numpy(rng):
    """A whole fit (shuffling, dropout, validation) on both backends ends with the same weights
    up to the loss kernel's rounding."""
    X, y = rng.normal(size=(300, 8)).astype("float32"), rng.integers(0, 3, 300)
    weights = []
    for name in ("numpy", "numba"):
        model = bn.Sequential(bn.Dense(8, 32), bn.ReLU(), bn.Dropout(0.2), bn.Dense(32, 3), seed=5, backend=name)
        history = model.fit(X, y, loss=bn.CrossEntropy(), optimizer=bn.Adam(1e-2), epochs=3,
                            batch_size=32, validation_split=0.2, verbose=0)
        weights.append((model.parameter_vectors()[0].copy(), history["val_loss"][-1]))
    np.testing.assert_allclose(weights[1][0], weights[0][0], rtol=1e-4, atol=1e-5)
    assert weights[1][1] == pytest.approx(weights[0][1], rel=1e-4)


def test_numba_backend_names_itself_and_lists_its_kernels():
    with bn.using_backend("numba"):
        assert bn.get_backend() == "numba"
        assert backend.xp.exp is np.exp  # the arrays stay NumPy's
    ops = backend.backend_named("numba")
    assert "barenet.core.optimizers.Adam" in ops.kernels() and "barenet.core.activations.ReLU" in ops.kernels()


def test_the_default_is_numba_where_it_is_installed():
    code = "import barenet as bn; print(bn.get_backend(), bn.Sequential(bn.Dense(2, 2)).ops.name)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.stdout.split() == ["numba", "numba"], result.stderr


def test_numba_backend_without_numba_says_how_to_install_it():
    code = ("import sys; sys.modules['numba'] = None\n"
            "import barenet as bn\n"
            "try:\n    bn.set_backend('numba')\n"
            "except ImportError as error:\n    print(error); print(bn.get_backend())\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert 'pip install "barenet[fast]"' in result.stdout
    assert result.stdout.strip().endswith("numpy")  # a failed switch leaves "auto", which falls back to NumPy
