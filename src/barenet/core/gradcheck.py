"""Gradient checking: backprop's gradients against central finite differences.

For every parameter θᵢ (and every input xᵢ) the derivative of the loss is estimated as

    dL/dθᵢ ≈ (L(θᵢ + ε) - L(θᵢ - ε)) / 2ε         (error O(ε²))

in float64, and compared with what ``backward`` computed. The tool for anyone who writes a layer:
a wrong backward shows up as a large relative error in that layer's row.
"""
from __future__ import annotations

import copy

import numpy as np

from . import checks as check
from .backend import to_device, to_numpy
from .layers import Layer
from .losses import get_loss
from .network import Network

__all__ = ["check_gradients", "GradientReport"]


class GradientReport:
    """The worst relative error of each checked array: ``report.errors["1.W"]``, ``report.errors["input"]``.

    The error of an array is max |backprop - numeric| / max(max |backprop|, max |numeric|, floor):
    relative to the array's largest gradient, so entries that are zero do not blow it up. The floor
    is a hundredth of the largest backprop gradient of any array (``FLOOR``; at least 1e-8): an
    array whose true gradient is zero, as a bias's just before a normalisation, has differences that
    are only rounding, about 1e-16 · |L| / ε, and is judged at the network's scale, not at theirs.

    ``str(report)`` is the table ``check_gradients`` prints.

    Parameters
    ----------
    rows : list of tuple
        (array name, layer description, error, entries checked), one per checked array.
    """

    def __init__(self, rows):
        self.rows = rows  # (name, layer description, error, entries checked)
        self.errors = {name: error for name, _, error, _ in rows}

    @property
    def worst(self) -> float:
        """The largest error over all checked arrays (0 if none)."""
        return max(self.errors.values(), default=0.0)

    def passed(self, tolerance: float = 1e-6) -> bool:
        """Return whether every array's error is at most ``tolerance``.

        Parameters
        ----------
        tolerance : float, default 1e-6
            The largest acceptable relative error (float64 central differences reach about 1e-9).
        """
        return self.worst <= tolerance

    def __str__(self):
        width = max(len(f"{name}  {layer}") for name, layer, _, _ in self.rows)
        lines = [f"{'array':<{width}}  {'checked':>8}  max relative error"]
        for name, layer, error, checked in self.rows:
            lines.append(f"{f'{name}  {layer}':<{width}}  {checked:>8}  {error:.2e}")
        return "\n".join(lines)

    def __repr__(self):
        return f"GradientReport(worst={self.worst:.2e})"


FLOOR = 1e-2  # an array's scale is at least this fraction of the largest backprop gradient (GradientReport)


def _relative_error(analytic, numeric, floor) -> float:
    scale = max(float(np.abs(analytic).max(initial=0)), float(np.abs(numeric).max(initial=0)), floor)
    return float(np.abs(analytic - numeric).max(initial=0)) / scale


def central_differences(array, indices, evaluate, eps):
    """Estimate derivatives by central differences, (f(x + ε) - f(x - ε)) / 2ε, entry by entry.

    Parameters
    ----------
    array : array
        The array whose entries move; every entry is put back.
    indices : array of int
        The flat positions to estimate.
    evaluate : callable
        ``evaluate()`` computes f with the array as it stands.
    eps : float
        ε.

    Returns
    -------
    numpy.ndarray
        One estimate per index.
    """
    flat = array.reshape(-1)
    numeric = np.empty(len(indices))
    for k, i in enumerate(indices):
        original = float(flat[i])  # a number: on a GPU flat[i] is a view that the next line would change
        flat[i] = original + eps
        plus = evaluate()
        flat[i] = original - eps
        minus = evaluate()
        flat[i] = original
        numeric[k] = (plus - minus) / (2 * eps)
    return numeric


def check_gradients(model, X, y, loss, *, eps=1e-6, max_checks=None, seed=0, verbose=True) -> GradientReport:
    """Return a GradientReport: every parameter's and the input's backprop gradient against finite differences.

    Parameters
    ----------
    model : Sequential or Layer
        Copied to float64 and left untouched; dropout masks are held fixed across the evaluations.
    X, y, loss
        A batch, its targets and the loss, as ``fit`` takes them.
    eps : float, default 1e-6
        The step of the central differences.
    max_checks : int, optional
        Check at most that many randomly chosen entries of each array (default: all of them).
    seed, verbose
        The seed of that choice (and of the network around a single layer), default 0; whether to
        print the report's table, default True.
    """
    if isinstance(model, Network):
        model = model.astype("float64")
    elif isinstance(model, Layer):
        model = Network(copy.deepcopy(model), dtype="float64", seed=seed)
    else:
        raise TypeError(f"model must be a barenet Sequential or Layer, got {type(model).__name__}")
    loss = get_loss(loss)
    X = check.features(X, "X", model.input_shape, model.dtype)
    loss.check_outputs(model.output_width_)
    y = to_device(loss.check_targets(y, "y", len(X), model.output_width_, model.dtype))
    generators = {id(g): g for g in [model.rng] + [getattr(layer, "rng", None) for layer in model.layers]
                  if isinstance(g, np.random.Generator)}.values()
    states = [(g, g.bit_generator.state) for g in generators]

    def loss_at(x):
        for generator, state in states:  # the same dropout masks every time
            generator.bit_generator.state = state
        return loss.forward(model.forward(x, training=True), y)

    loss_at(X)
    grad_input = to_numpy(model.backward(loss.backward())).copy()
    analytic = {name: to_numpy(g).copy() for name, g in model.grads.items()}
    floor = max(FLOOR * max(float(np.abs(g).max(initial=0)) for g in [grad_input, *analytic.values()]), 1e-8)
    picker, rows = np.random.default_rng(seed), []

    def compare(name, description, array, exact, evaluate):
        indices = np.arange(array.size)
        if max_checks is not None and array.size > max_checks:
            indices = picker.choice(array.size, size=max_checks, replace=False)
        numeric = central_differences(array, indices, evaluate, eps)
        rows.append((name, description, _relative_error(exact.reshape(-1)[indices], numeric, floor), indices.size))

    for i, layer in enumerate(model.layers):
        for param, value in layer.params.items():
            compare(f"{i}.{param}", f"{type(layer).__name__}", value, analytic[f"{i}.{param}"],
                    lambda: loss_at(X))
    X_work = X.copy()
    compare("input", "dL/dX", X_work, grad_input, lambda: loss_at(X_work))
    report = GradientReport(rows)
    if verbose:
        print(report)
    return report
