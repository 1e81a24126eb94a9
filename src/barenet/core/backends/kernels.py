"""Compiled fast paths for the ``"numba"`` backend (``pip install "barenet[fast]"``).

NumPy runs a formula such as Adam's as a chain of whole-array operations, each one a pass over
memory: ten passes over the 235,146 parameters of the benchmark network per step. Each function
here runs the same formula in one loop, so the data is read and written once. They follow their
NumPy reference (named in each docstring) operation by operation, in the same order and in the
same precision, and are compiled without "fast math": the optimizers give the same numbers bit
for bit, which the tests check. Only the numba backend (``core.backends.fused``) imports this module.

The loops are compiled without the GIL (``nogil``), so that ``core.backends.pool`` can run
them on several threads, each on its own part of the arrays.

Scalars are converted to the arrays' dtype before the call, as NumPy does with Python floats
(a float32 array times 0.9 is computed in float32), so that the compiled loop rounds alike.
"""
from __future__ import annotations

import numba
import numpy as np

from .pool import split

__all__ = ["sgd", "rmsprop", "adam", "cross_entropy", "relu_forward", "relu_backward"]

_JIT = dict(cache=True, nogil=True, error_model="numpy", boundscheck=False)

def _constants(like, *values):
    return tuple(map(like.dtype.type, values))


def _flush(x, tiny):
    """x, or zero if |x| is below the smallest normal number (``optimizers.flush_subnormals``)."""
    zero = tiny - tiny  # a zero of x's type: a literal 0 would make the product float64
    return x if abs(x) >= tiny else x * zero  # x · 0 keeps NaN a NaN, and the sign, as NumPy's does


_flush = numba.njit(inline="always", **_JIT)(_flush)


# -- optimizers ----------------------------------------------------------------------------------

@numba.njit(**_JIT)
def _sgd_loop(theta, g, b, lr, l2, momentum, one_minus_dampening, nesterov, first, tiny):
    """θ ← θ - lr g, with g ← g + λθ; b ← g (first step) or μ b + (1 - τ) g; g ← g + μ b (Nesterov) or b.

    ``optimizers.SGD.update``, element by element over the flat vectors θ, g and b (n,).
    """
    for i in range(theta.size):
        gi = g[i]
        if l2 != 0:
            gi = gi + l2 * theta[i]
        if momentum != 0:
            bi = gi if first else b[i] * momentum + one_minus_dampening * gi
            bi = _flush(bi, tiny)
            b[i] = bi
            gi = gi + momentum * bi if nesterov else bi
        theta[i] = theta[i] - gi * lr


@numba.njit(**_JIT)
def _rmsprop_loop(theta, g, s, a, b, lr, l2, alpha, one_minus_alpha, eps, momentum, centered, tiny):
    """θ ← θ - lr b, b ← μ b + d, d = g / (√max(s - a², 0) + ε), s ← α s + (1 - α) g², a ← α a + (1 - α) g.

    ``optimizers.RMSProp.update``, element by element over the flat vectors θ, g, s, a, b (n,):
    g ← g + λθ first; a only when centered (else d = g / (√s + ε)); θ ← θ - lr d without momentum.
    """
    for i in range(theta.size):
        gi = g[i]
        if l2 != 0:
            gi = gi + l2 * theta[i]
        si = _flush(s[i] * alpha + one_minus_alpha * gi * gi, tiny)
        s[i] = si
        if centered:
            ai = _flush(a[i] * alpha + one_minus_alpha * gi, tiny)
            a[i] = ai
            d = si - ai * ai
            d = np.sqrt(d if not d < 0 else d - d)  # max(d, 0) keeping NaN, as np.maximum does
        else:
            d = np.sqrt(si)
        d = gi / (d + eps)
        if momentum != 0:
            bi = _flush(b[i] * momentum + d, tiny)
            b[i] = bi
            d = bi * lr
        else:
            d = d * lr
        theta[i] = theta[i] - d


