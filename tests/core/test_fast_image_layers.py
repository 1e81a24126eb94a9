"""The numba backend's image kernels (padding, im2col and col2im as compiled loops, the rows and
images of a convolution, max-pooling with its argmax, ReLU on images) give the NumPy reference's
numbers: forward, the input's gradient and every parameter's, across kernel sizes, strides,
paddings, odd image sizes and overlapping windows. Bit for bit on one thread, and for the layers
without a matrix product (pooling, ReLU) on any number; where the threads share a matrix product,
each taking some of its rows, to rounding (a few units in the last place): the BLAS library may
add a few rows' products in another order than those of the whole matrix. BatchNorm2D's statistics
are summed in float64 on numba, so it is the reference's to rounding."""
import numpy as np
import pytest

import barenet as bn

pytest.importorskip("numba", reason="the numba backend needs numba (pip install 'barenet[fast]')")
from barenet.core import backend  # noqa: E402
from barenet.core.backends import fused, pool  # noqa: E402

CONVOLUTIONS = [
    dict(in_channels=1, out_channels=4, kernel_size=3, padding=1),
    dict(in_channels=3, out_channels=5, kernel_size=3, stride=2),
    dict(in_channels=2, out_channels=3, kernel_size=(2, 4), stride=(1, 3), padding=(1, 2)),
    dict(in_channels=2, out_channels=3, kernel_size=4, padding="same"),  # even kernel: more after than before
    dict(in_channels=3, out_channels=2, kernel_size=5, padding=4, bias=False),
    dict(in_channels=1, out_channels=2, kernel_size=1),
    dict(in_channels=2, out_channels=2, kernel_size=(9, 7)),  # as large as the image
    dict(in_channels=3, out_channels=40, kernel_size=3, padding=1),  # dW cut by filters among threads
]


def _run(layer, x, grad_out, name, threads):
    """(Y, dX, {parameter: gradient}) of a fresh copy of ``layer`` in a network on backend ``name``."""
    model = bn.Sequential(layer, seed=0, backend=name, dtype=x.dtype)
    token = backend.set_kernel_threads(threads)
    try:
        y = model.forward(x, training=True)
        dx = model.backward(grad_out.astype(x.dtype))
    finally:
        backend.set_kernel_threads.reset(token)
    return y, dx, {key: value.copy() for key, value in layer.grads.items()}


def _same(layer_fn, x, monkeypatch, threads):
    monkeypatch.setattr(pool, "PER_THREAD", 8)  # small arrays split among threads too
    calls = []
    for table in ("_FORWARD", "_BACKWARD"):
        monkeypatch.setattr(fused, table, {kind: _recorded(kernel, calls)
                                           for kind, kernel in getattr(fused, table).items()})
    reference = _run(layer_fn(), x, _grad(layer_fn, x), "numpy", 1)
    assert calls == []
    fast = _run(layer_fn(), x, _grad(layer_fn, x), "numba", threads)
    assert len(calls) == 2, "the numba backend did not run its kernels forward and backward"
    products = threads > 1 and isinstance(layer_fn(), (bn.Conv2D, bn.Dense))
    same = _close if products else np.testing.assert_array_equal
    same(fast[0], reference[0])
    same(fast[1], reference[1])
    assert fast[2].keys() == reference[2].keys()
    for key in reference[2]:
        same(fast[2][key], reference[2][key], err_msg=key)
    return reference


def _close(actual, desired, err_msg=""):
    """Equal to a few units in the last place of the largest value."""
    ulp = np.finfo(desired.dtype).eps * max(1.0, float(np.abs(desired).max()))
    np.testing.assert_allclose(actual, desired, rtol=8 * np.finfo(desired.dtype).eps, atol=8 * ulp, err_msg=err_msg)


def _recorded(kernel, calls):
    def call(*args):
        calls.append(kernel.__name__)
        return kernel(*args)
    return call


def _grad(layer_fn, x):
    shape = bn.Sequential(layer_fn(), seed=0, backend="numpy", dtype=x.dtype).forward(x).shape
    return np.random.default_rng(1).normal(size=shape)


@pytest.mark.parametrize("threads", [1, 3])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("config", CONVOLUTIONS, ids=lambda c: ",".join(f"{k}={v}" for k, v in c.items()))
def test_fused_convolution_is_the_reference(config, dtype, threads, monkeypatch):
    x = np.random.default_rng(0).normal(size=(5, config["in_channels"], 9, 7)).astype(dtype)
    _same(lambda: bn.Conv2D(**config), x, monkeypatch, threads)


