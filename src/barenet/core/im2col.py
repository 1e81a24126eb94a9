"""im2col and col2im: the two helpers that turn convolution and pooling into array operations.

A layer that slides a kh × kw window over an image with strides (sh, sw) sees, at output
position (i, j), the input pixels X[:, :, sh·i + p, sw·j + q] for p < kh, q < kw. ``windows``
gives all of them at once as a view of shape (n, C, oh, ow, kh, kw), without copying; a
convolution then copies it once into a matrix with one row per output position (im2col) and
multiplies. ``col2im`` goes back: it adds gradients laid out like the windows onto the input,
where overlapping windows meet (a pixel that several windows saw gets the sum of their
gradients)::

    oh = ⌊(H + pad_top + pad_bottom − kh) / sh⌋ + 1          (and ow the same way)
"""
from __future__ import annotations

from . import checks as check
from .backend import xp

__all__ = ["pair", "output_size", "windows", "col2im", "MAX_SIZE"]

MAX_SIZE = 1 << 16  # kernels, strides, padding and channels: far beyond any real network


def pair(value, name: str, low: int = 1) -> tuple:
    """(a, b) from an int or a pair of ints, each in [low, MAX_SIZE] (PyTorch's ``kernel_size=3``
    means (3, 3)); ValueError or TypeError naming the argument otherwise."""
    items = tuple(value) if isinstance(value, (tuple, list)) else (value, value)
    size = check.Integer(low, MAX_SIZE)
    if len(items) != 2 or not all(size.accepts(v) for v in items):
        raise ValueError(f"{name} must be {size.describe()} or a pair of them, got {value!r}")
    return int(items[0]), int(items[1])


def output_size(size, kernel: int, stride: int, padding: int = 0):
    """How many windows of ``kernel`` fit along ``size`` pixels with ``padding`` in all and
    ``stride``: ⌊(size + padding − kernel) / stride⌋ + 1 (None when size is unknown)."""
    return None if size is None else (size + padding - kernel) // stride + 1


def windows(x, kernel: tuple, stride: tuple):
    """Every kh × kw window of images x (n, C, H, W), a stride apart: a read-only view of shape
    (n, C, oh, ow, kh, kw) into x; element [n, c, i, j, p, q] is x[n, c, sh·i + p, sw·j + q]."""
    view = xp.lib.stride_tricks.sliding_window_view(x, kernel, axis=(2, 3))
    return view[:, :, ::stride[0], ::stride[1]]


def col2im(grad_windows, image_shape: tuple, stride: tuple):
    """The gradient with respect to images of ``image_shape`` (n, C, H, W), from the gradient
    with respect to their windows (n, C, oh, ow, kh, kw): each window element adds its gradient
    to the pixel it was read from. One strided addition per kernel offset (p, q)."""
    n, channels, oh, ow, kh, kw = grad_windows.shape
    sh, sw = stride
    grad = xp.zeros(image_shape, dtype=grad_windows.dtype)
    # The offsets last to first, so that a pixel in several windows adds their gradients in the
    # order the windows come, row by row (as the compiled loops do: the same sum, rounded alike).
    for p in reversed(range(kh)):
        for q in reversed(range(kw)):
            grad[:, :, p:p + sh * oh:sh, q:q + sw * ow:sw] += grad_windows[:, :, :, :, p, q]
    return grad
