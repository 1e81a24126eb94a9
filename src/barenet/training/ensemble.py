"""Ensembles: several trained models whose predictions are averaged."""
from __future__ import annotations

import numpy as np

from ..core.losses import Loss
from ..files import saving
from .history import History
from .model import Sequential

__all__ = ["Ensemble"]


class Ensemble:
    """The average of several models trained on the same task.

    Class probabilities are averaged for classifiers, outputs for regression. Averaging models that
    err differently (other seeds, other augmentations) is a reliable way to a better test accuracy.
    It offers the inference side of a model (``predict``, ``predict_proba``, ``evaluate``,
    ``save``); train the members first, each with ``fit``.

    Parameters
    ----------
    models : list of Sequential
        Trained models of the same input and output shapes and the same kind of loss.
    """

    def __init__(self, models):
        models = list(models)
        if not models or not all(isinstance(m, Sequential) for m in models):
            raise TypeError("Ensemble needs a non-empty list of barenet Sequential models")
        shapes = {(m.input_shape, m.output_shape_) for m in models}
        if len(shapes) != 1:
            raise ValueError(f"ensemble members must share input and output shapes, got {sorted(shapes, key=str)}")
        if len({type(m.loss) for m in models}) != 1:
            raise ValueError("ensemble members must be trained for the same task (same kind of loss)")
        self.members = models
        self.history = History()
        self.metadata: dict = {}

    @property
    def loss(self):
        """The members' loss (setting it sets every member's)."""
        return self.members[0].loss

    @loss.setter
    def loss(self, value):
        for member in self.members:
            member.loss = value

    @property
    def input_width(self):
        """The features per row the members take."""
        return self.members[0].input_width

    @property
    def input_shape(self):
        """The shape of one sample the members take."""
        return self.members[0].input_shape

    def predict_proba(self, X, *, batch_size=1024) -> np.ndarray:
        """Return the members' class probabilities, averaged; ``batch_size`` samples per forward pass."""
        return np.mean([m.predict_proba(X, batch_size=batch_size) for m in self.members], axis=0)

    def predict(self, X, *, batch_size=1024) -> np.ndarray:
        """Return, for classifiers, the answer of the averaged probabilities; for regression the averaged outputs."""
        loss = self.loss if self.loss is not None else Loss()
        if loss.classifies:
            return loss.from_probabilities(self.predict_proba(X, batch_size=batch_size))
        return np.mean([m.predict(X, batch_size=batch_size) for m in self.members], axis=0)

    def evaluate(self, X, y, *, batch_size=1024) -> dict:
        """Return the loss (and accuracy) of the averaged prediction over (X, y).

        For classifiers the loss of the averaged probabilities and their accuracy, for regression the
        loss of the averaged outputs; ``batch_size`` samples per forward pass.
        """
        first = self.members[0]
        X = first.check_features(X)
        loss = first.check_loss(None, "evaluate")
        y = first.check_targets(y, len(X), loss)
        if loss.classifies:
            p = self.predict_proba(X, batch_size=batch_size)
            return {"loss": loss.probability_loss(p, y), "accuracy": loss.probability_correct(p, y) / len(X)}
        outputs = np.mean([m.outputs(X, batch_size) for m in self.members], axis=0)
        with np.errstate(over="ignore", invalid="ignore"):
            return {"loss": float(loss.forward(outputs, y))}

    def save(self, path, *, metadata: dict | None = None):
        """Write every member to one ``.npz`` file; ``bn.load`` gives the Ensemble back. Returns the path."""
        return saving.write(path, self.members, ensemble=True, loss=self.loss, history=self.history.to_dict(),
                            metadata={**self.metadata, **(metadata or {})})

    def summary(self, print_fn=print):
        """Print each member's summary, through ``print_fn``."""
        for k, member in enumerate(self.members):
            print_fn(f"member {k}:")
            member.summary(print_fn)

    def __len__(self):
        return len(self.members)

    def __repr__(self):
        return f"Ensemble({len(self.members)} models)"
