"""Callbacks: code that ``fit`` calls at fixed points of training.

The protocol is ``Callback``'s six hooks, each optional; ``fit`` sets ``callback.model`` before the
first. A callback stops training by setting ``self.model.stop_training = True``; fit finishes the
current batch and ends.
"""
from __future__ import annotations

import csv
import json
import math
import sys
import warnings
from pathlib import Path

from ..core import checks as check
from ..files.atomic import atomic_write

__all__ = ["Callback", "CallbackList", "ProgressLogger", "ProgressBar", "EarlyStopping", "ModelCheckpoint",
           "LearningRateScheduler", "TerminateOnNaN", "CSVLogger", "HistoryWriter"]


class Callback:
    """Base class with do-nothing hooks, the protocol of fit's callbacks; override the ones you need."""

    model = None

    def set_model(self, model):
        """Attach the model being trained: ``fit`` calls this before the first hook."""
        self.model = model

    def on_train_begin(self, logs=None):
        """Act once, before the first epoch; ``logs`` holds the latest figures."""
        pass

    def on_epoch_begin(self, epoch):
        """Act before each epoch; ``epoch`` counts from 1 (epoch 0 is the state before training)."""
        pass

    def on_batch_end(self, batch, logs=None):
        """Act after each batch; ``logs`` is ``{"loss": the batch's loss}``."""
        pass

    def on_epoch_end(self, epoch, logs=None):
        """Act after each epoch; ``logs`` holds its figures, as appended to ``model.history``."""
        pass

    def on_diverged(self, error) -> bool:
        """Hear of a NonFiniteError; return True to end training quietly instead of letting fit raise it."""
        return False

    def on_train_end(self, logs=None):
        """Act once at the end, also when training stops early, diverges or is interrupted."""
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

    def on_diverged(self, error) -> bool:
        """Return whether any callback takes the divergence (all of them hear of it)."""
        return any([callback.on_diverged(error) for callback in self.callbacks])

    def on_train_end(self, logs=None):
        for callback in self.callbacks:
            callback.on_train_end(logs)


# -- watching ------------------------------------------------------------------------------------

def format_logs(epoch: int, epochs: int, logs: dict) -> str:
    """Return an epoch's line, saying which figures are running means and which full passes.

    ``epoch  3/10  train loss 0.3123 acc 0.8901 (running mean)  val loss 0.3456 acc 0.8800  1.2s``.
    """
    def figures(prefix):
        parts = [f"loss {logs[prefix + 'loss']:.4f}"] if logs.get(prefix + "loss") is not None else []
        if logs.get(prefix + "accuracy") is not None:
            parts.append(f"acc {logs[prefix + 'accuracy']:.4f}")
        return " ".join(parts)

    width = len(str(epochs))
    kind = "full pass" if epoch == 0 else "running mean"
    line = f"epoch {epoch:>{width}}/{epochs}  train {figures('')} ({kind})"
    if logs.get("train_loss") is not None:
        line += f"  train {figures('train_')} (full pass)"
    if logs.get("val_loss") is not None:
        line += f"  val {figures('val_')}"
    if logs.get("time"):
        line += f"  {logs['time']:.1f}s"
    return line


class ProgressLogger(Callback):
    """One plain line per epoch (epoch 0 too): ``fit(verbose=1)`` to a file or a pipe, ``verbose=2`` always."""

    def __init__(self, epochs: int, stream=None):
        self.epochs = epochs
        self.stream = stream or sys.stdout

    def _write(self, epoch, logs):
        self.stream.write(format_logs(epoch, self.epochs, logs or {}) + "\n")
        self.stream.flush()

    def on_train_begin(self, logs=None):
        if self.model is not None and self.model.history.epochs == [0]:
            self._write(0, logs)

    def on_epoch_end(self, epoch, logs=None):
        self._write(epoch, logs)


class ProgressBar(ProgressLogger):
    """A tqdm bar per epoch with the running loss, then the epoch's line: ``fit(verbose=1)`` on a terminal."""

    def __init__(self, epochs: int, batches: int, stream=None):
        super().__init__(epochs, stream)
        from tqdm.auto import tqdm

        self.tqdm = tqdm
        self.batches = batches
        self.bar = None

    def on_epoch_begin(self, epoch):
        self.bar = self.tqdm(total=self.batches, desc=f"epoch {epoch}/{self.epochs}", file=self.stream,
                             leave=False, unit="batch", dynamic_ncols=True, mininterval=0.2)
        self.sum = self.seen = 0

    def on_batch_end(self, batch, logs=None):
        self.sum += logs["loss"]
        self.seen += 1
        self.bar.update(1)
        if self.seen % 20 == 0:
            self.bar.set_postfix_str(f"loss {self.sum / self.seen:.4f}", refresh=False)

    def on_epoch_end(self, epoch, logs=None):
        self.bar.close()
        super().on_epoch_end(epoch, logs)

    def on_train_end(self, logs=None):
        if self.bar is not None:
            self.bar.close()


