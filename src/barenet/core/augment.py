"""Image augmentation: random small shifts, rotations, zooms, shears and elastic distortions.

Of a batch of images, all at once (no Python loop over images). Each output pixel p is read from
the input at A⁻¹(p - c - t) + c (+ an elastic displacement), where c is the image centre,
A = s·R(θ)·Shear(φ) and t the shift, with bilinear interpolation and black outside the image.
Moves of whole pixels alone (mirroring, and shifts with ``whole_pixels``) are copied exactly.
Use ``random_affine`` on arrays, or ``RandomAffine`` as the first layer of a model: it augments
every training batch and is the identity at inference.
"""
from __future__ import annotations

import inspect
import math

import numpy as np

from . import checks as check
from .backend import to_device, to_numpy
from .layers import Layer
from .sampling import per_sample

__all__ = ["random_affine", "RandomAffine"]

_AMOUNT = check.Real(0, 1e6, closed="left", what="a non-negative number")
SETTINGS = {"shift": _AMOUNT, "rotation": _AMOUNT, "scale": check.Real(0, 1, closed="left"), "shear": _AMOUNT,
            "elastic_alpha": _AMOUNT, "elastic_sigma": _AMOUNT, "flip": check.Boolean(), "whole_pixels": check.Boolean()}


def _smoothed_noise(rng, n, h, w, sigma):
    """Uniform(-1, 1) noise fields blurred by a Gaussian of ``sigma`` pixels (by FFT)."""
    field = per_sample(lambda m: rng.uniform(-1.0, 1.0, size=(m, h, w)), n)
    fy = np.fft.fftfreq(h)[:, None]
    fx = np.fft.rfftfreq(w)[None, :]
    transfer = np.exp(-2.0 * math.pi ** 2 * sigma ** 2 * (fx ** 2 + fy ** 2))
    return np.fft.irfft2(np.fft.rfft2(field) * transfer, s=(h, w))


def random_affine(images, rng, *, shift=2.0, rotation=12.0, scale=0.1, shear=0.0,
                  elastic_alpha=0.0, elastic_sigma=4.0, flip=False, whole_pixels=False) -> np.ndarray:
    """Return randomly transformed copies of ``images``, of their shape and dtype.

    Per image: a shift, a rotation, a zoom and a shear drawn uniformly within the bounds below and,
    with ``elastic_alpha`` > 0, an elastic distortion (Simard et al. 2003): a random displacement
    field blurred by a Gaussian of ``elastic_sigma`` pixels and scaled by ``elastic_alpha``.

    Parameters
    ----------
    images : array (n, height, width)
    rng : numpy.random.Generator or int
        The generator, or a seed.
    shift, rotation, scale, shear : float
        Up to ±shift pixels in each direction (default 2), ±rotation degrees (12), a zoom by a factor
        in [1 - scale, 1 + scale] (0.1), ±shear degrees (0).
    elastic_alpha, elastic_sigma : float
        The elastic distortion's scale (default 0: none) and blur (default 4 pixels).
    flip : bool, default False
        Mirror half the images (at random) left to right, for data where that keeps the label
        (clothes, not digits).
    whole_pixels : bool, default False
        Shift by whole pixels, up to ±floor(shift) each way. With rotation=0, scale=0 (both on by
        default), no shear and no elastic distortion, the images are then moved exactly, without
        interpolation: with shift=2, torchvision's ``RandomCrop(28, padding=2)`` (and its
        ``RandomHorizontalFlip`` with flip=True).

    Raises
    ------
    ValueError, TypeError
        For a setting out of its range (a negative shift, a scale of 1 or more) or of the wrong
        kind (a flag that is not True or False), naming it.
    """
    settings = _checked(shift=shift, rotation=rotation, scale=scale, shear=shear, elastic_alpha=elastic_alpha,
                        elastic_sigma=elastic_sigma, flip=flip, whole_pixels=whole_pixels)
    rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    images = np.asarray(images)
    if images.ndim != 3:
        raise ValueError(f"images must have shape (n, height, width), got {images.shape}")
    return _transform(images, rng, **settings)


def _checked(**settings) -> dict:
    """Return the settings, each checked against ``SETTINGS`` and converted (an error names it)."""
    return {name: SETTINGS[name](value, name) for name, value in settings.items()}


