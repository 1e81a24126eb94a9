"""Metrics agree with scikit-learn's, which the tutorials use."""
import numpy as np
import pytest

from barenet import metrics

sklearn_metrics = pytest.importorskip("sklearn.metrics")


@pytest.fixture
def labels(rng):
    y_true = rng.integers(0, 4, 300)
    y_pred = np.where(rng.random(300) < 0.7, y_true, rng.integers(0, 4, 300))
    return y_true, y_pred


def test_classification_metrics_match_scikit_learn(labels):
    y_true, y_pred = labels
    assert metrics.accuracy(y_true, y_pred) == sklearn_metrics.accuracy_score(y_true, y_pred)
    np.testing.assert_array_equal(metrics.confusion_matrix(y_true, y_pred), sklearn_metrics.confusion_matrix(y_true, y_pred))
    p, r, f, s = metrics.precision_recall_f1(y_true, y_pred)
    sp, sr, sf, ss = sklearn_metrics.precision_recall_fscore_support(y_true, y_pred, zero_division=0)
    np.testing.assert_allclose(p, sp)
    np.testing.assert_allclose(r, sr)
    np.testing.assert_allclose(f, sf)
    np.testing.assert_array_equal(s, ss)


def test_top_k_accuracy_matches_scikit_learn(rng):
    y_true = rng.integers(0, 5, 200)
    proba = rng.dirichlet(np.ones(5), 200)
    for k in (1, 2, 3):
        assert metrics.top_k_accuracy(y_true, proba, k) == pytest.approx(
            sklearn_metrics.top_k_accuracy_score(y_true, proba, k=k, labels=range(5)))


def test_classification_report_is_a_readable_table(labels):
    y_true, y_pred = labels
    report = metrics.classification_report(y_true, y_pred, class_names=["cat", "dog", "cow", "owl"])
    lines = report.splitlines()
    assert lines[0].split() == ["precision", "recall", "f1-score", "support"]
    assert lines[2].split()[0] == "cat" and lines[2].split()[-1] == str((y_true == 0).sum())
    assert any(l.split()[:1] == ["accuracy"] and float(l.split()[1]) == pytest.approx(
        metrics.accuracy(y_true, y_pred), abs=1e-4) for l in lines)
    macro = next(l for l in lines if l.strip().startswith("macro avg")).split()
    sk = sklearn_metrics.classification_report(y_true, y_pred, output_dict=True)["macro avg"]
    assert float(macro[4]) == pytest.approx(sk["f1-score"], abs=1e-4)


def test_classes_never_predicted_get_zero_precision_not_nan():
    p, r, f, s = metrics.precision_recall_f1([0, 1, 2], [0, 0, 0])
    assert np.isfinite(p).all() and p[1] == 0 and f[2] == 0


def test_regression_metrics_match_scikit_learn(rng):
    y, pred = rng.normal(size=100), rng.normal(size=100)
    assert metrics.mean_squared_error(y, pred) == pytest.approx(sklearn_metrics.mean_squared_error(y, pred))
    assert metrics.mean_absolute_error(y, pred) == pytest.approx(sklearn_metrics.mean_absolute_error(y, pred))
    assert metrics.r2_score(y, pred) == pytest.approx(sklearn_metrics.r2_score(y, pred))
    assert metrics.r2_score(y, y) == 1.0


def test_bad_metric_input_is_named():
    with pytest.raises(ValueError, match="same length"):
        metrics.accuracy([0, 1], [0])
    with pytest.raises(ValueError, match="k must be between"):
        metrics.top_k_accuracy([0], [[0.5, 0.5]], k=3)
