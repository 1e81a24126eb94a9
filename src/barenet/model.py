"""The model: a stack of layers, and the training loop that fits it.

``Sequential`` runs its layers in order (forward) and in reverse order (backward: the chain rule,
one layer's input gradient being the previous layer's output gradient). ``fit`` repeats, for
every minibatch: forward, loss, backward, optimizer step.
"""
from __future__ import annotations

import copy
import math
import signal
import threading
import time

import numpy as np

from . import _validation as check
from .activations import sigmoid, softmax
from .backend import to_device, to_numpy, xp
from .callbacks import CallbackList, TerminateOnNaN, progress_for
from .data import _stratified_test_indices
from .layers import Layer
from .losses import Loss, get_loss
from .optimizers import Adam, get_optimizer

__all__ = ["Sequential", "History", "NonFiniteError"]

_DTYPES = (np.dtype("float32"), np.dtype("float64"))


class NonFiniteError(FloatingPointError):
    """Training produced NaN or infinity; the message says where, and the weights are those
    from before the batch that diverged."""


class History:
    """Per-epoch figures of every ``fit`` on a model: ``history["val_loss"][i]`` belongs to epoch
    ``history.epochs[i]``. Epoch 0 is the model before any update (full passes over the data);
    for later epochs, ``loss`` and ``accuracy`` are running means over the epoch's batches (the
    weights change during the epoch) and ``val_*`` are full passes at the end of the epoch.
    A later ``fit`` appends to the same history."""

    def __init__(self):
        self.epochs: list[int] = []
        self.history: dict[str, list] = {}

    def append(self, epoch: int, logs: dict) -> None:
        self.epochs.append(int(epoch))
        for key in list(self.history) + [k for k in logs if k not in self.history]:
            column = self.history.setdefault(key, [None] * (len(self.epochs) - 1))
            value = logs.get(key)
            column.append(None if value is None else float(value))

    def __getitem__(self, key: str) -> list:
        return self.history[key]

    def __contains__(self, key) -> bool:
        return key in self.history

    def __len__(self) -> int:
        return len(self.epochs)

    def keys(self):
        return self.history.keys()

    def last(self) -> dict:
        """The figures of the last epoch."""
        return {k: v[-1] for k, v in self.history.items()} if self.epochs else {}

    def to_dict(self) -> dict:
        return {"epochs": list(self.epochs), **{k: list(v) for k, v in self.history.items()}}

    @classmethod
    def from_dict(cls, data: dict) -> "History":
        history = cls()
        history.epochs = [int(e) for e in data.get("epochs", [])]
        history.history = {k: list(v) for k, v in data.items() if k != "epochs"}
        return history

    def __repr__(self):
        return f"History({len(self)} epochs: {', '.join(self.history)})"


