"""Ensembles: several trained models whose predictions are averaged."""
from __future__ import annotations

import numpy as np

from .model import History, Sequential

__all__ = ["Ensemble"]


class Ensemble:
    """The average of several models trained on the same task: class probabilities are averaged
    for classification, outputs for regression. Averaging models that err differently (other
    seeds, other augmentations) is a reliable way to a better test accuracy.

    It offers the inference side of a model (``predict``, ``predict_proba``, ``evaluate``,
    ``save``); train the members first, each with ``fit``.
    """

    def __init__(self, models):
        models = list(models)
        if not models or not all(isinstance(m, Sequential) for m in models):
            raise TypeError("Ensemble needs a non-empty list of barenet Sequential models")
        widths = {(m.input_width, m.output_width_) for m in models}
        if len(widths) != 1:
            raise ValueError(f"ensemble members must share input and output widths, got {sorted(widths)}")
        tasks = {None if m.loss is None else m.loss.task for m in models}
        if len(tasks) != 1:
            raise ValueError("ensemble members must be trained for the same task (same kind of loss)")
        self.members = models
        self.history = History()
        self.metadata: dict = {}

    @property
    def loss(self):
        return self.members[0].loss

    @loss.setter
    def loss(self, value):
        for member in self.members:
            member.loss = value

    @property
    def input_width(self):
        return self.members[0].input_width

    def predict_proba(self, X, *, batch_size=1024) -> np.ndarray:
        return np.mean([m.predict_proba(X, batch_size=batch_size) for m in self.members], axis=0)

    def predict(self, X, *, batch_size=1024) -> np.ndarray:
        task = self.loss.task if self.loss is not None else "regression"
        if task == "classification":
            return self.predict_proba(X, batch_size=batch_size).argmax(axis=1)
        if task == "binary":
            predicted = (self.predict_proba(X, batch_size=batch_size) > 0.5).astype(np.int64)
            return predicted.ravel() if predicted.shape[1] == 1 else predicted
        return np.mean([m.predict(X, batch_size=batch_size) for m in self.members], axis=0)

    def evaluate(self, X, y, *, batch_size=1024) -> dict:
        """{"loss", "accuracy"?} of the averaged prediction: cross-entropy of the averaged
        probabilities for classification, mean squared error of the averaged outputs otherwise."""
        first = self.members[0]
        X = first._features(X)
        loss = first._loss(None, "evaluate")
        y = first._targets(y, len(X), loss)
        if loss.task == "classification":
            p = self.predict_proba(X, batch_size=batch_size)
            labels = y if y.ndim == 1 else y.argmax(axis=1)
            picked = np.clip(p[np.arange(len(X)), labels], 1e-12, 1.0)
            return {"loss": float(-np.log(picked).mean()), "accuracy": float((p.argmax(axis=1) == labels).mean())}
        predicted = self.predict(X, batch_size=batch_size).reshape(len(X), -1)
        return {"loss": float(((predicted - y.reshape(len(X), -1)) ** 2).mean())}

    def save(self, path, *, metadata: dict | None = None):
        from .saving import save
        return save(self, path, include_optimizer=False, metadata=metadata)

    def summary(self, print_fn=print):
        for k, member in enumerate(self.members):
            print_fn(f"member {k}:")
            member.summary(print_fn)

    def __len__(self):
        return len(self.members)

    def __repr__(self):
        return f"Ensemble({len(self.members)} models)"
