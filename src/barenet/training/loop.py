"""The training loop: epochs of minibatches, each a forward pass, a loss, a backward pass and an
optimizer step. ``model.fit(...)`` calls ``fit`` here; it reads top to bottom:

    fit         check the arguments, hold out validation data, then for every epoch:
    run_epoch     shuffle, and for every minibatch:
    step            forward, loss, backward, check for divergence, optimizer step
                  then record the epoch's figures in the history and tell the callbacks

If the loss or a gradient becomes NaN or infinite, ``step`` raises ``NonFiniteError`` before the
optimizer touches the weights; callbacks hear of it through ``on_diverged`` (``TerminateOnNaN``
turns it into a warning). Ctrl-C stops after the current batch.

On a GPU (CuPy) the training data is copied to the device once per ``fit`` and batches are
gathered there; the epoch's loss and accuracy are summed on the device and read once per epoch.
The divergence check reads one flag per ``DEVICE_CHECK_EVERY`` steps instead of one per step
(``Rollback``), with the same guarantee: on divergence the weights are those from before the
batch that diverged.
"""
from __future__ import annotations

import contextlib
import copy
import math
import signal
import threading
import time

import numpy as np

from ..core import checks as check
from ..core.backend import on_device, to_device, using_backend, xp
from ..core.optimizers import Adam, get_optimizer
from .callbacks import CallbackList, progress_for
from .data import stratified_test_indices
from .parallel import data_parallel, leads
from .threads import ThreadLimit

__all__ = ["fit", "train_step", "step", "measure", "NonFiniteError", "Rollback", "DEVICE_CHECK_EVERY"]

DEVICE_CHECK_EVERY = 16  # on a device, steps between two reads of the divergence flag


class NonFiniteError(FloatingPointError):
    """Training produced NaN or infinity; the message says where, and the weights are those
    from before the batch that diverged."""


def fit(model, X, y, *, loss=None, optimizer=None, epochs=1, batch_size=32, validation_data=None,
        validation_split=0.0, shuffle=True, sample_weight=None, class_weight=None, callbacks=None, verbose=1,
        full_train_metrics=False, parallel=None):
    """Train ``model`` on (X, y); see ``Sequential.fit`` for the arguments. Returns the history.

    ``parallel``: None, or "mpi" (or an mpi4py communicator) to train data-parallel across the
    processes MPI started (``training.parallel``). There, an exception on one process ends them
    all with its error printed; ``NonFiniteError``, which every process meets at the same batch,
    is raised as usual."""
    par = data_parallel(parallel)
    try:
        with using_backend(model.ops):  # xp, the device and the fused operations are the model's
            return _fit(model, X, y, loss, optimizer, epochs, batch_size, validation_data, validation_split,
                        shuffle, sample_weight, class_weight, callbacks, verbose, full_train_metrics, par)
    except NonFiniteError:
        raise
    except BaseException as error:
        if par is None:
            raise
        par.abort(error)  # this process alone: the others would wait for it for ever


def _fit(model, X, y, loss, optimizer, epochs, batch_size, validation_data, validation_split, shuffle,
         sample_weight, class_weight, callbacks, verbose, full_train_metrics, par):
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
    leader = leads(par)  # with several processes, the one that reports
    progress = progress_for(verbose, done + epochs, math.ceil(len(X) / batch_size)) if leader else None
    hooks = CallbackList((callbacks if leader else []) + ([progress] if progress else []), model)
    model.stop_training = False
    device_data = None
    if on_device() and epochs:  # copy the data to the GPU once, not every batch
        device_data = (to_device(X), to_device(y), None if weight is None else to_device(weight))
    blas = ThreadLimit()
    with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"), \
            StopOnCtrlC(model, active=par is None) as ctrl_c, contextlib.closing(blas):
        if not model.history.epochs:
            model.history.append(0, epoch_figures(model, X, y, weight, validation, running=None, full=False, par=par))
        hooks.on_train_begin(model.history.last())
        try:
            for epoch in range(done + 1, done + epochs + 1):
                run_epoch(model, epoch, X, y, weight, batch_size, shuffle, validation, hooks, full_train_metrics,
                          device_data, par, threads=blas.epoch())
                if model.stop_training:
                    break
        except NonFiniteError as error:
            handled = hooks.on_diverged(error)
            if not (par.from_leader(handled) if par else handled):
                raise
        finally:
            hooks.on_train_end(model.history.last())
        if par:
            par.share_parameters(model)  # the leader's callbacks may have changed them (restore_best_weights)
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


