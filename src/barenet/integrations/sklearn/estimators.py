"""``MLPClassifier`` and ``MLPRegressor``: scikit-learn 1.9's parameters, in its order, then barenet's.

With scikit-learn's defaults and meanings; barenet's own parameters are keyword-only.
"""
from __future__ import annotations

import numpy as np
from sklearn.base import ClassifierMixin, RegressorMixin
from sklearn.metrics import accuracy_score, r2_score
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import type_of_target, unique_labels
from sklearn.utils.validation import column_or_1d, validate_data

from .base import BaseMLP
from .params import CLASSIFIER_CONSTRAINTS, REGRESSOR_CONSTRAINTS

__all__ = ["MLPClassifier", "MLPRegressor"]


def _first_partial_fit(estimator, classes) -> bool:
    """Return whether this partial_fit is the first (it then sets ``classes_``).

    A later one may repeat ``classes`` but not change them.
    """
    if getattr(estimator, "classes_", None) is None and classes is None:
        raise ValueError("classes must be passed on the first call to partial_fit.")
    if classes is None:
        return False
    if getattr(estimator, "classes_", None) is not None:
        if not np.array_equal(estimator.classes_, unique_labels(classes)):
            raise ValueError(f"`classes={classes!r}` is not the same as on last call to partial_fit, was: "
                             f"{estimator.classes_!r}")
        return False
    estimator.classes_ = unique_labels(classes)
    return True


class MLPClassifier(ClassifierMixin, BaseMLP):
    """A multilayer perceptron classifier trained by barenet, a drop-in for scikit-learn's.

    The output is a softmax for several classes, one logistic unit for two, one per label for
    multilabel targets (an indicator matrix). Fitted attributes as scikit-learn's: ``classes_``,
    ``coefs_``, ``intercepts_``, ``loss_``, ``best_loss_``, ``loss_curve_``,
    ``validation_scores_``, ``best_validation_score_``, ``n_iter_``, ``t_``, ``n_layers_``,
    ``n_outputs_``, ``out_activation_``, ``n_features_in_``, ``feature_names_in_``; and
    ``model_``, the barenet ``Sequential``.

    Parameters
    ----------
    hidden_layer_sizes : int or tuple of int, default (100,)
        The width of each hidden layer; none at all is a linear model.
    activation : str, default "relu"
        scikit-learn's "identity", "logistic", "tanh", "relu", and barenet's "gelu", "leaky_relu"
        (and "sigmoid" for "logistic").
    solver : str, default "adam"
        scikit-learn's "lbfgs", "sgd", "adam", and barenet's "adamw" (``alpha`` is then its
        decoupled weight decay) and "rmsprop".
    alpha, batch_size, learning_rate, learning_rate_init, power_t, max_iter, shuffle, random_state
        As ``sklearn.neural_network.MLPClassifier``'s (1.9): the same order, defaults and meanings.
    tol, verbose, warm_start, momentum, nesterovs_momentum, early_stopping, validation_fraction
        As scikit-learn's.
    beta_1, beta_2, epsilon, n_iter_no_change, max_fun
        As scikit-learn's.
    dropout : float, default 0.0
        Dropout after each hidden layer (barenet's, keyword-only like those below).
    label_smoothing : float, default 0.0
        Mixes the targets with the uniform distribution.
    schedule : {"constant", "step", "cosine"}, default "constant"
        barenet's learning-rate schedule over ``max_iter`` epochs (with ``learning_rate="constant"``).
    clip_norm : float, optional
        Rescale each gradient whose norm exceeds it.
    backend : {"auto", "numpy", "numba", "cupy"}, default "auto"
        What the network computes on.
    """

    _parameter_constraints = CLASSIFIER_CONSTRAINTS
    _classifies = True
    _score_function = staticmethod(accuracy_score)

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", *, solver="adam", alpha=0.0001,
                 batch_size="auto", learning_rate="constant", learning_rate_init=0.001, power_t=0.5, max_iter=200,
                 shuffle=True, random_state=None, tol=1e-4, verbose=False, warm_start=False, momentum=0.9,
                 nesterovs_momentum=True, early_stopping=False, validation_fraction=0.1, beta_1=0.9, beta_2=0.999,
                 epsilon=1e-8, n_iter_no_change=10, max_fun=15000,
                 dropout=0.0, label_smoothing=0.0, schedule="constant", clip_norm=None, backend="auto"):
        self._keep(locals())

    @available_if(BaseMLP._check_stochastic)
    def partial_fit(self, X, y, sample_weight=None, classes=None):
        """Train one epoch over (X, y), from the weights the estimator has.

        Parameters
        ----------
        X : array or sparse matrix (n, features)
            The samples.
        y : array (n,) or (n, labels)
            Class labels, or an indicator matrix for multilabel targets.
        sample_weight : array (n,), optional
            Weights of each sample's loss.
        classes : array, optional
            Every class there will be: needed on the first call, the same on later ones.

        Returns
        -------
        MLPClassifier
            Itself.
        """
        if _first_partial_fit(self, classes):
            self._label_binarizer = LabelBinarizer()
            self._label_binarizer.fit(y if type_of_target(y).startswith("multilabel") else classes)
        return self._fit(X, y, sample_weight, incremental=True)

    def _validate_input(self, X, y, incremental, reset):
        X, y = validate_data(self, X, y, accept_sparse=["csr", "csc"], multi_output=True,
                             dtype=(np.float64, np.float32), reset=reset)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        if not hasattr(self, "classes_") or not (self.warm_start or incremental):
            self._label_binarizer = LabelBinarizer().fit(y)
            self.classes_ = self._label_binarizer.classes_
            return X, y
        classes = unique_labels(y)
        if self.warm_start and set(classes) != set(self.classes_):
            raise ValueError(f"warm_start can only be used where `y` has the same classes as in the previous "
                             f"call to fit. Previously got {self.classes_}, `y` has {classes}")
        if not self.warm_start and len(np.setdiff1d(classes, self.classes_, assume_unique=True)):
            raise ValueError(f"`y` has classes not in `self.classes_`. `self.classes_` has {self.classes_}. "
                             f"'y' has {classes}.")
        return X, y

    def _output_activation(self):
        return "softmax" if self._label_binarizer.y_type_ == "multiclass" else "logistic"

    def _targets(self, y):
        """Return class ids for the softmax; 0/1 per output unit otherwise (smoothed towards ½)."""
        indicators = self._label_binarizer.transform(y)
        if self.out_activation_ == "softmax":
            return indicators.argmax(axis=1)
        return indicators * (1.0 - self.label_smoothing) + self.label_smoothing / 2

    def _output_width(self, targets):
        return len(self.classes_) if self.out_activation_ == "softmax" else targets.shape[1]

    def _stratified_split(self) -> bool:
        return self.n_outputs_ == 1

    def _read_outputs(self, outputs):
        return self.model_.loss.probabilities(outputs)

    def predict_proba(self, X):
        """Return the probability of each class (binary: of both), columns in the order of ``classes_``.

        In X's dtype for a network of the same one.
        """
        probabilities = self._network_outputs(X)
        if probabilities.shape[1] == 1 and self._label_binarizer.y_type_ != "multilabel-indicator":
            return np.hstack([1 - probabilities, probabilities])
        return probabilities

    def predict_log_proba(self, X):
        """Return ``log(predict_proba(X))``: -inf where a probability is 0."""
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))

    def predict(self, X):
        """Return the class of each sample (an indicator row for multilabel targets)."""
        return self._predict(X)

    def _predict(self, X, check_input=True):
        probabilities = self._network_outputs(X, check_input)
        return self._label_binarizer.inverse_transform(probabilities.ravel() if self.n_outputs_ == 1
                                                       else probabilities)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags


