"""barenet.sklearn: estimators that pass scikit-learn's own checks, work in pipelines and grid
searches, and keep scikit-learn's names and meanings."""
import pickle
import re
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("sklearn")
from sklearn.base import clone  # noqa: E402
from sklearn.exceptions import ConvergenceWarning, NotFittedError  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

from barenet.sklearn import EXPECTED_FAILED_CHECKS, MLPClassifier, MLPRegressor  # noqa: E402

README = Path(__file__).resolve().parents[2] / "README.md"


@parametrize_with_checks([MLPClassifier(random_state=0), MLPRegressor(random_state=0)],
                         expected_failed_checks=lambda estimator: EXPECTED_FAILED_CHECKS)
@pytest.mark.slow
def test_scikit_learns_own_estimator_checks(estimator, check):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        check(estimator)


@pytest.mark.slow
def test_the_readme_pipeline_in_a_grid_search_runs():
    """The README's example, run as written."""
    text = README.read_text()
    block = next(b for b in re.findall(r"```python\n(.*?)```", text, re.S) if "GridSearchCV" in b)
    scope = {}
    exec(compile(block, "README.md", "exec"), scope)
    search = scope["search"]
    assert search.best_score_ > 0.9 and search.score(scope["X_test"], scope["y_test"]) > 0.9
    assert set(search.best_params_) == {"mlp__hidden_layer_sizes", "mlp__alpha"}


