"""im2col and col2im: the two helpers that turn convolution and pooling into array operations.

A layer that slides a kh × kw window over an image with strides (sh, sw) sees, at output
position (i, j), the input pixels X[:, :, sh·i + p, sw·j + q] for p < kh, q < kw. For one kernel
offset (p, q), those pixels over every output position are one strided slice of the image,
``X[:, :, p::sh, q::sw]`` cut to (oh, ow): ``offset`` gives it. ``im2col`` copies the slices of
every offset into one matrix per image, a column for each output pixel, (C·kh·kw, oh·ow), so
that a convolution is one matrix product per image. ``col2im`` goes back: it adds gradients laid
out like those columns onto the image, where overlapping windows meet (a pixel that several
windows saw gets the sum of their gradients). ``windows`` gives every window at once, as a view::

    oh = ⌊(H + pad_top + pad_bottom − kh) / sh⌋ + 1          (and ow the same way)
"""
from __future__ import annotations

from . import checks as check
from .backend import xp

__all__ = ["pair", "output_size", "offset", "windows", "im2col", "col2im", "MAX_SIZE"]

MAX_SIZE = 1 << 16  # kernels, strides, padding and channels: far beyond any real network


def pair(value, name: str, low: int = 1) -> tuple:
    """Return (a, b) from an int or a pair of ints (PyTorch's ``kernel_size=3`` means (3, 3)).

    Parameters
    ----------
    value : int or (int, int)
        The argument.
    name : str
        Its name, for the error.
    low : int, default 1
        The smallest value allowed; the largest is ``MAX_SIZE``.

    Raises
    ------
    ValueError
        If the value is not one or two ints in [low, MAX_SIZE].
    """
    items = tuple(value) if isinstance(value, (tuple, list)) else (value, value)
    size = check.Integer(low, MAX_SIZE)
    if len(items) != 2 or not all(size.accepts(v) for v in items):
        raise ValueError(f"{name} must be {size.describe()} or a pair of them, got {value!r}")
    return int(items[0]), int(items[1])


def output_size(size, kernel: int, stride: int, padding: int = 0):
    """Return how many windows of ``kernel`` fit along ``size`` pixels: ⌊(size + padding − kernel) / stride⌋ + 1.

    ``padding`` is the zeros added in all (both sides); None when ``size`` is None (unknown).
    """
    return None if size is None else (size + padding - kernel) // stride + 1


def windows(x, kernel: tuple, stride: tuple):
    """Return every kh × kw window of images x (n, C, H, W), a stride apart, without copying.

    Parameters
    ----------
    x : array (n, C, H, W)
        Images.
    kernel, stride : (int, int)
        (kh, kw) and (sh, sw).

    Returns
    -------
    array (n, C, oh, ow, kh, kw)
        A read-only view into x: element [n, c, i, j, p, q] is x[n, c, sh·i + p, sw·j + q].
    """
    view = xp.lib.stride_tricks.sliding_window_view(x, kernel, axis=(2, 3))
    return view[:, :, ::stride[0], ::stride[1]]


def offset(x, p: int, q: int, out_shape: tuple, stride: tuple):
    """Return the pixel at kernel offset (p, q) of every window: x[:, :, sh·i + p, sw·j + q] for all (i, j).

    Parameters
    ----------
    x : array (n, C, H, W)
        Images.
    p, q : int
        The offset inside the window.
    out_shape, stride : (int, int)
        (oh, ow) and (sh, sw).

    Returns
    -------
    array (n, C, oh, ow)
        A view into x.
    """
    (oh, ow), (sh, sw) = out_shape, stride
    return x[:, :, p:p + sh * oh:sh, q:q + sw * ow:sw]


def im2col(x, kernel: tuple, stride: tuple, out_shape: tuple):
    """Return every window of images x as columns: for each image, (C·kh·kw, oh·ow).

    Column (i, j) of image m holds the window at output pixel (i, j), channel by channel, row by
    row: cols[m, (c, p, q), (i, j)] = x[m, c, sh·i + p, sw·j + q]. Built one kernel offset at a
    time, each a strided slice of the images.

    Parameters
    ----------
    x : array (n, C, H, W)
        Images (already padded).
    kernel, stride, out_shape : (int, int)
        (kh, kw), (sh, sw) and (oh, ow).

    Returns
    -------
    array (n, C·kh·kw, oh·ow)
    """
    (kh, kw), (oh, ow) = kernel, out_shape
    n, channels = x.shape[:2]
    cols = xp.empty((n, channels, kh, kw, oh, ow), dtype=x.dtype)
    for p in range(kh):
        for q in range(kw):
            cols[:, :, p, q] = offset(x, p, q, out_shape, stride)
    return cols.reshape(n, channels * kh * kw, oh * ow)


def col2im(grad_cols, image_shape: tuple, kernel: tuple, stride: tuple):
    """Return the gradient with respect to images from the gradient with respect to their columns.

    Each column element adds its gradient to the pixel it was read from, where overlapping windows
    meet: one strided addition per kernel offset (p, q). The inverse of ``im2col``'s layout.

    Parameters
    ----------
    grad_cols : array (n, C·kh·kw, oh·ow)
        The gradient with respect to ``im2col``'s columns.
    image_shape : (int, int, int, int)
        (n, C, H, W) of the images (padded).
    kernel, stride : (int, int)
        (kh, kw) and (sh, sw).

    Returns
    -------
    array (n, C, H, W)
    """
    n, channels = image_shape[:2]
    kh, kw = kernel
    grad = xp.zeros(image_shape, dtype=grad_cols.dtype)
    grad_windows = grad_cols.reshape(n, channels, kh, kw, -1)
    out_shape = output_size(image_shape[2], kh, stride[0]), output_size(image_shape[3], kw, stride[1])
    # The offsets last to first, so that a pixel in several windows adds their gradients in the
    # order the windows come, row by row (as the compiled loops do: the same sum, rounded alike).
    for p in reversed(range(kh)):
        for q in reversed(range(kw)):
            offset(grad, p, q, out_shape, stride)[...] += grad_windows[:, :, p, q].reshape(n, channels, *out_shape)
    return grad
