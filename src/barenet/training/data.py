"""Small data helpers: splits, one-hot targets, standardisation and minibatches."""
from __future__ import annotations

import numpy as np

from ..core import registry
from ..core.backend import xp
from ..core.layers import Layer

__all__ = ["one_hot", "train_test_split", "batch_indices", "minibatches", "Standardizer"]


def _rng(seed):
    return seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)


def one_hot(y, num_classes: int | None = None, dtype="float32") -> np.ndarray:
    """The (n, num_classes) matrix with a 1 in column y[i] of row i and 0 elsewhere.

    >>> one_hot([0, 2, 1])
    array([[1., 0., 0.],
           [0., 0., 1.],
           [0., 1., 0.]], dtype=float32)
    """
    y = np.asarray(y)
    if y.ndim != 1 or (y.size and (y.dtype.kind not in "iu" or y.min() < 0)):
        raise ValueError(f"y must be a 1-D array of non-negative class ids, got shape {y.shape}, dtype {y.dtype}")
    if num_classes is None:
        num_classes = int(y.max()) + 1 if y.size else 0
    elif y.size and y.max() >= num_classes:
        raise ValueError(f"y holds class {int(y.max())}, beyond num_classes={num_classes}")
    out = np.zeros((y.size, num_classes), dtype=dtype)
    out[np.arange(y.size), y] = 1
    return out


def stratified_test_indices(labels, test_size, rng):
    """Test indices taking about test_size of every class (at least one from each class with 2+ samples)."""
    test = []
    for cls in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == cls))
        take = int(round(test_size * members.size))
        take = min(max(take, 1 if members.size > 1 else 0), members.size - 1) if members.size > 1 else 0
        test.append(members[:take])
    return rng.permutation(np.concatenate(test))


def train_test_split(*arrays, test_size=0.25, stratify=None, shuffle=True, seed=None):
    """Split arrays into train and test parts: ``X_train, X_test, y_train, y_test = train_test_split(X, y)``.

    ``test_size`` is a fraction in (0, 1) or a number of samples. ``stratify`` (class labels)
    keeps every class's share the same in both parts. Rows are shuffled by ``seed`` (an int or a
    ``numpy.random.Generator``) unless ``shuffle=False``, which takes the last rows as the test set.
    """
    if not arrays:
        raise ValueError("train_test_split needs at least one array")
    n = len(arrays[0])
    for i, a in enumerate(arrays):
        if len(a) != n:
            raise ValueError(f"all arrays must have the same length: arrays[0] has {n}, arrays[{i}] has {len(a)}")
    if isinstance(test_size, float) and 0.0 < test_size < 1.0:
        n_test = int(round(test_size * n))
    elif isinstance(test_size, (int, np.integer)) and not isinstance(test_size, bool) and 0 < test_size < n:
        n_test, test_size = int(test_size), int(test_size) / n
    else:
        raise ValueError(f"test_size must be a fraction in (0, 1) or a count in [1, {n - 1}], got {test_size!r}")
    if not 0 < n_test < n:
        raise ValueError(f"test_size={test_size!r} leaves an empty part for {n} samples")
    rng = _rng(seed)
    if stratify is not None:
        if not shuffle:
            raise ValueError("stratify needs shuffle=True")
        labels = np.asarray(stratify)
        if labels.shape[:1] != (n,):
            raise ValueError(f"stratify must have one label per sample ({n}), got shape {labels.shape}")
        test = stratified_test_indices(labels, test_size, rng)
    elif shuffle:
        test = rng.permutation(n)[:n_test]
    else:
        test = np.arange(n - n_test, n)
    train_mask = np.ones(n, dtype=bool)
    train_mask[test] = False
    train = np.flatnonzero(train_mask)
    if shuffle:
        train = rng.permutation(train)
    return [part for a in arrays for part in (np.asarray(a)[train], np.asarray(a)[test])]


def batch_indices(n: int, batch_size: int, shuffle=True, seed=None, drop_last=False):
    """Yield index arrays of successive minibatches over ``range(n)``, in a random order drawn from
    ``seed`` (an int or a Generator) when ``shuffle``. Only indices are permuted: gathering each
    batch (``X[idx]``) copies one batch, never the whole data set."""
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    order = _rng(seed).permutation(n) if shuffle else np.arange(n)
    stop = n - n % batch_size if drop_last else n
    for start in range(0, stop, batch_size):
        yield order[start:start + batch_size]


def minibatches(*arrays, batch_size=32, shuffle=True, seed=None, drop_last=False):
    """Yield tuples of aligned minibatches: ``for xb, yb in minibatches(X, y, batch_size=64, seed=0)``."""
    n = len(arrays[0])
    if any(len(a) != n for a in arrays):
        raise ValueError("all arrays must have the same length")
    for idx in batch_indices(n, batch_size, shuffle, seed, drop_last):
        yield tuple(a[idx] for a in arrays)


@registry.layers.register
class Standardizer(Layer):
    """Scale every feature to zero mean and unit variance, with statistics from the training set::

        y = (x - μ) / σ          dx = dy / σ           (μ, σ: per-feature mean and std of the
                                                         data given to fit; σ = 1 where it is 0)

    Use it on arrays (``fit`` on train, ``transform`` train, validation and test alike), or put the
    fitted standardizer first in a model so that it is saved with it and the model takes raw data::

        scaler = bn.Standardizer().fit(X_train)
        model = bn.Sequential(scaler, bn.Dense(X_train.shape[1], 64), bn.ReLU(), bn.Dense(64, 1))

    ``features`` declares the width before fitting (a model file does, so that the arrays it
    holds can be checked before they are read).
    """

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
        return "mean" in self.buffers

    @property
    def in_features(self) -> int | None:
        return int(self.buffers["mean"].size) if self.fitted else None

    def fit(self, X):
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
        if not self.fitted:
            raise RuntimeError("call fit(X_train) before transform")
        X = np.asarray(X)
        if X.ndim != 2 or X.shape[1] != self.buffers["mean"].size:
            raise ValueError(f"X must have shape (n, {self.buffers['mean'].size}), got {X.shape}")
        return ((X - self.buffers["mean"]) / self.buffers["scale"]).astype(self.dtype)

    def fit_transform(self, X):
        return self.fit(X).transform(X)

    def inverse_transform(self, Y):
        return (np.asarray(Y) * self.buffers["scale"] + self.buffers["mean"]).astype(self.dtype)

    def build(self, rng, dtype):
        if not self.fitted:
            raise ValueError("fit the Standardizer on training data before putting it in a model")
        self.buffers = {k: xp.asarray(v, dtype=dtype) for k, v in self.buffers.items()}
        self.built = True

    def forward(self, x, training=True):
        self.scale = self.buffers["scale"].astype(x.dtype, copy=False)
        return (x - self.buffers["mean"].astype(x.dtype, copy=False)) / self.scale

    def backward(self, grad_out):
        return grad_out / self.scale

    def output_width(self, input_width):
        width = self.buffers["mean"].size if self.fitted else None
        if None not in (input_width, width) and input_width != width:
            raise ValueError(f"Standardizer was fitted on {width} features, got {input_width}")
        return width if input_width is None else input_width

    def buffer_shapes(self):
        return {} if self.features is None else {"mean": (self.features,), "scale": (self.features,)}

    def get_config(self):
        return {"features": self.features}
