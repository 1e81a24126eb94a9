"""What one training step is, and how the steps of one process run.

A step is forward, loss, backward, the divergence check and the optimizer's update.
``OneProcess`` is the step strategy ``fit`` uses in a single process (``training.parallel``'s
``DataParallel`` is the other: its processes share every batch). On the CPU each step checks that
the loss and the gradient are finite before the optimizer touches the weights. On a GPU (CuPy) the
check reads the device once per ``DEVICE_CHECK_EVERY`` steps instead (``Rollback``), with the same
guarantee: on divergence the weights are those from before the batch that diverged.
"""
from __future__ import annotations

import copy
import math
import signal
import threading

import numpy as np

from ..core.backend import on_device, to_device, xp
from ..core.sparse import is_sparse

__all__ = ["NonFiniteError", "OneProcess", "step", "gradients", "Rollback", "diagnose", "StopOnCtrlC",
           "DEVICE_CHECK_EVERY"]

DEVICE_CHECK_EVERY = 16  # on a device, steps between two reads of the divergence flag


class NonFiniteError(FloatingPointError):
    """Training produced NaN or infinity.

    The message says where, and the weights are those from before the batch that diverged.
    """


class OneProcess:
    """Training in this process alone: the step strategy of ``fit``'s loop.

    What the loop asks of a step strategy: the rows it takes (``rows``), one batch's step
    (``batch``), sums and decisions across processes (here, the values themselves), and what to do at
    the end of an epoch and of training.
    """

    leads = True             # reports: progress, callbacks, files
    stops_mid_epoch = True   # Ctrl-C or a callback can end training after the current batch

    def __init__(self):
        self.device_data = self.source = self.checked = None

    def rows(self, n: int):
        """Return this process's rows of a batch of n: all of them, (0, n)."""
        return 0, n

    def sum(self, *values):
        """Return the values summed across the processes: the values themselves."""
        return values

    def from_leader(self, value):
        """Return the leading process's value: this one's."""
        return value

    def begin_epoch(self, model, data, hooks):
        """Prepare an epoch's first batch: the data on the device (once per fit) and the divergence checker.

        ``data`` is (X, y, weight); ``hooks``, the callbacks, say whether every batch's loss is read.
        """
        if on_device() and self.device_data is None:  # the data goes to the GPU once per fit, not every batch
            self.device_data = tuple(None if a is None else to_device(a) for a in data)
        self.source = self.device_data if self.device_data is not None else data
        # a callback that reads every batch's loss waits for the device anyway: then check every step
        self.checked = Rollback(model, 1 if hooks.wants_batches or not on_device() else DEVICE_CHECK_EVERY)

    def order(self, model, n, shuffle):
        """Return the epoch's order of the n samples: a permutation from the model's generator, or 0..n-1."""
        order = model.rng.permutation(n) if shuffle else np.arange(n)
        return to_device(order) if on_device() else order

    def batch(self, model, idx, epoch, batch, progress):
        """Take one step on the rows ``idx``; return (loss, correct count) as 0-d arrays on the device."""
        X, y, weight = self.source
        xb, yb = to_device(X[idx]), to_device(y[idx])
        wb = None if weight is None else to_device(weight[idx])
        value, outputs = self.checked.step(xb, yb, wb, epoch, batch, progress)
        loss = model.loss
        return value, (loss.correct(outputs, yb) if loss.classifies else 0)

    def end_epoch(self, model, epoch):
        """Settle the divergence check of the epoch's last steps."""
        self.checked.settle()

    def agree(self, model, epoch, logs):
        """Return the epoch's log, as every process will have it (here as it is)."""
        return logs

    def end_training(self, model):
        """Do what follows the last epoch (callbacks may have changed the weights): nothing here."""

    def abort(self, error):
        """Raise ``error`` again (with several processes, ``DataParallel`` ends them all)."""
        raise error


def step(model, xb, yb, wb, epoch=None, batch=None):
    """Take one optimizer step on one batch: forward, loss, backward, step.

    Parameters
    ----------
    model : Sequential
        The model, with its loss and optimizer.
    xb, yb, wb
        The batch, its targets and its weights (or None), on the model's device.
    epoch, batch : int, optional
        Where training is, for the error's message.

    Returns
    -------
    (array, array)
        The loss as a 0-d array, and the outputs.

    Raises
    ------
    NonFiniteError
        If the loss or a gradient is not finite, with the weights and the buffers (BatchNorm's
        running statistics, which the forward pass moves) as they were.
    """
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
    """Return a copy of every layer's buffers (small: per-feature statistics), for ``restore_buffers``."""
    return [{k: v.copy() for k, v in getattr(layer, "buffers", {}).items()} for layer in model.layers]


def restore_buffers(model, saved):
    """Put back, in place, the buffers ``copy_buffers`` copied."""
    for layer, buffers in zip(model.layers, saved):
        for name, value in buffers.items():
            layer.buffers[name][...] = value


def gradients(model, xb, yb, wb):
    """Run forward, loss and backward on one batch, leaving g in the model's gradient vector.

    Returns (loss, outputs, |g|²), the loss and |g|² as 0-d arrays on the device.
    """
    ops = model.ops
    outputs = model.forward(xb, training=True)
    value = ops.loss_value(model.loss, outputs, yb, wb)
    model.backward_params(ops.loss_gradient(model.loss))
    model.loss.forget()
    return value, outputs, ops.squared_norm(model.parameter_vectors()[1])


class Rollback:
    """Steps whose divergence check waits for the device once every ``every`` steps, not every step.

    They still leave the weights from before the batch that diverged. Before the first step of a
    window it saves what a step changes: θ, the optimizer's state and step count, the layers' buffers
    and random generators (a copy on the device, no wait). Each step folds "loss and |g|² are finite"
    into one flag on the device. When the window is full (or the epoch ends) ``settle`` reads the
    flag. If it is false, the saved point comes back and the window's batches are replayed with
    ``step``, which checks each one and raises ``NonFiniteError`` before the batch that diverged.
    With ``every=1`` this is ``step``.

    Parameters
    ----------
    model : Sequential
        The model being trained.
    every : int
        Steps between two reads of the flag.
    """

    def __init__(self, model, every):
        self.model, self.every = model, every
        self.pending, self.finite, self.saved = [], None, None

    def step(self, xb, yb, wb, epoch, batch, progress):
        """Take one step on a batch at training ``progress`` (epochs); return (loss, outputs)."""
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
        """Read the flag of the steps since the last read (one wait for the device).

        On divergence, go back and replay them one by one, which raises ``NonFiniteError`` at the batch
        that diverged.
        """
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
    """Return a copy of everything a training step changes, for ``restore``."""
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
    """Raise NonFiniteError naming the first layer whose output (or, backwards, gradient) is not finite.

    ``value`` and ``grad_sq`` are the batch's loss and |g|², for the message; the rest as for ``step``.
    """
    loss = model.loss
    where = f"the loss {loss!r}"
    x = xb.astype(model.dtype) if is_sparse(xb) else xp.asarray(xb, dtype=model.dtype)
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


class StopOnCtrlC:
    """While fit runs in the main thread, the first Ctrl-C asks training to stop after the current batch.

    It sets ``model.stop_training``; a second Ctrl-C interrupts at once, as usual. A context manager.

    Parameters
    ----------
    model : Sequential
        The model being trained.
    active : bool, default True
        False in data-parallel training, where processes must stop at the same batch.
    """

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