@numba.njit(**_JIT)
def _adam_loop(theta, g, m, v, beta1, one_minus_beta1, beta2, one_minus_beta2, step, root_bc2, eps, l2,
               shrink, tiny):
    """θ ← θ - step · m / (√v / √(1 - β₂ᵗ) + ε), m ← β₁ m + (1 - β₁) g, v ← β₂ v + (1 - β₂) g².

    ``optimizers.Adam.update`` (and AdamW's, through ``shrink``), element by element over the flat
    vectors θ, g, m, v (n,): θ ← θ·shrink and g ← g + λθ first; step = lr / (1 - β₁ᵗ) and
    ``root_bc2`` = √(1 - β₂ᵗ) are ``Adam.constants``'.
    """
    for i in range(theta.size):
        t = theta[i]
        if shrink != 1:
            t = t * shrink
        gi = g[i]
        if l2 != 0:
            gi = gi + l2 * t
        mi = _flush(m[i] * beta1 + gi * one_minus_beta1, tiny)
        vi = _flush(v[i] * beta2 + (gi * gi) * one_minus_beta2, tiny)
        m[i] = mi
        v[i] = vi
        theta[i] = t - mi / (np.sqrt(vi) / root_bc2 + eps) * step


def sgd(theta, g, b, lr, l2, momentum, dampening, nesterov, first, threads=1):
    """Run ``optimizers.SGD``'s step on θ in place, in one compiled pass (``_sgd_loop``).

    g ← g + λθ;  b ← g on the first step, μ b + (1 - τ) g after;  θ ← θ - lr (g + μ b) with
    Nesterov's momentum, θ ← θ - lr b without; without momentum θ ← θ - lr g. The new b is
    flushed of subnormals. Bit for bit the reference's (``tests/core/test_fast_backend.py``).

    Parameters
    ----------
    theta, g : numpy.ndarray (n,)
        The flat parameter and gradient vectors, of one dtype; θ is updated, g is not.
    b : numpy.ndarray (n,)
        The momentum buffer, updated (any array of θ's shape when momentum is 0: it is not read).
    lr, l2, momentum, dampening : float
        lr, λ, μ and τ.
    nesterov, first : bool
        Nesterov's momentum; whether this is the first step (b starts as g).
    threads : int, default 1
        The most threads to cut the vectors among (``pool.split``).
    """
    lr, l2, momentum, one_minus_dampening, tiny = _constants(
        theta, lr, l2, momentum, 1.0 - dampening, np.finfo(theta.dtype).tiny)
    split(_sgd_loop, theta.size, threads, theta, g, b, lr, l2, momentum, one_minus_dampening, bool(nesterov),
          bool(first), tiny)


def rmsprop(theta, g, s, a, b, lr, l2, alpha, eps, momentum, centered, threads=1):
    """Run ``optimizers.RMSProp``'s step on θ in place, in one compiled pass (``_rmsprop_loop``).

    g ← g + λθ;  s ← α s + (1 - α) g²;  a ← α a + (1 - α) g (centered);  d = g / (√max(s - a², 0) + ε)
    (d = g / (√s + ε) uncentered);  b ← μ b + d and θ ← θ - lr b (momentum), else θ ← θ - lr d.
    s, a and b are flushed of subnormals. Bit for bit the reference's (``tests/core/test_fast_backend.py``).

    Parameters
    ----------
    theta, g : numpy.ndarray (n,)
        The flat parameter and gradient vectors, of one dtype; θ is updated, g is not.
    s, a, b : numpy.ndarray (n,)
        The mean square, the mean gradient and the momentum buffer, updated; ``a`` (centered only)
        and ``b`` (momentum only) may be any array of θ's shape when unused.
    lr, l2, alpha, eps, momentum : float
        lr, λ, α, ε and μ.
    centered : bool
        Whether to subtract the mean gradient's square from s.
    threads : int, default 1
        The most threads to cut the vectors among (``pool.split``).
    """
    lr, l2, alpha, one_minus_alpha, eps, momentum, tiny = _constants(
        theta, lr, l2, alpha, 1.0 - alpha, eps, momentum, np.finfo(theta.dtype).tiny)
    split(_rmsprop_loop, theta.size, threads, theta, g, s, a, b, lr, l2, alpha, one_minus_alpha, eps, momentum,
          bool(centered), tiny)


