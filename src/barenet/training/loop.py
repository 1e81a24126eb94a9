"""The training loop: epochs of minibatches, each a forward pass, a loss, a backward pass and a step.

``model.fit(...)`` is ``fit`` here; it reads top to bottom::

    fit         check the arguments, hold out validation data, then for every epoch:
    run_epoch     shuffle, and for every minibatch:
                    the step strategy's batch: forward, loss, backward, the divergence check,
                    the optimizer's update (``training.steps``)
                  then record the epoch's figures in the history and tell the callbacks

How the steps run is a strategy object: ``OneProcess`` (``training.steps``), or ``DataParallel``
(``training.parallel``), whose processes each take some rows of every batch and add their
gradients up. The loop is the same for both.

If the loss or a gradient becomes NaN or infinite, the step raises ``NonFiniteError`` before the
optimizer touches the weights; callbacks hear of it through ``on_diverged`` (``TerminateOnNaN``
turns it into a warning). Ctrl-C stops after the current batch.
"""
from __future__ import annotations

import contextlib
import math
import time
from types import SimpleNamespace

import numpy as np

from ..core import checks as check
from ..core.backend import to_device, using_backend
from ..core.optimizers import Adam, get_optimizer
from .callbacks import CallbackList, progress_for
from .data import stratified_test_indices
from .parallel import data_parallel
from .steps import NonFiniteError, StopOnCtrlC, step
from .threads import ThreadLimit

__all__ = ["fit", "train_step", "measure", "NonFiniteError"]


def fit(model, X, y, *, loss=None, optimizer=None, epochs=1, batch_size=32, validation_data=None,
        validation_split=0.0, shuffle=True, sample_weight=None, class_weight=None, callbacks=None, verbose=1,
        full_train_metrics=False, parallel=None):
    """Train on (X, y) for ``epochs`` passes and return ``model.history``.

    Each epoch visits the samples in a new random order from the model's generator, in batches of
    ``batch_size`` (the last one smaller). Like Keras's, the history starts with epoch 0, the model
    before training: one entry more than epochs. Its ``loss`` and ``accuracy`` are running means over
    each epoch's batches (the weights change meanwhile), with ``lr``, ``time`` and ``threads``.

    If the loss or a gradient becomes NaN or infinite, fit stops with ``NonFiniteError`` naming the
    epoch, the batch and the layer, and leaves the weights as they were before it (with a
    ``TerminateOnNaN`` callback it stops with a warning instead). Ctrl-C stops after the current
    batch: callbacks see the end of training, the history keeps every finished epoch, and then
    ``KeyboardInterrupt`` is raised; in the passes that measure the untrained model first, after
    their current batch, before anything has started.

    Parameters
    ----------
    model : Sequential
        The model (``model.fit(...)`` passes itself).
    X, y
        X (n, features), or images; y class ids (n,) or one-hot rows for ``CrossEntropy``, targets
        shaped like the outputs for other losses.
    loss, optimizer
        Objects or short names; by default the last fit's (a first fit needs a loss; its optimizer
        is ``Adam(1e-3)``). Both are kept for later calls, the optimizer's state included.
    epochs, batch_size : int
        Passes over the data (default 1), and samples per step (default 32).
    validation_data, validation_split
        ``(X_val, y_val)`` or ``(X_val, y_val, sample_weight)``, or a fraction of X held out
        (shuffled and, for classification, stratified): evaluated after every epoch.
    shuffle : bool, default True
        A new random order every epoch (else the data's).
    sample_weight, class_weight
        (n,) weights of each sample's loss; {class: weight} or "balanced".
    callbacks : list of Callback, optional
        ``bn.callbacks`` objects.
    verbose : {1, 2, 0}
        1: a progress bar per epoch on a terminal (a notebook's in Jupyter; one line per epoch to a
        file or a pipe); 2: always one line per epoch; 0: nothing.
    full_train_metrics : bool, default False
        Add ``train_loss`` and ``train_accuracy``: a full pass over the training data after each
        epoch, comparable with ``evaluate``.
    parallel : "mpi" or an mpi4py communicator, optional
        Under ``mpiexec -n K``, train data-parallel across the K processes, each taking its share of
        every batch, ending with the weights one process would reach (``training.parallel``; needs
        ``barenet[mpi]``); one process changes nothing. An exception on one process ends them all
        with its error printed; ``NonFiniteError``, met by all at the same batch, is raised as usual.
    """
    strategy = data_parallel(parallel)
    try:
        with using_backend(model.ops):  # xp, the device and the fused operations are the model's
            run = _checked(model, X, y, loss, optimizer, epochs, batch_size, validation_data, validation_split,
                           shuffle, sample_weight, class_weight, callbacks, verbose, full_train_metrics)
            return _train(model, run, strategy)
    except NonFiniteError:
        raise
    except BaseException as error:
        strategy.abort(error)  # with several processes: end them all, not leave them waiting for this one