@pytest.mark.parametrize("chunk_bytes", [1, 10_000])
def test_fused_convolution_taking_its_images_a_few_at_a_time_is_the_reference(chunk_bytes, monkeypatch):
    """A thread's range cut into chunks of one image (1 byte) or of two (10,000 bytes, at 4,536
    bytes of columns an image), the last one shorter: the same numbers as the whole range at once."""
    from barenet.core.backends import fused_images
    monkeypatch.setattr(fused_images, "CHUNK_BYTES", chunk_bytes)
    x = np.random.default_rng(0).normal(size=(7, 2, 9, 7)).astype(np.float32)
    _same(lambda: bn.Conv2D(2, 3, 3, padding=1), x, monkeypatch, 1)
    _same(lambda: bn.Conv2D(2, 3, (2, 3), stride=2), x, monkeypatch, 2)


@pytest.mark.parametrize("threads", [1, 3])
@pytest.mark.parametrize("kernel_size, stride", [(2, None), (3, 1), (3, 2), ((2, 3), (2, 1))])
def test_fused_max_pooling_is_the_reference_bit_for_bit_ties_and_nan_included(kernel_size, stride, threads,
                                                                                monkeypatch):
    rng = np.random.default_rng(0)
    x = rng.integers(-2, 3, size=(4, 3, 9, 8)).astype(np.float32)  # many ties
    x[0, 0, 1, 1] = np.nan
    x[1, 2, :3, :3] = np.nan  # a window of NaN: its first is the answer, as np.argmax says
    y, dx, _ = _same(lambda: bn.MaxPool2D(kernel_size, stride), x, monkeypatch, threads)
    assert np.isnan(y).any()


@pytest.mark.parametrize("relu", [False, True])
def test_fused_pooling_over_windows_wider_than_a_byte_of_offsets_is_the_reference(relu, monkeypatch):
    """A 17 × 17 window has offsets up to 288: the argmax is a uint16 on both backends, and the
    winners at the last offsets (287, 288) come back to their pixels; alone and after a ReLU."""
    rng = np.random.default_rng(1)
    x = rng.normal(size=(2, 2, 18, 17)).astype(np.float32)
    x[0, 0, 16, 16], x[0, 1, 16, 15], x[1, 0, 17, 16] = 9.0, 9.0, 9.0  # offsets 288, 287; the second window
    x[1, 1] = -1.0  # nothing above zero: after a ReLU, a tie of zeros
    grad_out = rng.normal(size=(2, 2, 2, 1)).astype(np.float32)
    results = {}
    for name in ("numpy", "numba"):
        model = bn.Sequential(*([bn.ReLU()] if relu else []), bn.MaxPool2D(17, 1), backend=name, dtype="float32")
        y = model.forward(x, training=True)
        argmax = model.layers[-1].argmax.copy()
        results[name] = y, model.backward(grad_out), argmax
    for ours, reference in zip(results["numba"], results["numpy"]):
        np.testing.assert_array_equal(ours, reference)
    assert results["numba"][2].dtype == results["numpy"][2].dtype == np.uint16
    assert results["numba"][2][0, 0, 0, 0] == 288 and results["numba"][2][0, 1, 0, 0] == 287


@pytest.mark.parametrize("shape", [(6, 3, 5, 4), (7, 11), (2, 3, 4)])
def test_fused_relu_takes_any_shape(shape, monkeypatch):
    x = np.random.default_rng(0).normal(size=shape).astype(np.float32)
    x.flat[3] = np.nan
    _same(bn.ReLU, x, monkeypatch, 2)


