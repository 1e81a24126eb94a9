"""``Sequential``: a network together with what training it and using it need.

The network itself (layers, forward, backward, parameters) is ``core.network.Network``. This
class adds the state a trained model carries (its loss, optimizer, history and metadata), the
checks of what users pass, and the familiar methods: ``fit`` and ``train_step`` (which run
``training.loop``), ``evaluate``, ``predict``, ``predict_proba`` and ``save``.
"""
from __future__ import annotations

import numpy as np

from ..core import checks as check
from ..core.backend import to_device, to_numpy, using_backend
from ..core.losses import Loss, get_loss
from ..core.network import Network, describe_shape
from ..files import saving
from . import loop
from .history import History

__all__ = ["Sequential"]


class Sequential(Network):
    """A stack of layers applied one after another: the multilayer perceptron, ready to train.

    ``Sequential(Dense(784, 256), ReLU(), Dense(256, 10), seed=0)`` builds every parameter at once,
    from one random generator seeded by ``seed``, which also drives shuffling and dropout: two runs
    with the same seed end with bit-identical weights. See ``core.network.Network`` for the network
    itself (``forward``, ``backward``, ``parameters``); ``fit`` and ``train_step`` are
    ``training.loop``'s.

    Parameters
    ----------
    *layers : Layer
        The layers, in order (or one list of them).
    dtype : str, default "float32"
        The parameters' dtype: ``"float32"``, or ``"float64"`` for gradient checks.
    seed : int or None
        Seeds the generator (None: a fresh one each time).
    backend : str, optional
        What it computes on: "numpy", "numba", "cupy"; by default the one in use (``bn.set_backend``).

    Attributes
    ----------
    loss, optimizer
        The last fit's, kept for ``evaluate``, ``predict`` and the next ``fit``.
    history : History
        The figures of every epoch of every fit.
    metadata : dict
        Saved with the model: class names, the data set, a run's settings...
    """

    def __init__(self, *layers, dtype="float32", seed=None, backend=None):
        super().__init__(*layers, dtype=dtype, seed=seed, backend=backend)
        self.loss: Loss | None = None
        self.optimizer = None
        self.history = History()
        self.metadata: dict = {}  # saved with the model: class names, data set, run settings...
        self.stop_training = False
        self.interrupted = False

    # -- training -------------------------------------------------------------------------------

    fit = loop.fit                  # model.fit(X, y, ...): the arguments and what they do are there
    """Train the model: [`training.loop.fit`][barenet.training.loop.fit] says what each argument does."""
    train_step = loop.train_step    # one optimizer step on one batch, for a loop of your own
    """Take one optimizer step on one batch: [`training.loop.train_step`][barenet.training.loop.train_step]."""

    # -- using a trained model ------------------------------------------------------------------

    def evaluate(self, X, y, *, loss=None, sample_weight=None, batch_size=1024) -> dict:
        """Return the loss (and accuracy, for classifiers) over (X, y), in inference mode.

        Parameters
        ----------
        X, y
            The data and its targets, as ``fit`` takes them.
        loss : Loss or str, optional
            The loss to measure; by default the last fit's.
        sample_weight : array (n,), optional
            Weights of each sample's loss.
        batch_size : int, default 1024
            Samples per forward pass.

        Returns
        -------
        dict
            ``{"loss": ..., "accuracy": ...}``, accuracy for classifiers only.
        """
        X = self.check_features(X)
        loss = self.check_loss(loss, "evaluate")
        y = self.check_targets(y, len(X), loss)
        weight = None if sample_weight is None else check.sample_weights(sample_weight, "sample_weight", len(X))
        batch_size = check.positive_int(batch_size, "batch_size")
        with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"), using_backend(self.ops):
            return loop.measure(self, X, y, weight, loss, batch_size)

    def predict(self, X, *, batch_size=1024) -> np.ndarray:
        """Return what the model answers for X; its loss says how to read the outputs.

        Class ids (n,) for CrossEntropy, 0/1 labels for BinaryCrossEntropy, output values for
        regression ((n,) when the model has one output, else (n, outputs)). Keras's ``predict`` returns
        the raw outputs; here that is ``forward(X, training=False)``, and probabilities ``predict_proba``.

        Parameters
        ----------
        X : array
            The samples, as ``fit`` takes them.
        batch_size : int, default 1024
            Samples per forward pass.
        """
        X = self.check_features(X)
        reader = self.loss if self.loss is not None else Loss()
        return self.outputs(X, batch_size, reader.predict)

    def predict_proba(self, X, *, batch_size=1024) -> np.ndarray:
        """Return class probabilities (n, classes): softmax of the outputs, or sigmoid for binary labels.

        Softmax for CrossEntropy; for BinaryCrossEntropy the sigmoid, the probability of label 1.

        Parameters
        ----------
        X : array
            The samples, as ``fit`` takes them.
        batch_size : int, default 1024
            Samples per forward pass.

        Raises
        ------
        ValueError
            For a model whose loss is not a classifier's.
        """
        X = self.check_features(X)
        if self.loss is None or not self.loss.classifies:
            raise ValueError(f"predict_proba needs a model trained with CrossEntropy or BinaryCrossEntropy, "
                             f"this one has loss {self.loss!r}")
        return self.outputs(X, batch_size, self.loss.probabilities)

    def outputs(self, X, batch_size=1024, then=lambda outputs: outputs) -> np.ndarray:
        """Return ``then(outputs)`` of inference-mode forward passes over X, batch by batch, as one NumPy array.

        Parameters
        ----------
        X : array
            The samples, already checked (``check_features``).
        batch_size : int, default 1024
            Samples per forward pass.
        then : callable
            Applied to each batch's outputs (the identity by default).
        """
        batch_size = check.positive_int(batch_size, "batch_size")
        with using_backend(self.ops):
            if len(X) <= batch_size:  # the common case of predicting a few samples: no list, no copy
                return to_numpy(then(self.forward(to_device(X), training=False)))
            return np.concatenate([to_numpy(then(self.forward(to_device(X[i:i + batch_size]), training=False)))
                                   for i in range(0, len(X), batch_size)])

    def save(self, path, *, include_optimizer: bool = True, metadata: dict | None = None):
        """Write the model to one ``.npz`` file, atomically; ``bn.load`` reads it back.

        Parameters
        ----------
        path : str or Path
            The file.
        include_optimizer : bool, default True
            Keep the optimizer's state, so that training resumes exactly.
        metadata : dict, optional
            Added to the model's own ``metadata`` in the file.

        Returns
        -------
        Path
            The file written.
        """
        return saving.write(path, [self], loss=self.loss, optimizer=self.optimizer if include_optimizer else None,
                            history=self.history.to_dict(), rng_state=self.rng.bit_generator.state,
                            metadata={**self.metadata, **(metadata or {})})

    def astype(self, dtype) -> "Sequential":
        """Return a copy with parameters of another dtype, without the optimizer (its state is the old dtype's)."""
        clone = super().astype(dtype)
        clone.optimizer = None
        return clone

    # -- checking what users pass ---------------------------------------------------------------

    def check_features(self, X, name="X"):
        """Return X as a finite array of the model's dtype, or raise naming ``name``.

        Rows (n, input width), or images (n, channels, height, width) for a network that starts with a
        convolution.
        """
        return check.features(X, name, self.input_shape, self.dtype)

    def check_loss(self, loss, caller):
        """Return ``loss`` (an instance or a name), else the last fit's; ``caller`` names the method in errors."""
        if loss is not None:
            loss = get_loss(loss)
        elif self.loss is not None:
            loss = self.loss
        else:
            raise ValueError(f"{caller} needs a loss: pass loss=bn.CrossEntropy() (or another), "
                             f"or fit the model first")
        if self.output_shape_ is not None and len(self.output_shape_) != 1:
            raise ValueError(f"{caller} needs a network whose outputs are rows (batch, outputs); this one gives "
                             f"{describe_shape(self.output_shape_)}: end it with Flatten() and a Dense layer")
        loss.check_outputs(self.output_width_)
        return loss

    def check_targets(self, y, n, loss, name="y"):
        """Return y checked for ``loss`` and this model's n outputs (``loss.check_targets``)."""
        return loss.check_targets(y, name, n, self.output_width_, self.dtype)

    def check_dataset(self, data, loss, name):
        """Return (X, y, sample_weight or None) of ``data``, a tuple (X, y) or (X, y, sample_weight), checked."""
        if not isinstance(data, (tuple, list)) or len(data) not in (2, 3):
            raise TypeError(f"{name} must be a tuple (X, y) or (X, y, sample_weight)")
        X = self.check_features(data[0], f"{name}[0]")
        y = self.check_targets(data[1], len(X), loss, f"{name}[1]")
        weight = None if len(data) == 2 or data[2] is None else check.sample_weights(data[2], f"{name}[2]", len(X))
        return X, y, weight