def adam(theta, g, m, v, beta1, beta2, step, root_bc2, eps, l2, shrink, threads=1):
    """Run ``optimizers.Adam``'s (or AdamW's) step on θ in place, in one compiled pass (``_adam_loop``).

    θ ← θ·shrink;  g ← g + λθ;  m ← β₁ m + (1 - β₁) g;  v ← β₂ v + (1 - β₂) g²;
    θ ← θ - step · m / (√v / root_bc2 + ε). m and v are flushed of subnormals. Bit for bit the
    reference's (``tests/core/test_fast_backend.py``).

    Parameters
    ----------
    theta, g : numpy.ndarray (n,)
        The flat parameter and gradient vectors, of one dtype; θ is updated, g is not.
    m, v : numpy.ndarray (n,)
        The first and second moments, updated.
    beta1, beta2, eps : float
        β₁, β₂ and ε.
    step, root_bc2 : float
        ``Adam.constants``: lr / (1 - β₁ᵗ) and √(1 - β₂ᵗ) (with eps_hat, the whole correction
        in the step and 1).
    l2, shrink : float
        λ of the L2 term (Adam; 0 for AdamW), and the factor θ shrinks by first (1 - lr λ for
        AdamW, 1 for Adam).
    threads : int, default 1
        The most threads to cut the vectors among (``pool.split``).
    """
    constants = _constants(theta, beta1, 1.0 - beta1, beta2, 1.0 - beta2, step, root_bc2, eps, l2, shrink,
                           np.finfo(theta.dtype).tiny)
    split(_adam_loop, theta.size, threads, theta, g, m, v, *constants)


# -- softmax cross-entropy -----------------------------------------------------------------------

_NO_WEIGHTS = {np.dtype(t).char: np.ones(1, dtype=t) for t in ("float32", "float64")}
_TINY = {np.dtype(t).char: np.finfo(t).tiny for t in ("float32", "float64")}

@numba.njit(**_JIT)
def _cross_entropy_loop(z, ids, weight, weighted, smoothing, grad, tiny):
    """Return L and write dL/dz into ``grad`` (N, C), one row of the logits z (N, C) at a time (``cross_entropy``)."""
    n, classes = z.shape
    total = 0.0
    for r in range(n):
        top = z[r, 0]
        for j in range(1, classes):
            top = max(top, z[r, j])
        exp_sum = z.dtype.type(0)
        shifted_sum = z.dtype.type(0)
        for j in range(classes):
            shifted = z[r, j] - top
            grad[r, j] = np.exp(shifted)
            exp_sum += grad[r, j]
            shifted_sum += shifted
        t = ids[r]
        loss = np.log(exp_sum) - (1 - smoothing) * (z[r, t] - top) - smoothing * shifted_sum / classes
        w_r = weight[r] if weighted else 1.0
        w = w_r / n
        total += w_r * loss
        for j in range(classes):
            grad[r, j] = grad[r, j] * (w / exp_sum) - smoothing / classes * w
        grad[r, t] -= (1 - smoothing) * w
        for j in range(classes):
            grad[r, j] = _flush(grad[r, j], tiny)
    return total / n


