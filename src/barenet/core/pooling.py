"""Pooling layers: each output pixel sums up a window of one channel (its maximum, its mean).

Or a whole channel (``GlobalAvgPool2D``). Images are (n, C, H, W); pooling keeps the channels.
"""
from __future__ import annotations

from .backend import xp
from .im2col import col2im, output_size, pair, windows
from .layers import Layer

__all__ = ["MaxPool2D", "AvgPool2D", "GlobalAvgPool2D"]


def _image_shape(layer, input_shape):
    """(channels, height, width) of ``input_shape`` (None: unknown), or a ValueError naming the layer."""
    if input_shape is None:
        return None, None, None
    if len(input_shape) != 3:
        raise ValueError(f"{layer!r} takes images (channels, height, width), got samples of shape {input_shape}")
    return tuple(input_shape)


class _Pool2D(Layer):
    """What the two window poolings share: the window, the stride, and the output's size.

    The stride is the window's size unless given, as in PyTorch, and the output's size ⌊(H − k) / s⌋ + 1:
    a window that would reach past the image is left out (no padding).

    Parameters
    ----------
    kernel_size : int or (int, int)
        (kh, kw), the window; an int is a square one.
    stride : int or (int, int), optional
        (sh, sw); the window's size by default.
    """

    in_shape = (None, None, None)  # images of any number of channels and any size
    cached = ("x_shape",)  # what backward needs from forward, released once it has run

    def __init__(self, kernel_size, stride=None):
        super().__init__()
        self.kernel_size = pair(kernel_size, "kernel_size")
        self.stride = self.kernel_size if stride is None else pair(stride, "stride")

    def output_shape(self, input_shape):
        """Return (C, oh, ow) for images; ValueError where the window does not fit."""
        channels, h, w = _image_shape(self, input_shape)
        oh, ow = (output_size(size, k, s) for size, k, s in zip((h, w), self.kernel_size, self.stride))
        if (oh is not None and oh < 1) or (ow is not None and ow < 1):
            raise ValueError(f"{self!r}: its {self.kernel_size} window does not fit in {(h, w)} images")
        return (channels, oh, ow)

    def _windows(self, x):
        """Return the windows of x (n, C, oh, ow, kh·kw): a copy, one window's pixels along the last axis."""
        self.output_shape(x.shape[1:])  # checks that x holds images and that the window fits
        self.x_shape = x.shape
        view = windows(x, self.kernel_size, self.stride)
        return view.reshape(view.shape[:4] + (-1,))

    def get_config(self):
        """Return kernel_size and stride."""
        return {"kernel_size": list(self.kernel_size), "stride": list(self.stride)}

    def __repr__(self):
        def short(value):
            return value[0] if value[0] == value[1] else value
        stride = "" if self.stride == self.kernel_size else f", stride={short(self.stride)}"
        return f"{type(self).__name__}({short(self.kernel_size)}{stride})"


class MaxPool2D(_Pool2D):
    """Max-pooling: each output is the largest value in its kh × kw window of one channel.

    The windows are a stride apart (the window's size by default). The gradient goes only to the
    input that won its window, where backward routes it by the argmax kept from forward (a tie goes
    to the first in the window, as in PyTorch). Shapes: X (n, C, H, W), Y and dY (n, C, oh, ow)::

        forward    Y[n, c, i, j] = max over (p, q) of X[n, c, sh·i + p, sw·j + q]
                   A[n, c, i, j] = the (p, q) of that maximum
        backward   dX[n, c, sh·i + p, sw·j + q] += dY[n, c, i, j]   where (p, q) = A[n, c, i, j]

    (+= because overlapping windows can share their winner.)

    Parameters
    ----------
    kernel_size : int or (int, int)
        (kh, kw), the window; an int is a square one.
    stride : int or (int, int), optional
        (sh, sw); the window's size by default.
    """

    cached = ("x_shape", "argmax")

    def forward(self, x, training=True):
        """Y = the maximum of each window; A, which pixel won it, kept for backward."""
        values = self._windows(x)
        self.argmax = values.argmax(axis=-1)[..., None]  # (n, C, oh, ow, 1): which pixel won
        return xp.take_along_axis(values, self.argmax, axis=-1)[..., 0]

    def backward(self, grad_out):
        """dX[winner of each window] += dY; 0 elsewhere."""
        routed = xp.zeros(grad_out.shape + (self.kernel_size[0] * self.kernel_size[1],), dtype=grad_out.dtype)
        xp.put_along_axis(routed, self.argmax, grad_out[..., None], axis=-1)  # dY to the winners, 0 elsewhere
        return col2im(routed.reshape(grad_out.shape + self.kernel_size), self.x_shape, self.stride)


class AvgPool2D(_Pool2D):
    """Average pooling: each output is the mean of its kh × kw window of one channel.

    The windows are a stride apart (the window's size by default); every input in the window gets
    an equal share of the gradient. Shapes: X (n, C, H, W), Y and dY (n, C, oh, ow)::

        forward    Y[n, c, i, j] = (1 / kh·kw) Σ over (p, q) of X[n, c, sh·i + p, sw·j + q]
        backward   dX[n, c, sh·i + p, sw·j + q] += dY[n, c, i, j] / kh·kw      for every (p, q)

    Parameters
    ----------
    kernel_size : int or (int, int)
        (kh, kw), the window; an int is a square one.
    stride : int or (int, int), optional
        (sh, sw); the window's size by default.
    """

    def forward(self, x, training=True):
        """Y = the mean of each window."""
        return self._windows(x).mean(axis=-1)

    def backward(self, grad_out):
        """dX[each pixel of a window] += dY / (kh·kw)."""
        share = grad_out / (self.kernel_size[0] * self.kernel_size[1])
        shared = xp.broadcast_to(share[..., None, None], grad_out.shape + self.kernel_size)
        return col2im(shared, self.x_shape, self.stride)


class GlobalAvgPool2D(Layer):
    """The mean of each channel over the whole image: (n, C, H, W) → (n, C).

    For a network's head: no dense layer over every pixel, and any image size. Shapes:
    X (n, C, H, W), Y and dY (n, C)::

        forward    Y[n, c] = (1 / H·W) Σ over (h, w) of X[n, c, h, w]
        backward   dX[n, c, h, w] = dY[n, c] / H·W
    """

    in_shape = (None, None, None)
    cached = ("x_shape",)

    def output_shape(self, input_shape):
        """Return (C,) for images of C channels."""
        return _image_shape(self, input_shape)[:1]

    def forward(self, x, training=True):
        """Y[n, c] = the mean of X[n, c] over the image."""
        self.output_shape(x.shape[1:])
        self.x_shape = x.shape
        return x.mean(axis=(2, 3))

    def backward(self, grad_out):
        """dX[n, c, h, w] = dY[n, c] / (H·W)."""
        pixels = self.x_shape[2] * self.x_shape[3]
        return xp.broadcast_to((grad_out / pixels)[:, :, None, None], self.x_shape).copy()
