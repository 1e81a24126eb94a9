"""Preprocessing as a layer: ``Standardizer`` scales features with statistics from the training data.

So a model saved with it takes raw inputs.
"""
from __future__ import annotations

import numpy as np

from .backend import xp
from .layers import Layer

__all__ = ["Standardizer"]


class Standardizer(Layer):
    """Scale every feature to zero mean and unit variance, with statistics from the training set.

    ::

        y = (x - μ) / σ          dx = dy / σ           (μ, σ: per-feature mean and std of the
                                                         data given to fit; σ = 1 where it is 0)

    Use it on arrays (``fit`` on train, ``transform`` train, validation and test alike), or put the
    fitted standardizer first in a model so that it is saved with it and the model takes raw data::

        scaler = bn.Standardizer().fit(X_train)
        model = bn.Sequential(scaler, bn.Dense(X_train.shape[1], 64), bn.ReLU(), bn.Dense(64, 1))

    Parameters
    ----------
    dtype : str, default "float32"
        The dtype ``transform`` returns.
    features : int, optional
        The width, declared before fitting (a model file does, so that the arrays it holds can be
        checked before they are read).
    """

    cached = ("scale",)  # what backward needs from forward, released once it has run

    def __init__(self, dtype="float32", features=None):
        super().__init__()
        self.dtype = np.dtype(dtype)
        if features is not None and (isinstance(features, bool) or not isinstance(features, int)
                                     or not 1 <= features <= 1 << 24):
            raise ValueError(f"features must be None or a positive int, got {features!r}")
        self.features = features
        self.buffers: dict = {}

    @property
    def fitted(self) -> bool:
        """Whether ``fit`` has run (or the statistics were read from a file)."""
        return "mean" in self.buffers

    @property
    def in_features(self) -> int | None:
        """The width it was fitted on (None before fitting)."""
        return int(self.buffers["mean"].size) if self.fitted else None

    def fit(self, X):
        """Learn μ and σ of every feature from training data.

        Parameters
        ----------
        X : array (n, features)
            Finite training data.

        Returns
        -------
        Standardizer
            Itself, fitted.
        """
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[0] == 0:
            raise ValueError(f"X must be a non-empty 2-D array (samples, features), got shape {X.shape}")
        if not np.isfinite(X).all():
            raise ValueError("X contains NaN or infinity")
        std = X.std(axis=0)
        self.buffers = {"mean": X.mean(axis=0), "scale": np.where(std > 0, std, 1.0)}
        self.features = X.shape[1]
        return self

    def transform(self, X):
        """Return (X - μ) / σ, in ``dtype``.

        Raises
        ------
        RuntimeError
            Before ``fit``.
        ValueError
            If X does not have the fitted width.
        """
        if not self.fitted:
            raise RuntimeError("call fit(X_train) before transform")
        X = np.asarray(X)
        if X.ndim != 2 or X.shape[1] != self.buffers["mean"].size:
            raise ValueError(f"X must have shape (n, {self.buffers['mean'].size}), got {X.shape}")
        return ((X - self.buffers["mean"]) / self.buffers["scale"]).astype(self.dtype)

    def fit_transform(self, X):
        """Fit on X, then return X transformed."""
        return self.fit(X).transform(X)

    def inverse_transform(self, Y):
        """Return Y σ + μ: values back in the data's units (the inverse of ``transform``).

        Raises
        ------
        RuntimeError
            Before ``fit``.
        """
        if not self.fitted:
            raise RuntimeError("call fit(X_train) before inverse_transform")
        return (np.asarray(Y) * self.buffers["scale"] + self.buffers["mean"]).astype(self.dtype)

    def build(self, rng, dtype):
        """Put the fitted statistics in the network's dtype, on its device; ValueError before ``fit``."""
        if not self.fitted:
            raise ValueError("fit the Standardizer on training data before putting it in a model")
        self.buffers = {k: xp.asarray(v, dtype=dtype) for k, v in self.buffers.items()}
        self.built = True

    def forward(self, x, training=True):
        """y = (x - μ) / σ."""
        self.scale = self.buffers["scale"].astype(x.dtype, copy=False)
        return (x - self.buffers["mean"].astype(x.dtype, copy=False)) / self.scale

    def backward(self, grad_out):
        """dx = dy / σ."""
        return grad_out / self.scale

    def output_shape(self, input_shape):
        """Return rows of the fitted width; ValueError for other input."""
        width = self.buffers["mean"].size if self.fitted else None
        if input_shape is None:
            return None if width is None else (width,)
        if len(input_shape) != 1:
            raise ValueError(f"Standardizer takes rows of features, got samples of shape {input_shape}")
        if None not in (input_shape[0], width) and input_shape[0] != width:
            raise ValueError(f"Standardizer was fitted on {width} features, got {input_shape[0]}")
        return (width or input_shape[0],)

    def check_buffers(self, buffers):
        """Raise ValueError unless every σ is positive (it divides)."""
        if float(buffers["scale"].min()) <= 0:
            raise ValueError("scale must be positive: it divides")

    def buffer_shapes(self):
        """Return the shapes of the mean and scale: (features,) each, once the width is known."""
        return {} if self.features is None else {"mean": (self.features,), "scale": (self.features,)}

    def get_config(self):
        """Return features (the statistics are buffers)."""
        return {"features": self.features}