def cross_entropy(outputs, ids, weight, smoothing):
    """Return the softmax cross-entropy from class ids and its gradient, in one pass over each row.

    ``losses.CrossEntropy.value`` and ``backward`` for class ids, with label smoothing ε::

        L     = 1/N Σₙ wₙ [log Σⱼ e^zₙⱼ - (1-ε) zₙ,yₙ - ε/C Σⱼ zₙⱼ]   (each row shifted by its maximum)
        dL/dz = wₙ/N (softmax(zₙ) - (1-ε) one_hot(yₙ) - ε/C)         (subnormals flushed to 0)

    The loop (``_cross_entropy_loop``) takes one row at a time: its maximum, e^(z - max) into the
    gradient's row and their sum, the row's loss, then the row scaled into dL/dz. L is summed in
    float64, the gradient in the logits' dtype; both agree with the reference to rounding
    (``tests/core/test_fast_backend.py``).

    Parameters
    ----------
    outputs : numpy.ndarray (N, C)
        The logits z, float32 or float64.
    ids : numpy.ndarray (N,)
        The class ids y, integers in [0, C).
    weight : array-like (N,) or None
        wₙ, each sample's weight (None: 1).
    smoothing : float
        ε, the label smoothing.

    Returns
    -------
    (float, numpy.ndarray (N, C))
        L, and dL/dz in the logits' dtype.
    """
    grad = np.empty_like(outputs)
    weighted = weight is not None
    weight = np.asarray(weight, dtype=outputs.dtype) if weighted else _NO_WEIGHTS[outputs.dtype.char]
    value = _cross_entropy_loop(outputs, ids, weight, weighted, outputs.dtype.type(smoothing), grad,
                                _TINY[outputs.dtype.char])
    return float(value), grad


# -- ReLU ----------------------------------------------------------------------------------------

@numba.njit(**_JIT)
def _relu_forward_loop(x, y, mask):
    """mask = [x > 0], y = max(0, x) as np.maximum: NaN kept; over flat vectors x, y, mask (n,)."""
    zero = x.dtype.type(0)  # +0 of x's type: a float64 0.0 would make the loop's values float64
    for i in range(x.size):
        mask[i] = x[i] > 0
        y[i] = x[i] if mask[i] or x[i] != x[i] else zero


@numba.njit(**_JIT)
def _relu_backward_loop(grad_out, mask, grad_in):
    """dx = dy where the mask holds, else dy · 0; over flat vectors (n,)."""
    for i in range(grad_out.size):
        g = grad_out[i]
        grad_in[i] = g if mask[i] else g * (g - g)


def relu_forward(x, threads=1):
    """mask = [x > 0], y = max(0, x): ``activations.ReLU.forward`` in one pass, on an array of any shape.

    The entries at or below 0, −∞ included, become +0 and NaN stays NaN, as the reference's
    np.maximum(x, 0) gives them, bit for bit (``tests/core/test_fast_backend.py``). A
    non-contiguous x takes the reference's two passes.

    Parameters
    ----------
    x : numpy.ndarray
        Any shape.
    threads : int, default 1
        The most threads to cut it among (``pool.split``).

    Returns
    -------
    (numpy.ndarray, numpy.ndarray of bool)
        y and the mask, both of x's shape.
    """
    if not x.flags.c_contiguous:  # a view with gaps: the reference's two passes
        mask = x > 0
        return np.maximum(x, 0), mask
    y, mask = np.empty_like(x), np.empty(x.shape, dtype=bool)
    split(_relu_forward_loop, x.size, threads, x.reshape(-1), y.reshape(-1), mask.reshape(-1))
    return y, mask


def relu_backward(grad_out, mask, threads=1):
    """dx = dy ⊙ mask: ``activations.ReLU.backward`` in one pass.

    Bit for bit the reference's dy * mask (an infinite dy under a False mask gives NaN, as there);
    a non-contiguous dY, or a mask of another shape, takes the reference's product.

    Parameters
    ----------
    grad_out : numpy.ndarray
        dY, of the forward input's shape.
    mask : numpy.ndarray of bool
        [x > 0], from ``relu_forward``.
    threads : int, default 1
        The most threads to cut it among (``pool.split``).

    Returns
    -------
    numpy.ndarray
        dX, of dY's shape and dtype.
    """
    if not grad_out.flags.c_contiguous or grad_out.shape != mask.shape:
        return grad_out * mask
    grad_in = np.empty(grad_out.shape, dtype=grad_out.dtype)
    split(_relu_backward_loop, grad_out.size, threads, grad_out.reshape(-1), mask.reshape(-1), grad_in.reshape(-1))
    return grad_in