@pytest.mark.parametrize("threads", [1, 2])
def test_fused_relu_then_max_pooling_is_the_reference_on_windows_with_nothing_above_zero(threads, monkeypatch):
    """The pair runs as one pass on numba; a window of the rectified image with nothing above zero
    is a tie that its first pixel wins, as in the reference, so that an infinite dY there turns
    into NaN (inf · 0) at the same pixel; NaN, -inf (rectified to 0) and +inf pixels as the
    reference has them."""
    from barenet.core.backends import image_kernels
    monkeypatch.setattr(pool, "PER_THREAD", 8)
    calls = []
    monkeypatch.setattr(image_kernels, "relu_max_pool", _recorded(image_kernels.relu_max_pool, calls))
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3, 2, 6, 6)).astype(np.float32)
    x[0, 0, :2, :2] = [[-3, -1], [-2, -4]]  # nothing above zero: the first pixel wins, not -1
    x[0, 1, :2, :2] = [[-1, np.nan], [2, 0]]
    x[1, 0, :2, :2] = [[-np.inf, -1], [-2, -3]]  # max(0, -inf) is 0 (x · [x > 0] made it NaN)
    x[1, 1, 2:4, 2:4] = [[np.inf, 1], [0, -1]]
    grad_out = rng.normal(size=(3, 2, 3, 3)).astype(np.float32)
    grad_out[0, 0, 0, 0] = np.inf
    grad_out[1, 0, 0, 0] = -np.inf
    results = {}
    for name in ("numpy", "numba"):
        model = bn.Sequential(bn.ReLU(), bn.MaxPool2D(2), backend=name, dtype="float32")
        token = backend.set_kernel_threads(threads)
        try:
            with np.errstate(invalid="ignore"):  # inf · 0, on purpose
                results[name] = model.forward(x, training=True), model.backward(grad_out)
        finally:
            backend.set_kernel_threads.reset(token)
    assert calls, "the numba backend did not run the pair as one pass"
    for ours, reference in zip(results["numba"], results["numpy"]):
        np.testing.assert_array_equal(ours, reference)
    (y, dx) = results["numpy"]
    assert np.isnan(dx[0, 0, 0, 0])  # the NaN lands on the window's first pixel
    assert y[1, 0, 0, 0] == 0 and not np.signbit(y[1, 0, 0, 0]) and np.isnan(y[0, 1, 0, 0])


def test_fused_pooling_is_the_reference_on_a_thousand_seeded_images_with_nan_and_infinities():
    """The compiled loop compares plainly and hands a range holding a NaN or an infinity to an
    exact loop: across a thousand drawn cases (window, stride, ReLU before or not, one thread or two,
    a few pixels NaN or ±inf or none), forward, argmax and backward are the reference's, and both
    loops ran."""
    from barenet.core.backends import image_kernels
    rng = np.random.default_rng(28)
    unusual = []
    for case in range(1000):  # three windows, each apart, overlapping, and overlapping one way only
        kernel = [(2, 2), (3, 3), (2, 3)][int(rng.integers(0, 3))]
        stride = [kernel, (1, 1), (2, 1)][int(rng.integers(0, 3))]
        x = rng.integers(-2, 3, size=(int(rng.integers(1, 4)), 2, int(rng.integers(3, 8)),
                                      int(rng.integers(3, 8)))).astype(np.float32)
        for _ in range(int(rng.integers(0, 3)) * int(rng.random() < 0.5)):
            x[tuple(int(rng.integers(0, size)) for size in x.shape)] = rng.choice([np.nan, np.inf, -np.inf])
        relu = bool(rng.random() < 0.5)
        results = {}
        for name in ("numpy", "numba"):
            model = bn.Sequential(*([bn.ReLU()] if relu else []), bn.MaxPool2D(kernel, stride), backend=name,
                                  dtype="float32")
            token = backend.set_kernel_threads(int(rng.integers(1, 3)))
            pool_size = pool.PER_THREAD
            pool.PER_THREAD = 8
            try:
                with np.errstate(invalid="ignore"):
                    y = model.forward(x, training=True)
                    results[name] = y, model.layers[-1].argmax.copy(), model.backward(np.ones_like(y))
            finally:
                pool.PER_THREAD = pool_size
                backend.set_kernel_threads.reset(token)
        for ours, reference in zip(results["numba"], results["numpy"]):
            np.testing.assert_array_equal(ours, reference, err_msg=f"case {case}")
        unusual.append(not np.isfinite(x).all())
    assert 100 < sum(unusual) < 900  # both kinds of image were drawn
    assert {key[0] for key in image_kernels._MADE} >= {"_make_max_pool", "_make_exact_max_pool"}


