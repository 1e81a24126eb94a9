"""What the classifier and the regressor share: fitting, the network behind the attributes, pickling.

Fitting the first time, again with warm_start, and part by part. The network is ``model_``, a
barenet ``Sequential`` built by ``training.builder``: a Dense layer and the activation per hidden
layer, a Dense layer to the outputs; the output activation (softmax, logistic, exp) is its loss's
(``out_activation_``). ``coefs_[i]`` and ``intercepts_[i]`` are views of layer i's W (in × out)
and b: changing them in place changes the network, and arrays assigned to them
(``clf.coefs_[0] = W``) go into it at the next fit or prediction, as they would in scikit-learn.
"""
from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils import check_random_state
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

from ...core import registry
from ...core.layers import Dense
from ...core.optimizers import AdamW
from ...training.builder import build_loss, build_network, build_optimizer
from .lbfgs import fit_lbfgs
from .objective import Objective, scales
from .params import builder_settings, hidden_widths
from .stochastic import fit_stochastic

__all__ = ["BaseMLP", "EXPECTED_FAILED_CHECKS"]

# scikit-learn's checks (sklearn.utils.estimator_checks) these estimators fail by design, with why
EXPECTED_FAILED_CHECKS: dict = {}
_WEIGHTS = {"coefs_": "W", "intercepts_": "b"}  # scikit-learn's attribute: the Dense layers' parameter