def in_notebook() -> bool:
    """Return whether this runs in a Jupyter kernel (where tqdm draws its bar as a notebook widget)."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None and hasattr(ipython, "get_ipython") else None
    return type(shell).__name__ == "ZMQInteractiveShell"


def progress_for(verbose: int, epochs: int, batches: int, stream=None):
    """Return the progress display of ``fit(verbose=...)``, or None for verbose=0.

    A bar on a terminal, or a notebook's progress bar in Jupyter, where tqdm is installed; else one
    line per epoch.
    """
    stream = stream or sys.stdout
    if verbose == 0:
        return None
    if verbose == 1 and (getattr(stream, "isatty", lambda: False)() or in_notebook()):
        try:
            return ProgressBar(epochs, batches, stream)
        except ImportError:
            pass
    return ProgressLogger(epochs, stream)


# -- deciding ------------------------------------------------------------------------------------

def _direction(monitor: str, mode: str) -> int:
    """Return +1 if larger values of ``monitor`` are better, -1 if smaller are."""
    if mode not in ("auto", "min", "max"):
        raise ValueError(f"mode must be 'auto', 'min' or 'max', got {mode!r}")
    if mode == "auto":
        return 1 if "acc" in monitor else -1
    return 1 if mode == "max" else -1


class _Monitor(Callback):
    """Watches one figure, ``monitor``, and the best epoch so far.

    ``compare_to`` says what a new value must beat by ``min_delta`` to count as an improvement:
    ``"improvement"``, the value of the last improvement (Keras), or ``"best"``, the best value so
    far, which then follows every better value, however small (scikit-learn's MLP: its stopping
    counts epochs that fail to beat the best by ``tol``).
    """

    def __init__(self, monitor, mode, min_delta=0.0, compare_to="improvement"):
        self.monitor, self.sign, self.min_delta = monitor, _direction(monitor, mode), float(min_delta)
        self.compare_to = check.argument(compare_to, "compare_to", check.Options("improvement", "best"))
        self.best, self.best_epoch = -math.inf, None

    def _value(self, logs):
        value = (logs or {}).get(self.monitor)
        if value is None:
            available = ", ".join(k for k, v in (logs or {}).items() if v is not None)
            raise ValueError(f"{type(self).__name__} monitors {self.monitor!r}, which this training does not "
                             f"report (it has: {available}); pass validation data for val_* figures")
        return value

    def _improved(self, epoch, logs) -> bool:
        return self._update(epoch, self._value(logs))

    def _update(self, epoch, value) -> bool:
        """Take in one epoch's value; return whether it improved by min_delta on what it is compared to."""
        score, best = self.sign * value, self.compare_to == "best"
        improved = score >= self.best + self.min_delta if best else score > self.best + self.min_delta  # as each does
        if score > self.best and (improved or best):
            self.best, self.best_epoch = score, epoch
        return improved

    @property
    def best_value(self):
        return None if self.best_epoch is None else self.sign * self.best

    def resume(self, history):
        """Take up an earlier run's history by the rule for new epochs; return the epochs waited since its best."""
        values = [(e, v) for e, v in zip(history.epochs, history[self.monitor]) if e >= 1 and v is not None] \
            if self.monitor in history else []
        self.best, self.best_epoch, waited = -math.inf, None, 0
        for epoch, value in values:
            waited = 0 if self._update(epoch, value) else waited + 1
        self._resumed = True
        return waited