def _checked(model, X, y, loss, optimizer, epochs, batch_size, validation_data, validation_split, shuffle,
             sample_weight, class_weight, callbacks, verbose, full_train_metrics):
    """Return fit's arguments, checked and converted, as one namespace; the validation split held out."""
    X = model.check_features(X)
    loss = model.check_loss(loss, "fit")
    y = model.check_targets(y, len(X), loss)
    validation_split = check.fraction(validation_split, "validation_split")
    if validation_data is not None and validation_split:
        raise ValueError("pass validation_data or validation_split, not both")
    weight = None if sample_weight is None else check.sample_weights(sample_weight, "sample_weight", len(X))
    if class_weight is not None:
        labels = loss.labels(y)
        if labels is None:
            raise ValueError(f"class_weight needs a loss with one class per sample (CrossEntropy), got {loss!r}")
        per_class = check.class_weights(class_weight, labels, model.output_width_)
        weight = per_class if weight is None else weight * per_class
    validation = None if validation_data is None else model.check_dataset(validation_data, loss, "validation_data")
    if isinstance(verbose, bool) or verbose not in (0, 1, 2):
        raise ValueError(f"verbose must be 0, 1 or 2, got {verbose!r}")
    if validation_split:
        X, y, weight, validation = split(model, X, y, weight, validation_split, loss)
    return SimpleNamespace(
        X=X, y=y, weight=weight, validation=validation, loss=loss, shuffle=bool(shuffle), verbose=verbose,
        optimizer=get_optimizer(optimizer) if optimizer is not None else (model.optimizer or Adam(1e-3)),
        epochs=check.non_negative_int(epochs, "epochs"), batch_size=check.positive_int(batch_size, "batch_size"),
        callbacks=list(callbacks or []), full=full_train_metrics)


def _train(model, run, strategy):
    model.loss, model.optimizer = run.loss, run.optimizer
    done = model.history.epochs[-1] if model.history.epochs else 0
    progress = progress_for(run.verbose, done + run.epochs, math.ceil(len(run.X) / run.batch_size)) \
        if strategy.leads else None
    run.hooks = CallbackList((run.callbacks if strategy.leads else []) + ([progress] if progress else []), model)
    model.stop_training = False
    model.history.backend = model.ops.name  # which backend ran, for the user who asks (repr, .backend)
    blas = ThreadLimit(own=model.ops.own_threads(model))
    with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"), \
            StopOnCtrlC(model, active=strategy.stops_mid_epoch) as ctrl_c, contextlib.closing(blas):
        if not model.history.epochs:
            figures = epoch_figures(model, run, None, strategy)
            if figures is None:  # Ctrl-C during that pass, a whole one over the data: stop now, not after it
                raise KeyboardInterrupt("training interrupted before its first epoch, while it measured the "
                                        "untrained model: nothing was trained")
            model.history.append(0, figures)
        run.hooks.on_train_begin(model.history.last())
        try:
            for epoch in range(done + 1, done + run.epochs + 1):
                run_epoch(model, run, epoch, strategy, threads=blas.epoch())
                if model.stop_training:
                    break
        except NonFiniteError as error:
            if not strategy.from_leader(run.hooks.on_diverged(error)):
                raise
        finally:
            run.hooks.on_train_end(model.history.last())
        strategy.end_training(model)
    if ctrl_c.pressed:
        raise KeyboardInterrupt(f"training interrupted during epoch {ctrl_c.epoch}; the history keeps the "
                                f"{len(model.history.epochs) - 1} finished epochs")
    return model.history


def split(model, X, y, weight, fraction, loss):
    """Hold out a random fraction of the data, stratified by class where the loss gives each sample one.

    Returns (X, y, weight) for training and the held-out (X, y, weight), drawn from the model's
    generator.
    """
    n = len(X)
    labels = loss.labels(y)
    if labels is not None:
        val = stratified_test_indices(labels, fraction, model.rng)
    else:
        val = model.rng.permutation(n)[:int(round(fraction * n))]
    if not 0 < val.size < n:
        raise ValueError(f"validation_split={fraction} leaves an empty part for {n} samples")
    train = np.setdiff1d(np.arange(n), val)
    pick = (lambda a, idx: None if a is None else a[idx])
    return X[train], y[train], pick(weight, train), (X[val], y[val], pick(weight, val))


def run_epoch(model, run, epoch, strategy, threads=None):
    """Run one pass over the training data in minibatches of a new random order.

    Appends the epoch to the history (a partial epoch, stopped by Ctrl-C, is not added) and tells the
    callbacks; ``threads`` is the BLAS thread count the epoch runs with, for its log.
    """
    run.hooks.on_epoch_begin(epoch)
    strategy.begin_epoch(model, (run.X, run.y, run.weight), run.hooks)
    n, size = len(run.X), run.batch_size
    order = strategy.order(model, n, run.shuffle)
    batches = math.ceil(n / size)
    total_loss = total_correct = 0.0  # the sums stay on the device until the epoch ends
    seen = 0
    started = time.perf_counter()
    for b in range(batches):
        idx = order[b * size:(b + 1) * size]
        value, correct = strategy.batch(model, idx, epoch, b, progress=(epoch - 1) + b / batches)
        total_loss, total_correct, seen = total_loss + value * len(idx), total_correct + correct, seen + len(idx)
        if run.hooks.wants_batches:
            run.hooks.on_batch_end(b, {"loss": float(value)})
        if model.stop_training and strategy.stops_mid_epoch:  # with several processes: at the epoch's end
            break
    strategy.end_epoch(model, epoch)
    if model.interrupted:
        model.interrupted_epoch = epoch
        return
    running = {"loss": float(total_loss) / seen}
    if run.loss.classifies:
        running["accuracy"] = float(total_correct) / seen
    logs = epoch_figures(model, run, running, strategy)
    logs.update(lr=run.optimizer.learning_rate, time=time.perf_counter() - started)
    if threads is not None:
        logs["threads"] = threads  # the BLAS threads the epoch ran with (training.threads)
    logs = strategy.agree(model, epoch, logs)
    model.history.append(epoch, logs)
    run.hooks.on_epoch_end(epoch, logs)
    model.stop_training = strategy.from_leader(model.stop_training)


