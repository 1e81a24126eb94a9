"""barenet as scikit-learn estimators: ``MLPClassifier`` and ``MLPRegressor`` (``barenet.sklearn``).

They take the arguments of scikit-learn's ``MLPClassifier``/``MLPRegressor`` where barenet has
the feature, with the same names and meanings, and add barenet's own: dropout, AdamW and
RMSProp, a cosine schedule, label smoothing, gradient clipping, the numba and GPU backends.
They work in pipelines, ``GridSearchCV``, ``cross_val_score``, ``clone`` and pickle, and pass
scikit-learn's own estimator checks (``sklearn.utils.estimator_checks``); the few checks they
cannot pass, and why, are listed in ``EXPECTED_FAILED_CHECKS``.

Training is barenet's: ``fit`` calls ``Sequential.fit`` one epoch at a time, so that the
stopping rules are scikit-learn's: at most ``max_iter`` epochs; stop when the training loss (or,
with ``early_stopping``, the validation score) has not improved by ``tol`` for
``n_iter_no_change`` epochs; with ``early_stopping`` the weights of the best epoch are kept.

Differences from scikit-learn's MLP, on purpose: ``alpha`` is applied through the optimizer as
``weight_decay = alpha / batch_size`` (the same gradient, ``alpha·W/B``, as scikit-learn's
penalty), and to the biases too; the output layer is a softmax for two classes as for more;
``solver="lbfgs"`` is not offered (barenet trains by minibatches).
"""
from __future__ import annotations

import warnings

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import accuracy_score, r2_score
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets, type_of_target
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

from ..core import registry
from ..core.backend import using_backend
from ..core.layers import Dense, Dropout
from ..core.losses import MSE, CrossEntropy
from ..core.optimizers import SGD
from ..core.schedules import CosineDecay
from ..training.model import Sequential

__all__ = ["MLPClassifier", "MLPRegressor", "EXPECTED_FAILED_CHECKS"]

# barenet's activations and optimizers by their short names, and scikit-learn's names for two more
ACTIVATIONS = {**registry.activations.aliases(), "logistic": registry.activations.aliases()["sigmoid"],
               "identity": None}
SOLVERS = registry.optimizers.aliases()

# scikit-learn's checks these estimators fail by design, with the reason (README: "scikit-learn").
EXPECTED_FAILED_CHECKS = {}


