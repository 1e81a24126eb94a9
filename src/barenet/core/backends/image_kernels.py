"""Compiled loops for the image layers on the ``"numba"`` backend: padding, im2col and col2im,
and max-pooling with its argmax, each one pass over the images it is given (``core.backends.fused_images`` gives each
thread its own range of images).

Each follows the NumPy code of its layer (``core.conv``, ``core.pooling``, ``core.im2col``),
named in its docstring, and gives its numbers bit for bit: where several windows add into one
pixel (col2im, where windows overlap), the loop adds them in the reference's order, so that the
rounding is the same.

The loops over a window are compiled once for each window size (``_compiled``): a loop of 3
known steps is unrolled and its indices folded, which makes im2col twice as fast as a loop
whose window size is an argument. Each size is compiled on its first use and cached on disk.
Only the numba backend imports this module.
"""
from __future__ import annotations

import numba
import numpy as np

__all__ = ["pad", "im2col", "col2im", "max_pool", "max_pool_backward", "relu_max_pool", "relu_max_pool_backward"]

_JIT = dict(cache=True, nogil=True, error_model="numpy", boundscheck=False)
_MADE = {}


def _compiled(make, kh, kw):
    """``make(kh, kw)``'s loop, compiled for that window size (once per process; numba caches it)."""
    key = (make.__name__, kh, kw)
    if key not in _MADE:
        loop = make(kh, kw)
        loop.__name__ = loop.__qualname__ = f"{make.__name__.removeprefix('_make_')}_{kh}x{kw}"
        _MADE[key] = numba.njit(**_JIT)(loop)
    return _MADE[key]


# -- padding, im2col and col2im ---------------------------------------------------------------------

@numba.njit(**_JIT)
def _pad_loop(x, padded, top, left):
    n, channels, height, width = x.shape
    for m in range(n):
        for c in range(channels):
            for r in range(height):
                for s in range(width):
                    padded[m, c, top + r, left + s] = x[m, c, r, s]


def pad(x, pads):
    """The images x (n, C, H, W) inside a border of zeros (top, bottom, left, right)."""
    top, bottom, left, right = pads
    if not any(pads):
        return np.ascontiguousarray(x)
    n, channels, height, width = x.shape
    padded = np.zeros((n, channels, height + top + bottom, width + left + right), dtype=x.dtype)
    _pad_loop(x, padded, top, left)
    return padded


def _make_im2col(kh, kw):
    def loop(padded, cols, sh, sw, oh, ow):
        n, channels, height, width = padded.shape
        source, out = padded.reshape(-1), cols.reshape(-1)
        o = 0
        for plane in range(n * channels):
            for p in range(kh):
                for q in range(kw):
                    for i in range(oh):
                        row = (plane * height + sh * i + p) * width + q
                        for j in range(ow):
                            out[o] = source[row + sw * j]
                            o += 1
    return loop


def im2col(padded, cols, kernel, stride, oh, ow):
    """``core.im2col.im2col`` into ``cols`` (n, C·kh·kw, oh·ow): every window of the padded images
    (n, C, H, W) as a column, one kernel offset's row of pixels at a time."""
    _compiled(_make_im2col, *kernel)(padded, cols, stride[0], stride[1], oh, ow)


def _make_col2im(kh, kw):
    def loop(grad_cols, grad, sh, sw, oh, ow):
        n, channels, height, width = grad.shape
        source, out = grad_cols.reshape(-1), grad.reshape(-1)
        for plane in range(n * channels):
            for p in range(kh - 1, -1, -1):  # the offsets last to first, as the reference adds them
                for q in range(kw - 1, -1, -1):
                    o = ((plane * kh + p) * kw + q) * oh * ow
                    for i in range(oh):
                        row = (plane * height + sh * i + p) * width + q
                        for j in range(ow):
                            out[row + sw * j] += source[o]
                            o += 1
    return loop


def col2im(grad_cols, grad, kernel, stride, oh, ow):
    """``core.im2col.col2im``: the gradient (n, C·kh·kw, oh·ow) of the columns added onto
    ``grad``, the padded images' pixels (n, C, H, W), which start at zero; each pixel adds its
    windows' gradients in the reference's order (the offsets last to first)."""
    _compiled(_make_col2im, *kernel)(grad_cols, grad, stride[0], stride[1], oh, ow)


# -- max-pooling ------------------------------------------------------------------------------------

