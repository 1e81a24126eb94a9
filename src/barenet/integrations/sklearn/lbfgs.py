"""``solver="lbfgs"``: the objective over the whole data set, minimised by scipy's L-BFGS-B.

As scikit-learn does (its recommendation for small data sets). scipy asks for J(θ) and ∇J(θ) at
points θ of its choosing; each answer puts θ into the network's parameter vector, runs one
forward and one backward pass over all the samples (``Objective.evaluate``) and hands back J and
a copy of the gradient vector. It stops when the largest gradient entry is below ``tol``, after
``max_iter`` iterations or after ``max_fun`` evaluations.
"""
from __future__ import annotations

import warnings

import numpy as np
import scipy.optimize
from sklearn.exceptions import ConvergenceWarning

from ...core.backend import to_numpy, using_backend

__all__ = ["fit_lbfgs"]


def fit_lbfgs(estimator, X, targets, weight) -> None:
    """Minimise the estimator's objective over (X, targets, weight) from the network's weights."""
    model = estimator.model_
    if estimator.dropout:
        raise ValueError("solver='lbfgs' minimises one fixed function: it cannot train with dropout (set dropout=0)")
    X = model.check_features(X)
    on_device = model.ops.xp.asarray  # the targets go where the network computes (a GPU's memory)
    targets = on_device(model.check_targets(targets, X.shape[0], model.loss))
    weight = None if weight is None else on_device(np.asarray(weight, dtype=np.float64))
    theta, gradient = model.parameter_vectors()
    objective = estimator._objective()

    def value_and_gradient(point):
        theta[...] = on_device(point.astype(theta.dtype, copy=False))
        value, _ = objective.evaluate(model, X, targets, weight)
        return float(value), to_numpy(gradient).astype(np.float64)

    with using_backend(model.ops), np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
        result = scipy.optimize.minimize(
            value_and_gradient, to_numpy(theta).astype(np.float64), method="L-BFGS-B", jac=True,
            options={"maxfun": estimator.max_fun, "maxiter": estimator.max_iter, "gtol": estimator.tol})
        theta[...] = on_device(result.x.astype(theta.dtype))
    estimator.n_iter_ = min(int(result.nit), estimator.max_iter)
    estimator.loss_ = float(result.fun)
    if result.status != 0:
        warnings.warn(f"lbfgs failed to converge after {estimator.n_iter_} iteration(s) (status={result.status}): "
                      f"{result.message}. Increase the number of iterations (max_iter) or the number of "
                      f"evaluations (max_fun), or scale the data.", ConvergenceWarning)