class Sequential(Layer):
    """A stack of layers applied one after another: the multilayer perceptron.

    ``Sequential(Dense(784, 256), ReLU(), Dense(256, 10), dtype="float32", seed=None)`` builds
    every parameter at once, as ``dtype`` (float32 by default; float64 for gradient checks), from
    one random generator seeded by ``seed``, which also drives shuffling and dropout: two runs with
    the same seed end with bit-identical weights.

    The model is a layer: ``forward(x, training=True)`` and ``backward(grad_out) -> grad_in``. Its
    parameters are ``model.params`` (names like ``"0.W"``: layer index, parameter) and live in one
    contiguous vector, so that an optimizer step is a few vectorised operations.
    """

    def __init__(self, *layers, dtype="float32", seed=None):
        if len(layers) == 1 and isinstance(layers[0], (list, tuple)):
            layers = tuple(layers[0])
        if not layers:
            raise ValueError("Sequential needs at least one layer")
        for i, layer in enumerate(layers):
            if isinstance(layer, Sequential):
                raise TypeError(f"layer {i} is a Sequential model; pass its layers instead: "
                                f"Sequential(*inner.layers, ...)")
            if not isinstance(layer, Layer):
                raise TypeError(f"layer {i} must be a barenet Layer, got {type(layer).__name__}")
        if len({id(layer) for layer in layers}) != len(layers):
            raise ValueError("the same layer object appears twice; create a new layer for each position")
        try:
            self.dtype = np.dtype(dtype)
        except TypeError:
            raise TypeError(f"dtype must be 'float32' or 'float64', got {dtype!r}") from None
        if self.dtype not in _DTYPES:
            raise ValueError(f"dtype must be 'float32' or 'float64', got {dtype!r}")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0):
            raise ValueError(f"seed must be None or a non-negative int, got {seed!r}")
        self.seed = seed
        self.rng = np.random.default_rng(seed)
        self.layers = list(layers)
        self.input_width, self.output_width_ = self._check_widths()
        for layer in self.layers:
            if hasattr(layer, "rng"):  # random layers (dropout, augmentation) share the model's generator
                layer.rng = self.rng
            if not layer.built:
                layer.build(self.rng, self.dtype)
                layer.built = True
        self._gather_parameters()
        self.built = True
        self.loss: Loss | None = None
        self.optimizer = None
        self.history = History()
        self.metadata: dict = {}  # saved with the model: class names, data set, run settings...
        self.stop_training = False
        self._interrupted = False

    # -- structure --------------------------------------------------------------------------

    def _check_widths(self):
        """Pass the feature count through the layers; a mismatch names both layers."""
        width, input_width = None, None
        for i, layer in enumerate(self.layers):
            if width is None and input_width is None:
                input_width = getattr(layer, "in_features", None)
            try:
                width = layer.output_width(width)
            except ValueError as error:
                previous = f"layer {i - 1} {self.layers[i - 1]!r}" if i else "the input"
                raise ValueError(f"layer {i} {layer!r} cannot follow {previous}: {error}") from None
        return input_width, width

    def _gather_parameters(self):
        """Move every layer's parameters into one contiguous vector (and gradients into another),
        leaving each layer's arrays as views of it."""
        entries = [(layer, name) for layer in self.layers for name in layer.params]
        total = sum(layer.params[name].size for layer, name in entries)
        self._theta = xp.empty(total, dtype=self.dtype)
        self._grad = xp.zeros(total, dtype=self.dtype)
        self._views = []
        offset = 0
        for layer, name in entries:
            value = layer.params[name]
            param = self._theta[offset:offset + value.size].reshape(value.shape)
            param[...] = value
            grad = self._grad[offset:offset + value.size].reshape(value.shape)
            layer.params[name], layer.grads[name] = param, grad
            self._views.append((layer, name, param, grad))
            offset += value.size
        self._first_trainable = next((i for i, layer in enumerate(self.layers) if layer.params), None)

    def parameter_vectors(self):
        """(θ, g): all parameters and all gradients as two flat vectors, in layer order.

        A layer that assigned new arrays to its params or grads (instead of writing into them)
        has them copied into the vectors here."""
        for layer, name, param, grad in self._views:
            if layer.params[name] is not param:
                param[...] = layer.params[name]
                layer.params[name] = param
            if layer.grads[name] is not grad:
                grad[...] = layer.grads[name]
                layer.grads[name] = grad
        return self._theta, self._grad

    @property
    def params(self) -> dict:
        """Every parameter array, by name ``"<layer index>.<parameter>"``."""
        return {f"{i}.{name}": value for i, layer in enumerate(self.layers) for name, value in layer.params.items()}

    @property
    def grads(self) -> dict:
        return {f"{i}.{name}": value for i, layer in enumerate(self.layers) for name, value in layer.grads.items()}

    @params.setter
    def params(self, value):  # Layer.__init__ compatibility: the model's params are its layers'
        raise AttributeError("set parameters through the layers, e.g. model.layers[0].params['W'][...] = W")

    @grads.setter
    def grads(self, value):
        raise AttributeError("gradients belong to the layers")

    def count_params(self) -> int:
        return int(self._theta.size)

    def astype(self, dtype) -> "Sequential":
        """A copy of the model with parameters of another dtype ("float32" or "float64")."""
        clone = copy.deepcopy(self)
        clone.dtype = np.dtype(dtype)
        if clone.dtype not in _DTYPES:
            raise ValueError(f"dtype must be 'float32' or 'float64', got {dtype!r}")
        for layer in clone.layers:
            layer.params = {k: v.astype(clone.dtype) for k, v in layer.params.items()}
            if hasattr(layer, "buffers"):
                layer.buffers = {k: v.astype(clone.dtype) for k, v in layer.buffers.items()}
        clone._gather_parameters()
        clone.optimizer = None
        return clone

    def summary(self, print_fn=print) -> None:
        """Print each layer with its output width and parameter count, and the total."""
        rows = [("#", "layer", "output", "parameters")]
        width = None
        for i, layer in enumerate(self.layers):
            width = layer.output_width(width)
            count = sum(int(v.size) for v in layer.params.values())
            rows.append((str(i), repr(layer), f"(batch, {width})", f"{count:,}"))
        sizes = [max(len(row[c]) for row in rows) for c in range(4)]
        line = "-" * (sum(sizes) + 6)
        print_fn(line)
        for r, row in enumerate(rows):
            print_fn(f"{row[0]:>{sizes[0]}}  {row[1]:<{sizes[1]}}  {row[2]:<{sizes[2]}}  {row[3]:>{sizes[3]}}")
            if r == 0:
                print_fn(line)
        print_fn(line)
        print_fn(f"total parameters: {self.count_params():,} ({self.dtype})")

    def save(self, path, *, include_optimizer: bool = True, metadata: dict | None = None):
        """Write the model to one ``.npz`` file (atomically); read it back with ``bn.load``.
        ``include_optimizer`` keeps the optimizer's state so that training resumes exactly."""
        from .saving import save
        return save(self, path, include_optimizer=include_optimizer, metadata=metadata)

    def get_config(self) -> dict:
        return {"layers": [{"type": type(layer).__name__, "config": layer.get_config()} for layer in self.layers],
                "dtype": str(self.dtype), "seed": self.seed}

    def __repr__(self):
        inner = ",\n".join(f"  {layer!r}" for layer in self.layers)
        return f"Sequential(\n{inner},\n  dtype={str(self.dtype)!r})"

    # -- the layer protocol -----------------------------------------------------------------

    def forward(self, x, training=True):
        x = xp.asarray(x, dtype=self.dtype)
        for layer in self.layers:
            x = layer.forward(x, training)
        return x

    def backward(self, grad_out):
        for layer in reversed(self.layers):
            grad_out = layer.backward(grad_out)
        return grad_out

    def backward_params(self, grad_out):
        """Backward without the input gradient, which training never needs: layers in front of
        the first layer with parameters are skipped, and that layer computes only dW and db."""
        if self._first_trainable is None:
            return
        trainable = self.layers[self._first_trainable:]
        for layer in reversed(trainable[1:]):
            grad_out = layer.backward(grad_out)
        trainable[0].backward_params(grad_out)

    # -- checking what users pass -----------------------------------------------------------

    def _features(self, X, name="X"):
        return check.features(X, name, self.input_width, self.dtype)

    def _loss(self, loss, caller):
        if loss is not None:
            loss = get_loss(loss)
        elif self.loss is not None:
            loss = self.loss
        else:
            raise ValueError(f"{caller} needs a loss: pass loss=bn.CrossEntropy() (or another), "
                             f"or fit the model first")
        if loss.task == "classification" and self.output_width_ is not None and self.output_width_ < 2:
            raise ValueError(f"{loss!r} needs at least 2 outputs (one per class) but the model has "
                             f"{self.output_width_}; for one output use BinaryCrossEntropy")
        return loss

    def _targets(self, y, n, loss, name="y"):
        return check.targets(y, name, n, loss.task, self.output_width_, self.dtype)

    def _dataset(self, data, loss, name):
        """(X, y[, sample_weight]) checked as a whole."""
        if not isinstance(data, (tuple, list)) or len(data) not in (2, 3):
            raise TypeError(f"{name} must be a tuple (X, y) or (X, y, sample_weight)")
        X = self._features(data[0], f"{name}[0]")
        y = self._targets(data[1], len(X), loss, f"{name}[1]")
        weight = None if len(data) == 2 or data[2] is None else check.sample_weights(data[2], f"{name}[2]", len(X))
        return X, y, weight

    # -- training ---------------------------------------------------------------------------

    def fit(self, X, y, *, loss=None, optimizer=None, epochs=1, batch_size=32, validation_data=None,
            validation_split=0.0, shuffle=True, sample_weight=None, class_weight=None,
            callbacks=None, verbose=1, full_train_metrics=False) -> History:
        """Train on (X, y) for ``epochs`` passes and return ``model.history``.

        X: (n, features); y: class ids (n,) or one-hot rows for ``CrossEntropy``, targets shaped
        like the outputs for other losses. ``loss`` and ``optimizer`` (default ``Adam(1e-3)``) are
        kept for later calls, the optimizer's state included. Each epoch visits the samples in a
        new random order from the model's generator, in batches of ``batch_size`` (the last one
        smaller). ``validation_data=(X_val, y_val)``, or ``validation_split`` (a fraction of X,
        shuffled and, for classification, stratified) is evaluated after every epoch.
        ``sample_weight`` (n,) and ``class_weight`` ({class: weight} or "balanced") weight each
        sample's loss. ``callbacks`` is a list of ``bn.callbacks`` objects.

        ``verbose=1`` shows a progress bar per epoch on a terminal (one line per epoch when the
        output is a file or a pipe), 2 always one line per epoch, 0 nothing. The history's
        ``loss`` and ``accuracy`` are running means over each epoch's batches (the weights change
        meanwhile); ``full_train_metrics=True`` adds ``train_loss`` and ``train_accuracy``, a full
        pass over the training data after each epoch, comparable with ``evaluate``.

        If the loss or a gradient becomes NaN or infinite, fit stops with ``NonFiniteError``
        naming the epoch, the batch and the layer, and leaves the weights as they were before it
        (with a ``TerminateOnNaN`` callback it stops with a warning instead). Ctrl-C stops after
        the current batch: callbacks see the end of training, the history keeps every finished
        epoch, and then ``KeyboardInterrupt`` is raised.
        """
        X = self._features(X)
        loss = self._loss(loss, "fit")
        y = self._targets(y, len(X), loss)
        optimizer = get_optimizer(optimizer) if optimizer is not None else (self.optimizer or Adam(1e-3))
        epochs = check.non_negative_int(epochs, "epochs")
        batch_size = check.positive_int(batch_size, "batch_size")
        validation_split = check.fraction(validation_split, "validation_split")
        if validation_data is not None and validation_split:
            raise ValueError("pass validation_data or validation_split, not both")
        weight = None if sample_weight is None else check.sample_weights(sample_weight, "sample_weight", len(X))
        if class_weight is not None:
            if loss.task != "classification":
                raise ValueError(f"class_weight needs a classification loss, got {loss!r}")
            per_class = check.class_weights(class_weight, y, self.output_width_)
            weight = per_class if weight is None else weight * per_class
        validation = None if validation_data is None else self._dataset(validation_data, loss, "validation_data")
        if isinstance(verbose, bool) or verbose not in (0, 1, 2):
            raise ValueError(f"verbose must be 0, 1 or 2, got {verbose!r}")
        callbacks = list(callbacks or [])
        if validation_split:
            X, y, weight, validation = self._split(X, y, weight, validation_split, loss)

        self.loss, self.optimizer = loss, optimizer
        done = self.history.epochs[-1] if self.history.epochs else 0
        progress = progress_for(verbose, done + epochs, math.ceil(len(X) / batch_size))
        hooks = CallbackList(callbacks + ([progress] if progress else []), self)
        self.stop_training = False
        with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"), _StopOnCtrlC(self) as ctrl_c:
            if not self.history.epochs:
                self.history.append(0, self._epoch_figures(X, y, weight, validation, running=None, full=False))
            hooks.on_train_begin(self.history.last())
            try:
                for epoch in range(done + 1, done + epochs + 1):
                    self._train_epoch(epoch, X, y, weight, batch_size, shuffle, validation, hooks, full_train_metrics)
                    if self.stop_training:
                        break
            except NonFiniteError as error:
                quiet = [c for c in callbacks if isinstance(c, TerminateOnNaN)]
                if not quiet:
                    raise
                for callback in quiet:
                    callback.diverged(error)
            finally:
                hooks.on_train_end(self.history.last())
        if ctrl_c.pressed:
            raise KeyboardInterrupt(f"training interrupted during epoch {ctrl_c.epoch}; the history keeps the "
                                    f"{len(self.history.epochs) - 1} finished epochs")
        return self.history

    def _split(self, X, y, weight, fraction, loss):
        """Hold out a random fraction of the data, stratified by class for classification."""
        n = len(X)
        if loss.task == "classification":
            val = _stratified_test_indices(y if y.ndim == 1 else y.argmax(axis=1), fraction, self.rng)
        else:
            val = self.rng.permutation(n)[:int(round(fraction * n))]
        if not 0 < val.size < n:
            raise ValueError(f"validation_split={fraction} leaves an empty part for {n} samples")
        train = np.setdiff1d(np.arange(n), val)
        pick = (lambda a, idx: None if a is None else a[idx])
        return X[train], y[train], pick(weight, train), (X[val], y[val], pick(weight, val))

    def _train_epoch(self, epoch, X, y, weight, batch_size, shuffle, validation, hooks, full_train_metrics):
        hooks.on_epoch_begin(epoch)
        n = len(X)
        order = self.rng.permutation(n) if shuffle else np.arange(n)
        batches = math.ceil(n / batch_size)
        total_loss = total_correct = seen = 0.0
        classify = self.loss.task != "regression"
        started = time.perf_counter()
        for b in range(batches):
            idx = order[b * batch_size:(b + 1) * batch_size]
            xb, yb = to_device(X[idx]), to_device(y[idx])
            wb = None if weight is None else to_device(weight[idx])
            self.optimizer.progress = (epoch - 1) + b / batches
            value, outputs = self._step(xb, yb, wb, epoch, b)
            total_loss += value * len(idx)
            seen += len(idx)
            if classify:
                total_correct += _correct(outputs, yb, self.loss.task)
            if hooks.wants_batches:
                hooks.on_batch_end(b, {"loss": value})
            if self.stop_training:
                break
        if self._interrupted:
            self._interrupted_epoch = epoch
            return  # a partial epoch is not added to the history
        running = {"loss": total_loss / seen}
        if classify:
            running["accuracy"] = total_correct / seen
        elapsed = time.perf_counter() - started
        logs = self._epoch_figures(X, y, weight, validation, running, full_train_metrics)
        logs.update(lr=self.optimizer.learning_rate, time=elapsed)
        self.history.append(epoch, logs)
        hooks.on_epoch_end(epoch, logs)

    def _step(self, xb, yb, wb, epoch=None, batch=None):
        """One optimizer step on one batch; raises NonFiniteError (weights untouched) if it diverged."""
        outputs = self.forward(xb, training=True)
        value = self.loss.forward(outputs, yb, wb)
        self.backward_params(self.loss.backward())
        theta, grad = self.parameter_vectors()
        grad_sq = float(xp.dot(grad, grad))
        if not (math.isfinite(value) and math.isfinite(grad_sq)):
            self._diagnose(xb, yb, wb, epoch, batch, value, grad_sq)
        self.optimizer.step(self)
        return value, outputs

    def _diagnose(self, xb, yb, wb, epoch, batch, value, grad_sq):
        """Find the first layer whose output (or, backwards, whose gradient) is not finite."""
        where = f"the loss {self.loss!r}"
        x = xp.asarray(xb, dtype=self.dtype)
        for i, layer in enumerate(self.layers):
            x = layer.forward(x, True)
            if not bool(xp.isfinite(x).all()):
                where = f"the output of layer {i} {layer!r}"
                break
        else:
            where += f" (the outputs of the last layer reach {float(xp.abs(x).max()):.3g})"
            if math.isfinite(self.loss.forward(x, yb, wb)):
                grad_out = self.loss.backward()
                for i in reversed(range(len(self.layers))):
                    layer = self.layers[i]
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
            f"{self.optimizer.learning_rate:g}) or gradient clipping (clip_norm=1.0 on the optimizer).")

    def _epoch_figures(self, X, y, weight, validation, running, full):
        """The epoch's log: running figures (or, for epoch 0, a full pass), optionally a full pass
        over the training data, and validation figures."""
        logs = dict(running) if running is not None else self._measure(X, y, weight, self.loss)
        if full:
            logs.update({f"train_{k}": v for k, v in self._measure(X, y, weight, self.loss).items()})
        if validation is not None:
            logs.update({f"val_{k}": v for k, v in self._measure(*validation, self.loss).items()})
        return logs

    def train_step(self, x, y, *, loss=None, optimizer=None, sample_weight=None) -> dict:
        """One optimizer step on one batch, for users who write their own loop.
        Returns the batch's {"loss", "accuracy"?} from before the update."""
        x = self._features(x, "x")
        loss = self._loss(loss, "train_step")
        y = self._targets(y, len(x), loss)
        weight = None if sample_weight is None else check.sample_weights(sample_weight, "sample_weight", len(x))
        self.loss = loss
        self.optimizer = get_optimizer(optimizer) if optimizer is not None else (self.optimizer or Adam(1e-3))
        value, outputs = self._step(to_device(x), to_device(y), None if weight is None else to_device(weight))
        logs = {"loss": value}
        if loss.task != "regression":
            logs["accuracy"] = _correct(outputs, to_device(y), loss.task) / len(x)
        return logs

    # -- using a trained model --------------------------------------------------------------

    def _outputs(self, X, batch_size, then=lambda outputs: outputs):
        """``then(outputs)`` of inference-mode forward passes, batch by batch, as one NumPy array."""
        batch_size = check.positive_int(batch_size, "batch_size")
        if len(X) <= batch_size:  # the common case of predicting a few samples: no list, no copy
            return to_numpy(then(self.forward(to_device(X), training=False)))
        return np.concatenate([to_numpy(then(self.forward(to_device(X[i:i + batch_size]), training=False)))
                               for i in range(0, len(X), batch_size)])

    def _measure(self, X, y, weight, loss, batch_size=1024):
        """Loss (and accuracy) over a whole data set, with the batch sizes as weights."""
        total_loss = total_correct = 0.0
        for i in range(0, len(X), batch_size):
            outputs = self.forward(to_device(X[i:i + batch_size]), training=False)
            yb = to_device(y[i:i + batch_size])
            wb = None if weight is None else to_device(weight[i:i + batch_size])
            total_loss += loss.forward(outputs, yb, wb) * len(outputs)
            if loss.task != "regression":
                total_correct += _correct(outputs, yb, loss.task)
        figures = {"loss": total_loss / len(X)}
        if loss.task != "regression":
            figures["accuracy"] = total_correct / len(X)
        return figures

    def evaluate(self, X, y, *, loss=None, sample_weight=None, batch_size=1024) -> dict:
        """{"loss", "accuracy" (classification)} over (X, y), with the last fit's loss unless
        ``loss`` is given."""
        X = self._features(X)
        loss = self._loss(loss, "evaluate")
        y = self._targets(y, len(X), loss)
        weight = None if sample_weight is None else check.sample_weights(sample_weight, "sample_weight", len(X))
        batch_size = check.positive_int(batch_size, "batch_size")
        with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
            return self._measure(X, y, weight, loss, batch_size)

    def predict(self, X, *, batch_size=1024) -> np.ndarray:
        """Class ids (n,) for classification losses; output values for regression, (n,) when the
        model has one output, else (n, outputs)."""
        X = self._features(X)
        outputs = self._outputs(X, batch_size)
        task = self.loss.task if self.loss is not None else "regression"
        if task == "classification":
            return outputs.argmax(axis=1)
        if task == "binary":
            predicted = (outputs > 0).astype(np.int64)
            return predicted.ravel() if predicted.shape[1] == 1 else predicted
        return outputs.ravel() if outputs.shape[1] == 1 else outputs

    def predict_proba(self, X, *, batch_size=1024) -> np.ndarray:
        """Class probabilities: softmax of the outputs for CrossEntropy, sigmoid for
        BinaryCrossEntropy (the probability of label 1)."""
        X = self._features(X)
        task = self.loss.task if self.loss is not None else None
        if task not in ("classification", "binary"):
            raise ValueError(f"predict_proba needs a model trained with CrossEntropy or BinaryCrossEntropy, "
                             f"this one has loss {self.loss!r}")
        return self._outputs(X, batch_size, softmax if task == "classification" else sigmoid)