def _blobs(n=300, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    X = rng.normal(size=(n, 4)) + 3 * np.eye(3, 4)[y]
    return X, y


def test_string_labels_probabilities_and_scikit_learns_attribute_names():
    X, y = _blobs()
    labels = np.array(["cat", "dog", "emu"])[y]
    clf = MLPClassifier((16,), max_iter=30, learning_rate_init=0.01, random_state=0).fit(X, labels)
    assert list(clf.classes_) == ["cat", "dog", "emu"] and clf.n_features_in_ == 4
    proba = clf.predict_proba(X)
    assert proba.shape == (300, 3) and np.allclose(proba.sum(axis=1), 1)
    assert set(clf.predict(X)) <= set(clf.classes_) and clf.score(X, labels) > 0.9
    assert clf.n_iter_ == len(clf.loss_curve_) <= 30 and clf.t_ == 300 * clf.n_iter_
    assert clf.loss_curve_[-1] < clf.loss_curve_[0] and clf.validation_scores_ is None


def test_random_state_gives_identical_runs_and_another_gives_another():
    X, y = _blobs()
    a = MLPClassifier((8,), max_iter=5, random_state=3).fit(X, y).predict_proba(X)
    b = MLPClassifier((8,), max_iter=5, random_state=3).fit(X, y).predict_proba(X)
    c = MLPClassifier((8,), max_iter=5, random_state=4).fit(X, y).predict_proba(X)
    assert np.array_equal(a, b) and not np.allclose(a, c)


def test_warm_start_and_partial_fit_continue_where_they_were():
    X, y = _blobs()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ten = MLPClassifier((8,), max_iter=10, random_state=0, n_iter_no_change=100).fit(X, y)
        warm = MLPClassifier((8,), max_iter=5, random_state=0, warm_start=True, n_iter_no_change=100).fit(X, y)
        warm.fit(X, y)
    assert warm.n_iter_ == 10
    np.testing.assert_allclose(warm.predict_proba(X), ten.predict_proba(X), rtol=1e-10)
    parts = MLPClassifier((8,), random_state=0)
    with pytest.raises(ValueError, match="classes must be given"):
        parts.partial_fit(X[:10], y[:10])
    parts.partial_fit(X[:100], y[:100], classes=[0, 1, 2])
    parts.partial_fit(X[100:], y[100:])
    assert parts.n_iter_ == 2 and parts.t_ == 300 and list(parts.classes_) == [0, 1, 2]
    with pytest.raises(ValueError, match="X has 3 features"):
        parts.partial_fit(X[:, :3], y)


def test_early_stopping_keeps_the_best_epoch_and_records_validation_scores():
    X, y = _blobs(600)
    clf = MLPClassifier((16,), early_stopping=True, validation_fraction=0.2, n_iter_no_change=3, max_iter=200,
                        random_state=0).fit(X, y)
    assert len(clf.validation_scores_) == clf.n_iter_ < 200
    assert clf.best_validation_score_ == max(clf.validation_scores_)


def test_sample_weight_of_zero_ignores_a_sample_and_only_the_penalty_sees_the_weights_scale():
    """As in scikit-learn, the loss is Σ w·l / Σ w (scaling every weight changes nothing) and the
    penalty alpha/2·|W|² / Σ w (a weight of 2 counts a sample twice: scaling weights weakens it)."""
    X, y = _blobs(200)
    flipped = y.copy()
    flipped[:40] = (flipped[:40] + 1) % 3  # wrong labels, weighted out
    weights = np.r_[np.zeros(40), np.ones(160)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        a = MLPClassifier((8,), max_iter=100, learning_rate_init=0.01, alpha=0.0, random_state=0).fit(
            X, flipped, sample_weight=weights)
        b = MLPClassifier((8,), max_iter=100, learning_rate_init=0.01, alpha=0.0, random_state=0).fit(
            X, flipped, sample_weight=5 * weights)
        c = MLPClassifier((8,), max_iter=100, learning_rate_init=0.01, alpha=1.0, random_state=0).fit(
            X, flipped, sample_weight=weights)
        d = MLPClassifier((8,), max_iter=100, learning_rate_init=0.01, alpha=1.0, random_state=0).fit(
            X, flipped, sample_weight=5 * weights)
    assert a.score(X[:40], y[:40]) > 0.8  # it learnt the true classes of the down-weighted samples
    np.testing.assert_allclose(a.predict_proba(X), b.predict_proba(X), rtol=1e-6)
    assert not np.allclose(c.predict_proba(X), d.predict_proba(X), rtol=1e-6)


def test_barenets_own_options_reach_the_model():
    X, y = _blobs()
    clf = MLPClassifier((16, 8), activation="gelu", solver="adamw", dropout=0.2, label_smoothing=0.1,
                        schedule="cosine", clip_norm=1.0, max_iter=3, random_state=0, backend="numpy")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)
    kinds = [type(layer).__name__ for layer in clf.model_.layers]
    assert kinds == ["Dense", "GELU", "Dropout", "Dense", "GELU", "Dropout", "Dense"]
    assert type(clf.model_.optimizer).__name__ == "AdamW" and clf.model_.loss.label_smoothing == 0.1
    assert clf.model_.optimizer.clip_norm == 1.0


@pytest.mark.parametrize("argument, value, message", [
    ("solver", "lbfgs", "barenet trains by minibatches"), ("activation", "swish", "activation must be one of"),
    ("hidden_layer_sizes", (10, 0), "hidden_layer_sizes must be positive"), ("alpha", -1.0, "alpha must be"),
    ("max_iter", 0, "max_iter must be a positive integer"), ("batch_size", 0, "batch_size must be"),
    ("validation_fraction", 1.0, "validation_fraction must be in"), ("dropout", 1.0, "dropout must be below 1"),
])
def test_bad_arguments_are_refused_by_fit_naming_the_argument(argument, value, message):
    X, y = _blobs(50)
    estimator = MLPClassifier(**{argument: value})
    assert estimator.get_params()[argument] == value  # stored as given, checked by fit
    with pytest.raises(ValueError, match=message):
        estimator.fit(X, y)


def test_regressor_one_or_several_outputs_pickle_and_clone():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 3))
    Y = np.c_[X @ [1.0, -2.0, 0.5], np.sin(X[:, 0])]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        one = MLPRegressor((32,), max_iter=200, learning_rate_init=0.01, random_state=0).fit(X, Y[:, 0])
        two = MLPRegressor((32,), max_iter=200, learning_rate_init=0.01, random_state=0).fit(X, Y)
    assert one.predict(X).shape == (300,) and two.predict(X).shape == (300, 2)
    assert one.score(X, Y[:, 0]) > 0.9 and two.score(X, Y) > 0.8
    again = pickle.loads(pickle.dumps(two))
    assert np.array_equal(again.predict(X), two.predict(X))
    fresh = clone(two)
    assert fresh.get_params() == two.get_params()
    with pytest.raises(NotFittedError):
        fresh.predict(X)


def test_the_core_does_not_import_scikit_learn():
    code = ("import sys, barenet as bn; X, y = bn.datasets.make_clusters(50, seed=0); "
            "bn.Sequential(bn.Dense(2, 3), seed=0).fit(X, y, loss='cross_entropy', verbose=0); "
            "print('sklearn' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == "False", out.stderr
