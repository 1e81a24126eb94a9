"""The estimators' parameters and their checks (scikit-learn's ``_parameter_constraints``).

A parameter that is one of barenet's settings (``training.settings``: the same meaning under
scikit-learn's name, ``max_iter`` for ``epochs``) takes its constraint from that one
declaration, converted once by ``from_setting``; scikit-learn's other parameters keep
scikit-learn's own declarations, read from its MLP. So a range cannot differ between
``barenet train``, the web form, the run config and the estimators::

    MLPClassifier(learning_rate_init=20).fit(X, y)
    InvalidParameterError: The 'learning_rate_init' parameter of MLPClassifier must be a float
    in the range (0.0, 10.0]. Got 20 instead.

The builder (``training.builder``) reads settings by barenet's names: ``builder_settings``
gives it an estimator's.
"""
from __future__ import annotations

import math
import sys
from numbers import Integral, Real
from types import SimpleNamespace

import numpy as np
from sklearn.neural_network import MLPClassifier as ScikitLearnClassifier
from sklearn.neural_network import MLPRegressor as ScikitLearnRegressor
from sklearn.utils._param_validation import Interval, StrOptions

from ...core import checks as check
from ...training.settings import SETTINGS

__all__ = ["from_setting", "CLASSIFIER_CONSTRAINTS", "REGRESSOR_CONSTRAINTS", "hidden_widths", "builder_settings", "patience"]

# scikit-learn's parameter -> the barenet setting it is, and what scikit-learn accepts beyond it
SHARED = {"hidden_layer_sizes": "hidden", "activation": "activation", "solver": "optimizer",
          "batch_size": "batch_size", "learning_rate_init": "lr", "momentum": "momentum", "max_iter": "epochs",
          "validation_fraction": "validation_split"}
BEYOND = {"activation": [StrOptions({"identity", "logistic"})], "solver": [StrOptions({"lbfgs"})],
          "batch_size": [StrOptions({"auto"})]}
# barenet's own parameters, keyword-only, each a setting under its own name
OWN = ("dropout", "schedule", "clip_norm", "backend")
ACTIVATIONS = {"identity": None, "logistic": "sigmoid"}  # scikit-learn's names for barenet's


def _bound(value):
    return None if value is None or math.isinf(value) else value


def _integers(low, high) -> Interval:
    """Integers from low to high, both included (scikit-learn leaves an absent bound open)."""
    closed = {(True, True): "both", (True, False): "left", (False, True): "right"}[low is not None, high is not None]
    return Interval(Integral, low, high, closed=closed)


def from_setting(constraint) -> list:
    """barenet's declaration of a value (``core.checks``) as scikit-learn's list of constraints."""
    if isinstance(constraint, check.AnyOf):
        return [part for inner in constraint.constraints for part in from_setting(inner)]
    if isinstance(constraint, check.Widths):  # an int is one hidden layer; the widths are checked by fit
        return ["array-like", _integers(1, constraint.each.high)]
    if isinstance(constraint, check.Real):
        return [Interval(Real, _bound(constraint.low), _bound(constraint.high), closed=constraint.closed)]
    if isinstance(constraint, check.Integer):
        return [_integers(constraint.low, constraint.high)]
    if isinstance(constraint, check.Boolean):
        return ["boolean"]
    if isinstance(constraint, check.Options):
        names = {value for value in constraint.values if isinstance(value, str)}
        return ([StrOptions(names)] if names else []) + ([None] if None in constraint.values else [])
    raise TypeError(f"no scikit-learn form for {constraint!r}")


def _of_setting(name: str) -> list:
    setting = SETTINGS[name]
    return from_setting(setting.check) + ([None] if setting.default is None else [])


def _constraints(theirs, own) -> dict:
    shared = {param: _of_setting(setting) + BEYOND.get(param, []) for param, setting in SHARED.items()}
    return {**theirs._parameter_constraints, **shared, **{name: _of_setting(name) for name in own}}


CLASSIFIER_CONSTRAINTS = _constraints(ScikitLearnClassifier, OWN + ("label_smoothing",))
REGRESSOR_CONSTRAINTS = _constraints(ScikitLearnRegressor, OWN)


def hidden_widths(estimator) -> list:
    """Return ``hidden_layer_sizes`` as a list of widths, each checked as the setting checks them.

    None at all is a network without hidden layers (a linear model), which scikit-learn allows.
    """
    sizes = estimator.hidden_layer_sizes
    sizes = [sizes] if isinstance(sizes, (Integral, np.integer)) else list(sizes)
    return SETTINGS["hidden"](sizes, "hidden_layer_sizes") if sizes else []


def builder_settings(estimator, hidden) -> SimpleNamespace:
    """Return an estimator's parameters under barenet's setting names, for ``training.builder``."""
    return SimpleNamespace(
        conv=None, hidden=hidden, activation=ACTIVATIONS.get(estimator.activation, estimator.activation),
        dropout=estimator.dropout, optimizer=estimator.solver, lr=estimator.learning_rate_init,
        momentum=estimator.momentum, schedule=estimator.schedule, warmup=0.0, clip_norm=estimator.clip_norm,
        epochs=estimator.max_iter, weight_decay=0.0)


def patience(n_iter_no_change) -> int:
    """``n_iter_no_change`` as ``EarlyStopping``'s patience (scikit-learn takes np.inf: never)."""
    return sys.maxsize if math.isinf(n_iter_no_change) else int(n_iter_no_change)
