"""Training by minibatches (``solver`` "sgd", "adam", "adamw", "rmsprop"): scikit-learn's ``_fit_stochastic``.

Run by barenet's training loop. ``fit_stochastic`` hands the loop the objective's step strategy
(``objective.ObjectiveSteps``) and three callbacks, which do after every epoch what scikit-learn
does, in its order::

    Record           loss_curve_, loss_, n_iter_, t_; the "invscaling" rate for the next epoch
    ValidationScore  with early_stopping: the accuracy or R² on the held-out part, weighted
    EarlyStopping    barenet's (training.callbacks), with scikit-learn's rule: stop when
                     n_iter_no_change epochs in a row fail to beat the best by tol; with
                     early_stopping, the weights of the best epoch come back at the end; with
                     learning_rate="adaptive" (sgd), divide the rate by 5 instead, until it is
                     below 1e-6
"""
from __future__ import annotations

import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split

from ...training.callbacks import Callback, EarlyStopping
from ...training.history import History
from ...training.loop import NonFiniteError
from .objective import ObjectiveSteps
from .params import patience

__all__ = ["fit_stochastic", "set_learning_rate"]

SMALLEST_ADAPTIVE_RATE = 1e-6  # scikit-learn's: below it, a plateau stops "adaptive" training


def set_learning_rate(optimizer, lr: float) -> None:
    """Change the rate between epochs as scikit-learn does.

    Its SGD keeps the velocity in units of steps (v = -lr·b), barenet's (PyTorch's) the momentum b in
    units of gradients: rescaling b by old/new keeps the velocity, so the next step is scikit-learn's.
    """
    buffer = optimizer.state.get("momentum_buffer")
    if buffer is not None and lr != optimizer.lr:
        buffer *= optimizer.lr / lr
    optimizer.lr = lr


class Record(Callback):
    """After each epoch: the figures scikit-learn keeps, and the "invscaling" rate.

    Parameters
    ----------
    estimator : MLPClassifier or MLPRegressor
        Where the figures go.
    samples : int
        The training samples per epoch, for ``t_``.
    """

    def __init__(self, estimator, samples: int):
        self.estimator, self.samples = estimator, samples

    def on_epoch_end(self, epoch, logs=None):
        """Append the epoch's loss to loss_curve_, count n_iter_ and t_, and set the invscaling rate."""
        estimator = self.estimator
        estimator.loss_ = np.float64(logs["loss"])
        estimator.loss_curve_.append(estimator.loss_)
        estimator.n_iter_ += 1
        estimator.t_ += self.samples
        if estimator.verbose:
            print(f"Iteration {estimator.n_iter_}, loss = {estimator.loss_:.8f}")
        if estimator.solver == "sgd" and estimator.learning_rate == "invscaling":
            rate = estimator._initial_rate / (estimator.t_ + 1) ** estimator.power_t
            set_learning_rate(self.model.optimizer, rate)


class ValidationScore(Callback):
    """After each epoch, the estimator's score on the held-out samples (``val_score``).

    Parameters
    ----------
    estimator : MLPClassifier or MLPRegressor
        Whose score.
    X, y, weight
        The held-out samples, their targets and weights.
    """

    def __init__(self, estimator, X, y, weight):
        self.estimator, self.X, self.y, self.weight = estimator, X, y, weight

    def on_epoch_end(self, epoch, logs=None):
        """Score the held-out samples; put it in the logs as ``val_score`` and in validation_scores_."""
        logs["val_score"] = score = self.estimator._held_out_score(self.X, self.y, self.weight)
        self.estimator.validation_scores_.append(score)
        if self.estimator.verbose:
            print(f"Validation score: {score:f}")