class _BaseMLP(BaseEstimator):
    """What the classifier and the regressor share: arguments, fitting, the stopping rules."""

    _is_classifier = False

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", *, solver="adam", alpha=0.0001,
                 batch_size="auto", learning_rate_init=0.001, max_iter=200, shuffle=True, random_state=None,
                 tol=1e-4, verbose=False, warm_start=False, momentum=0.9, early_stopping=False,
                 validation_fraction=0.1, n_iter_no_change=10, dropout=0.0, schedule="constant",
                 clip_norm=None, backend="auto"):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate_init = learning_rate_init
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.dropout = dropout
        self.schedule = schedule
        self.clip_norm = clip_norm
        self.backend = backend

    # -- the arguments, checked when fit reads them (scikit-learn's convention) ----------------

    def _check_arguments(self):
        hidden = self.hidden_layer_sizes
        hidden = [hidden] if isinstance(hidden, (int, np.integer)) else list(hidden)
        if not all(isinstance(h, (int, np.integer)) and h >= 1 for h in hidden):
            raise ValueError(f"hidden_layer_sizes must be positive integers, got {self.hidden_layer_sizes!r}")
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {self.activation!r}")
        if self.solver not in SOLVERS:
            raise ValueError(f"solver must be one of {sorted(SOLVERS)} (barenet trains by minibatches: "
                             f"no 'lbfgs'), got {self.solver!r}")
        for name in ("alpha", "learning_rate_init", "tol", "dropout"):
            value = getattr(self, name)
            if not isinstance(value, (int, float, np.number)) or not np.isfinite(value) or value < 0:
                raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
        if self.learning_rate_init <= 0:
            raise ValueError(f"learning_rate_init must be > 0, got {self.learning_rate_init!r}")
        if not self.dropout < 1:
            raise ValueError(f"dropout must be below 1, got {self.dropout!r}")
        for name in ("max_iter", "n_iter_no_change"):
            value = getattr(self, name)
            if not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if self.batch_size != "auto" and not (isinstance(self.batch_size, (int, np.integer)) and self.batch_size >= 1):
            raise ValueError(f"batch_size must be 'auto' or a positive integer, got {self.batch_size!r}")
        if not 0 < self.validation_fraction < 1:
            raise ValueError(f"validation_fraction must be in (0, 1), got {self.validation_fraction!r}")
        if self.schedule not in ("constant", "cosine"):
            raise ValueError(f"schedule must be 'constant' or 'cosine', got {self.schedule!r}")
        return hidden

    # -- building and training --------------------------------------------------------------

    def _build(self, n_features, n_outputs, hidden, seed, dtype):
        layers, width = [], n_features
        for size in hidden:
            layers.append(Dense(width, int(size)))
            if ACTIVATIONS[self.activation] is not None:
                layers.append(ACTIVATIONS[self.activation]())
            if self.dropout:
                layers.append(Dropout(self.dropout))
            width = int(size)
        layers.append(Dense(width, n_outputs))
        return Sequential(*layers, seed=seed, dtype=dtype)

    def _optimizer(self, batch_weight):
        lr = self.learning_rate_init
        if self.schedule == "cosine":
            lr = CosineDecay(lr, epochs=self.max_iter)
        decay = self.alpha / batch_weight  # scikit-learn's penalty alpha/2·|W|²/Σw: gradient alpha·W/Σw
        kind = SOLVERS[self.solver]
        if kind is SGD:
            return SGD(lr, momentum=self.momentum, nesterov=self.momentum > 0, weight_decay=decay,
                       clip_norm=self.clip_norm)
        return kind(lr, weight_decay=decay, clip_norm=self.clip_norm)

    def _fit(self, X, y, sample_weight, incremental):
        hidden = self._check_arguments()
        first = not (incremental or self.warm_start) or not hasattr(self, "model_")
        X, y = self._validate(X, y, reset=first)
        mean_weight = 1.0
        if sample_weight is not None:  # scikit-learn's weights are relative: a mean of 1, so that the
            # weighted mean loss, Σ w·l / n in barenet, is scikit-learn's Σ w·l / Σ w
            sample_weight = _check_sample_weight(sample_weight, X, dtype=X.dtype)
            if sample_weight.sum() > 0:
                mean_weight = float(sample_weight.mean())
                sample_weight = sample_weight / mean_weight
        y = self._encode(y, first)
        batch = min(200, len(X)) if self.batch_size == "auto" else min(int(self.batch_size), len(X))
        rng = check_random_state(self.random_state)
        with using_backend(self.backend):
            if first:
                outputs = len(self.classes_) if self._is_classifier else y.shape[1]
                self.model_ = self._build(X.shape[1], outputs, hidden, int(rng.randint(2**31 - 1)), X.dtype)
                self.model_.optimizer = self._optimizer(batch * mean_weight)  # the batch's Σ w
                self.n_iter_, self.t_, self.loss_curve_ = 0, 0, []
                self.best_loss_ = np.inf
                self.validation_scores_ = [] if self.early_stopping else None
                self.best_validation_score_ = -np.inf if self.early_stopping else None
            self.model_.loss = self._loss()  # the label smoothing of this fit's parameters
            if incremental:
                self._epoch(X, y, sample_weight, batch)
                return self
            validation = None
            if self.early_stopping:
                stratify = y if self._is_classifier and np.min(np.bincount(y)) >= 2 else None
                split = train_test_split(np.arange(len(X)), test_size=self.validation_fraction,
                                         random_state=int(rng.randint(2**31 - 1)), stratify=stratify)
                train, held = split
                validation = (X[held], y[held])
                X, y = X[train], y[train]
                sample_weight = None if sample_weight is None else sample_weight[train]
            best_weights, stalled = None, 0  # epochs since the last improvement
            for _ in range(self.max_iter):
                self._epoch(X, y, sample_weight, batch)
                if validation is not None:
                    score = self._validation_score(*validation)
                    self.validation_scores_.append(score)
                    if score > self.best_validation_score_:
                        best_weights = self.model_.parameter_vectors()[0].copy()
                    improved = score > self.best_validation_score_ + self.tol
                    self.best_validation_score_ = max(self.best_validation_score_, score)
                else:
                    loss = self.loss_curve_[-1]
                    improved = loss < self.best_loss_ - self.tol
                    self.best_loss_ = min(self.best_loss_, loss)
                stalled = 0 if improved else stalled + 1
                if stalled >= self.n_iter_no_change:
                    break
            else:
                warnings.warn(f"barenet: the training stopped at max_iter={self.max_iter} epochs without "
                              f"converging (tol={self.tol} for {self.n_iter_no_change} epochs)", ConvergenceWarning)
            if best_weights is not None:
                self.model_.parameter_vectors()[0][...] = best_weights
        return self

    def _epoch(self, X, y, sample_weight, batch):
        history = self.model_.fit(X, y, epochs=1, batch_size=batch, shuffle=self.shuffle,
                                  sample_weight=sample_weight, verbose=2 if self.verbose else 0)
        self.loss_curve_.append(float(history.to_dict()["loss"][-1]))
        self.n_iter_ += 1
        self.t_ += len(X)

    def _outputs(self, X):
        check_is_fitted(self, "model_")
        X = validate_data(self, X, reset=False, dtype=[np.float64, np.float32])
        with using_backend(self.backend):
            return self.model_.predict_proba(X) if self._is_classifier else self.model_.predict(X)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = False
        return tags


