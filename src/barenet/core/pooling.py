"""Pooling layers: each output pixel sums up a window of one channel (its maximum, its mean).

Or a whole channel (``GlobalAvgPool2D``). Images are (n, C, H, W); pooling keeps the channels.
"""
from __future__ import annotations

from .backend import on_device, xp
from .im2col import offset, output_size, pair
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

    def _offsets(self, x):
        """Return (oh, ow) and, for each offset (p, q) of the window in reading order, its pixel of every window.

        Checks that x holds images and that the window fits, and keeps x's shape for backward.
        """
        _, oh, ow = self.output_shape(x.shape[1:])
        self.x_shape = x.shape
        kh, kw = self.kernel_size
        return (oh, ow), [offset(x, p, q, (oh, ow), self.stride) for p in range(kh) for q in range(kw)]

    def _spread(self, share, grad_out):
        """Return dX from each window offset's share of dY, which ``share(k, out)`` writes into ``out``.

        Offset k = p·kw + q's share (n, C, oh, ow) goes to the pixels that offset read. Where
        windows overlap, a pixel adds the shares of its windows, the offsets last to first, so that
        it adds them in the order the windows come, row by row; where they do not, each pixel has
        one share at most, written in place.
        """
        grad = xp.zeros(self.x_shape, dtype=grad_out.dtype)
        kh, kw = self.kernel_size
        overlap = self.stride[0] < kh or self.stride[1] < kw
        buffer = xp.empty_like(grad_out) if overlap else None
        for k in reversed(range(kh * kw)):
            pixels = offset(grad, k // kw, k % kw, self._out_shape, self.stride)
            if overlap:
                pixels += share(k, buffer)
            else:
                share(k, pixels)
        return grad

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

    cached = ("x_shape", "_out_shape", "argmax")

    def forward(self, x, training=True):
        """Y = the maximum of each window; A, which pixel won it (k = p·kw + q), kept for backward."""
        self._out_shape, values = self._offsets(x)
        y = values[0].copy()
        # The offset's number k, in the smallest integer that holds it (uint8 for windows up to 16 × 16)
        self.argmax = xp.zeros(y.shape, dtype=xp.min_scalar_type(len(values) - 1))
        for k, value in enumerate(values[1:], 1):
            larger = value > y  # np.argmax's rule: the first maximum wins a tie
            xp.maximum(y, value, out=y)  # a NaN stays: it is the maximum of its window
            self.argmax += larger * (k - self.argmax)  # argmax = k where larger (a masked write is slower)
        # Rare, so looked for once here rather than at every offset; but a GPU would wait for the answer
        if on_device() or xp.isnan(y).any():
            for k in reversed(range(len(values))):  # np.argmax's rule again: the first NaN wins its window
                xp.copyto(self.argmax, k, where=xp.isnan(values[k]))
        return y

    def check_gradient(self, grad_out):
        """Raise a ValueError naming the layer where dY is not the shape of forward's output.

        Both backends check it before routing dY: numba's compiled loops index dX by dY's shape
        without bounds checks, so a dY of another shape would write outside dX.
        """
        if grad_out.shape != self.argmax.shape:
            raise ValueError(f"{self!r}: dY of shape {grad_out.shape} does not match its output's {self.argmax.shape}")

    def backward(self, grad_out):
        """dX[the winner of each window] += dY; 0 elsewhere."""
        self.check_gradient(grad_out)
        # With dY finite, 0 · dY is 0, and on the CPU a product is ten times faster than xp.where; a GPU
        # would wait for the answer, and its xp.where is as fast
        if not on_device() and xp.isfinite(grad_out).all():
            return self._spread(lambda k, out: xp.multiply(self.argmax == k, grad_out, out=out), grad_out)
        zero = xp.zeros((), dtype=grad_out.dtype)

        def share(k, out):
            out[...] = xp.where(self.argmax == k, grad_out, zero)
            return out
        return self._spread(share, grad_out)


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

    cached = ("x_shape", "_out_shape")

    def forward(self, x, training=True):
        """Y = the mean of each window: the sum of its offsets' pixels over kh·kw."""
        self._out_shape, values = self._offsets(x)
        total = values[0].copy()
        for value in values[1:]:
            total += value
        return total / len(values)

    def backward(self, grad_out):
        """dX[each pixel of a window] += dY / (kh·kw)."""
        share = grad_out / (self.kernel_size[0] * self.kernel_size[1])

        def write(k, out):
            out[...] = share
            return out
        return self._spread(write, share)


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
