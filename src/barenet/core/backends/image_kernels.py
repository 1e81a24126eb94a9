"""Compiled loops for the image layers on the ``"numba"`` backend.

Padding, im2col and col2im, and max-pooling with its argmax, each one pass over the images it
is given (``core.backends.fused_images`` gives each thread its own range of images); and the
passes of BatchNorm2D, over images seen as (n, C, pixels), each over a range of channels.
Images are NCHW, C-contiguous, and the loops index them as the formulas do, x[m, c, r, s]: the
same loops over flat arrays with indices computed by hand ran im2col and max-pooling at about
half the speed, col2im at a third.

Each follows the NumPy code of its layer (``core.conv``, ``core.pooling``, ``core.im2col``,
``core.normalization``), named in its docstring, and gives its numbers bit for bit, but for the
batch-normalisation sums (in float64: to rounding, as their section says) and the sign of a zero
in max-pooling (its dX at the pixels that lost, and a window's maximum where 0 and −0 tie): equal
as numbers, as ``np.testing.assert_array_equal`` compares them. Where several windows
add into one pixel (col2im, where windows overlap), the loop adds them in the reference's order,
so that the rounding is the same.

The loops over a window are compiled once for each window size and stride (``_compiled``): a
loop of 3 known steps is unrolled and its indices folded, which makes im2col twice as fast as a
loop whose window size is an argument. Each is compiled on its first use and cached on disk.
Only the numba backend imports this module.
"""
from __future__ import annotations

import numba
import numpy as np

__all__ = ["pad", "im2col", "col2im", "max_pool", "max_pool_backward", "relu_max_pool", "relu_max_pool_backward",
           "tiles", "moments", "normalize", "gradient_sums", "input_gradient"]

_JIT = dict(cache=True, nogil=True, error_model="numpy", boundscheck=False)
_MADE = {}


_NO_MASK = np.zeros((1, 1, 1, 1), dtype=np.bool_)  # the mask argument of a pooling loop compiled without the ReLU


def _compiled(make, kh, kw, *flags):
    """``make(kh, kw, *flags)``'s loop, compiled for that window and flags (once per process; numba caches it).

    A flag (the stride, the pooling loops' ``rectify``) is a constant of the compiled loop: its
    multiplications fold, its branches go.
    """
    key = (make.__name__, kh, kw, *flags)
    if key not in _MADE:
        loop = make(kh, kw, *flags)
        name = f"{make.__name__.removeprefix('_make_')}_{kh}x{kw}" + "".join(f"_{int(f)}" for f in flags)
        loop.__name__ = loop.__qualname__ = name
        _MADE[key] = numba.njit(**_JIT)(loop)
    return _MADE[key]


# -- padding, im2col and col2im ---------------------------------------------------------------------

@numba.njit(**_JIT)
def _pad_loop(x, padded, top, left):
    """padded[m, c, top + r, left + s] = x[m, c, r, s] for every pixel of x (n, C, H, W)."""
    n, channels, height, width = x.shape
    for m in range(n):
        for c in range(channels):
            for r in range(height):
                for s in range(width):
                    padded[m, c, top + r, left + s] = x[m, c, r, s]


def pad(x, pads):
    """Return the images x (n, C, H, W) inside a border of zeros, ``pads`` = (top, bottom, left, right).

    The result is a new C-contiguous array (n, C, H + top + bottom, W + left + right), or x
    made contiguous where every pad is 0.
    """
    top, bottom, left, right = pads
    if not any(pads):
        return np.ascontiguousarray(x)
    n, channels, height, width = x.shape
    padded = np.zeros((n, channels, height + top + bottom, width + left + right), dtype=x.dtype)
    _pad_loop(x, padded, top, left)
    return padded


def _make_im2col(kh, kw, sh, sw):
    def loop(padded, cols, oh, ow):
        n, channels = padded.shape[:2]
        for m in range(n):
            for c in range(channels):
                for p in range(kh):
                    for q in range(kw):
                        k = (c * kh + p) * kw + q
                        for i in range(oh):
                            for j in range(ow):
                                cols[m, k, i * ow + j] = padded[m, c, sh * i + p, sw * j + q]
    return loop


