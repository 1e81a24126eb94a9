"""Layers that only change how each sample is laid out: ``Flatten`` and ``Reshape``.

``Flatten`` turns images into rows, between the convolutions and the dense layers; ``Reshape``
rows into images, so that a convolutional network takes barenet's flat image rows. Values are
untouched; backward lays the gradient out as the input was.
"""
from __future__ import annotations

import math

from .layers import Layer

__all__ = ["Flatten", "Reshape"]

MAX_SAMPLE_SIZE = 1 << 24  # values in one sample: as a Standardizer's features


class Flatten(Layer):
    """Each sample as one row, as PyTorch's ``Flatten()``: (n, C, H, W) → (n, C·H·W).

    In C order (channel by channel, row by row)::

        forward    Y  = X.reshape(n, −1)
        backward   dX = dY.reshape(X's shape)
    """

    cached = ("x_shape",)  # what backward needs from forward, released once it has run

    def output_shape(self, input_shape):
        """Return (C·H·W,): rows, of a width known once the input's shape is."""
        if input_shape is None or None in input_shape:
            return (None,)  # rows, of a width known once the input's shape is
        return (math.prod(input_shape),)

    def forward(self, x, training=True):
        """Y = X.reshape(n, C·H·W)."""
        self.x_shape = x.shape
        return x.reshape(len(x), math.prod(x.shape[1:]))  # not −1, which an empty batch cannot resolve

    def backward(self, grad_out):
        """dX = dY.reshape(X's shape)."""
        return grad_out.reshape(self.x_shape)


class Reshape(Layer):
    """Each sample to ``shape``, as Keras's ``Reshape``.

    ``Reshape((1, 28, 28))`` turns barenet's image rows (n, 784) into images (n, 1, 28, 28)::

        forward    Y  = X.reshape((n,) + shape)
        backward   dX = dY.reshape(X's shape)

    A network that starts with it takes rows of that many features.

    Parameters
    ----------
    shape : tuple of int
        1 to 4 positive sizes whose product is the sample's size (no −1).
    """

    cached = ("x_shape",)

    def __init__(self, shape):
        super().__init__()
        sizes = tuple(shape) if isinstance(shape, (tuple, list)) else None
        if not sizes or any(isinstance(s, bool) or not isinstance(s, int) or s < 1 for s in sizes) \
                or len(sizes) > 4 or math.prod(sizes) > MAX_SAMPLE_SIZE:
            raise ValueError(f"shape must be a tuple of 1 to 4 positive ints whose product is at most "
                             f"{MAX_SAMPLE_SIZE}, got {shape!r}")
        self.shape = sizes

    @property
    def in_shape(self):
        """Rows of as many features as ``shape`` holds values."""
        return (math.prod(self.shape),)

    def output_shape(self, input_shape):
        """Return ``shape``; ValueError for samples of another size."""
        if input_shape is not None and None not in input_shape and math.prod(input_shape) != math.prod(self.shape):
            raise ValueError(f"{self!r} needs samples of {math.prod(self.shape)} values, got samples of shape "
                             f"{input_shape} ({math.prod(input_shape)} values)")
        return self.shape

    def forward(self, x, training=True):
        """Y = X.reshape((n,) + shape)."""
        self.x_shape = x.shape
        return x.reshape((len(x),) + self.shape)

    def backward(self, grad_out):
        """dX = dY.reshape(X's shape)."""
        return grad_out.reshape(self.x_shape)

    def get_config(self):
        """Return shape."""
        return {"shape": list(self.shape)}

    def __repr__(self):
        return f"Reshape({self.shape})"