def _correct(outputs, targets, task) -> int:
    """How many rows the outputs classify right."""
    if task == "binary":
        return int(((outputs > 0) == (targets.reshape(outputs.shape) > 0.5)).all(axis=1).sum())
    labels = targets if targets.ndim == 1 else targets.argmax(axis=1)
    return int((outputs.argmax(axis=1) == labels).sum())


class _StopOnCtrlC:
    """While fit runs in the main thread, the first Ctrl-C asks training to stop after the current
    batch (``model.stop_training``); a second one interrupts at once, as usual."""

    def __init__(self, model):
        self.model, self.pressed, self.epoch, self.previous = model, False, None, None

    def _handler(self, signum, frame):
        self.pressed = True
        self.model.stop_training = self.model._interrupted = True
        signal.signal(signal.SIGINT, self.previous)  # a second Ctrl-C stops immediately

    def __enter__(self):
        self.model._interrupted = False
        if threading.current_thread() is threading.main_thread() and \
                signal.getsignal(signal.SIGINT) is signal.default_int_handler:
            self.previous = signal.signal(signal.SIGINT, self._handler)
        return self

    def __exit__(self, *exc):
        if self.previous is not None and signal.getsignal(signal.SIGINT) == self._handler:
            signal.signal(signal.SIGINT, self.previous)
        self.epoch = getattr(self.model, "_interrupted_epoch", None)
        self.model._interrupted = False
        return False
