"""The image layers on the ``"numba"`` backend: ``Conv2D``, ``MaxPool2D`` and ``BatchNorm2D``.

They run as the compiled loops of ``core.backends.image_kernels`` and NumPy's matrix products,
each batch cut into ranges of images that the backend's threads take one each
(``core.backends.pool``). Arrays are NCHW, as the reference's: X (n, C, H, W), W (F, C, kh, kw),
the columns (n, C·kh·kw, oh·ow).

The reference's formulas, computed the same way: the same products one image at a time, the
loops in place of the strided copies. A range of images goes through the whole of a forward
pass on one thread (its padding, its columns, their products, the bias), a chunk of images at a
time so that each chunk's columns are still in cache for the next step, and the threads never
wait on each other inside a layer. The weight gradient sums over every image: each thread sums
over its own images, and the threads' sums are added in order. Bit for bit on one thread; with
several, to rounding (``tests/core/test_fast_image_layers.py``).
"""
from __future__ import annotations

import weakref

import numpy as np

from . import image_kernels
from .pool import ranges, run

CHUNK_BYTES = 1 << 20  # a thread takes its images a few at a time, their columns about 1 MiB: in cache
# from one loop to the next, where a whole range's would have gone out to memory and back
_BUFFERS = weakref.WeakKeyDictionary()  # layer → the array of its columns, kept for its next step
MATRIX_ROWS = 16  # a matrix product is cut into parts of at least, and a multiple of, this many rows:
# fewer, and the BLAS library may take another path (one row: a matrix-vector product), which adds
# in another order than the whole product does

__all__ = ["CHUNK_BYTES", "MATRIX_ROWS", "conv_forward", "conv_backward", "conv_backward_params", "max_pool_forward",
           "max_pool_backward", "relu_max_pool_forward", "relu_max_pool_backward", "batch_norm_forward",
           "batch_norm_backward"]


def conv_forward(layer, x, training, threads):
    """Y[m] = W cols[m] + b: ``core.conv.Conv2D.forward``, each range of images on its own thread.

    A range goes through its padding, im2col into ``layer.cols`` (n, C·kh·kw, oh·ow), the
    products with W (F, C·kh·kw) and the bias, a chunk of images at a time (``_chunks``); returns
    Y (n, F, oh, ow). In inference each thread builds its chunks' columns in one buffer of its own
    and none are kept (as the reference, X is kept instead). An unbuilt layer runs its own forward
    (which builds it).
    """
    if not layer.built:
        return layer.forward(x, training)
    _, oh, ow = layer.output_shape(x.shape[1:])
    top, bottom, left, right = layer.pads
    n, channels, height, width = x.shape
    layer.padded_shape = (n, channels, height + top + bottom, width + left + right)
    weights = layer.params["W"].reshape(layer.out_channels, -1)  # (F, C·kh·kw)
    shape = (n, weights.shape[1], oh * ow)
    # training repeats one batch shape step after step: its columns reuse one buffer
    layer.cols, layer.x = (_columns(layer, shape, x.dtype), None) if training else (None, x)
    image_bytes = shape[1] * shape[2] * x.dtype.itemsize
    y = np.empty((n, layer.out_channels, oh * ow), dtype=x.dtype)

    def part(lo, hi):
        chunks = _chunks(lo, hi, image_bytes)  # each chunk's columns still in cache for the product
        own = None if training else np.empty((max((b - a for a, b in chunks), default=0), *shape[1:]), dtype=x.dtype)
        for a, b in chunks:
            cols = layer.cols[a:b] if training else own[:b - a]
            _im2col(layer, x[a:b], cols, oh, ow)
            np.matmul(weights, cols, out=y[a:b])
            if layer.bias:
                y[a:b] += layer.params["b"][:, None]
    run(part, ranges(n, threads, work=n * shape[1] * shape[2]))
    return y.reshape(n, layer.out_channels, oh, ow)


def _im2col(layer, x, cols, oh, ow):
    """Write the columns of images x, padded as the layer pads them, into ``cols``."""
    image_kernels.im2col(image_kernels.pad(x, layer.pads), cols, layer.kernel_size, layer.stride, oh, ow)