@pytest.mark.parametrize("relu", [False, True])
@pytest.mark.parametrize("kernel", [(2, 2), (3, 2), (1, 1)])
def test_where_windows_tile_the_image_the_backward_loop_writes_every_pixel_whatever_dx_held(kernel, relu):
    """dX is allocated without zeroing it when the windows tile the image: the loop must write each
    pixel, its window's dY or 0. Started from NaN, dX is the zero-started scatter's, pixel for pixel."""
    from barenet.core.backends import image_kernels
    rng = np.random.default_rng(3)
    kh, kw = kernel
    shape = (3, 2, 4 * kh, 3 * kw)
    assert image_kernels.tiles(shape, kernel, kernel)
    grad_out = rng.normal(size=(3, 2, 4, 3)).astype(np.float32)
    argmax = rng.integers(0, kh * kw, size=grad_out.shape).astype(np.uint8)
    mask = rng.random(grad_out.shape) < 0.7
    tiled = np.full(shape, np.nan, dtype=np.float32)
    scattered = np.zeros(shape, dtype=np.float32)
    if relu:
        image_kernels.relu_max_pool_backward(grad_out, argmax, mask, tiled, kernel, kernel)
    else:
        image_kernels.max_pool_backward(grad_out, argmax, tiled, kernel, kernel)
    loop = image_kernels._compiled(image_kernels._make_max_pool_backward, kh, kw, kh, kw, relu)
    loop(grad_out, argmax, mask if relu else image_kernels._NO_MASK, scattered)
    np.testing.assert_array_equal(tiled, scattered)
    assert np.count_nonzero(tiled) == np.count_nonzero(mask if relu else np.ones_like(mask))


@pytest.mark.parametrize("backend_name", ["numpy", "numba"])
@pytest.mark.parametrize("relu", [False, True])
@pytest.mark.parametrize("kernel_size, stride", [(2, None), (3, 2)])
@pytest.mark.parametrize("wrong", [(8, 3, 4, 4), (4, 3, 5, 5), (2, 3, 3, 3)])
def test_a_max_pooling_gradient_of_the_wrong_shape_is_refused_naming_the_layer(backend_name, relu, kernel_size,
                                                                               stride, wrong):
    """The compiled loops index dX by dY's shape: a dY of another shape than forward's output must be
    refused before them (it wrote outside dX, a wrong answer or a crashed process), on both backends."""
    model = bn.Sequential(*([bn.ReLU()] if relu else []), bn.MaxPool2D(kernel_size, stride), backend=backend_name,
                          dtype="float32")
    y = model.forward(np.random.default_rng(0).normal(size=(4, 3, 9, 9)).astype(np.float32), training=True)
    assert y.shape != wrong
    with pytest.raises(ValueError, match=r"MaxPool2D.*dY of shape"):
        _backward_past_the_network_check(model, np.ones(wrong, dtype=np.float32))


def _backward_past_the_network_check(model, grad_out):
    """Network.backward's own steps without its check of grad_out, so that the layer's is the one met."""
    for group in reversed(model.ops.groups(model.layers)):
        grad_out = model.ops.backward_group(group, grad_out)
    return grad_out


@pytest.mark.parametrize("backend_name", ["numpy", "numba"])
@pytest.mark.parametrize("wrong", [(4, 2, 16, 14), (4, 2, 7, 32), (4, 2, 14, 15), (3, 2, 14, 16), (4, 3, 14, 16)])
def test_a_convolution_gradient_of_the_wrong_shape_is_refused_naming_the_layer(backend_name, wrong):
    """numba's col2im indexes the image by dY's height and width: a dY of forward's size but another
    shape (14 × 16 read as 16 × 14) wrote outside it (the process crashed: double free), and the
    reference gave a wrong dX without a word. Both refuse it, and Network.backward before them."""
    model = bn.Sequential(bn.Conv2D(1, 2, 3, padding=1), backend=backend_name, dtype="float32")
    x = np.random.default_rng(0).normal(size=(4, 1, 14, 16)).astype(np.float32)
    assert model.forward(x, training=True).shape == (4, 2, 14, 16)
    with pytest.raises(ValueError, match=r"grad_out must have the shape of the last forward's outputs"):
        model.backward(np.ones(wrong, dtype=np.float32))
    model.forward(x, training=True)
    with pytest.raises(ValueError, match=r"Conv2D\(1, 2, kernel_size=3, padding=1\): dY of shape"):
        _backward_past_the_network_check(model, np.ones(wrong, dtype=np.float32))


