"""barenet as scikit-learn estimators: ``MLPClassifier`` and ``MLPRegressor`` (``barenet.sklearn``).

A drop-in for scikit-learn's MLP: every parameter of scikit-learn 1.9's ``MLPClassifier`` and
``MLPRegressor`` in the same order, with the same defaults and meanings (the loss, the L2
penalty on the weights, the stopping rules, ``warm_start`` and ``partial_fit``), every fitted
attribute in the same shapes, sparse and multilabel input, ``solver="lbfgs"`` through scipy;
and barenet's own options, keyword-only. They pass scikit-learn's own estimator checks and
work in pipelines, grid searches, ``clone``, pickle and joblib. Training runs barenet's loop and
backends (numba where installed). docs/sklearn.md tells what differs, on purpose.

The rooms::

    params       the parameters' checks, made from barenet's declared settings
    objective    scikit-learn's objective (loss, penalty, sample weights), and its steps
    stochastic   training by minibatches (sgd, adam): the loop, its callbacks, early stopping
    lbfgs        training with scipy's L-BFGS-B
    base         what both estimators share: fitting, the weights, pickling, predicting
    estimators   MLPClassifier, MLPRegressor
    files        reading a pickled estimator without running code from the file
"""
from .base import EXPECTED_FAILED_CHECKS
from .estimators import MLPClassifier, MLPRegressor

__all__ = ["MLPClassifier", "MLPRegressor", "EXPECTED_FAILED_CHECKS"]
