"""Small data helpers: splits, one-hot targets and minibatches."""
from __future__ import annotations

import numpy as np


__all__ = ["one_hot", "train_test_split", "batch_indices", "minibatches"]


def _rng(seed):
    return seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)


def one_hot(y, num_classes: int | None = None, dtype="float32") -> np.ndarray:
    """Return the (n, num_classes) matrix with a 1 in column y[i] of row i and 0 elsewhere.

    Parameters
    ----------
    y : array of int (n,)
        Class ids, non-negative.
    num_classes : int, optional
        The columns; by default the largest id + 1.
    dtype : str, default "float32"
        The matrix's dtype.

    Raises
    ------
    ValueError
        If y is not 1-D non-negative integers, or holds an id beyond ``num_classes``.

    Examples
    --------
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
    """Return test indices taking about ``test_size`` of every class.

    At least one from each class with 2+ samples, and never a whole class; drawn from ``rng``.
    """
    test = []
    for cls in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == cls))
        take = int(round(test_size * members.size))
        take = min(max(take, 1 if members.size > 1 else 0), members.size - 1) if members.size > 1 else 0
        test.append(members[:take])
    return rng.permutation(np.concatenate(test))


def train_test_split(*arrays, test_size=0.25, stratify=None, shuffle=True, seed=None):
    """Split arrays into train and test parts: ``X_train, X_test, y_train, y_test = train_test_split(X, y)``.

    Parameters
    ----------
    *arrays : array
        Arrays of the same length, split alike.
    test_size : float or int, default 0.25
        A fraction in (0, 1), or a number of samples.
    stratify : array, optional
        Class labels: keep every class's share the same in both parts.
    shuffle : bool, default True
        Shuffle the rows; False takes the last rows as the test set.
    seed : int or numpy.random.Generator, optional
        The shuffle's seed.

    Returns
    -------
    list of array
        For each array, its train part, then its test part.
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
    """Yield index arrays of successive minibatches over ``range(n)``.

    In a random order drawn from ``seed`` (an int or a Generator) when ``shuffle``; ``drop_last``
    leaves out a last, smaller batch. Only indices are permuted: gathering each batch (``X[idx]``)
    copies one batch, never the whole data set.
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    order = _rng(seed).permutation(n) if shuffle else np.arange(n)
    stop = n - n % batch_size if drop_last else n
    for start in range(0, stop, batch_size):
        yield order[start:start + batch_size]


def minibatches(*arrays, batch_size=32, shuffle=True, seed=None, drop_last=False):
    """Yield tuples of aligned minibatches: ``for xb, yb in minibatches(X, y, batch_size=64, seed=0)``.

    Parameters
    ----------
    *arrays : array
        Arrays of the same length.
    batch_size : int, default 32
        Samples per batch (the last one smaller, unless ``drop_last``).
    shuffle : bool, default True
        A random order, from ``seed``.
    seed : int or numpy.random.Generator, optional
        The order's seed.
    drop_last : bool, default False
        Leave out the last batch when it is smaller.
    """
    n = len(arrays[0])
    if any(len(a) != n for a in arrays):
        raise ValueError("all arrays must have the same length")
    for idx in batch_indices(n, batch_size, shuffle, seed, drop_last):
        yield tuple(a[idx] for a in arrays)