def test_windows_tile_an_image_only_a_window_apart_and_dividing_it():
    from barenet.core.backends import image_kernels
    assert image_kernels.tiles((1, 1, 28, 28), (2, 2), (2, 2))
    assert image_kernels.tiles((1, 1, 6, 9), (2, 3), (2, 3))
    assert not image_kernels.tiles((1, 1, 7, 8), (2, 2), (2, 2))  # a row left out
    assert not image_kernels.tiles((1, 1, 8, 8), (2, 2), (1, 1))  # overlapping
    assert not image_kernels.tiles((1, 1, 9, 9), (2, 2), (3, 3))  # gaps


def test_the_numba_convolution_reuses_its_columns_step_after_step_but_keeps_none_in_inference():
    """Training keeps one buffer for a layer's columns while the batch shape stays; inference, of
    any batch size, keeps no columns (the trained-to-the-same-weights test below holds the numbers
    across reused steps)."""
    from barenet.core.backends import fused_images
    layer = bn.Conv2D(2, 3, 3, padding=1)
    bn.Sequential(layer, seed=0, backend="numba")
    x = np.random.default_rng(0).normal(size=(4, 2, 6, 6)).astype(np.float32)
    fused_images.conv_forward(layer, x, True, 1)
    first = layer.cols
    fused_images.conv_forward(layer, x[::-1].copy(), True, 1)
    assert layer.cols is first
    fused_images.conv_forward(layer, x, False, 1)
    assert layer.cols is None and layer.x is x
    fused_images.conv_forward(layer, x[:3], True, 1)  # another batch size: a buffer of its shape
    assert layer.cols is not first and layer.cols.shape[0] == 3 and layer.x is None


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("options", CONVOLUTIONS[:5], ids=str)
def test_a_numba_convolution_in_inference_is_the_reference_and_backward_after_it_rebuilds_the_columns(
        options, threads, monkeypatch):
    """Inference builds each chunk's columns in a buffer of the thread's own (chunks of two images
    here): Y is the reference's; a backward after it (a layer used alone, in evaluation) builds
    the batch's columns from the X it kept, and gives the gradients of a backward after training."""
    from barenet.core.backends import fused_images
    monkeypatch.setattr(fused_images, "CHUNK_BYTES", 1)  # one image a chunk: several chunks a thread
    monkeypatch.setattr(pool, "PER_THREAD", 8)
    rng = np.random.default_rng(5)
    x = rng.normal(size=(7, options["in_channels"], 9, 8))
    results = {}
    for name in ("numpy", "numba"):
        layer = bn.Conv2D(**options)
        model = bn.Sequential(layer, seed=0, backend=name, dtype="float64")
        token = backend.set_kernel_threads(threads)
        try:
            y = model.ops.forward(layer, x, False)
            grad_out = np.random.default_rng(6).normal(size=y.shape)
            dx = model.ops.backward(layer, grad_out)
            grads = {key: value.copy() for key, value in layer.grads.items()}
            trained = model.ops.forward(layer, x, True), model.ops.backward(layer, grad_out), dict(layer.grads)
        finally:
            backend.set_kernel_threads.reset(token)
        results[name] = (y, dx, grads), trained
    (ours, ours_trained), (reference, _) = results["numba"], results["numpy"]
    same = _close if threads > 1 else np.testing.assert_array_equal
    same(ours[0], reference[0])
    same(ours[1], reference[1])
    for key in reference[2]:
        same(ours[2][key], reference[2][key], err_msg=key)
        np.testing.assert_array_equal(ours[2][key], ours_trained[2][key], err_msg=key)
    np.testing.assert_array_equal(ours[0], ours_trained[0])
    np.testing.assert_array_equal(ours[1], ours_trained[1])


def _cnn(name):
    return bn.Sequential(bn.Reshape((1, 12, 12)), bn.Conv2D(1, 4, 3, padding=1), bn.ReLU(), bn.MaxPool2D(2),
                         bn.Conv2D(4, 6, 3, padding="same"), bn.ReLU(), bn.MaxPool2D(2), bn.Flatten(),
                         bn.Dense(54, 16), bn.ReLU(), bn.Dense(16, 3), seed=4, backend=name)


def test_a_convolutional_network_trains_to_the_reference_weights_bit_for_bit_on_the_numba_backend():
    rng = np.random.default_rng(0)
    X = rng.random((64, 144), dtype=np.float32)
    targets = np.eye(3, dtype=np.float32)[rng.integers(0, 3, 64)]  # one-hot: the reference loss on both
    weights = []
    for name in ("numpy", "numba"):
        model = _cnn(name)
        model.fit(X, targets, loss=bn.CrossEntropy(), optimizer=bn.Adam(1e-2), epochs=3, batch_size=16,
                  verbose=0, shuffle=False)
        weights.append(model.parameter_vectors()[0])
    np.testing.assert_array_equal(weights[1], weights[0])