def run_epoch(model, epoch, X, y, weight, batch_size, shuffle, validation, hooks, full_train_metrics,
              on_device_data=None, par=None, threads=None):
    """One pass over (X, y) in minibatches of a new random order; appends the epoch to the history.
    ``on_device_data``: (X, y, weight) already on the device, gathered there instead. ``par``: a
    ``DataParallel``, whose processes each take their rows of every batch."""
    hooks.on_epoch_begin(epoch)
    n = len(X)
    order = model.rng.permutation(n) if shuffle else np.arange(n)
    source = on_device_data if on_device_data is not None else (X, y, weight)
    if on_device_data is not None:
        order = to_device(order)
    batches = math.ceil(n / batch_size)
    loss, optimizer = model.loss, model.optimizer
    total_loss = total_correct = seen = 0.0  # the sums stay on the device until the epoch ends
    # a callback that reads every batch's loss waits for the device anyway: then check every step
    checked = Rollback(model, 1 if hooks.wants_batches or not on_device() else DEVICE_CHECK_EVERY)
    started = time.perf_counter()
    for b in range(batches):
        idx = order[b * batch_size:(b + 1) * batch_size]
        if par is not None:
            value, correct = parallel_step(model, par, X, y, weight, idx, epoch, b, (epoch - 1) + b / batches)
            total_loss, total_correct, seen = total_loss + value * len(idx), total_correct + correct, seen + len(idx)
            if hooks.wants_batches:
                hooks.on_batch_end(b, {"loss": float(value)})
            continue  # a callback's stop_training counts at the epoch's end, agreed by all processes
        xb, yb = to_device(source[0][idx]), to_device(source[1][idx])
        wb = None if source[2] is None else to_device(source[2][idx])
        value, outputs = checked.step(xb, yb, wb, epoch, b, progress=(epoch - 1) + b / batches)
        total_loss = total_loss + value * len(idx)
        seen += len(idx)
        if loss.classifies:
            total_correct = total_correct + loss.correct(outputs, yb)
        if hooks.wants_batches:
            hooks.on_batch_end(b, {"loss": float(value)})
        if model.stop_training:
            break
    checked.settle()
    if model.interrupted:
        model.interrupted_epoch = epoch
        return  # a partial epoch is not added to the history
    running = {"loss": float(total_loss) / seen}
    if loss.classifies:
        running["accuracy"] = float(total_correct) / seen
    elapsed = time.perf_counter() - started
    logs = epoch_figures(model, X, y, weight, validation, running, full_train_metrics, par)
    logs.update(lr=optimizer.learning_rate, time=elapsed)
    if threads is not None:
        logs["threads"] = threads  # the BLAS threads the epoch ran with (training.threads)
    if par is not None:
        logs = par.from_leader(logs)  # the leader's time, so that every history is the same
    model.history.append(epoch, logs)
    hooks.on_epoch_end(epoch, logs)
    if par is not None:
        model.stop_training = par.from_leader(model.stop_training)
        par.check_agreement(model, epoch)


def parallel_step(model, par, X, y, weight, idx, epoch, batch, progress):
    """``step`` for one process of several: its rows of the batch, one Allreduce, then the same
    divergence check and optimizer step as every other process. Returns (loss, correct count)."""
    model.optimizer.progress = progress
    value, correct = par.step(model, X, y, weight, idx)
    grad = model.parameter_vectors()[1]
    grad_sq = float(np.dot(grad, grad))
    if not (math.isfinite(value) and math.isfinite(grad_sq)):  # the same numbers on every process
        diagnose(model, X[idx], y[idx], None if weight is None else weight[idx], epoch, batch, float(value), grad_sq)
    model.optimizer.step(model.parameters)
    return value, correct