def im2col(padded, cols, kernel, stride, oh, ow):
    """cols[m, (c·kh + p)·kw + q, i·ow + j] = padded[m, c, sh·i + p, sw·j + q]: ``core.im2col.im2col``.

    Every window of the padded images (n, C, H, W) becomes a column of ``cols``
    (n, C·kh·kw, oh·ow), C-contiguous, which the loop fills in memory order: for each image,
    channel and kernel offset (p, q), one row of oh·ow pixels. Compiled for the window
    (kh, kw) = ``kernel`` and the stride (sh, sw) = ``stride``. Bit for bit the reference's
    (``tests/core/test_fast_image_layers.py``).
    """
    _compiled(_make_im2col, *kernel, *stride)(padded, cols, oh, ow)


def _make_col2im(kh, kw, sh, sw):
    def loop(grad_cols, grad, oh, ow):
        n, channels = grad.shape[:2]
        for m in range(n):
            for c in range(channels):
                for p in range(kh - 1, -1, -1):  # the offsets last to first, as the reference adds them
                    for q in range(kw - 1, -1, -1):
                        k = (c * kh + p) * kw + q
                        for i in range(oh):
                            for j in range(ow):
                                grad[m, c, sh * i + p, sw * j + q] += grad_cols[m, k, i * ow + j]
    return loop


def col2im(grad_cols, grad, kernel, stride, oh, ow):
    """grad[m, c, sh·i + p, sw·j + q] += grad_cols[m, (c·kh + p)·kw + q, i·ow + j]: ``core.im2col.col2im``.

    The gradient of the columns (n, C·kh·kw, oh·ow), C-contiguous, added onto ``grad``, the
    padded images' pixels (n, C, H, W), which start at zero. Where windows overlap, each pixel
    adds its windows' gradients in the reference's order (the offsets (p, q) last to first), so
    the rounding is the same: bit for bit (``tests/core/test_fast_image_layers.py``).
    """
    _compiled(_make_col2im, *kernel, *stride)(grad_cols, grad, oh, ow)


# -- max-pooling ------------------------------------------------------------------------------------

def _make_max_pool(kh, kw, sh, sw, rectify):
    def loop(x, y, argmax, mask):
        n, channels, oh, ow = y.shape
        zero = x.dtype.type(0)  # max(0, ·)'s +0, of x's type (a float64 0.0 would make the loop float64)
        unusual = False
        for m in range(n):
            for c in range(channels):
                for i in range(oh):
                    for j in range(ow):
                        best = x[m, c, sh * i, sw * j]
                        won = 0
                        for p in range(kh):
                            for q in range(kw):
                                value = x[m, c, sh * i + p, sw * j + q]
                                unusual |= value - value != 0  # NaN or ±inf: leave them to the exact loop
                                take = value > best  # the first maximum wins a tie
                                best = value if take else best
                                won = p * kw + q if take else won
                        if rectify:  # max(0, the maximum): a window with nothing above 0 is a tie of
                            above = best > 0  # zeros, which its first pixel wins
                            mask[m, c, i, j] = above
                            best, won = (best, won) if above else (zero, 0)
                        y[m, c, i, j] = best
                        argmax[m, c, i, j] = won
        return unusual
    return loop


def _make_exact_max_pool(kh, kw, sh, sw, rectify):
    def loop(x, y, argmax, mask):
        n, channels, oh, ow = y.shape
        zero = x.dtype.type(0)
        for m in range(n):
            for c in range(channels):
                for i in range(oh):
                    for j in range(ow):
                        best = x[m, c, sh * i, sw * j]
                        if rectify:  # max(0, x), NaN kept
                            best = best if best > 0 or best != best else zero
                        won = 0
                        for p in range(kh):
                            for q in range(kw):
                                value = x[m, c, sh * i + p, sw * j + q]
                                if rectify:  # the window of the rectified image, as the reference pools it:
                                    # a window with nothing above zero is a tie of zeros, its first pixel wins
                                    value = value if value > 0 or value != value else zero
                                # np.argmax's rule: the first maximum, and the first NaN above all
                                take = (value > best) | ((value != value) & (best == best))
                                best = value if take else best
                                won = p * kw + q if take else won
                        if rectify:
                            mask[m, c, i, j] = best > 0
                        y[m, c, i, j] = best
                        argmax[m, c, i, j] = won
    return loop


def _max_pool(x, y, argmax, mask, kernel, stride, rectify):
    """Run the plain loop, and the exact one where the images hold a NaN or an infinity."""
    x = np.ascontiguousarray(x)
    if _compiled(_make_max_pool, *kernel, *stride, rectify)(x, y, argmax, mask):
        _compiled(_make_exact_max_pool, *kernel, *stride, rectify)(x, y, argmax, mask)


