"""The image layers on the ``"numba"`` backend: ``Conv2D`` and ``MaxPool2D`` as the compiled loops
of ``core.backends.image_kernels`` and NumPy's matrix products, each batch cut into ranges of
images that the backend's threads take one each (``core.backends.pool``).

The reference's formulas, computed the same way: the same products one image at a time, the
loops in place of the strided copies. A range of images goes through the whole of a forward
pass on one thread (its padding, its columns, their products, the bias), so the threads never
wait on each other inside a layer. The weight gradient sums over every image, so it is cut the
other way, by filters. Bit for bit on one thread; where threads share a product, to rounding
(``tests/core/test_fast_image_layers.py``).
"""
from __future__ import annotations

import numpy as np

from . import image_kernels
from .pool import ranges, run

MATRIX_ROWS = 16  # a matrix product is cut into parts of at least, and a multiple of, this many rows:
# fewer, and the BLAS library may take another path (one row: a matrix-vector product), which adds
# in another order than the whole product does

__all__ = ["MATRIX_ROWS", "conv_forward", "conv_backward", "conv_backward_params", "max_pool_forward", "max_pool_backward",
           "relu_max_pool_forward", "relu_max_pool_backward"]


def conv_forward(layer, x, training, threads):
    """``core.conv.Conv2D.forward``: for each range of images, the padding, im2col, the products
    Y[m] = W cols[m] and the bias."""
    if not layer.built:
        return layer.forward(x, training)
    _, oh, ow = layer.output_shape(x.shape[1:])
    top, bottom, left, right = layer.pads
    n, channels, height, width = x.shape
    layer.padded_shape = (n, channels, height + top + bottom, width + left + right)
    weights = layer.params["W"].reshape(layer.out_channels, -1)  # (F, C·kh·kw)
    layer.cols = cols = np.empty((n, weights.shape[1], oh * ow), dtype=x.dtype)
    y = np.empty((n, layer.out_channels, oh * ow), dtype=x.dtype)

    def part(lo, hi):
        image_kernels.im2col(image_kernels.pad(x[lo:hi], layer.pads), cols[lo:hi], layer.kernel_size, layer.stride,
                             oh, ow)
        np.matmul(weights, cols[lo:hi], out=y[lo:hi])
        if layer.bias:
            y[lo:hi] += layer.params["b"][:, None]
    run(part, ranges(n, threads, work=cols.size))
    return y.reshape(n, layer.out_channels, oh, ow)


def _gradients(layer, grad_out, threads):
    """``Conv2D._parameter_gradients``: dW = Σ_m dY[m] cols[m]ᵀ (cut among the threads by
    filters) and db = Σ dY, written into the network's gradient vector. Returns dY as
    (n, F, oh·ow)."""
    n, filters = grad_out.shape[:2]
    grad_rows = np.ascontiguousarray(grad_out).reshape(n, filters, -1)
    columns = layer.cols.transpose(0, 2, 1)
    target = layer.grads["W"]  # in a network, a view of its gradient vector: written in place
    in_place = target.flags.c_contiguous
    dW = target.reshape(filters, -1) if in_place else np.empty((filters, target[0].size), dtype=target.dtype)

    def by_filters(lo, hi):
        np.matmul(grad_rows[:, lo:hi], columns).sum(axis=0, out=dW[lo:hi])
    run(by_filters, ranges(filters, threads, work=layer.cols.size * filters // 64, align=MATRIX_ROWS))
    if not in_place:
        layer.grads["W"] = dW.reshape(target.shape)
    if layer.bias:
        layer.grads["b"] = grad_rows.sum(axis=(0, 2))
    return grad_rows


def conv_backward(layer, grad_out, threads):
    """``Conv2D.backward``: the parameters' gradients, then for each range of images the products
    Wᵀ dY[m], col2im onto the padded images, and their padding cut off."""
    grad_rows = _gradients(layer, grad_out, threads)  # (n, F, oh·ow)
    weights_t = layer.params["W"].reshape(layer.out_channels, -1).T  # (C·kh·kw, F)
    n, _, oh, ow = grad_out.shape
    top, bottom, left, right = layer.pads
    _, channels, height, width = layer.padded_shape
    grad = np.empty((n, channels, height - top - bottom, width - left - right), dtype=grad_out.dtype)

    def part(lo, hi):
        grad_cols = np.matmul(weights_t, grad_rows[lo:hi])  # (images, C·kh·kw, oh·ow)
        padded = np.zeros((hi - lo, channels, height, width), dtype=grad_out.dtype)
        image_kernels.col2im(grad_cols, padded, layer.kernel_size, layer.stride, oh, ow)
        grad[lo:hi] = padded[:, :, top:height - bottom, left:width - right]  # the padding had none
    run(part, ranges(n, threads, work=layer.cols.size))
    return grad


def conv_backward_params(layer, grad_out, threads):
    _gradients(layer, grad_out, threads)


def max_pool_forward(layer, x, training, threads):
    """``core.pooling.MaxPool2D.forward``: the maxima and their argmax in one pass."""
    _, oh, ow = layer.output_shape(x.shape[1:])
    layer.x_shape, layer._out_shape = x.shape, (oh, ow)
    n, channels = x.shape[:2]
    y = np.empty((n, channels, oh, ow), dtype=x.dtype)
    layer.argmax = argmax = np.empty((n, channels, oh, ow), dtype=np.int64)
    run(lambda lo, hi: image_kernels.max_pool(x[lo:hi], y[lo:hi], argmax[lo:hi], layer.kernel_size, layer.stride),
        ranges(n, threads, work=x.size))
    return y


def max_pool_backward(layer, grad_out, threads):
    """``core.pooling.MaxPool2D.backward``: each dY to the pixel that won its window."""
    grad = np.zeros(layer.x_shape, dtype=grad_out.dtype)
    argmax = layer.argmax
    run(lambda lo, hi: image_kernels.max_pool_backward(grad_out[lo:hi], argmax[lo:hi], grad[lo:hi],
                                                        layer.kernel_size, layer.stride),
        ranges(len(grad), threads, work=grad.size))
    return grad


def relu_max_pool_forward(relu, pool, x, training, threads):
    """``ReLU`` then ``MaxPool2D`` in one pass (``image_kernels.relu_max_pool``): the ReLU's mask
    is kept at the pooled size."""
    _, oh, ow = pool.output_shape(x.shape[1:])
    pool.x_shape, pool._out_shape = x.shape, (oh, ow)
    n, channels = x.shape[:2]
    y = np.empty((n, channels, oh, ow), dtype=x.dtype)
    pool.argmax = argmax = np.empty((n, channels, oh, ow), dtype=np.int64)
    relu.mask = mask = np.empty((n, channels, oh, ow), dtype=bool)
    run(lambda lo, hi: image_kernels.relu_max_pool(x[lo:hi], y[lo:hi], argmax[lo:hi], mask[lo:hi], pool.kernel_size,
                                                    pool.stride),
        ranges(n, threads, work=x.size))
    return y


def relu_max_pool_backward(relu, pool, grad_out, threads):
    """``MaxPool2D.backward`` then ``ReLU.backward`` in one pass."""
    grad = np.zeros(pool.x_shape, dtype=grad_out.dtype)
    argmax, mask = pool.argmax, relu.mask
    run(lambda lo, hi: image_kernels.relu_max_pool_backward(grad_out[lo:hi], argmax[lo:hi], mask[lo:hi], grad[lo:hi],
                                                             pool.kernel_size, pool.stride),
        ranges(len(grad), threads, work=grad.size))
    return grad
