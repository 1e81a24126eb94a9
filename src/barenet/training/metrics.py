"""Metrics for judging a trained model: classification and regression.

All functions take NumPy arrays (or lists) of true and predicted values and return floats or
arrays; ``classification_report`` returns the text table the tutorials print.
"""
from __future__ import annotations

import numpy as np

__all__ = ["accuracy", "top_k_accuracy", "confusion_matrix", "precision_recall_f1", "classification_report",
           "mean_squared_error", "mean_absolute_error", "r2_score"]


def _labels(y, name):
    y = np.asarray(y)
    if y.ndim == 2:  # one-hot or probability rows
        y = y.argmax(axis=1)
    if y.ndim != 1 or (y.size and (y.dtype.kind not in "iu" and not np.array_equal(y, np.round(y)))):
        raise ValueError(f"{name} must be a 1-D array of class ids (or one-hot rows), got shape {y.shape}")
    return y.astype(np.int64)


def _pair(y_true, y_pred):
    y_true, y_pred = _labels(y_true, "y_true"), _labels(y_pred, "y_pred")
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true and y_pred must have the same length, got {len(y_true)} and {len(y_pred)}")
    if y_true.size == 0:
        raise ValueError("y_true is empty")
    return y_true, y_pred


def accuracy(y_true, y_pred) -> float:
    """Return the fraction of samples whose predicted class is the true one (class ids, or one-hot rows)."""
    y_true, y_pred = _pair(y_true, y_pred)
    return float((y_true == y_pred).mean())


def top_k_accuracy(y_true, probabilities, k: int = 5) -> float:
    """Return the fraction of samples whose true class is among the k most probable.

    Parameters
    ----------
    y_true : array (n,)
        True class ids (or one-hot rows).
    probabilities : array (n, classes)
        Each sample's class probabilities (or scores).
    k : int, default 5
        How many of the most probable classes count.
    """
    y_true = _labels(y_true, "y_true")
    probabilities = np.asarray(probabilities)
    if probabilities.ndim != 2 or len(probabilities) != len(y_true):
        raise ValueError(f"probabilities must have shape ({len(y_true)}, classes), got {probabilities.shape}")
    if not 1 <= k <= probabilities.shape[1]:
        raise ValueError(f"k must be between 1 and {probabilities.shape[1]}, got {k}")
    top = np.argpartition(-probabilities, k - 1, axis=1)[:, :k]
    return float((top == y_true[:, None]).any(axis=1).mean())


def confusion_matrix(y_true, y_pred, num_classes: int | None = None) -> np.ndarray:
    """Return C, with C[i, j] the number of samples of true class i predicted as class j.

    Parameters
    ----------
    y_true, y_pred : array (n,)
        Class ids (or one-hot rows).
    num_classes : int, optional
        C's size; by default the largest id + 1.
    """
    y_true, y_pred = _pair(y_true, y_pred)
    k = num_classes or int(max(y_true.max(), y_pred.max())) + 1
    if min(y_true.min(), y_pred.min()) < 0 or max(y_true.max(), y_pred.max()) >= k:
        raise ValueError(f"class ids must be in [0, {k - 1}]")
    return np.bincount(y_true * k + y_pred, minlength=k * k).reshape(k, k)


def precision_recall_f1(y_true, y_pred, num_classes: int | None = None):
    """Return per class precision = TP/(TP+FP), recall = TP/(TP+FN), F1 and the support.

    F1 is their harmonic mean, the support the number of true samples; a ratio with an empty
    denominator is 0. The arguments are ``confusion_matrix``'s.

    Returns
    -------
    precision, recall, f1, support : numpy.ndarray
        One entry per class.
    """
    cm = confusion_matrix(y_true, y_pred, num_classes)
    tp = np.diag(cm).astype(np.float64)
    predicted, support = cm.sum(axis=0), cm.sum(axis=1)
    precision = np.divide(tp, predicted, out=np.zeros_like(tp), where=predicted > 0)
    recall = np.divide(tp, support, out=np.zeros_like(tp), where=support > 0)
    denominator = precision + recall
    f1 = np.divide(2 * precision * recall, denominator, out=np.zeros_like(tp), where=denominator > 0)
    return precision, recall, f1, support