def _transform(images, rng, shift, rotation, scale, shear, elastic_alpha, elastic_sigma, flip, whole_pixels):
    """``random_affine`` with its settings already checked: exact moves of whole pixels, or the warp."""
    if not (rotation or scale or shear or elastic_alpha) and (whole_pixels or (flip and not shift)):
        return _translate(images, rng, int(shift), flip)  # whole pixels move: exactly, no interpolation
    return _warp(images, rng, shift, rotation, scale, shear, elastic_alpha, elastic_sigma, flip, whole_pixels)


def _warp(images, rng, shift, rotation, scale, shear, elastic_alpha, elastic_sigma, flip, whole_pixels):
    """``random_affine``'s general case: each image read through its own affine map, interpolated."""
    n, h, w = images.shape
    angle = np.deg2rad(per_sample(lambda m: rng.uniform(-rotation, rotation, m), n))
    zoom = 1.0 + per_sample(lambda m: rng.uniform(-scale, scale, m), n)
    skew = np.tan(np.deg2rad(per_sample(lambda m: rng.uniform(-shear, shear, m), n)))
    tx, ty = _shifts(rng, n, shift, whole_pixels)
    # A = zoom · [[cos, -sin], [sin, cos]] · [[1, skew], [0, 1]]; its inverse maps output to input.
    cos, sin = np.cos(angle), np.sin(angle)
    a, b, c, d = zoom * cos, zoom * (cos * skew - sin), zoom * sin, zoom * (sin * skew + cos)
    if flip:  # mirror: negate the first column of A for the chosen images
        mirror = np.where(per_sample(rng.random, n) < 0.5, -1.0, 1.0)
        a, c = a * mirror, c * mirror
    det = a * d - b * c
    inv = np.stack([d, -b, -c, a], axis=1) / det[:, None]
    cy, cx = (h - 1) / 2.0, (w - 1) / 2.0
    rows, cols = np.mgrid[0:h, 0:w].astype(np.float32)
    inv, tx, ty = inv.astype(np.float32), tx.astype(np.float32), ty.astype(np.float32)
    dx = cols.reshape(1, -1) - (cx + tx[:, None])
    dy = rows.reshape(1, -1) - (cy + ty[:, None])
    src_x = inv[:, 0:1] * dx + inv[:, 1:2] * dy + cx
    src_y = inv[:, 2:3] * dx + inv[:, 3:4] * dy + cy
    if elastic_alpha:
        src_x += elastic_alpha * _smoothed_noise(rng, n, h, w, elastic_sigma).reshape(n, -1)
        src_y += elastic_alpha * _smoothed_noise(rng, n, h, w, elastic_sigma).reshape(n, -1)
    return _bilinear(images, src_x, src_y).reshape(images.shape).astype(images.dtype, copy=False)


def _shifts(rng, n, shift, whole_pixels):
    """Each image's shift (tx, ty), up to ±shift each way: uniform, or whole pixels up to ±floor(shift)."""
    if whole_pixels:
        return per_sample(lambda m: rng.integers(-int(shift), int(shift), (2, m), endpoint=True), n, axis=1)
    return per_sample(lambda m: rng.uniform(-shift, shift, (2, m)), n, axis=1)


def _translate(images, rng, shift, flip):
    """Move each image by whole pixels, up to ±shift each way, zeros coming in.

    Output pixel (r, c) is input pixel (r - ty, c - tx), read exactly; with ``flip`` half of the
    images are also mirrored.
    """
    n, h, w = images.shape
    tx, ty = _shifts(rng, n, shift, True) if shift else np.zeros((2, n), dtype=np.intp)
    padded = np.zeros((n, h + 2 * shift, w + 2 * shift), dtype=images.dtype)
    padded[:, shift:shift + h, shift:shift + w] = images
    rows = np.arange(h)[None, :] - ty[:, None] + shift  # (n, h)
    cols = np.arange(w)[None, :] - tx[:, None] + shift  # (n, w)
    if flip:  # a mirrored image reads its columns from the right
        mirrored = per_sample(rng.random, n) < 0.5
        cols[mirrored] = cols[mirrored, ::-1]
    return padded[np.arange(n)[:, None, None], rows[:, :, None], cols[:, None, :]]