def _make_max_pool(kh, kw):
    def loop(x, y, argmax, sh, sw):
        n, channels, height, width = x.shape
        oh, ow = y.shape[2], y.shape[3]
        source, out, won_at = x.reshape(-1), y.reshape(-1), argmax.reshape(-1)
        o = 0
        for plane in range(n * channels):
            for i in range(oh):
                for j in range(ow):
                    corner = (plane * height + sh * i) * width + sw * j
                    best = source[corner]
                    won = 0
                    for p in range(kh):
                        for q in range(kw):
                            value = source[corner + p * width + q]
                            # np.argmax's rule: the first maximum, and the first NaN above all
                            take = (value > best) | ((value != value) & (best == best))
                            best = value if take else best
                            won = p * kw + q if take else won
                    out[o] = best
                    won_at[o] = won
                    o += 1
    return loop


def max_pool(x, y, argmax, kernel, stride):
    """``core.pooling.MaxPool2D.forward`` into y and argmax (n, C, oh, ow), the window offset
    (p·kw + q) of each maximum, as the reference keeps it."""
    _compiled(_make_max_pool, *kernel)(np.ascontiguousarray(x), y, argmax, *stride)


def _make_relu_max_pool(kh, kw):
    def loop(x, y, argmax, mask, sh, sw):
        n, channels, height, width = x.shape
        oh, ow = y.shape[2], y.shape[3]
        source, out, won_at, positive = x.reshape(-1), y.reshape(-1), argmax.reshape(-1), mask.reshape(-1)
        o = 0
        for plane in range(n * channels):
            for i in range(oh):
                for j in range(ow):
                    corner = (plane * height + sh * i) * width + sw * j
                    best = source[corner]
                    won = 0
                    for p in range(kh):
                        for q in range(kw):
                            value = source[corner + p * width + q]
                            take = (value > best) | ((value != value) & (best == best))
                            best = value if take else best
                            won = p * kw + q if take else won
                    positive[o] = best > 0
                    out[o] = best if best > 0 else best * (best - best)  # · 0 keeps NaN, as x * mask does
                    won_at[o] = won
                    o += 1
    return loop


def relu_max_pool(x, y, argmax, mask, kernel, stride):
    """``activations.ReLU`` then ``MaxPool2D``, as max-pooling then ReLU (the same numbers: the
    maximum of the rectified window is the rectified maximum) in one pass over the larger
    input: y, argmax as ``max_pool`` gives them, and the mask of the maxima above zero."""
    _compiled(_make_relu_max_pool, *kernel)(np.ascontiguousarray(x), y, argmax, mask, *stride)


def _make_relu_max_pool_backward(kh, kw):
    def loop(grad_out, argmax, mask, grad, sh, sw):
        n, channels, height, width = grad.shape
        oh, ow = grad_out.shape[2], grad_out.shape[3]
        source, won_at, positive, out = grad_out.reshape(-1), argmax.reshape(-1), mask.reshape(-1), grad.reshape(-1)
        o = 0
        for plane in range(n * channels):
            for i in range(oh):
                for j in range(ow):
                    won = won_at[o]
                    g = source[o]
                    out[(plane * height + sh * i + won // kw) * width + sw * j + won % kw] += \
                        g if positive[o] else g * (g - g)
                    o += 1
    return loop


def relu_max_pool_backward(grad_out, argmax, mask, grad, kernel, stride):
    """``MaxPool2D.backward`` then ``ReLU.backward``: each dY, where its maximum was above zero,
    added to the pixel of ``grad`` (which starts at zero) that won its window."""
    _compiled(_make_relu_max_pool_backward, *kernel)(np.ascontiguousarray(grad_out), argmax, mask, grad, *stride)


def _make_max_pool_backward(kh, kw):
    def loop(grad_out, argmax, grad, sh, sw):
        n, channels, height, width = grad.shape
        oh, ow = grad_out.shape[2], grad_out.shape[3]
        source, won_at, out = grad_out.reshape(-1), argmax.reshape(-1), grad.reshape(-1)
        o = 0
        for plane in range(n * channels):
            for i in range(oh):
                for j in range(ow):
                    won = won_at[o]
                    out[(plane * height + sh * i + won // kw) * width + sw * j + won % kw] += source[o]
                    o += 1
    return loop


def max_pool_backward(grad_out, argmax, grad, kernel, stride):
    """``core.pooling.MaxPool2D.backward``: each dY added to the pixel of ``grad`` (which starts
    at zero) that won its window, the windows row by row."""
    _compiled(_make_max_pool_backward, *kernel)(np.ascontiguousarray(grad_out), argmax, grad, *stride)