def _rebuilt_columns(layer, threads):
    """Set ``layer.cols`` from the X that an inference forward kept, for a backward after it."""
    x, (kh, kw) = layer.x, layer.kernel_size
    _, oh, ow = layer.output_shape(x.shape[1:])
    layer.cols = cols = np.empty((len(x), x.shape[1] * kh * kw, oh * ow), dtype=x.dtype)
    run(lambda lo, hi: _im2col(layer, x[lo:hi], cols[lo:hi], oh, ow), ranges(len(x), threads, work=cols.size))


def _columns(layer, shape, dtype):
    """Return an array for the layer's columns: its last step's, where the shape is the same.

    The columns of a batch can be tens of MiB, above the size that the C library's allocator asks
    the operating system for afresh each time: a new array would cost its zeroed pages again on
    every step. The buffer is free again once backward has run (``Layer.forget`` drops
    ``layer.cols``); it goes with the layer, and inference (any batch size) never keeps one.
    """
    buffer = _BUFFERS.get(layer)
    if buffer is None or buffer.shape != shape or buffer.dtype != dtype:
        buffer = _BUFFERS[layer] = np.empty(shape, dtype=dtype)
    return buffer


def _chunks(lo, hi, image_bytes):
    """Cut images [lo, hi) into runs of consecutive images of about ``CHUNK_BYTES`` each."""
    step = max(1, CHUNK_BYTES // max(image_bytes, 1))
    return [(a, min(a + step, hi)) for a in range(lo, hi, step)]


def _gradients(layer, grad_out, threads):
    """dW = Σ_m dY[m] cols[m]ᵀ, db = Σ dY: ``Conv2D._parameter_gradients``, cut among the threads by images.

    Each thread sums cols[m] dY[m]ᵀ = (dY[m] cols[m]ᵀ)ᵀ, the shape BLAS runs faster, over its own
    range of images, a chunk of images at a time, and the ranges' sums are then added in order (cut
    by filters instead, every thread would read every image's columns); one thread gives the
    reference's numbers bit for bit. dW is written into the network's gradient vector where ``layer.grads["W"]`` is a
    contiguous view of it. db as the reference sums it, each image's dY over its pixels (on the
    threads, each its images), then those sums over the images: the same numbers on any number of
    threads. Returns dY as (n, F, oh·ow).
    """
    layer.check_gradient(grad_out)  # Conv2D's own check: col2im indexes the image by dY's shape
    if layer.cols is None:  # forward ran in inference
        _rebuilt_columns(layer, threads)
    n, filters = grad_out.shape[:2]
    grad_flat = np.ascontiguousarray(grad_out).reshape(n, filters, -1)
    grad_t = grad_flat.transpose(0, 2, 1)  # dY[m]ᵀ, a view: dWᵀ = Σ_m cols[m] dY[m]ᵀ, as the reference
    pixel_sums = np.empty((n, filters), dtype=grad_flat.dtype) if layer.bias else None  # for db

    def over_images(lo, hi):
        if layer.bias:
            grad_flat[lo:hi].sum(axis=2, out=pixel_sums[lo:hi])
        chunks = _chunks(lo, hi, layer.cols[0].nbytes)  # each chunk's products summed while in cache
        products = np.empty((max(b - a for a, b in chunks), layer.cols.shape[1], filters), dtype=grad_flat.dtype)
        total = None
        for a, b in chunks:
            part = np.matmul(layer.cols[a:b], grad_t[a:b], out=products[:b - a])  # (images, C·kh·kw, F)
            if total is None:
                total = part.sum(axis=0)
            else:  # the running sum goes in first, so the images still add one after another, in order,
                part[0] += total  # as .sum(axis=0) of all of them adds them
                part.sum(axis=0, out=total)
        return total
    sums = run(over_images, ranges(n, threads, work=layer.cols.size * filters // 64))
    for more in sums[1:]:
        sums[0] += more
    target = layer.grads["W"]  # in a network, a view of its gradient vector: written in place
    if target.flags.c_contiguous:
        target.reshape(filters, -1)[...] = sums[0].T
    else:
        layer.grads["W"] = sums[0].T.reshape(target.shape)
    if layer.bias:
        layer.grads["b"] = pixel_sums.sum(axis=0)  # as the reference: each image's sum, then theirs
    return grad_flat


def conv_backward(layer, grad_out, threads):
    """dX[m] = col2im(Wᵀ dY[m]): ``Conv2D.backward``, after the parameters' gradients.

    Each range of images on its own thread, a chunk of images at a time: the products Wᵀ dY[m]
    (C·kh·kw, oh·ow), col2im onto zeroed padded images, and their padding cut off; returns dX
    (n, C, H, W).
    """
    grad_flat = _gradients(layer, grad_out, threads)  # (n, F, oh·ow)
    # Wᵀ copied to rows, as in the reference: NumPy's stacked matmul takes a transposed view ~5× slower
    weights_t = np.ascontiguousarray(layer.params["W"].reshape(layer.out_channels, -1).T)  # (C·kh·kw, F)
    n, _, oh, ow = grad_out.shape
    top, bottom, left, right = layer.pads
    _, channels, height, width = layer.padded_shape
    grad = np.empty((n, channels, height - top - bottom, width - left - right), dtype=grad_out.dtype)

    def part(lo, hi):
        chunks = _chunks(lo, hi, layer.cols[0].nbytes)  # a chunk's column gradient: from the product to
        most = max(b - a for a, b in chunks)           # col2im in cache, and one buffer for all of them
        grad_cols = np.empty((most, *layer.cols.shape[1:]), dtype=grad_out.dtype)
        padded = np.empty((most, channels, height, width), dtype=grad_out.dtype)
        for a, b in chunks:
            np.matmul(weights_t, grad_flat[a:b], out=grad_cols[:b - a])  # (images, C·kh·kw, oh·ow)
            padded[:b - a] = 0
            image_kernels.col2im(grad_cols[:b - a], padded[:b - a], layer.kernel_size, layer.stride, oh, ow)
            grad[a:b] = padded[:b - a, :, top:height - bottom, left:width - right]  # the padding had none
    run(part, ranges(n, threads, work=layer.cols.size))
    return grad


def conv_backward_params(layer, grad_out, threads):
    """dW = Σ_m dY[m] cols[m]ᵀ, db = Σ dY: ``Conv2D.backward_params``, without dX."""
    _gradients(layer, grad_out, threads)


def _offsets(kernel):
    """Return the smallest integer type that holds every offset p·kw + q of a kh × kw window."""
    return np.min_scalar_type(kernel[0] * kernel[1] - 1)


def max_pool_forward(layer, x, training, threads):
    """Y = the maximum of each window: ``core.pooling.MaxPool2D.forward``, maxima and argmax in one pass.

    Keeps the argmax (n, C, oh, ow), the offset p·kw + q of each window's winner in the smallest
    integer type that holds it (as the reference does: a byte for any window up to 16 × 16), for
    backward; returns Y (n, C, oh, ow).
    """
    _, oh, ow = layer.output_shape(x.shape[1:])
    layer.x_shape, layer._out_shape = x.shape, (oh, ow)
    n, channels = x.shape[:2]
    y = np.empty((n, channels, oh, ow), dtype=x.dtype)
    layer.argmax = argmax = np.empty((n, channels, oh, ow), dtype=_offsets(layer.kernel_size))
    run(lambda lo, hi: image_kernels.max_pool(x[lo:hi], y[lo:hi], argmax[lo:hi], layer.kernel_size, layer.stride),
        ranges(n, threads, work=x.size))
    return y


def _pool_gradient(layer, dtype):
    """Return an array for a max-pooling's dX: zeros, unless its windows tile the image (the loop writes each pixel).

    The zeros would be one more pass over the largest image of the network, on one thread.
    """
    tiled = image_kernels.tiles(layer.x_shape, layer.kernel_size, layer.stride)
    return (np.empty if tiled else np.zeros)(layer.x_shape, dtype=dtype)


def max_pool_backward(layer, grad_out, threads):
    """dX[winner] += dY: ``core.pooling.MaxPool2D.backward``, each dY to the pixel that won its window."""
    layer.check_gradient(grad_out)  # MaxPool2D's own check: the loops index dX by dY's shape
    grad = _pool_gradient(layer, grad_out.dtype)
    argmax = layer.argmax
    run(lambda lo, hi: image_kernels.max_pool_backward(grad_out[lo:hi], argmax[lo:hi], grad[lo:hi],
                                                        layer.kernel_size, layer.stride),
        ranges(len(grad), threads, work=grad.size))
    return grad


def relu_max_pool_forward(relu, pool, x, training, threads):
    """Y = max-pool(max(0, X)): ``ReLU`` then ``MaxPool2D`` in one pass (``image_kernels.relu_max_pool``).

    The ReLU's mask is kept at the pooled size (n, C, oh, ow), for ``relu_max_pool_backward``.
    """
    _, oh, ow = pool.output_shape(x.shape[1:])
    pool.x_shape, pool._out_shape = x.shape, (oh, ow)
    n, channels = x.shape[:2]
    y = np.empty((n, channels, oh, ow), dtype=x.dtype)
    pool.argmax = argmax = np.empty((n, channels, oh, ow), dtype=_offsets(pool.kernel_size))
    relu.mask = mask = np.empty((n, channels, oh, ow), dtype=bool)
    run(lambda lo, hi: image_kernels.relu_max_pool(x[lo:hi], y[lo:hi], argmax[lo:hi], mask[lo:hi], pool.kernel_size,
                                                    pool.stride),
        ranges(n, threads, work=x.size))
    return y


def relu_max_pool_backward(relu, pool, grad_out, threads):
    """dX[winner] += dY where the maximum was above 0: ``MaxPool2D.backward`` then ``ReLU.backward`` in one pass."""
    pool.check_gradient(grad_out)
    grad = _pool_gradient(pool, grad_out.dtype)
    argmax, mask = pool.argmax, relu.mask
    run(lambda lo, hi: image_kernels.relu_max_pool_backward(grad_out[lo:hi], argmax[lo:hi], mask[lo:hi], grad[lo:hi],
                                                             pool.kernel_size, pool.stride),
        ranges(len(grad), threads, work=grad.size))
    return grad


def batch_norm_forward(layer, x, training, threads):
    """y = γ x̂ + β, x̂ = (x − μ) / √(σ² + ε): ``BatchNorm2D.forward``, channels cut among the threads.

    The batch's μ and σ² in two passes over x (``image_kernels.moments``; sums in float64, so equal
    to the reference's to rounding), the layer's own ``statistics`` for the checks, the running
    statistics and 1 / √(σ² + ε); then x̂ and y in one pass. Keeps x̂ as the reference does.
    """
    if not layer.built or x.ndim != 4 or x.dtype.kind != "f":
        return layer.forward(x, training)
    n, channels = x.shape[:2]
    flat = np.ascontiguousarray(x).reshape(n, channels, x.shape[2] * x.shape[3])  # not -1: n may be 0
    parts = ranges(channels, threads, work=x.size)

    def moments(_):
        mean, var = np.empty(channels, dtype=x.dtype), np.empty(channels, dtype=x.dtype)
        run(lambda lo, hi: image_kernels.moments(flat, mean, var, lo, hi), parts)
        return mean, var
    mean = np.asarray(layer.statistics(x, training, moments), dtype=x.dtype)
    inv_std = np.asarray(layer.inv_std, dtype=x.dtype)
    x_hat, y = np.empty_like(flat), np.empty_like(flat)
    run(lambda lo, hi: image_kernels.normalize(flat, mean, inv_std, layer.params["gamma"], layer.params["beta"],
                                               x_hat, y, lo, hi), parts)
    layer.x_hat = x_hat.reshape(x.shape)
    return y.reshape(x.shape)


def batch_norm_backward(layer, grad_out, threads):
    """dβ = Σ dy, dγ = Σ dy x̂ in one pass, then dx in another: ``BatchNorm2D.backward``.

    dx = γ / √(σ² + ε) · (dy − dβ / m − x̂ dγ / m) while training, γ / √(running σ² + ε) · dy after.
    """
    n, channels = grad_out.shape[:2]
    flat = np.ascontiguousarray(grad_out).reshape(n, channels, grad_out.shape[2] * grad_out.shape[3])
    x_hat = layer.x_hat.reshape(flat.shape)
    parts = ranges(channels, threads, work=grad_out.size)
    grad_beta, grad_gamma = np.empty(channels, dtype=flat.dtype), np.empty(channels, dtype=flat.dtype)
    run(lambda lo, hi: image_kernels.gradient_sums(flat, x_hat, grad_beta, grad_gamma, lo, hi), parts)
    layer.grads["beta"], layer.grads["gamma"] = grad_beta, grad_gamma
    scale = layer.params["gamma"] * layer.inv_std  # γ / √(σ² + ε)
    if not layer.training:
        return grad_out * scale[:, None, None]
    m = layer.count
    mean_grad, mean_grad_x_hat = grad_beta / m, grad_gamma / m
    grad = np.empty_like(flat)
    run(lambda lo, hi: image_kernels.input_gradient(flat, x_hat, scale, mean_grad, mean_grad_x_hat, grad, lo, hi),
        parts)
    return grad.reshape(grad_out.shape)