class MLPRegressor(RegressorMixin, BaseMLP):
    """A multilayer perceptron regressor trained by barenet, a drop-in for scikit-learn's.

    ``y`` may have one column or several. The attributes are ``MLPClassifier``'s, less ``classes_``.

    Parameters
    ----------
    loss : {"squared_error", "poisson"}, default "squared_error"
        Half the squared error, an identity output; or half the Poisson deviance, an exponential
        output, y ≥ 0.
    hidden_layer_sizes, activation, solver, alpha, batch_size, learning_rate, learning_rate_init
        As ``MLPClassifier``'s.
    power_t, max_iter, shuffle, random_state, tol, verbose, warm_start, momentum, nesterovs_momentum
        As ``sklearn.neural_network.MLPRegressor``'s (1.9): the same order, defaults and meanings.
    early_stopping, validation_fraction, beta_1, beta_2, epsilon, n_iter_no_change, max_fun
        As scikit-learn's.
    dropout, schedule, clip_norm, backend
        barenet's, keyword-only, as ``MLPClassifier``'s.
    """

    _parameter_constraints = REGRESSOR_CONSTRAINTS
    _score_function = staticmethod(r2_score)

    def __init__(self, loss="squared_error", hidden_layer_sizes=(100,), activation="relu", *, solver="adam",
                 alpha=0.0001, batch_size="auto", learning_rate="constant", learning_rate_init=0.001, power_t=0.5,
                 max_iter=200, shuffle=True, random_state=None, tol=1e-4, verbose=False, warm_start=False,
                 momentum=0.9, nesterovs_momentum=True, early_stopping=False, validation_fraction=0.1, beta_1=0.9,
                 beta_2=0.999, epsilon=1e-8, n_iter_no_change=10, max_fun=15000,
                 dropout=0.0, schedule="constant", clip_norm=None, backend="auto"):
        self._keep(locals())

    @available_if(BaseMLP._check_stochastic)
    def partial_fit(self, X, y, sample_weight=None):
        """Train one epoch over (X, y), from the weights the estimator has.

        Parameters
        ----------
        X : array or sparse matrix (n, features)
            The samples.
        y : array (n,) or (n, outputs)
            The targets.
        sample_weight : array (n,), optional
            Weights of each sample's loss.

        Returns
        -------
        MLPRegressor
            Itself.
        """
        return self._fit(X, y, sample_weight, incremental=True)

    def _validate_input(self, X, y, incremental, reset):
        X, y = validate_data(self, X, y, accept_sparse=["csr", "csc"], multi_output=True, y_numeric=True,
                             dtype=(np.float64, np.float32), reset=reset)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        return X, y

    def _output_activation(self):
        return "exp" if self.loss == "poisson" else "identity"

    def _targets(self, y):
        return y.reshape(len(y), -1)

    def _output_width(self, targets):
        return targets.shape[1]

    def _stratified_split(self) -> bool:
        return False

    def _read_outputs(self, outputs):
        return self.model_.loss.predict(outputs)

    def predict(self, X):
        """Return the predicted values: (n,) for one output, else (n, outputs)."""
        return self._predict(X)

    def _predict(self, X, check_input=True):
        return self._network_outputs(X, check_input)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.target_tags.single_output = True
        return tags