def _stopper(estimator, model):
    """Return EarlyStopping on the validation score (early_stopping) or the training loss.

    Taking up where the last fit left it (warm_start, partial_fit), as scikit-learn's counter does.
    """
    adaptive = estimator.solver == "sgd" and estimator.learning_rate == "adaptive"

    def lower_the_rate():
        optimizer = model.optimizer
        if optimizer.lr <= SMALLEST_ADAPTIVE_RATE:
            return False
        set_learning_rate(optimizer, optimizer.lr / 5.0)
        if estimator.verbose:
            print(f"Setting learning rate to {optimizer.lr:f}")
        return True

    held_out = estimator.early_stopping
    monitor = "val_score" if held_out else "loss"
    stopper = EarlyStopping(monitor, patience=patience(estimator.n_iter_no_change), min_delta=estimator.tol,
                            mode="max" if held_out else "min", restore_best_weights=held_out, compare_to="best",
                            on_plateau=lower_the_rate if adaptive else None)
    stopper.resume(History(), best_weights=model.parameter_vectors()[0] if held_out else None)
    last = getattr(estimator, "_stopping", None)  # (what it watched, its best, the best's epoch, epochs waited)
    if last is not None and last[0] == monitor:
        stopper.best, stopper.best_epoch, stopper.wait = last[1:]
    return stopper


def _held_out(estimator, data, rng):
    """Return (training part, held-out part) of data = (X, targets, y, weight).

    Split as scikit-learn splits for early stopping (stratified for one-output classifiers).
    """
    X, targets, y, weight = data
    stratify = targets if estimator._stratified_split() else None
    train, held = train_test_split(np.arange(X.shape[0]), random_state=rng, test_size=estimator.validation_fraction,
                                   stratify=stratify)
    if len(held) < 2:
        raise ValueError("The validation set is too small. Increase 'validation_fraction' or the size of your dataset.")
    pick = (lambda rows: tuple(None if part is None else part[rows] for part in data))
    return pick(train), pick(held)


def _batch_size(estimator, n: int) -> int:
    if estimator.batch_size == "auto":
        return min(200, n)
    if estimator.batch_size > n:
        warnings.warn("Got `batch_size` less than 1 or larger than sample size. It is going to be clipped")
    return min(int(estimator.batch_size), n)


def fit_stochastic(estimator, data, incremental: bool, rng):
    """Train one epoch (``partial_fit``) or up to ``max_iter`` epochs of minibatches.

    On data = (X, targets, y, weight): X validated, targets as the network's loss takes them, y as
    given; ``rng`` is random_state's generator.
    """
    model = estimator.model_
    if estimator.early_stopping and incremental:
        raise ValueError("partial_fit does not support early_stopping=True")
    if not incremental or model.optimizer is None:  # scikit-learn keeps its optimizer only across partial_fit
        model.optimizer = estimator._build_optimizer()
    train, held = _held_out(estimator, data, rng) if estimator.early_stopping else (data, None)
    X, targets, _, weight = train
    hooks = [Record(estimator, X.shape[0])]
    if held is not None:
        hooks.append(ValidationScore(estimator, held[0], held[2], held[3]))
    stopper = _stopper(estimator, model)
    hooks.append(stopper)
    estimator.n_iter_ = 0
    try:
        model.fit(X, targets, loss=model.loss, sample_weight=weight, epochs=1 if incremental else estimator.max_iter,
                  batch_size=_batch_size(estimator, X.shape[0]), shuffle=estimator.shuffle, callbacks=hooks,
                  verbose=0, parallel=ObjectiveSteps(estimator._objective(), rng, estimator._first_epoch))
    except KeyboardInterrupt:
        warnings.warn("Training interrupted by user.")
    except NonFiniteError as error:
        raise ValueError(f"Solver produced non-finite parameter weights. The input data may contain large values "
                         f"and need to be preprocessed. ({error})") from None
    estimator._stopping = (stopper.monitor, stopper.best, stopper.best_epoch, stopper.wait)
    if held is not None:
        estimator.best_validation_score_ = stopper.best_value
    else:
        estimator.best_loss_ = stopper.best_value
    if stopper.stopped_epoch is not None and estimator.verbose:
        print(f"{'Validation score' if held is not None else 'Training loss'} did not improve more than "
              f"tol={estimator.tol:f} for {estimator.n_iter_no_change} consecutive epochs. Stopping.")
    if not incremental and stopper.stopped_epoch is None and estimator.n_iter_ == estimator.max_iter:
        warnings.warn(f"Stochastic Optimizer: Maximum iterations ({estimator.max_iter}) reached and the "
                      f"optimization hasn't converged yet.", ConvergenceWarning)
