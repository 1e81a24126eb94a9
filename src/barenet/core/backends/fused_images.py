"""The image layers on the ``"numba"`` backend: ``Conv2D`` and ``MaxPool2D`` as the compiled loops
of ``core.backends.image_kernels`` and NumPy's matrix products, each batch cut into ranges of
images that the backend's threads take one each (``core.backends.pool``).

The reference (``core.conv``) treats the convolution as one dense layer on the windows of every
image at once: ``cols`` (n·oh·ow, C·kh·kw) times Wᵀ, whose (n·oh·ow, F) result must then be
transposed into images (n, F, oh, ow), and dY transposed back for the gradients. Here the same
products are taken one image at a time, W cols[m]ᵀ, which comes out as (F, oh·ow), already the
layout of an image: no transposition either way, which for a first layer (one channel, 3 × 3:
nine columns) was most of its time. The sums are the same but added in another order, so the
results equal the reference's to rounding, not bit for bit
(``tests/core/test_fast_image_layers.py``).

A range of images goes through the whole of a forward pass on one thread (its windows, their
products, the bias), so the threads never wait on each other inside a layer. The weight
gradient sums over every image, so it is cut the other way, by filters.
"""
from __future__ import annotations

import numpy as np

from . import image_kernels
from .pool import ranges, run

MATRIX_ROWS = 16  # a matrix product is cut into parts of at least, and a multiple of, this many rows:
# fewer, and the BLAS library may take another path (one row: a matrix-vector product), which adds
# in another order than the whole product does

__all__ = ["MATRIX_ROWS", "conv_forward", "conv_backward", "conv_backward_params", "max_pool_forward", "max_pool_backward"]


def conv_forward(layer, x, training, threads):
    """``core.conv.Conv2D.forward``, one image at a time: Y[m] = W cols[m]ᵀ + b, (F, C·kh·kw)
    times (C·kh·kw, oh·ow), which is (F, oh, ow), the layout of the output, with no transposition.
    For each range of images: the padding, im2col, the products, the bias."""
    if not layer.built:
        return layer.forward(x, training)
    _, oh, ow = layer.output_shape(x.shape[1:])
    top, bottom, left, right = layer.pads
    n, channels, height, width = x.shape
    layer.padded_shape = (n, channels, height + top + bottom, width + left + right)
    pixels, filters = oh * ow, layer.out_channels
    weights = layer.params["W"].reshape(filters, -1)  # (F, C·kh·kw)
    layer.cols = cols = np.empty((n * pixels, weights.shape[1]), dtype=x.dtype)  # the reference's rows
    images = cols.reshape(n, pixels, -1)
    y = np.empty((n, filters, pixels), dtype=x.dtype)

    def part(lo, hi):
        image_kernels.im2col(image_kernels.pad(x[lo:hi], layer.pads), cols[lo * pixels:hi * pixels],
                             layer.kernel_size, layer.stride, oh, ow)
        np.matmul(weights, images[lo:hi].transpose(0, 2, 1), out=y[lo:hi])
        if layer.bias:
            y[lo:hi] += layer.params["b"][:, None]
    run(part, ranges(n, threads, work=cols.size))
    return y.reshape(n, filters, oh, ow)


def _gradients(layer, grad_out, threads):
    """``Conv2D._parameter_gradients``, one image at a time: dW = Σ_m dY[m] cols[m] (cut among
    the threads by filters), db = Σ dY over images and pixels; written into the network's
    gradient vector. Returns dY as (n, F, oh·ow)."""
    n, filters, oh, ow = grad_out.shape
    grad = np.ascontiguousarray(grad_out).reshape(n, filters, oh * ow)
    images = layer.cols.reshape(n, oh * ow, -1)
    target = layer.grads["W"]  # in a network, a view of its gradient vector: written in place
    in_place = target.flags.c_contiguous
    dW = target.reshape(filters, -1) if in_place else np.empty((filters, target[0].size), dtype=target.dtype)

    def by_filters(lo, hi):
        np.matmul(grad[:, lo:hi], images).sum(axis=0, out=dW[lo:hi])
    run(by_filters, ranges(filters, threads, work=images.size * filters // 64, align=MATRIX_ROWS))
    if not in_place:
        layer.grads["W"] = dW.reshape(target.shape)
    if layer.bias:
        layer.grads["b"] = grad.sum(axis=(0, 2))
    return grad


def conv_backward(layer, grad_out, threads):
    """``Conv2D.backward``: the parameters' gradients, then for each range of images
    dcols[m] = dY[m]ᵀ W, col2im onto the padded images, and their padding cut off."""
    grad_rows = _gradients(layer, grad_out, threads)  # (n, F, oh·ow)
    weights = layer.params["W"].reshape(layer.out_channels, -1)  # (F, C·kh·kw)
    n, _, oh, ow = grad_out.shape
    top, bottom, left, right = layer.pads
    _, channels, height, width = layer.padded_shape
    grad = np.empty((n, channels, height - top - bottom, width - left - right), dtype=grad_out.dtype)

    def part(lo, hi):
        grad_cols = np.matmul(grad_rows[lo:hi].transpose(0, 2, 1), weights)  # (images, oh·ow, C·kh·kw)
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
    layer.x_shape = x.shape
    n, channels = x.shape[:2]
    y = np.empty((n, channels, oh, ow), dtype=x.dtype)
    layer.argmax = argmax = np.empty((n, channels, oh, ow, 1), dtype=np.int64)
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