def max_pool(x, y, argmax, kernel, stride):
    """y[m, c, i, j] = max over (p, q) of x[m, c, sh·i + p, sw·j + q]: ``core.pooling.MaxPool2D.forward``.

    Writes y and argmax (n, C, oh, ow), the window offset p·kw + q of each maximum, as the
    reference keeps it: np.argmax's rule, the first maximum wins a tie and the first NaN wins
    over every number (the NaN is the maximum). x is (n, C, H, W). The loop compares plainly,
    and says whether it met a NaN or an infinity; where it did, a second loop, exact for them,
    computes the images again (four times slower, so not the loop for every batch). Bit for bit
    the reference's, ties and NaN included (``tests/core/test_fast_image_layers.py``).
    """
    _max_pool(x, y, argmax, _NO_MASK, kernel, stride, False)


def relu_max_pool(x, y, argmax, mask, kernel, stride):
    """y = max-pool(max(0, x)): ``activations.ReLU`` then ``MaxPool2D``, in one pass over the larger input.

    max(0, ·) keeps the order of the values above 0, so the maximum of the rectified window is
    max(0, the maximum) and its first winner the same pixel, where the maximum is above 0; a
    window with nothing above 0 is a tie of zeros, which its first pixel wins, as the reference
    pools the rectified image. ``mask`` (n, C, oh, ow) holds the maxima above zero, the ReLU's
    mask at each window's winner. A NaN or an infinity goes to the exact loop, as in
    ``max_pool``.
    """
    _max_pool(x, y, argmax, mask, kernel, stride, True)