def classification_report(y_true, y_pred, class_names=None, num_classes: int | None = None, digits: int = 4) -> str:
    """Return a text table of precision, recall, F1 and support per class, with the averages.

    The accuracy, and the macro and support-weighted averages, follow the classes' rows.

    Parameters
    ----------
    y_true, y_pred : array (n,)
        Class ids (or one-hot rows).
    class_names : list, optional
        The rows' names (the class ids by default).
    num_classes : int, optional
        As for ``confusion_matrix``.
    digits : int, default 4
        Decimals shown.
    """
    precision, recall, f1, support = precision_recall_f1(y_true, y_pred, num_classes)
    k = len(support)
    names = [str(n) for n in class_names] if class_names is not None else [str(i) for i in range(k)]
    if len(names) != k:
        raise ValueError(f"class_names has {len(names)} names for {k} classes")
    width = max(12, max(len(n) for n in names))
    header = f"{'':>{width}}  {'precision':>9}  {'recall':>9}  {'f1-score':>9}  {'support':>7}"
    lines = [header, ""]
    for name, p, r, f, s in zip(names, precision, recall, f1, support):
        lines.append(f"{name:>{width}}  {p:>9.{digits}f}  {r:>9.{digits}f}  {f:>9.{digits}f}  {s:>7d}")
    total = int(support.sum())
    lines.append("")
    lines.append(f"{'accuracy':>{width}}  {'':>9}  {'':>9}  {accuracy(y_true, y_pred):>9.{digits}f}  {total:>7d}")
    weights = support / max(total, 1)
    for label, average in (("macro avg", lambda v: v.mean()), ("weighted avg", lambda v: (v * weights).sum())):
        lines.append(f"{label:>{width}}  {average(precision):>9.{digits}f}  {average(recall):>9.{digits}f}  "
                     f"{average(f1):>9.{digits}f}  {total:>7d}")
    return "\n".join(lines)


def _regression_pair(y_true, y_pred):
    y_true, y_pred = np.asarray(y_true, dtype=np.float64), np.asarray(y_pred, dtype=np.float64)
    if y_true.size != y_pred.size or y_true.size == 0:
        raise ValueError(f"y_true and y_pred must be non-empty and of equal size, got {y_true.size} and {y_pred.size}")
    return y_true.reshape(y_pred.shape) if y_true.shape != y_pred.shape else y_true, y_pred


def mean_squared_error(y_true, y_pred) -> float:
    """Return the mean of (y_true - y_pred)² over all entries."""
    y_true, y_pred = _regression_pair(y_true, y_pred)
    return float(((y_true - y_pred) ** 2).mean())


def mean_absolute_error(y_true, y_pred) -> float:
    """Return the mean of |y_true - y_pred| over all entries."""
    y_true, y_pred = _regression_pair(y_true, y_pred)
    return float(np.abs(y_true - y_pred).mean())


def r2_score(y_true, y_pred) -> float:
    """Return R² = 1 - SS_res / SS_tot: 1 for a perfect fit, 0 for predicting the mean (averaged over outputs)."""
    y_true, y_pred = _regression_pair(y_true, y_pred)
    y_true, y_pred = y_true.reshape(len(y_true), -1), y_pred.reshape(len(y_pred), -1)
    residual = ((y_true - y_pred) ** 2).sum(axis=0)
    total = ((y_true - y_true.mean(axis=0)) ** 2).sum(axis=0)
    scores = np.where(total > 0, 1 - residual / np.where(total > 0, total, 1), np.where(residual == 0, 1.0, 0.0))
    return float(scores.mean())