class EarlyStopping(_Monitor):
    """Stop when ``monitor`` has not improved by more than ``min_delta`` for ``patience`` epochs.

    With ``restore_best_weights`` (the default), put back the weights of the best epoch whenever
    training ends: by patience, by running out of epochs, or by an interruption. ``compare_to``:
    ``"improvement"`` (Keras) or ``"best"`` (scikit-learn), see ``_Monitor``. ``on_plateau``, a
    function of no arguments, is asked when the patience runs out: if it returns True, training goes
    on and the patience starts again (scikit-learn's adaptive learning rate divides the rate by 5
    there); otherwise training stops. ``mode`` is "min", "max" or "auto" (max for accuracies).
    """

    constraints = {"patience": check.Integer(0), "restore_best_weights": check.Boolean()}

    def __init__(self, monitor="val_loss", patience=5, min_delta=0.0, mode="auto", restore_best_weights=True,
                 compare_to="improvement", on_plateau=None):
        super().__init__(monitor, mode, min_delta, compare_to)
        check.arguments(self, patience=patience, restore_best_weights=restore_best_weights)
        if on_plateau is not None and not callable(on_plateau):
            raise TypeError(f"on_plateau must be a function of no arguments or None, got {on_plateau!r}")
        self.on_plateau = on_plateau
        self.stopped_epoch = None

    def on_train_begin(self, logs=None):
        self.stopped_epoch = None
        if getattr(self, "_resumed", False):  # state carried over by resume()
            self._resumed = False
            return
        self.best, self.best_epoch, self.wait, self.weights = -math.inf, None, 0, None

    def resume(self, history, best_weights=None):
        """Continue an earlier run: its best epoch, the epochs waited since, and (given) its best weights."""
        self.wait = super().resume(history)
        self.weights = None if best_weights is None else best_weights.copy()

    def on_epoch_end(self, epoch, logs=None):
        improved = self._improved(epoch, logs)
        if self.best_epoch == epoch and self.restore_best_weights:
            self.weights = self.model.parameter_vectors()[0].copy()
        if improved:
            self.wait = 0
            return
        self.wait += 1
        if self.wait > self.patience:
            if self.on_plateau is not None and self.on_plateau():
                self.wait = 0
            else:
                self.stopped_epoch = epoch
                self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.restore_best_weights and self.weights is not None:
            self.model.parameter_vectors()[0][...] = self.weights
            self.model.restored_epoch = self.best_epoch


class ModelCheckpoint(_Monitor):
    """Save the model after every epoch, or whenever ``monitor`` improves (``save_best_only``).

    ``path`` may contain ``{epoch}``. Each save is atomic and, with ``include_optimizer``, resumable.
    """

    def __init__(self, path, monitor="val_loss", save_best_only=False, mode="auto", include_optimizer=True):
        super().__init__(monitor, mode)
        self.path, self.save_best_only, self.include_optimizer = str(path), save_best_only, include_optimizer

    def on_train_begin(self, logs=None):
        if getattr(self, "_resumed", False):
            self._resumed = False
            return
        self.best, self.best_epoch = -math.inf, None

    def on_epoch_end(self, epoch, logs=None):
        if not self.save_best_only or self._improved(epoch, logs):
            self.model.save(self.path.format(epoch=epoch), include_optimizer=self.include_optimizer)


class LearningRateScheduler(Callback):
    """Set the learning rate at the start of every epoch to ``schedule(epoch, lr)``, as in Keras.

    Epochs count from 1 here. For smooth schedules, give the optimizer a ``bn.schedules`` schedule.
    """

    def __init__(self, schedule):
        if not callable(schedule):
            raise TypeError("schedule must be a function (epoch, lr) -> lr")
        self.schedule = schedule

    def on_epoch_begin(self, epoch):
        optimizer = self.model.optimizer
        lr = float(self.schedule(epoch, optimizer.learning_rate))
        if not math.isfinite(lr) or lr <= 0:
            raise ValueError(f"the schedule returned lr={lr} for epoch {epoch}; it must be a positive number")
        optimizer.lr = lr


class TerminateOnNaN(Callback):
    """Stop training quietly (with a warning) when the loss or a gradient becomes NaN or infinite.

    Instead of raising ``NonFiniteError``; the weights are those from before the batch that diverged.
    """

    error = None

    def on_diverged(self, error):
        self.error = error
        warnings.warn(str(error), RuntimeWarning, stacklevel=2)
        return True


class CSVLogger(Callback):
    """Append each epoch's figures to a CSV file (a header first), flushed every epoch."""

    def __init__(self, path, append=False):
        self.path, self.append = Path(path), append

    def on_train_begin(self, logs=None):
        self.keys = None
        if not self.append and self.path.exists():
            self.path.unlink()

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.keys is None:
            self.keys = ["epoch"] + sorted(logs)
            new = not self.path.exists() or self.path.stat().st_size == 0
            if new:
                with open(self.path, "a", newline="") as handle:
                    csv.writer(handle).writerow(self.keys)
        with open(self.path, "a", newline="") as handle:
            csv.writer(handle).writerow([epoch] + ["" if logs.get(k) is None else logs[k] for k in self.keys[1:]])


class HistoryWriter(Callback):
    """Rewrite ``path`` with the history as JSON after every epoch and at the end, atomically."""

    def __init__(self, path):
        self.path = Path(path)

    def _write(self):
        with atomic_write(self.path, "w") as handle:
            json.dump(self.model.history.to_dict(), handle, indent=1)

    def on_epoch_end(self, epoch, logs=None):
        self._write()

    def on_train_end(self, logs=None):
        self._write()