def _bilinear(images, src_x, src_y):
    """Sample images (n, h, w) at fractional positions (n, k), reading zeros outside."""
    n, h, w = images.shape
    # Two rows and columns of zeros around each image; positions are clipped into that border,
    # so every read is in bounds and everything outside the image reads as zero.
    padded = np.zeros((n, h + 4, w + 4), dtype=np.float32)
    padded[:, 2:-2, 2:-2] = images
    flat = padded.ravel()
    x = np.clip(src_x, -1.5, w + 0.5, dtype=np.float32)
    y = np.clip(src_y, -1.5, h + 0.5, dtype=np.float32)
    x0, y0 = np.floor(x), np.floor(y)
    fx, fy = x - x0, y - y0
    stride = w + 4
    index = (y0.astype(np.intp) + 2) * stride + (x0.astype(np.intp) + 2)
    index += (np.arange(n, dtype=np.intp) * ((h + 4) * stride))[:, None]
    gx = 1 - fx
    top = np.take(flat, index) * gx + np.take(flat, index + 1) * fx
    bottom = np.take(flat, index + stride) * gx + np.take(flat, index + stride + 1) * fx
    return top * (1 - fy) + bottom * fy


class RandomAffine(Layer):
    """Augmentation as a layer: each training batch of flattened images goes through ``random_affine``.

    At inference the layer is the identity. Put it first in the model; inside a model it draws from
    the model's generator, so the seed fixes it::

        model = bn.Sequential(bn.RandomAffine((28, 28), shift=2, rotation=12),
                              bn.Dense(784, 256), bn.ReLU(), bn.Dense(256, 10), seed=0)

    Parameters
    ----------
    image_shape : (int, int), default (28, 28)
        (height, width) of the images the rows hold.
    shift, rotation, scale, shear, elastic_alpha, elastic_sigma, flip, whole_pixels
        As for ``random_affine``.
    seed : int, optional
        Seeds the layer's own generator, used on its own.
    """

    constraints = SETTINGS
    identity_at_inference = True

    def __init__(self, image_shape=(28, 28), shift=2.0, rotation=12.0, scale=0.1, shear=0.0,
                 elastic_alpha=0.0, elastic_sigma=4.0, flip=False, whole_pixels=False, seed=None):
        super().__init__()
        if not isinstance(image_shape, (tuple, list)) or len(image_shape) != 2 \
                or any(not isinstance(s, int) or isinstance(s, bool) or not 1 <= s <= 4096 for s in image_shape):
            raise ValueError(f"image_shape must be (height, width), got {image_shape!r}")
        self.image_shape = tuple(image_shape)  # a file stores it as a list
        self.settings = _checked(shift=shift, rotation=rotation, scale=scale, shear=shear, elastic_alpha=elastic_alpha,
                                 elastic_sigma=elastic_sigma, flip=flip, whole_pixels=whole_pixels)
        self.rng = np.random.default_rng(seed)
        self.applied = False

    @property
    def in_features(self):
        """height · width: the width of the rows it takes."""
        return self.image_shape[0] * self.image_shape[1]

    def forward(self, x, training=True):
        """Y = random_affine(X) while training; Y = X at inference."""
        self.applied = training
        if not training:
            return x
        images = to_numpy(x).reshape((len(x),) + self.image_shape)
        return to_device(_transform(images, self.rng, **self.settings).reshape(x.shape))  # checked in __init__

    def backward(self, grad_out):
        """dX = dY at inference; none after a training forward (NotImplementedError: put it first)."""
        if self.applied:
            raise NotImplementedError("RandomAffine has no input gradient: put it first in the model, "
                                      "where none is needed")
        return grad_out

    def output_shape(self, input_shape):
        """Return rows of height · width; ValueError for other input."""
        if input_shape is not None and (len(input_shape) != 1 or input_shape[0] not in (None, self.in_features)):
            raise ValueError(f"{self!r} expects {self.in_features} features (image_shape "
                             f"{self.image_shape}), got samples of shape {input_shape}")
        return (self.in_features,)

    def get_config(self):
        """Return image_shape and the transformation's settings."""
        return {"image_shape": list(self.image_shape), **self.settings}

    def __repr__(self):
        defaults = inspect.signature(RandomAffine).parameters
        changed = "".join(f", {name}={value!r}" for name, value in self.settings.items()
                          if value != defaults[name].default)
        return f"RandomAffine({self.image_shape}{changed})"  # the settings that differ from the defaults