def step(model, xb, yb, wb, epoch=None, batch=None):
    """One optimizer step on one batch: forward, loss, backward, step. Returns (loss, outputs),
    the loss as a 0-d array; raises NonFiniteError, with the weights and the buffers (BatchNorm's
    running statistics, which the forward pass moves) untouched, if the loss or a gradient is
    not finite."""
    buffers = copy_buffers(model)
    value, outputs, grad_sq = gradients(model, xb, yb, wb)
    if not bool(xp.isfinite(value) & xp.isfinite(grad_sq)):  # a read from the device
        try:
            diagnose(model, xb, yb, wb, epoch, batch, float(value), float(grad_sq))
        finally:
            restore_buffers(model, buffers)
    model.optimizer.step(model.parameters)
    return value, outputs


def copy_buffers(model):
    """A copy of every layer's buffers (small: per-feature statistics), for ``restore_buffers``."""
    return [{k: v.copy() for k, v in getattr(layer, "buffers", {}).items()} for layer in model.layers]


def restore_buffers(model, saved):
    """Put back, in place, the buffers ``copy_buffers`` copied."""
    for layer, buffers in zip(model.layers, saved):
        for name, value in buffers.items():
            layer.buffers[name][...] = value


def gradients(model, xb, yb, wb):
    """Forward, loss and backward on one batch, leaving g in the model's gradient vector.
    Returns (loss, outputs, |g|²), the loss and |g|² as 0-d arrays on the device."""
    ops = model.ops
    outputs = model.forward(xb, training=True)
    value = ops.loss_value(model.loss, outputs, yb, wb)
    model.backward_params(ops.loss_gradient(model.loss))
    return value, outputs, ops.squared_norm(model.parameter_vectors()[1])


class Rollback:
    """Steps whose divergence check waits for the device once every ``every`` steps, not every
    step, and still leaves the weights from before the batch that diverged.

    Before the first step of a window it saves what a step changes: θ, the optimizer's state and
    step count, the layers' buffers and random generators (a copy on the device, no wait). Each
    step folds "loss and |g|² are finite" into one flag on the device. When the window is full
    (or the epoch ends) ``settle`` reads the flag. If it is false, the saved point comes back and
    the window's batches are replayed with ``step``, which checks each one and raises
    ``NonFiniteError`` before the batch that diverged. With ``every=1`` this is ``step``."""

    def __init__(self, model, every):
        self.model, self.every = model, every
        self.pending, self.finite, self.saved = [], None, None

    def step(self, xb, yb, wb, epoch, batch, progress):
        optimizer = self.model.optimizer
        optimizer.progress = progress
        if self.every == 1:
            return step(self.model, xb, yb, wb, epoch, batch)
        if not self.pending:
            self.saved = save_point(self.model)
        value, outputs, grad_sq = gradients(self.model, xb, yb, wb)
        finite = xp.isfinite(value) & xp.isfinite(grad_sq)
        self.finite = finite if self.finite is None else self.finite & finite
        optimizer.step(self.model.parameters)
        self.pending.append((xb, yb, wb, epoch, batch, progress))
        if len(self.pending) == self.every:
            self.settle()
        return value, outputs

    def settle(self):
        """Read the flag of the steps since the last read (one wait for the device); on
        divergence go back and replay them one by one."""
        pending, finite = self.pending, self.finite
        self.pending, self.finite = [], None
        if not pending or bool(finite):
            return
        restore(self.model, self.saved)
        for xb, yb, wb, epoch, batch, progress in pending:
            self.model.optimizer.progress = progress
            step(self.model, xb, yb, wb, epoch, batch)  # raises at the batch that diverged
        first, last = pending[0], pending[-1]  # only if the replay computed different numbers
        raise NonFiniteError(f"training diverged between epoch {first[3]}, batch {first[4]} and epoch {last[3]}, "
                             f"batch {last[4]}; the weights are those from before batch {first[4]}")


