"""Compiled loops for the image layers on the ``"numba"`` backend: im2col and col2im without the
padded copy, the layout changes between a convolution's rows and its images with the bias, and
max-pooling with its argmax, each one pass.

Each follows the NumPy code of its layer (``core.conv``, ``core.pooling``, ``core.im2col``),
named in its docstring, and gives its numbers bit for bit: where the reference adds several
terms into one pixel (col2im, where windows overlap), the loop adds them in the same order (the
kernel offset (p, q) outermost), so that the rounding is the same. The tests check each against
the reference (``tests/core/test_fast_image_layers.py``). Only the numba backend
(``core.backends.fused``) imports this module.
"""
from __future__ import annotations

import numba
import numpy as np

from .kernels import Batch, split_images

__all__ = ["im2col", "col2im", "rows_to_images", "images_to_rows", "max_pool", "max_pool_backward"]

_JIT = dict(cache=True, nogil=True, error_model="numpy", boundscheck=False)


# -- im2col and col2im ------------------------------------------------------------------------------

@numba.njit(**_JIT)
def _im2col_loop(x, cols, kh, kw, sh, sw, top, left, oh, ow):
    n, channels, height, width = x.shape
    zero = x.dtype.type(0)
    for m in range(n):
        for i in range(oh):
            for j in range(ow):
                row = (m * oh + i) * ow + j
                for c in range(channels):
                    for p in range(kh):
                        r = sh * i + p - top
                        for q in range(kw):
                            s = sw * j + q - left
                            inside = 0 <= r < height and 0 <= s < width
                            cols[row, (c * kh + p) * kw + q] = x[m, c, r, s] if inside else zero


def im2col(x, kernel, stride, pads, oh, ow, threads=1):
    """``core.conv.Conv2D.forward``'s ``cols``: every window of the zero-padded images x
    (n, C, H, W) as a row (n·oh·ow, C·kh·kw), the padding written as zeros, not copied first."""
    (kh, kw), (sh, sw), (top, _, left, _) = kernel, stride, pads
    x = np.ascontiguousarray(x)
    cols = np.empty((len(x) * oh * ow, x.shape[1] * kh * kw), dtype=x.dtype)
    split_images(_im2col_loop, len(x), threads, Batch(x), Batch(cols, oh * ow), kh, kw, sh, sw, top, left, oh, ow)
    return cols


@numba.njit(**_JIT)
def _col2im_loop(grad_cols, grad, kh, kw, sh, sw, top, left, oh, ow):
    n, channels, height, width = grad.shape
    for m in range(n):
        for c in range(channels):
            for p in range(kh):  # the reference's order: one kernel offset at a time
                for q in range(kw):
                    column = (c * kh + p) * kw + q
                    for i in range(oh):
                        r = sh * i + p - top
                        if 0 <= r < height:
                            for j in range(ow):
                                s = sw * j + q - left
                                if 0 <= s < width:
                                    grad[m, c, r, s] += grad_cols[(m * oh + i) * ow + j, column]


def col2im(grad_cols, image_shape, kernel, stride, pads, oh, ow, threads=1):
    """``core.im2col.col2im`` for a convolution's rows: the gradient (n·oh·ow, C·kh·kw) of
    ``cols`` added back onto the images' pixels (n, C, H, W); what fell on the padding is
    dropped (the reference adds it to a padded image and then cuts the padding off)."""
    (kh, kw), (sh, sw), (top, _, left, _) = kernel, stride, pads
    grad = np.zeros(image_shape, dtype=grad_cols.dtype)
    split_images(_col2im_loop, image_shape[0], threads, Batch(grad_cols, oh * ow), Batch(grad), kh, kw, sh, sw, top,
                 left, oh, ow)
    return grad


# -- a convolution's rows and its images ------------------------------------------------------------