class MLPClassifier(ClassifierMixin, _BaseMLP):
    """A multilayer perceptron classifier trained by barenet, with scikit-learn's interface.

    Arguments as scikit-learn's ``MLPClassifier`` (hidden_layer_sizes, activation: relu, tanh,
    logistic, identity, and barenet's gelu and leaky_relu; solver: adam, sgd, and barenet's adamw
    and rmsprop; alpha, batch_size, learning_rate_init, max_iter, shuffle, random_state, tol,
    verbose, warm_start, momentum, early_stopping, validation_fraction, n_iter_no_change), and
    barenet's: ``dropout`` (after every hidden layer), ``label_smoothing``, ``schedule``
    ("constant" or "cosine" over max_iter epochs), ``clip_norm``, ``backend`` ("numpy", "numba",
    "cupy"). Attributes after fit: ``classes_``, ``n_features_in_``, ``n_iter_``, ``t_``,
    ``loss_curve_``, ``best_loss_``, ``validation_scores_``, ``best_validation_score_``, and
    ``model_``, the barenet ``Sequential`` (save it with ``model_.save``).
    """

    _is_classifier = True

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", *, solver="adam", alpha=0.0001,
                 batch_size="auto", learning_rate_init=0.001, max_iter=200, shuffle=True, random_state=None,
                 tol=1e-4, verbose=False, warm_start=False, momentum=0.9, early_stopping=False,
                 validation_fraction=0.1, n_iter_no_change=10, dropout=0.0, label_smoothing=0.0,
                 schedule="constant", clip_norm=None, backend="auto"):
        super().__init__(hidden_layer_sizes, activation, solver=solver, alpha=alpha, batch_size=batch_size,
                         learning_rate_init=learning_rate_init, max_iter=max_iter, shuffle=shuffle,
                         random_state=random_state, tol=tol, verbose=verbose, warm_start=warm_start,
                         momentum=momentum, early_stopping=early_stopping, validation_fraction=validation_fraction,
                         n_iter_no_change=n_iter_no_change, dropout=dropout, schedule=schedule, clip_norm=clip_norm,
                         backend=backend)
        self.label_smoothing = label_smoothing

    def fit(self, X, y, sample_weight=None):
        """Train on (X, y) from scratch (or, with ``warm_start``, from the last fit); returns self."""
        return self._fit(X, y, sample_weight, incremental=False)

    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """One epoch over (X, y). The first call needs ``classes``, every class there will be."""
        if not hasattr(self, "model_"):
            if classes is None:
                raise ValueError("classes must be given to the first call of partial_fit")
            self._partial_classes = np.unique(classes)
        return self._fit(X, y, sample_weight, incremental=True)

    def _validate(self, X, y, reset):
        X, y = validate_data(self, X, y, reset=reset, dtype=[np.float64, np.float32])
        check_classification_targets(y)
        if type_of_target(y) not in ("binary", "multiclass"):
            raise ValueError(f"MLPClassifier takes one label per sample; got targets of type {type_of_target(y)!r}")
        return X, y

    def _encode(self, y, first):
        if first:
            classes = getattr(self, "_partial_classes", None)
            self.classes_ = np.unique(y) if classes is None else classes
            if len(self.classes_) < 2 and classes is None:
                raise ValueError(f"MLPClassifier needs samples of at least 2 classes; y has one class "
                                 f"({self.classes_[0]!r})")
        unknown = np.setdiff1d(np.unique(y), self.classes_)
        if unknown.size:
            raise ValueError(f"y holds labels not among classes_ {list(self.classes_)}: {list(unknown)}")
        return np.searchsorted(self.classes_, y)

    def _loss(self):
        return CrossEntropy(self.label_smoothing)

    def _validation_score(self, X, y):
        return accuracy_score(y, self.model_.predict(X))

    def predict_proba(self, X):
        """Class probabilities, (n, n_classes), columns in the order of ``classes_``."""
        return self._outputs(X).astype(np.float64)

    def predict_log_proba(self, X):
        return np.log(np.clip(self.predict_proba(X), 1e-300, None))

    def predict(self, X):
        """The most probable class of each sample, as a label of ``classes_``."""
        outputs = self._outputs(X)  # first: it says NotFittedError before fit
        return self.classes_[np.argmax(outputs, axis=1)]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = False
        return tags