class BaseMLP(BaseEstimator):
    """The shared part of ``MLPClassifier`` and ``MLPRegressor`` (see ``estimators``)."""

    _classifies = False

    def _keep(self, arguments: dict) -> None:
        """Store each constructor argument under its name, unchecked.

        scikit-learn's convention: fit checks them.
        """
        for name, value in arguments.items():
            if name != "self":
                setattr(self, name, value)

    def fit(self, X, y, sample_weight=None):
        """Train on (X, y), from new weights, or from the last fit's with ``warm_start``.

        Parameters
        ----------
        X : array or sparse matrix (n, features)
            The samples.
        y : array
            The targets: class labels (or an indicator matrix) for the classifier, values for the
            regressor.
        sample_weight : array (n,), optional
            Weights of each sample's loss.

        Returns
        -------
        self
            The estimator, fitted.
        """
        return self._fit(X, y, sample_weight, incremental=False)

    def _check_stochastic(self):
        if self.solver == "lbfgs":
            raise AttributeError(f"partial_fit is only available for stochastic optimizers. {self.solver} is not "
                                 f"stochastic.")
        return True

    # -- fitting --------------------------------------------------------------------------------

    def _fit(self, X, y, sample_weight, incremental):
        self._validate_params()
        hidden = hidden_widths(self)
        if self.schedule != "constant" and self.learning_rate != "constant":
            raise ValueError(f"schedule={self.schedule!r} (barenet's) and learning_rate={self.learning_rate!r} "
                             f"(scikit-learn's) both set the rate: keep one of them 'constant'")
        first = not hasattr(self, "model_") or not (self.warm_start or incremental)
        X, y = self._validate_input(X, y, incremental, reset=first)
        if sample_weight is not None:
            sample_weight = _check_sample_weight(sample_weight, X)
        self.out_activation_ = self._output_activation()
        targets = self._targets(y)
        rng = check_random_state(self.random_state)
        if first:
            self._initialize(X.shape[1], targets, hidden, X.dtype, rng)
        else:
            self._continue(hidden)
        self.model_.loss = self._loss()
        if self.solver == "lbfgs":
            fit_lbfgs(self, X, targets, sample_weight)
        else:
            fit_stochastic(self, (X, targets, y, sample_weight), incremental, rng)
        if not np.isfinite(self.model_.parameter_vectors()[0]).all():
            raise ValueError("Solver produced non-finite parameter weights. The input data may contain large "
                             "values and need to be preprocessed.")
        return self

    def _initialize(self, n_features, targets, hidden, dtype, rng):
        self.n_outputs_ = self._output_width(targets)
        self.n_layers_ = len(hidden) + 2
        # the network's own generator (dropout) is seeded from random_state's without drawing from it,
        # so that random_state's draws stay scikit-learn's: the weights, the split, the order of the samples
        self.model_ = build_network(builder_settings(self, hidden), n_features, self.n_outputs_,
                                    seed=int(rng.get_state()[1][0]), dtype=dtype, backend=self.backend)
        self._built_as = self._architecture()
        self._point_at_weights()
        self._draw_initial_weights(rng)
        self.n_iter_, self.t_, self._stopping = 0, 0, None
        if self.solver != "lbfgs":
            self.loss_curve_ = []
            self.best_loss_ = None if self.early_stopping else np.inf
            self.validation_scores_ = [] if self.early_stopping else None
            self.best_validation_score_ = -np.inf if self.early_stopping else None

    def _draw_initial_weights(self, rng):
        """Draw scikit-learn's initialisation, from the same draws.

        W and b of each layer uniform in ±√(6 / (fan_in + fan_out)) (Glorot's), ±√(2 / (fan_in +
        fan_out)) for logistic units.
        """
        factor = 2.0 if self.activation == "logistic" else 6.0
        on_device = self.model_.ops.xp.asarray  # the network's arrays may live on a GPU
        for W, b in zip(self.coefs_, self.intercepts_):
            bound = np.sqrt(factor / sum(W.shape))
            W[...] = on_device(rng.uniform(-bound, bound, W.shape).astype(W.dtype))
            b[...] = on_device(rng.uniform(-bound, bound, b.shape).astype(b.dtype))

    def _continue(self, hidden):
        """Prepare a warm_start fit or a partial_fit: the network as the parameters now say.

        With the weights it has (a new activation, dropout or backend is a new network).
        """
        self._take_weights()
        if [layer.params["W"].shape[1] for layer in self._dense()][:-1] != hidden:
            raise ValueError(f"hidden_layer_sizes={self.hidden_layer_sizes!r} differs from the fitted network's; "
                             f"set warm_start=False to start again")
        if self._architecture() != self._built_as:
            old = self.model_
            self.model_ = build_network(builder_settings(self, hidden), old.input_width, self.n_outputs_,
                                        seed=old.seed, dtype=old.dtype, backend=self.backend)
            self.model_.parameter_vectors()[0][...] = old.parameter_vectors()[0]
            self.model_.optimizer = old.optimizer
            self._built_as = self._architecture()
            self._point_at_weights()
        if self.solver != "lbfgs" and not hasattr(self, "loss_curve_"):  # lbfgs before: nothing recorded
            self.loss_curve_, self.best_loss_ = [], None if self.early_stopping else np.inf
            self.validation_scores_ = [] if self.early_stopping else None
            self.best_validation_score_ = -np.inf if self.early_stopping else None

    def _architecture(self):
        return self.activation, self.dropout, self.backend

    def _loss(self):
        return build_loss(self._classifies, getattr(self, "label_smoothing", 0.0),
                          logistic=self.out_activation_ == "logistic", poisson=self.out_activation_ == "exp")

    def _decoupled(self) -> bool:
        """AdamW takes alpha as its own (decoupled) weight decay, not as the objective's penalty."""
        return self.solver in registry.optimizers and issubclass(registry.optimizers[self.solver], AdamW)

    def _objective(self):
        value_scale, gradient_scale = scales(self.out_activation_, self.n_outputs_)
        return Objective(0.0 if self._decoupled() else self.alpha, value_scale, gradient_scale)

    def _build_optimizer(self):
        self._initial_rate = self.learning_rate_init
        history = self.model_.history  # barenet's schedule counts this optimizer's epochs from here
        self._first_epoch = history.epochs[-1] + 1 if history.epochs else 1
        return build_optimizer(builder_settings(self, hidden_widths(self)),
                               weight_decay=self.alpha if self._decoupled() else 0.0,
                               nesterov=self.nesterovs_momentum, betas=(self.beta_1, self.beta_2), eps=self.epsilon,
                               eps_hat=True)

    # -- the weights: views of the network's, as scikit-learn names them ----------------------------

    def _dense(self):
        return [layer for layer in self.model_.layers if isinstance(layer, Dense)]

    def _point_at_weights(self):
        for attribute, key in _WEIGHTS.items():
            setattr(self, attribute, [layer.params[key] for layer in self._dense()])

    def _take_weights(self):
        """Put arrays a user assigned to coefs_ or intercepts_ (not changed in place) into the network.

        The lists then hold the network's views again.
        """
        dense = self._dense()
        for attribute, key in _WEIGHTS.items():
            arrays = getattr(self, attribute)
            if len(arrays) != len(dense):
                raise ValueError(f"{attribute} has {len(arrays)} arrays, the network {len(dense)} layers")
            for i, (layer, array) in enumerate(zip(dense, arrays)):
                view = layer.params[key]
                if array is not view:
                    if np.shape(array) != view.shape:
                        raise ValueError(f"{attribute}[{i}] has shape {np.shape(array)}, the network's layer needs "
                                         f"{view.shape}")
                    view[...] = self.model_.ops.xp.asarray(array, dtype=view.dtype)
        self._point_at_weights()

    def __getstate__(self):
        """Pickle the network (parameters and optimizer state), not the views of it."""
        if hasattr(self, "model_"):
            self._take_weights()
        state = dict(super().__getstate__())  # a copy: object's __getstate__ gives the instance's own dict
        for attribute in _WEIGHTS:
            state.pop(attribute, None)
        return state

    def __setstate__(self, state):
        super().__setstate__(state)
        if hasattr(self, "model_"):
            self._point_at_weights()

    # -- predicting ----------------------------------------------------------------------------------

    def _network_outputs(self, X, check_input=True):
        """Return what the output activation gives for X (its probabilities or values).

        Computed in the network's dtype and returned in the one NumPy would give X's and the weights'
        together.
        """
        check_is_fitted(self, "model_")
        if check_input:
            X = validate_data(self, X, accept_sparse=["csr", "csc"], reset=False, dtype=(np.float64, np.float32))
        self._take_weights()
        model = self.model_
        outputs = model.outputs(model.check_features(X), then=self._read_outputs)
        return outputs.astype(np.result_type(X.dtype, model.dtype), copy=False)

    def _held_out_score(self, X, y, sample_weight):
        """Return the score on the held-out samples for early stopping.

        NaN where the predictions are not finite.
        """
        predicted = self._predict(X, check_input=False)
        if np.issubdtype(predicted.dtype, np.floating) and not np.isfinite(predicted).all():
            return np.nan
        return self._score_function(y, predicted, sample_weight=sample_weight)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags
