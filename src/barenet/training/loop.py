"""The training loop: epochs of minibatches, each a forward pass, a loss, a backward pass and an
optimizer step. ``model.fit(...)`` calls ``fit`` here; it reads top to bottom:

    fit         check the arguments, hold out validation data, then for every epoch:
    run_epoch     shuffle, and for every minibatch:
    step            forward, loss, backward, check for divergence, optimizer step
                  then record the epoch's figures in the history and tell the callbacks

If the loss or a gradient becomes NaN or infinite, ``step`` raises ``NonFiniteError`` before the
optimizer touches the weights; callbacks hear of it through ``on_diverged`` (``TerminateOnNaN``
turns it into a warning). Ctrl-C stops after the current batch.
"""
from __future__ import annotations

import math
import signal
import threading
import time

import numpy as np

from ..core import checks as check
from ..core.backend import to_device, xp
from ..core.optimizers import Adam, get_optimizer
from .callbacks import CallbackList, progress_for
from .data import stratified_test_indices

__all__ = ["fit", "train_step", "step", "measure", "NonFiniteError"]


class NonFiniteError(FloatingPointError):
    """Training produced NaN or infinity; the message says where, and the weights are those
    from before the batch that diverged."""


def fit(model, X, y, *, loss=None, optimizer=None, epochs=1, batch_size=32, validation_data=None,
        validation_split=0.0, shuffle=True, sample_weight=None, class_weight=None, callbacks=None, verbose=1,
        full_train_metrics=False):
    """Train ``model`` on (X, y); see ``Sequential.fit`` for the arguments. Returns the history."""
    X = model.check_features(X)
    loss = model.check_loss(loss, "fit")
    y = model.check_targets(y, len(X), loss)
    optimizer = get_optimizer(optimizer) if optimizer is not None else (model.optimizer or Adam(1e-3))
    epochs = check.non_negative_int(epochs, "epochs")
    batch_size = check.positive_int(batch_size, "batch_size")
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
    callbacks = list(callbacks or [])
    if validation_split:
        X, y, weight, validation = split(model, X, y, weight, validation_split, loss)

    model.loss, model.optimizer = loss, optimizer
    done = model.history.epochs[-1] if model.history.epochs else 0
    progress = progress_for(verbose, done + epochs, math.ceil(len(X) / batch_size))
    hooks = CallbackList(callbacks + ([progress] if progress else []), model)
    model.stop_training = False
    with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"), StopOnCtrlC(model) as ctrl_c:
        if not model.history.epochs:
            model.history.append(0, epoch_figures(model, X, y, weight, validation, running=None, full=False))
        hooks.on_train_begin(model.history.last())
        try:
            for epoch in range(done + 1, done + epochs + 1):
                run_epoch(model, epoch, X, y, weight, batch_size, shuffle, validation, hooks, full_train_metrics)
                if model.stop_training:
                    break
        except NonFiniteError as error:
            if not hooks.on_diverged(error):
                raise
        finally:
            hooks.on_train_end(model.history.last())
    if ctrl_c.pressed:
        raise KeyboardInterrupt(f"training interrupted during epoch {ctrl_c.epoch}; the history keeps the "
                                f"{len(model.history.epochs) - 1} finished epochs")
    return model.history


def split(model, X, y, weight, fraction, loss):
    """Hold out a random fraction of the data, stratified by class where the loss gives each
    sample one class, and return (X, y, weight) for training and the held-out (X, y, weight)."""
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


def run_epoch(model, epoch, X, y, weight, batch_size, shuffle, validation, hooks, full_train_metrics):
    """One pass over (X, y) in minibatches of a new random order; appends the epoch to the history."""
    hooks.on_epoch_begin(epoch)
    n = len(X)
    order = model.rng.permutation(n) if shuffle else np.arange(n)
    batches = math.ceil(n / batch_size)
    loss, optimizer = model.loss, model.optimizer
    total_loss = total_correct = seen = 0.0
    started = time.perf_counter()
    for b in range(batches):
        idx = order[b * batch_size:(b + 1) * batch_size]
        xb, yb = to_device(X[idx]), to_device(y[idx])
        wb = None if weight is None else to_device(weight[idx])
        optimizer.progress = (epoch - 1) + b / batches
        value, outputs = step(model, xb, yb, wb, epoch, b)
        total_loss += value * len(idx)
        seen += len(idx)
        if loss.classifies:
            total_correct += loss.correct(outputs, yb)
        if hooks.wants_batches:
            hooks.on_batch_end(b, {"loss": value})
        if model.stop_training:
            break
    if model.interrupted:
        model.interrupted_epoch = epoch
        return  # a partial epoch is not added to the history
    running = {"loss": total_loss / seen}
    if loss.classifies:
        running["accuracy"] = total_correct / seen
    elapsed = time.perf_counter() - started
    logs = epoch_figures(model, X, y, weight, validation, running, full_train_metrics)
    logs.update(lr=optimizer.learning_rate, time=elapsed)
    model.history.append(epoch, logs)
    hooks.on_epoch_end(epoch, logs)