def save_point(model):
    """A copy of everything a training step changes, for ``restore``."""
    optimizer = model.optimizer
    return {"theta": model.parameter_vectors()[0].copy(), "steps": optimizer.steps,
            "rng": copy.deepcopy(model.rng.bit_generator.state),
            "state": {k: v.copy() for k, v in optimizer.state.items() if k != "scratch"},
            "buffers": copy_buffers(model),
            "rngs": [copy.deepcopy(layer.rng.bit_generator.state)
                     if isinstance(getattr(layer, "rng", None), np.random.Generator) else None
                     for layer in model.layers]}


def restore(model, saved):
    """Put back what ``save_point`` copied, in place (the layers' views stay valid)."""
    optimizer = model.optimizer
    model.parameter_vectors()[0][...] = saved["theta"]
    optimizer.steps = saved["steps"]
    model.rng.bit_generator.state = saved["rng"]
    if not saved["state"]:
        optimizer.state = {}
    for name, value in saved["state"].items():
        optimizer.state[name][...] = value
    restore_buffers(model, saved["buffers"])
    for layer, rng in zip(model.layers, saved["rngs"]):
        if rng is not None:
            layer.rng.bit_generator.state = rng


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


def epoch_figures(model, X, y, weight, validation, running, full, par=None):
    """The epoch's log: running figures (or, for epoch 0, a full pass), optionally a full pass
    over the training data, and validation figures (each process of ``par`` measuring its share)."""
    logs = dict(running) if running is not None else measure(model, X, y, weight, model.loss, par=par)
    if full:
        logs.update({f"train_{k}": v for k, v in measure(model, X, y, weight, model.loss, par=par).items()})
    if validation is not None:
        logs.update({f"val_{k}": v for k, v in measure(model, *validation, model.loss, par=par).items()})
    return logs


def measure(model, X, y, weight, loss, batch_size=1024, par=None):
    """Loss (and accuracy, for classifiers) over a whole data set, with the batch sizes as weights.
    With ``par``, each process measures its rows and the sums are added up across processes."""
    total_loss = total_correct = 0.0
    start, stop = (0, len(X)) if par is None else par.rows(len(X))
    for i in range(start, stop, batch_size):
        end = min(i + batch_size, stop)
        outputs = model.forward(to_device(X[i:end]), training=False)
        yb = to_device(y[i:end])
        wb = None if weight is None else to_device(weight[i:end])
        total_loss = total_loss + loss.value(outputs, yb, wb) * len(outputs)
        if loss.classifies:
            total_correct = total_correct + loss.correct(outputs, yb)
    if par is not None:
        total_loss, total_correct = par.sum(float(total_loss), float(total_correct))
    figures = {"loss": float(total_loss) / len(X)}
    if loss.classifies:
        figures["accuracy"] = float(total_correct) / len(X)
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
    with using_backend(model.ops):
        yb = to_device(y)
        value, outputs = step(model, to_device(x), yb, None if weight is None else to_device(weight))
    logs = {"loss": float(value)}
    if loss.classifies:
        logs["accuracy"] = float(loss.correct(outputs, yb)) / len(x)
    return logs


class StopOnCtrlC:
    """While fit runs in the main thread, the first Ctrl-C asks training to stop after the current
    batch (``model.stop_training``); a second one interrupts at once, as usual."""

    def __init__(self, model, active=True):
        self.model, self.pressed, self.epoch, self.previous = model, False, None, None
        self.active = active  # not in data-parallel training: processes must stop at the same batch

    def _handler(self, signum, frame):
        self.pressed = True
        self.model.stop_training = self.model.interrupted = True
        signal.signal(signal.SIGINT, self.previous)  # a second Ctrl-C stops immediately

    def __enter__(self):
        self.model.interrupted = False
        self.model.interrupted_epoch = None
        if self.active and threading.current_thread() is threading.main_thread() and \
                signal.getsignal(signal.SIGINT) is signal.default_int_handler:
            self.previous = signal.signal(signal.SIGINT, self._handler)
        return self

    def __exit__(self, *exc):
        if self.previous is not None and signal.getsignal(signal.SIGINT) == self._handler:
            signal.signal(signal.SIGINT, self.previous)
        self.epoch = self.model.interrupted_epoch
        self.model.interrupted = False
        return False
