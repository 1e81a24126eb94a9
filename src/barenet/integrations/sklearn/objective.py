"""What the estimators minimise: scikit-learn's MLP objective, one batch at a time.

For a batch B of samples with weights w (all 1 without ``sample_weight``)::

    J(θ) = Σ_B w·ℓ / Σ_B w  +  α / (2 Σ_B w) · Σ_layers ‖W‖²
    ∇_W J = (Σ_B w·∇ℓ + α W) / Σ_B w            ∇_b J = Σ_B w·∇ℓ / Σ_B w

The penalty is on the weights W, not on the biases, and is divided by the batch's total weight,
so that it weighs as much against one sample as in the full data set's objective. ℓ is one
sample's loss, as scikit-learn defines it from barenet's (which averages over the K outputs):

    softmax    cross-entropy                                 CrossEntropy
    logistic   binary cross-entropy summed over the labels   K · BinaryCrossEntropy
    exp        half the Poisson deviance, summed over the K  K · Poisson
    identity   half the squared error: scikit-learn reports  ½ · MSE, and follows the gradient
               its mean over the K outputs and follows the   of K/2 · MSE
               gradient of their sum (the same for K = 1)

``Objective`` computes J and ∇J (the gradient left in the network's vector); ``ObjectiveSteps``
is the training loop's step strategy that descends it, batch by batch; lbfgs calls ``evaluate``
on the whole data set.
"""
from __future__ import annotations

import numpy as np
from sklearn.utils import shuffle as shuffled

from ...core.backend import to_device, xp
from ...core.layers import Dense
from ...training.steps import OneProcess, diagnose, gradients

__all__ = ["Objective", "ObjectiveSteps", "scales"]


def scales(out_activation: str, n_outputs: int):
    """Return the (value scale, gradient scale) that make barenet's loss scikit-learn's (see the module)."""
    if out_activation == "softmax":
        return 1.0, 1.0
    if out_activation == "identity":
        return 0.5, n_outputs / 2
    return float(n_outputs), float(n_outputs)  # sums over the outputs where barenet averages


class Objective:
    """J and ∇J of the module's formulas, for a network whose loss (``model.loss``) is barenet's ℓ.

    Parameters
    ----------
    alpha : float
        The penalty's strength α.
    value_scale, gradient_scale : float, default 1.0
        What barenet's loss and its gradient are multiplied by (``scales``).
    """

    def __init__(self, alpha: float, value_scale: float = 1.0, gradient_scale: float = 1.0):
        self.alpha, self.value_scale, self.gradient_scale = alpha, value_scale, gradient_scale

    def evaluate(self, model, X, y, weight=None):
        """Return (J, outputs) at the model's weights, with ∇J left in its gradient vector.

        The weights are rescaled to a mean of 1, so that barenet's Σ w·ℓ / n is scikit-learn's
        Σ w·ℓ / Σ w.
        """
        n = X.shape[0]
        total = n if weight is None else float(weight.sum())
        if weight is not None:
            weight = weight * (n / total)
        value, outputs, _ = gradients(model, X, y, weight)
        if self.gradient_scale != 1.0:
            gradient = model.parameter_vectors()[1]
            gradient *= self.gradient_scale
        squares = 0.0
        for layer in model.layers:
            if isinstance(layer, Dense) and self.alpha:
                W = layer.params["W"]
                layer.grads["W"] += (self.alpha / total) * W  # α W / Σw: the penalty's gradient
                squares += xp.vdot(W, W)
        return value * self.value_scale + (self.alpha / (2.0 * total)) * squares, outputs


class ObjectiveSteps(OneProcess):
    """``fit``'s step strategy for the objective: each batch a forward and a backward pass, and a step.

    The penalty, the divergence check, the optimizer's step. A batch whose weights are all 0 has no
    objective (scikit-learn divides by their sum): it is skipped. The samples come in scikit-learn's
    order: each epoch shuffles the last epoch's order with ``random_state``.

    Parameters
    ----------
    objective : Objective
        What each step descends.
    random_state : numpy.random.RandomState
        Shuffles the samples, as scikit-learn's does.
    first_epoch : int, default 1
        The optimizer's first epoch, where its schedule starts (a warm start's new optimizer).
    """

    def __init__(self, objective: Objective, random_state, first_epoch: int = 1):
        super().__init__()
        self.objective, self.random_state, self.permutation = objective, random_state, None
        self.first_epoch = first_epoch  # of the optimizer: its schedule starts there (a warm start's new optimizer)

    def order(self, model, n, shuffle):
        """Return the epoch's order: the last epoch's, shuffled with ``random_state`` (scikit-learn's)."""
        if self.permutation is None:
            self.permutation = np.arange(n)
        if shuffle:
            self.permutation = shuffled(self.permutation, random_state=self.random_state)
        return self.permutation

    def batch(self, model, idx, epoch, batch, progress):
        """Take one step of the objective on the rows ``idx``; return (J, correct count)."""
        X, y, weight = self.source
        xb, yb = to_device(X[idx]), to_device(y[idx])
        wb = None if weight is None else to_device(weight[idx])
        if wb is not None and not wb.sum() > 0:
            return xp.zeros((), dtype=xp.float64), 0
        model.optimizer.progress = progress - (self.first_epoch - 1)
        value, outputs = self.objective.evaluate(model, xb, yb, wb)
        squared_norm = model.ops.squared_norm(model.parameter_vectors()[1])
        if not bool(xp.isfinite(value) & xp.isfinite(squared_norm)):
            diagnose(model, xb, yb, wb, epoch, batch, float(value), float(squared_norm))
        model.optimizer.step(model.parameters)
        loss = model.loss
        return value, (loss.correct(outputs, yb) if loss.classifies else 0)
