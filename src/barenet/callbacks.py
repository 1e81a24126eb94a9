"""Callbacks: code that ``fit`` calls at fixed points of training.

The protocol is five methods, each optional; ``fit`` sets ``callback.model`` before the first::

    on_train_begin(logs)          once, before the first epoch
    on_epoch_begin(epoch)         epoch counts from 1 (epoch 0 is the state before training)
    on_batch_end(batch, logs)     logs: {"loss", "accuracy"?}: this batch's figures
    on_epoch_end(epoch, logs)     logs: the epoch's figures, as appended to model.history
    on_train_end(logs)            once, also when training stops early or is interrupted

A callback stops training by setting ``self.model.stop_training = True``; fit finishes the
current batch and ends.
"""
from __future__ import annotations

import sys

__all__ = ["Callback", "CallbackList", "ProgressLogger"]


class Callback:
    """Base class with do-nothing hooks; override the ones you need."""

    model = None

    def set_model(self, model):
        self.model = model

    def on_train_begin(self, logs=None):
        pass

    def on_epoch_begin(self, epoch):
        pass

    def on_batch_end(self, batch, logs=None):
        pass

    def on_epoch_end(self, epoch, logs=None):
        pass

    def on_train_end(self, logs=None):
        pass


class CallbackList(Callback):
    """Calls every hook of several callbacks in order."""

    def __init__(self, callbacks, model):
        self.callbacks = list(callbacks)
        for callback in self.callbacks:
            if not isinstance(callback, Callback):
                raise TypeError(f"callbacks must be barenet Callback instances, got {type(callback).__name__}")
            callback.set_model(model)
        self.wants_batches = any(type(c).on_batch_end is not Callback.on_batch_end for c in self.callbacks)

    def on_train_begin(self, logs=None):
        for callback in self.callbacks:
            callback.on_train_begin(logs)

    def on_epoch_begin(self, epoch):
        for callback in self.callbacks:
            callback.on_epoch_begin(epoch)

    def on_batch_end(self, batch, logs=None):
        for callback in self.callbacks:
            callback.on_batch_end(batch, logs)

    def on_epoch_end(self, epoch, logs=None):
        for callback in self.callbacks:
            callback.on_epoch_end(epoch, logs)

    def on_train_end(self, logs=None):
        for callback in self.callbacks:
            callback.on_train_end(logs)


def format_logs(logs: dict) -> str:
    """'loss 0.1234  accuracy 0.9612  val_loss ...' for the figures in logs."""
    parts = []
    for key, value in logs.items():
        if key in ("time", "lr") or value is None:
            continue
        parts.append(f"{key} {value:.4f}")
    return "  ".join(parts)


class ProgressLogger(Callback):
    """One plain line per epoch (``verbose=1``)."""

    def __init__(self, epochs: int, stream=None):
        self.epochs = epochs
        self.stream = stream or sys.stdout

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        width = len(str(self.epochs))
        self.stream.write(f"epoch {epoch:>{width}}/{self.epochs}  {format_logs(logs)}"
                          f"  ({logs.get('time', 0.0):.1f}s)\n")
        self.stream.flush()
