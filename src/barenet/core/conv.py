"""The convolutional layer, ``Conv2D``: PyTorch's ``Conv2d``, with its weight layout.

So weights copy across either way.
"""
from __future__ import annotations

import numpy as np

from . import checks as check
from .backend import xp
from .im2col import MAX_SIZE, col2im, im2col, output_size, pair
from .layers import Layer, init_weights

__all__ = ["Conv2D"]

INFERENCE_BYTES = 1 << 24  # inference builds the columns of this many bytes of images at a time: a batch's
# columns are kh·kw times its images (about 0.9 GB for 1,024 images of 32 channels at 28 × 28, 3 × 3)


class Conv2D(Layer):
    """A 2-D convolution: each output pixel is a weighted sum of a kh × kw window of every channel.

    Plus a bias, with the same weights at every position of the image. (As in PyTorch, the kernel
    is not flipped: strictly, a cross-correlation.)

    Shapes: X (n, C, H, W), W (F, C, kh, kw), b (F,), Y and dY (n, F, oh, ow), with
    oh = ⌊(H + pad_top + pad_bottom − kh) / sh⌋ + 1 (ow likewise). im2col copies every window of
    the padded image m into a column of ``cols[m]``, after which the layer is a dense layer
    applied to every column; W is seen as (F, C·kh·kw) and dY[m] as (F, oh·ow)::

        forward    cols[m] = im2col(X[m])                 (C·kh·kw, oh·ow)
                   Y[m]    = W cols[m] + b                (F, oh·ow), seen as (F, oh, ow)
        backward   dW      = Σ_m dY[m] cols[m]ᵀ           (F, C·kh·kw)   X correlated with dY
                   db      = Σ dY over n, oh, ow          (F,)
                   dX[m]   = col2im(Wᵀ dY[m])             (C, H, W)      a transposed convolution

    Weights start by He's rule, normal with variance 2 / fan_in, fan_in = C·kh·kw; biases at zero.

    Parameters
    ----------
    in_channels, out_channels : int
        C and F.
    kernel_size : int or (int, int)
        (kh, kw); an int is a square kernel.
    stride : int or (int, int), default 1
        (sh, sw).
    padding : int or (int, int) or "same" or "valid", default 0
        Rows and columns of zeros on each side. ``"same"`` (stride 1 only) keeps the image's size:
        k − 1 pixels of zeros, (k − 1) // 2 before and the rest after, as PyTorch pads; ``"valid"``
        is 0. Padding is at most k − 1 (more would only add outputs that see nothing but zeros).
    bias : bool, default True
        Whether to add b.
    """

    constraints = {"in_channels": check.Integer(1, MAX_SIZE), "out_channels": check.Integer(1, MAX_SIZE),
                   "bias": check.Boolean()}
    cached = ("cols", "x", "padded_shape")  # what backward needs from forward, released once it has run

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0, bias: bool = True):
        super().__init__()
        check.arguments(self, in_channels=in_channels, out_channels=out_channels, bias=bias)
        self.kernel_size = pair(kernel_size, "kernel_size")
        self.stride = pair(stride, "stride")
        self.padding = padding if padding == "same" else pair(0 if padding == "valid" else padding, "padding", 0)
        self.pads = self._pads()

    def _pads(self):
        """(top, bottom, left, right): the rows and columns of zeros around the image."""
        (kh, kw), padding = self.kernel_size, self.padding
        if padding == "same":
            if self.stride != (1, 1):
                raise ValueError(f"padding='same' needs stride 1, got stride={self.stride}")
            return (kh - 1) // 2, kh // 2, (kw - 1) // 2, kw // 2
        if padding[0] >= kh or padding[1] >= kw:
            raise ValueError(f"padding must be less than kernel_size {self.kernel_size}, got {padding}")
        return padding[0], padding[0], padding[1], padding[1]

    @property
    def in_shape(self):
        """(in_channels, None, None): images of any size."""
        return (self.in_channels, None, None)

    def output_shape(self, input_shape):
        """Return (F, oh, ow) for images of ``in_channels``; ValueError where the kernel does not fit."""
        shape = self.in_shape if input_shape is None else tuple(input_shape)
        if len(shape) != 3 or shape[0] not in (None, self.in_channels):
            raise ValueError(f"{self!r} takes images of {self.in_channels} channels (channels, height, width), "
                             f"got samples of shape {shape}")
        top, bottom, left, right = self.pads
        oh = output_size(shape[1], self.kernel_size[0], self.stride[0], top + bottom)
        ow = output_size(shape[2], self.kernel_size[1], self.stride[1], left + right)
        if (oh is not None and oh < 1) or (ow is not None and ow < 1):
            raise ValueError(f"{self!r}: its {self.kernel_size} kernel does not fit in {shape[1:]} images "
                             f"padded by {self.pads}")
        return (self.out_channels, oh, ow)

    def param_shapes(self):
        """Return W's shape (F, C, kh, kw), and b's (F,) where there is a bias."""
        return {"W": (self.out_channels, self.in_channels, *self.kernel_size),
                **({"b": (self.out_channels,)} if self.bias else {})}

    def build(self, rng, dtype):
        """Draw W by He's rule (fan_in = C·kh·kw); b starts at zero."""
        fan_in = self.in_channels * self.kernel_size[0] * self.kernel_size[1]
        weights = init_weights("he", rng, fan_in, self.out_channels, dtype)  # (fan_in, F), as Dense's
        self.params = {"W": weights.T.reshape(self.param_shapes()["W"])}
        if self.bias:
            self.params["b"] = xp.zeros(self.out_channels, dtype=dtype)
        self.grads = {name: xp.zeros_like(value) for name, value in self.params.items()}
        self.built = True

    def forward(self, x, training=True):
        """cols[m] = im2col(X[m]); Y[m] = W cols[m] + b, for every image m at once.

        In inference (``training=False``) the columns are built a few images at a time and not kept
        (``_inference``): the same numbers, in memory that does not grow with the batch.
        """
        if not self.built:  # used on its own, outside a model: initialise on first use
            self.build(np.random.default_rng(), x.dtype)
        _, oh, ow = self.output_shape(x.shape[1:])  # checks the channels, and that the kernel fits
        top, bottom, left, right = self.pads
        self.padded_shape = (*x.shape[:2], x.shape[2] + top + bottom, x.shape[3] + left + right)
        if not training:
            return self._inference(x, oh, ow)
        self.cols, self.x = self._columns(x, oh, ow), None  # (n, C·kh·kw, oh·ow)
        y = xp.matmul(self._weights(), self.cols)  # one product per image: (n, F, oh·ow)
        if self.bias:
            y += self.params["b"][:, None]
        return y.reshape(len(x), self.out_channels, oh, ow)

    def _columns(self, x, oh, ow):
        """Return im2col of the images x, padded: (n, C·kh·kw, oh·ow)."""
        top, bottom, left, right = self.pads
        padded = xp.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right))) if any(self.pads) else x
        return im2col(padded, self.kernel_size, self.stride, (oh, ow))

    def _inference(self, x, oh, ow):
        """Y = W cols + b as forward, the columns of ``INFERENCE_BYTES`` of images at a time, none kept.

        Keeps X instead, should backward come all the same (a layer used alone): it builds them then,
        from X as it is then (a reference, not a copy: X changed in between changes the gradients).
        """
        n, weights = len(x), self._weights()
        self.cols, self.x = None, x
        step = max(1, INFERENCE_BYTES // (weights.shape[1] * oh * ow * x.dtype.itemsize))
        y = xp.empty((n, self.out_channels, oh * ow), dtype=xp.result_type(weights, x))  # as matmul's
        for a in range(0, n, step):
            y[a:a + step] = xp.matmul(weights, self._columns(x[a:a + step], oh, ow))
        if self.bias:
            y += self.params["b"][:, None]
        return y.reshape(n, self.out_channels, oh, ow)

    def backward(self, grad_out):
        """dX[m] = col2im(Wᵀ dY[m]), the padding cut off; dW and db into the gradients."""
        grad_flat = self._parameter_gradients(grad_out)
        # Wᵀ copied to rows first: NumPy's stacked matmul takes a transposed view ~5× slower
        grad_cols = xp.matmul(xp.ascontiguousarray(self._weights().T), grad_flat)  # (n, C·kh·kw, oh·ow)
        grad = col2im(grad_cols, self.padded_shape, self.kernel_size, self.stride)
        top, bottom, left, right = self.pads
        return grad[:, :, top:grad.shape[2] - bottom, left:grad.shape[3] - right]  # the padding had none

    def backward_params(self, grad_out):
        """dW = Σ_m dY[m] cols[m]ᵀ, db = Σ dY over n, oh, ow; no dX."""
        self._parameter_gradients(grad_out)

    def _weights(self):
        """W seen as (F, C·kh·kw): one row per filter."""
        return self.params["W"].reshape(self.out_channels, -1)

    def check_gradient(self, grad_out):
        """Raise a ValueError naming the layer where dY is not the shape of forward's output.

        Both backends check it first: numba's col2im indexes the image by dY's height and width
        without bounds checks, and the reference would give a wrong dX for a dY of the right size.
        """
        if "padded_shape" not in self.__dict__:
            raise RuntimeError(f"{self!r}: backward needs a forward pass just before it")
        n, _, height, width = self.padded_shape
        expected = (n, self.out_channels, output_size(height, self.kernel_size[0], self.stride[0]),
                    output_size(width, self.kernel_size[1], self.stride[1]))
        if tuple(grad_out.shape) != expected:
            raise ValueError(f"{self!r}: dY of shape {tuple(grad_out.shape)} does not match its output's {expected}")

    def _parameter_gradients(self, grad_out):
        """Set dW and db; return dY as (n, F, oh·ow), which dX needs too."""
        self.check_gradient(grad_out)
        grad_flat = grad_out.reshape(len(grad_out), self.out_channels, -1)
        if self.cols is None:  # forward ran in inference, which keeps X instead
            self.cols = self._columns(self.x, *grad_out.shape[2:])
        # dWᵀ = Σ_m cols[m] dY[m]ᵀ: the sums of Σ_m dY[m] cols[m]ᵀ, in the shape BLAS runs faster
        grad_t = xp.matmul(self.cols, grad_flat.transpose(0, 2, 1)).sum(axis=0)  # (C·kh·kw, F)
        self.grads["W"] = grad_t.T.reshape(self.grads["W"].shape)
        if self.bias:
            self.grads["b"] = grad_flat.sum(axis=2).sum(axis=0)  # each image's sum over its pixels, then theirs
        return grad_flat

    def get_config(self):
        """Return in_channels, out_channels, kernel_size, stride, padding and bias."""
        return {"in_channels": self.in_channels, "out_channels": self.out_channels,
                "kernel_size": list(self.kernel_size), "stride": list(self.stride),
                "padding": self.padding if self.padding == "same" else list(self.padding), "bias": self.bias}

    def __repr__(self):
        def short(value):
            return value[0] if isinstance(value, tuple) and value[0] == value[1] else value
        extra = "".join([f", stride={short(self.stride)}" if self.stride != (1, 1) else "",
                         f", padding={short(self.padding)!r}" if self.padding != (0, 0) else "",
                         ", bias=False" if not self.bias else ""])
        return f"Conv2D({self.in_channels}, {self.out_channels}, kernel_size={short(self.kernel_size)}{extra})"