def epoch_figures(model, run, running, strategy):
    """Return the epoch's log: running figures (or, for epoch 0, a full pass), and the full passes asked for.

    A full pass over the training data where ``run.full``, and validation figures (each process
    measuring its share). None where Ctrl-C came during epoch 0's passes: nothing is trained yet,
    so they stop after their current batch.
    """
    stop = (lambda: model.interrupted) if running is None else None
    logs = dict(running) if running is not None else measure(model, run.X, run.y, run.weight, run.loss,
                                                             strategy=strategy, stop=stop)
    if run.full and running is not None:
        logs.update({f"train_{k}": v for k, v in measure(model, run.X, run.y, run.weight, run.loss,
                                                         strategy=strategy).items()})
    if logs is not None and run.validation is not None:
        validation = measure(model, *run.validation, run.loss, strategy=strategy, stop=stop)
        logs = None if validation is None else {**logs, **{f"val_{k}": v for k, v in validation.items()}}
    return logs


def measure(model, X, y, weight, loss, batch_size=1024, strategy=None, stop=None):
    """Return the loss (and accuracy, for classifiers) over a whole data set, in inference mode.

    Batches are weighted by their sizes. With a ``strategy`` of several processes, each measures its
    rows and the sums are added up across them.

    Parameters
    ----------
    model : Sequential
        The model.
    X, y, weight
        The data, its targets (checked) and per-sample weights (or None).
    loss : Loss
        The loss.
    batch_size : int, default 1024
        Samples per forward pass.
    strategy : optional
        The step strategy (``training.steps.OneProcess``, ``training.parallel.DataParallel``).
    stop : callable, optional
        Asked after each batch; where it says True the pass ends there and returns None (Ctrl-C
        during ``fit``'s pass before the first epoch: ``model.interrupted``).

    Returns
    -------
    dict or None
        ``{"loss": ..., "accuracy": ...}``, accuracy for classifiers only.
    """
    total_loss = total_correct = 0.0
    first, last = (0, len(X)) if strategy is None else strategy.rows(len(X))
    for i in range(first, last, batch_size):
        end = min(i + batch_size, last)
        outputs = model.forward(to_device(X[i:end]), training=False)
        yb = to_device(y[i:end])
        wb = None if weight is None else to_device(weight[i:end])
        total_loss = total_loss + loss.value(outputs, yb, wb) * len(outputs)
        if loss.classifies:
            total_correct = total_correct + loss.correct(outputs, yb)
        if stop is not None and stop():
            return None
    if strategy is not None:
        total_loss, total_correct = strategy.sum(float(total_loss), float(total_correct))
    figures = {"loss": float(total_loss) / len(X)}
    if loss.classifies:
        figures["accuracy"] = float(total_correct) / len(X)
    return figures


def train_step(model, x, y, *, loss=None, optimizer=None, sample_weight=None) -> dict:
    """Take one optimizer step on one batch, for users who write their own loop.

    Parameters
    ----------
    model : Sequential
        The model (``model.train_step(...)`` passes itself).
    x, y
        The batch and its targets.
    loss, optimizer
        As for ``fit``: by default the model's, and ``Adam(1e-3)`` for a first step.
    sample_weight : array (n,), optional
        Weights of each sample's loss.

    Returns
    -------
    dict
        The batch's ``{"loss", "accuracy"}`` (accuracy for classifiers) from before the update.

    Raises
    ------
    NonFiniteError
        If the loss or a gradient is not finite; the weights are left as they were.
    """
    x = model.check_features(x, "x")
    loss = model.check_loss(loss, "train_step")
    y = model.check_targets(y, len(x), loss)
    weight = None if sample_weight is None else check.sample_weights(sample_weight, "sample_weight", len(x))
    model.loss = loss
    model.optimizer = get_optimizer(optimizer) if optimizer is not None else (model.optimizer or Adam(1e-3))
    with using_backend(model.ops):
        yb = to_device(y)
        value, outputs = step(model, to_device(x), yb, None if weight is None else to_device(weight))
    logs = {"loss": float(value)}
    if loss.classifies:
        logs["accuracy"] = float(loss.correct(outputs, yb)) / len(x)
    return logs