def step(model, xb, yb, wb, epoch=None, batch=None):
    """One optimizer step on one batch: forward, loss, backward, step. Returns (loss, outputs);
    raises NonFiniteError, with the weights untouched, if the loss or a gradient is not finite."""
    outputs = model.forward(xb, training=True)
    value = model.loss.forward(outputs, yb, wb)
    model.backward_params(model.loss.backward())
    theta, grad = model.parameter_vectors()
    grad_sq = float(xp.dot(grad, grad))
    if not (math.isfinite(value) and math.isfinite(grad_sq)):
        diagnose(model, xb, yb, wb, epoch, batch, value, grad_sq)
    model.optimizer.step(model.parameters)
    return value, outputs


def diagnose(model, xb, yb, wb, epoch, batch, value, grad_sq):
    """Raise NonFiniteError naming the first layer whose output (or, backwards, whose gradient)
    is not finite."""
    loss = model.loss
    where = f"the loss {loss!r}"
    x = xp.asarray(xb, dtype=model.dtype)
    for i, layer in enumerate(model.layers):
        x = layer.forward(x, True)
        if not bool(xp.isfinite(x).all()):
            where = f"the output of layer {i} {layer!r}"
            break
    else:
        where += f" (the outputs of the last layer reach {float(xp.abs(x).max()):.3g})"
        if math.isfinite(loss.forward(x, yb, wb)):
            grad_out = loss.backward()
            for i in reversed(range(len(model.layers))):
                layer = model.layers[i]
                grad_out = layer.backward(grad_out)
                if not all(bool(xp.isfinite(g).all()) for g in layer.grads.values()) \
                        or not bool(xp.isfinite(grad_out).all()):
                    where = f"the gradient of layer {i} {layer!r}"
                    break
    place = f"epoch {epoch}, batch {batch}" if epoch is not None else "this batch"
    raise NonFiniteError(
        f"training diverged at {place}: {where} became NaN or infinite (loss {value:.4g}, "
        f"gradient norm {math.sqrt(grad_sq) if grad_sq >= 0 else grad_sq:.4g}). The weights are "
        f"those from before this batch. Try a lower learning rate (now "
        f"{model.optimizer.learning_rate:g}) or gradient clipping (clip_norm=1.0 on the optimizer).")


def epoch_figures(model, X, y, weight, validation, running, full):
    """The epoch's log: running figures (or, for epoch 0, a full pass), optionally a full pass
    over the training data, and validation figures."""
    logs = dict(running) if running is not None else measure(model, X, y, weight, model.loss)
    if full:
        logs.update({f"train_{k}": v for k, v in measure(model, X, y, weight, model.loss).items()})
    if validation is not None:
        logs.update({f"val_{k}": v for k, v in measure(model, *validation, model.loss).items()})
    return logs


def measure(model, X, y, weight, loss, batch_size=1024):
    """Loss (and accuracy, for classifiers) over a whole data set, with the batch sizes as weights."""
    total_loss = total_correct = 0.0
    for i in range(0, len(X), batch_size):
        outputs = model.forward(to_device(X[i:i + batch_size]), training=False)
        yb = to_device(y[i:i + batch_size])
        wb = None if weight is None else to_device(weight[i:i + batch_size])
        total_loss += loss.forward(outputs, yb, wb) * len(outputs)
        if loss.classifies:
            total_correct += loss.correct(outputs, yb)
    figures = {"loss": total_loss / len(X)}
    if loss.classifies:
        figures["accuracy"] = total_correct / len(X)
    return figures


def train_step(model, x, y, *, loss=None, optimizer=None, sample_weight=None) -> dict:
    """One optimizer step on one batch, for users who write their own loop; see
    ``Sequential.train_step``."""
    x = model.check_features(x, "x")
    loss = model.check_loss(loss, "train_step")
    y = model.check_targets(y, len(x), loss)
    weight = None if sample_weight is None else check.sample_weights(sample_weight, "sample_weight", len(x))
    model.loss = loss
    model.optimizer = get_optimizer(optimizer) if optimizer is not None else (model.optimizer or Adam(1e-3))
    yb = to_device(y)
    value, outputs = step(model, to_device(x), yb, None if weight is None else to_device(weight))
    logs = {"loss": value}
    if loss.classifies:
        logs["accuracy"] = loss.correct(outputs, yb) / len(x)
    return logs


class StopOnCtrlC:
    """While fit runs in the main thread, the first Ctrl-C asks training to stop after the current
    batch (``model.stop_training``); a second one interrupts at once, as usual."""

    def __init__(self, model):
        self.model, self.pressed, self.epoch, self.previous = model, False, None, None

    def _handler(self, signum, frame):
        self.pressed = True
        self.model.stop_training = self.model.interrupted = True
        signal.signal(signal.SIGINT, self.previous)  # a second Ctrl-C stops immediately

    def __enter__(self):
        self.model.interrupted = False
        self.model.interrupted_epoch = None
        if threading.current_thread() is threading.main_thread() and \
                signal.getsignal(signal.SIGINT) is signal.default_int_handler:
            self.previous = signal.signal(signal.SIGINT, self._handler)
        return self

    def __exit__(self, *exc):
        if self.previous is not None and signal.getsignal(signal.SIGINT) == self._handler:
            signal.signal(signal.SIGINT, self.previous)
        self.epoch = self.model.interrupted_epoch
        self.model.interrupted = False
        return False