@numba.njit(**_JIT)
def _rows_to_images_loop(rows, bias, has_bias, images):
    n, filters, oh, ow = images.shape
    for m in range(n):
        for f in range(filters):
            for i in range(oh):
                for j in range(ow):
                    value = rows[(m * oh + i) * ow + j, f]
                    images[m, f, i, j] = value + bias[f] if has_bias else value


def rows_to_images(rows, bias, n, oh, ow, threads=1):
    """``Conv2D.forward``'s last lines: Y = rows + b, seen as (n, F, oh, ow) and copied into that
    layout (the next layer reads it contiguous)."""
    filters = rows.shape[1]
    images = np.empty((n, filters, oh, ow), dtype=rows.dtype)
    has_bias = bias is not None
    split_images(_rows_to_images_loop, n, threads, Batch(rows, oh * ow), bias if has_bias else rows[0], has_bias,
                 Batch(images))
    return images


@numba.njit(**_JIT)
def _images_to_rows_loop(images, rows):
    n, filters, oh, ow = images.shape
    for m in range(n):
        for i in range(oh):
            for j in range(ow):
                for f in range(filters):
                    rows[(m * oh + i) * ow + j, f] = images[m, f, i, j]


def images_to_rows(images, threads=1):
    """``Conv2D._parameter_gradients``'s first line: dY (n, F, oh, ow) as rows (n·oh·ow, F)."""
    n, filters, oh, ow = images.shape
    rows = np.empty((n * oh * ow, filters), dtype=images.dtype)
    split_images(_images_to_rows_loop, n, threads, Batch(np.ascontiguousarray(images)), Batch(rows, oh * ow))
    return rows


# -- max-pooling ------------------------------------------------------------------------------------

@numba.njit(**_JIT)
def _max_pool_loop(x, y, argmax, kh, kw, sh, sw):
    n, channels, oh, ow = y.shape
    for m in range(n):
        for c in range(channels):
            for i in range(oh):
                for j in range(ow):
                    best = x[m, c, sh * i, sw * j]
                    won = 0
                    for p in range(kh):
                        for q in range(kw):
                            value = x[m, c, sh * i + p, sw * j + q]
                            # np.argmax's rule: the first maximum, and the first NaN above all
                            if value > best or (value != value and best == best):
                                best = value
                                won = p * kw + q
                    y[m, c, i, j] = best
                    argmax[m, c, i, j, 0] = won


def max_pool(x, kernel, stride, oh, ow, threads=1):
    """``core.pooling.MaxPool2D.forward``: (Y, argmax), argmax shaped (n, C, oh, ow, 1) as the
    reference keeps it."""
    n, channels = x.shape[:2]
    x = np.ascontiguousarray(x)
    y = np.empty((n, channels, oh, ow), dtype=x.dtype)
    argmax = np.empty((n, channels, oh, ow, 1), dtype=np.int64)
    split_images(_max_pool_loop, n, threads, Batch(x), Batch(y), Batch(argmax), *kernel, *stride)
    return y, argmax


@numba.njit(**_JIT)
def _max_pool_backward_loop(grad_out, argmax, grad, kh, kw, sh, sw):
    n, channels, oh, ow = grad_out.shape
    for m in range(n):
        for c in range(channels):
            for p in range(kh):  # the reference's order, for windows that overlap
                for q in range(kw):
                    k = p * kw + q
                    for i in range(oh):
                        for j in range(ow):
                            if argmax[m, c, i, j, 0] == k:
                                grad[m, c, sh * i + p, sw * j + q] += grad_out[m, c, i, j]


def max_pool_backward(grad_out, argmax, image_shape, kernel, stride, threads=1):
    """``core.pooling.MaxPool2D.backward``: each dY to the pixel that won its window."""
    grad = np.zeros(image_shape, dtype=grad_out.dtype)
    split_images(_max_pool_backward_loop, image_shape[0], threads, Batch(np.ascontiguousarray(grad_out)),
                 Batch(argmax), Batch(grad), *kernel, *stride)
    return grad
