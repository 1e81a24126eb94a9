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


def col2im(grad_windows, image_shape: tuple, stride: tuple):
    """Return the gradient with respect to images from the gradient with respect to their windows.

    Each window element adds its gradient to the pixel it was read from, where overlapping windows
    meet: one strided addition per kernel offset (p, q).

    Parameters
    ----------
    grad_windows : array (n, C, oh, ow, kh, kw)
        The gradient with respect to the windows.
    image_shape : tuple
        (n, C, H, W), the images' shape.
    stride : (int, int)
        (sh, sw).

    Returns
    -------
    array (n, C, H, W)
    """
    n, channels, oh, ow, kh, kw = grad_windows.shape
    sh, sw = stride
    grad = xp.zeros(image_shape, dtype=grad_windows.dtype)
    # The offsets last to first, so that a pixel in several windows adds their gradients in the
    # order the windows come, row by row (as the compiled loops do: the same sum, rounded alike).
    for p in reversed(range(kh)):
        for q in reversed(range(kw)):
            grad[:, :, p:p + sh * oh:sh, q:q + sw * ow:sw] += grad_windows[:, :, :, :, p, q]
    return grad