class MLPRegressor(RegressorMixin, _BaseMLP):
    """A multilayer perceptron regressor trained by barenet (mean squared error), with
    scikit-learn's interface; the arguments and attributes of ``MLPClassifier`` less the classes
    and label smoothing. ``y`` may have one column or several."""

    def fit(self, X, y, sample_weight=None):
        """Train on (X, y) from scratch (or, with ``warm_start``, from the last fit); returns self."""
        return self._fit(X, y, sample_weight, incremental=False)

    def partial_fit(self, X, y, sample_weight=None):
        """One epoch over (X, y)."""
        return self._fit(X, y, sample_weight, incremental=True)

    def _validate(self, X, y, reset):
        X, y = validate_data(self, X, y, reset=reset, dtype=[np.float64, np.float32], multi_output=True,
                             y_numeric=True)
        return X, y

    def _encode(self, y, first):
        y = np.asarray(y, dtype=np.float64)
        if first:
            self._one_column = y.ndim == 1
        y = y.reshape(len(y), -1)
        if not first and y.shape[1] != self.model_.output_width_:
            raise ValueError(f"y has {y.shape[1]} columns, but this MLPRegressor was fitted with "
                             f"{self.model_.output_width_}")
        return y

    def _loss(self):
        return MSE()

    def _validation_score(self, X, y):
        return r2_score(y, self.model_.predict(X))

    def predict(self, X):
        """Predicted targets: (n,) if fit saw one column of y, else (n, outputs)."""
        out = self._outputs(X).astype(np.float64)
        return out.ravel() if self._one_column else out

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.target_tags.single_output = True
        return tags