def _make_max_pool_backward(kh, kw, sh, sw, rectify):
    def loop(grad_out, argmax, mask, grad):
        n, channels, oh, ow = grad_out.shape
        for m in range(n):
            for c in range(channels):
                for i in range(oh):
                    for j in range(ow):
                        won = argmax[m, c, i, j]
                        g = grad_out[m, c, i, j]
                        if rectify:  # dY · [maximum > 0], NaN kept
                            g = g if mask[m, c, i, j] else g * (g - g)
                        grad[m, c, sh * i + won // kw, sw * j + won % kw] += g
    return loop


def _make_tiled_max_pool_backward(kh, kw, rectify):
    def loop(grad_out, argmax, mask, grad):
        n, channels, oh, ow = grad_out.shape
        for m in range(n):
            for c in range(channels):
                for i in range(oh):
                    for p in range(kh):  # the image's rows in order, each pixel written once
                        for j in range(ow):
                            won = argmax[m, c, i, j]
                            g = grad_out[m, c, i, j]
                            if rectify:  # dY · [maximum > 0], NaN kept
                                g = g if mask[m, c, i, j] else g * (g - g)
                            for q in range(kw):
                                grad[m, c, kh * i + p, kw * j + q] = g if p * kw + q == won else 0
    return loop


def tiles(image_shape, kernel, stride) -> bool:
    """Whether windows a window apart cover images (n, C, H, W) exactly: each pixel in one window.

    Then the backward loop writes every pixel of dX once, its window's dY or 0, and dX need not
    start at zero (``fused_images`` allocates it without zeroing it).
    """
    (kh, kw), (height, width) = kernel, image_shape[2:]
    return tuple(stride) == tuple(kernel) and height % kh == 0 and width % kw == 0


def _max_pool_backward(grad_out, argmax, mask, grad, kernel, stride, rectify):
    if tiles(grad.shape, kernel, stride):
        loop = _compiled(_make_tiled_max_pool_backward, *kernel, rectify)
    else:
        loop = _compiled(_make_max_pool_backward, *kernel, *stride, rectify)
    loop(np.ascontiguousarray(grad_out), argmax, mask, grad)


def max_pool_backward(grad_out, argmax, grad, kernel, stride):
    """grad[m, c, sh·i + p, sw·j + q] += dY[m, c, i, j], (p, q) from argmax: ``MaxPool2D.backward``.

    Each dY (n, C, oh, ow) added to the pixel of ``grad`` (n, C, H, W), which starts at zero, that
    won its window, the windows row by row; where the windows tile the image (``tiles``), each
    pixel written once instead, dY or 0, whatever ``grad`` held. Bit for bit the reference's
    (``tests/core/test_fast_image_layers.py``).
    """
    _max_pool_backward(grad_out, argmax, _NO_MASK, grad, kernel, stride, False)


def relu_max_pool_backward(grad_out, argmax, mask, grad, kernel, stride):
    """grad[winner] += dY · [maximum > 0]: ``MaxPool2D.backward`` then ``ReLU.backward``.

    The loops of ``max_pool_backward``, each dY (n, C, oh, ow) where ``mask`` holds (dY · 0 where
    it does not) going to the pixel of ``grad`` (n, C, H, W) that won its window.
    """
    _max_pool_backward(grad_out, argmax, mask, grad, kernel, stride, True)


# -- batch normalisation of images --------------------------------------------------------------------
# x is (n, C, S), S = H·W pixels; each thread takes channels [lo, hi). The sums over a channel's n·S
# values are in float64 and may be added in any order (``reassoc``: so that they are vectorised),
# where the reference's NumPy adds float32 pairwise: equal to rounding, not bit for bit. The passes
# over single values are the reference's formulas in its order, rounding for rounding.

_SUMS = dict(_JIT, fastmath={"reassoc"})


@numba.njit(**_SUMS)
def _moments_loop(x, mean, var, lo, hi):
    n, _, size = x.shape
    count = n * size
    for c in range(lo, hi):
        total = 0.0
        for m in range(n):
            for s in range(size):
                total += x[m, c, s]
        mu = total / count
        squares = 0.0
        for m in range(n):
            for s in range(size):
                d = x[m, c, s] - mu
                squares += d * d
        mean[c] = mu
        var[c] = squares / count


def moments(x, mean, var, lo, hi):
    """mean[c] = Σ x / m, var[c] = Σ (x − mean)² / m over the n·S values of each channel c in [lo, hi).

    ``BatchNorm2D``'s batch statistics (NumPy's ``x.mean`` and ``x.var`` over (n, h, w)), two passes
    over x (n, C, S), the sums in float64.
    """
    _moments_loop(x, mean, var, lo, hi)


@numba.njit(**_JIT)
def _normalize_loop(x, mean, inv_std, gamma, beta, x_hat, y, lo, hi):
    n, _, size = x.shape
    for m in range(n):
        for c in range(lo, hi):
            mu, k, g, b = mean[c], inv_std[c], gamma[c], beta[c]
            for s in range(size):
                h = (x[m, c, s] - mu) * k
                x_hat[m, c, s] = h
                y[m, c, s] = g * h + b


def normalize(x, mean, inv_std, gamma, beta, x_hat, y, lo, hi):
    """x̂ = (x − μ) · inv_std and y = γ x̂ + β for the channels [lo, hi) of x (n, C, S), in one pass."""
    _normalize_loop(x, mean, inv_std, gamma, beta, x_hat, y, lo, hi)


@numba.njit(**_SUMS)
def _gradient_sums_loop(grad_out, x_hat, grad_beta, grad_gamma, lo, hi):
    n, _, size = grad_out.shape
    for c in range(lo, hi):
        beta, gamma = 0.0, 0.0
        for m in range(n):
            for s in range(size):
                g = grad_out[m, c, s]
                beta += g
                gamma += g * x_hat[m, c, s]
        grad_beta[c] = beta
        grad_gamma[c] = gamma


def gradient_sums(grad_out, x_hat, grad_beta, grad_gamma, lo, hi):
    """dβ[c] = Σ dy and dγ[c] = Σ dy x̂ over each channel c in [lo, hi) of (n, C, S), in one pass."""
    _gradient_sums_loop(grad_out, x_hat, grad_beta, grad_gamma, lo, hi)


@numba.njit(**_JIT)
def _input_gradient_loop(grad_out, x_hat, scale, mean_grad, mean_grad_x_hat, grad, lo, hi):
    n, _, size = grad_out.shape
    for m in range(n):
        for c in range(lo, hi):
            k, mg, mgx = scale[c], mean_grad[c], mean_grad_x_hat[c]
            for s in range(size):
                grad[m, c, s] = k * ((grad_out[m, c, s] - mg) - x_hat[m, c, s] * mgx)


def input_gradient(grad_out, x_hat, scale, mean_grad, mean_grad_x_hat, grad, lo, hi):
    """dx = scale · (dy − dβ / m − x̂ dγ / m) for the channels [lo, hi), in one pass (training's dx)."""
    _input_gradient_loop(grad_out, x_hat, scale, mean_grad, mean_grad_x_hat, grad, lo, hi)