def test_the_numba_backend_lists_its_image_kernels():
    names = fused.NumbaBackend.shared().kernels()
    assert {"barenet.core.conv.Conv2D", "barenet.core.pooling.MaxPool2D", "barenet.core.activations.ReLU"} <= set(names)


@pytest.mark.parametrize("threads", [1, 3])
def test_fused_dense_is_the_reference_its_rows_and_its_gradient_cut_among_threads(threads, monkeypatch):
    x = np.random.default_rng(0).normal(size=(70, 33)).astype(np.float32)
    _same(lambda: bn.Dense(33, 40), x, monkeypatch, threads)


@pytest.mark.parametrize("threads", [1, 3])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_fused_batch_norm_is_the_reference_to_rounding_in_both_modes(dtype, threads, monkeypatch):
    """BatchNorm2D on numba sums each channel's values in float64 where the reference's NumPy adds
    them in the array's type, so its statistics are the reference's to rounding, and so y, dx, dγ,
    dβ and the running statistics over three training steps; then evaluation mode, forward and
    backward; a NaN pixel makes its channel NaN on both, the others untouched."""
    monkeypatch.setattr(pool, "PER_THREAD", 8)
    calls = []
    for table in ("_FORWARD", "_BACKWARD"):
        monkeypatch.setattr(fused, table, {kind: _recorded(kernel, calls) for kind, kernel in getattr(fused, table).items()})
    rng = np.random.default_rng(3)
    batches = [(rng.normal(2.0, 3.0, size=(6, 5, 7, 9)).astype(dtype), rng.normal(size=(6, 5, 7, 9)).astype(dtype))
               for _ in range(3)]
    batches[2][0][1, 3, 4, 5] = np.nan
    gamma, beta = rng.normal(size=5).astype(dtype), rng.normal(size=5).astype(dtype)
    results = {}
    for name in ("numpy", "numba"):
        model = bn.Sequential(bn.BatchNorm2D(5, momentum=0.3), backend=name, dtype=dtype)
        layer = model.layers[0]
        layer.params["gamma"][...], layer.params["beta"][...] = gamma, beta
        token = backend.set_kernel_threads(threads)
        try:
            with np.errstate(invalid="ignore"):  # inf · 0, on purpose
                steps = [(model.forward(x, training=True), model.backward(g), dict(layer.grads),
                          {k: v.copy() for k, v in layer.buffers.items()}) for x, g in batches]
                x, g = batches[0]
                evaluation = model.ops.forward(layer, x, False), model.ops.backward(layer, g)
        finally:
            backend.set_kernel_threads.reset(token)
        results[name] = steps, evaluation
    assert len(calls) == 8, "the numba backend did not run its BatchNorm2D kernels"
    (ours, our_eval), (reference, reference_eval) = results["numba"], results["numpy"]
    for step, (a, b) in enumerate(zip(ours, reference)):
        for part in (0, 1):
            finite = np.isfinite(b[part])
            np.testing.assert_array_equal(np.isnan(a[part]), np.isnan(b[part]))
            _close(a[part][finite], b[part][finite], err_msg=f"step {step}, part {part}")
        for key in ("gamma", "beta", "running_mean", "running_var"):
            mine, theirs = (a[2] | a[3])[key], (b[2] | b[3])[key]
            np.testing.assert_array_equal(np.isnan(mine), np.isnan(theirs))
            _close(mine[np.isfinite(theirs)], theirs[np.isfinite(theirs)], err_msg=f"step {step}, {key}")
    assert np.isnan(ours[2][0][:, 3]).all() and np.isfinite(ours[2][0][:, [0, 1, 2, 4]]).all()
    assert np.isnan(ours[2][3]["running_mean"][3]) and np.isnan(reference[2][3]["running_mean"][3])
    for a, b in zip(our_eval, reference_eval):  # after the NaN batch, channel 3's running statistics are NaN
        np.testing.assert_array_equal(np.isnan(a), np.isnan(b))
        _close(a[np.isfinite(b)], b[np.isfinite(b)])
