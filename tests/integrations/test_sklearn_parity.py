"""barenet.sklearn against scikit-learn itself.

Fast: from the same starting weights, one epoch of plain SGD gives scikit-learn's weights to
1e-10 in float64, for every loss, with the penalty and sample weights (the same objective and
update); and the same ``random_state`` gives scikit-learn's model, whatever the solver, schedule,
early stopping, warm start, partial fit, sparse or multilabel data (the same initialisation,
split and order of the samples too). Slow: test scores over 3 seeds for every combination of
benchmarks/sklearn_parity.py, on digits, breast cancer, a multilabel set and three regression
sets, within 1 point of accuracy or 0.02 of R².
"""
import runpy
import warnings
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("sklearn")
from sklearn import neural_network  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402

from barenet import sklearn as ours  # noqa: E402

PARITY = Path(__file__).resolve().parents[2] / "benchmarks" / "sklearn_parity.py"


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        yield


def _task(name):
    """(estimator name, X, y, sample_weight, extra arguments) of a small problem of each kind."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(250, 8))
    hidden = np.tanh(X @ rng.normal(size=(8, 3)))
    weights = rng.integers(0, 4, 250).astype(float)
    return {
        "multiclass": ("MLPClassifier", X, hidden.argmax(axis=1), weights, {}),
        "binary": ("MLPClassifier", X, (hidden[:, 0] > 0).astype(int), None, {}),
        "multilabel": ("MLPClassifier", X, (hidden > 0).astype(int), None, {}),
        "squared_error": ("MLPRegressor", X, hidden[:, :2] + 0.1 * rng.normal(size=(250, 2)), weights, {}),
        "poisson": ("MLPRegressor", X, rng.poisson(np.exp(hidden[:, 0])), None, {"loss": "poisson"}),
    }[name]


def _both(kind, **args):
    return getattr(neural_network, kind)(**args), getattr(ours, kind)(**args)


def _largest_difference(theirs, mine):
    return max(np.abs(a - b).max() for a, b in zip(theirs.coefs_ + theirs.intercepts_, mine.coefs_ + mine.intercepts_))


@pytest.mark.parametrize("task", ["multiclass", "binary", "multilabel", "squared_error", "poisson"])
def test_one_epoch_of_sgd_from_the_same_weights_gives_scikit_learns_weights(task):
    """solver="sgd", momentum=0, shuffle=False, no early stopping, a last batch shorter than the
    others, alpha > 0, sample weights where given: the weights scikit-learn starts from are
    copied into both, and one epoch later both hold the same weights and report the same loss."""
    kind, X, y, weight, extra = _task(task)
    args = dict(hidden_layer_sizes=(7, 5), activation="tanh", solver="sgd", momentum=0.0, shuffle=False,
                batch_size=64, alpha=0.3, learning_rate_init=0.05, max_iter=1, warm_start=True, random_state=1, **extra)
    theirs, mine = _both(kind, **args)
    theirs.fit(X, y), mine.fit(X, y)
    start = np.random.default_rng(2)
    coefs = [start.normal(scale=0.5, size=c.shape) for c in theirs.coefs_]
    intercepts = [start.normal(scale=0.5, size=b.shape) for b in theirs.intercepts_]
    for model in (theirs, mine):
        model.coefs_, model.intercepts_ = [c.copy() for c in coefs], [b.copy() for b in intercepts]
        model.fit(X, y, sample_weight=weight)
    moved = max(np.abs(a - b).max() for a, b in zip(theirs.coefs_ + theirs.intercepts_, coefs + intercepts))
    assert moved > 1e-2  # an epoch that changes the weights
    assert _largest_difference(theirs, mine) < 1e-10
    assert mine.loss_ == pytest.approx(theirs.loss_, rel=1e-10, abs=0)  # the penalty included


SAME_SEED = {
    "adam": ("multiclass", {}),
    "adam, beta and epsilon": ("binary", dict(beta_1=0.8, beta_2=0.99, epsilon=1e-4)),
    "sgd, nesterov": ("multiclass", dict(solver="sgd", learning_rate_init=0.05)),
    "sgd, plain momentum": ("squared_error", dict(solver="sgd", nesterovs_momentum=False, learning_rate_init=0.01)),
    "sgd, invscaling": ("binary", dict(solver="sgd", learning_rate="invscaling", learning_rate_init=0.5, power_t=0.3)),
    "sgd, adaptive": ("multiclass", dict(solver="sgd", learning_rate="adaptive", tol=0.05, n_iter_no_change=1)),
    "lbfgs": ("multilabel", dict(solver="lbfgs", max_iter=25)),
    "lbfgs, poisson": ("poisson", dict(solver="lbfgs", max_iter=25)),
    "lbfgs, max_fun": ("binary", dict(solver="lbfgs", max_iter=100, max_fun=7)),
    "no change forever": ("squared_error", dict(solver="sgd", tol=10.0, n_iter_no_change=np.inf)),
    "early stopping": ("multiclass", dict(early_stopping=True, validation_fraction=0.2, n_iter_no_change=2)),
    "early stopping, binary": ("binary", dict(early_stopping=True, learning_rate_init=0.01)),
    "logistic units": ("multilabel", dict(activation="logistic", learning_rate_init=0.01)),
    "identity, alpha": ("squared_error", dict(activation="identity", alpha=3.0)),
    "relu, poisson": ("poisson", dict(learning_rate_init=0.01)),
}


@pytest.mark.parametrize("case", SAME_SEED)
def test_the_same_random_state_gives_scikit_learns_model(case):
    """The same initialisation (Glorot's uniform, from random_state's draws), the same split for
    early stopping, the same order of the samples, the same updates: the same weights."""
    task, args = SAME_SEED[case]
    kind, X, y, weight, extra = _task(task)
    theirs, mine = _both(kind, **{"hidden_layer_sizes": (6,), "max_iter": 8, "random_state": 3, **extra, **args})
    theirs.fit(X, y), mine.fit(X, y)
    assert mine.n_iter_ == theirs.n_iter_
    assert _largest_difference(theirs, mine) < 1e-10
    if hasattr(theirs, "loss_curve_"):
        np.testing.assert_allclose(mine.loss_curve_, theirs.loss_curve_, rtol=1e-10)
        assert (mine.best_loss_ is None) == (theirs.best_loss_ is None)
        assert mine.validation_scores_ == theirs.validation_scores_


@pytest.mark.parametrize("how", ["warm_start", "warm_start after stopping", "partial_fit", "sparse"])
def test_fitting_again_or_in_parts_or_from_sparse_data_gives_scikit_learns_model(how):
    """A warm start takes up scikit-learn's count of epochs without progress where the last fit
    left it: after a fit that stopped, one more epoch without progress stops the next."""
    sparse = pytest.importorskip("scipy.sparse")
    kind, X, y, _, _ = _task("multiclass")
    theirs, mine = _both(kind, hidden_layer_sizes=(6,), max_iter=4, random_state=3, warm_start=how != "partial_fit")
    for model in (theirs, mine):
        if how == "warm_start":
            model.fit(X, y).set_params(learning_rate_init=0.01, alpha=0.5).fit(X, y)
        elif how == "warm_start after stopping":
            model.set_params(max_iter=50, tol=0.05, n_iter_no_change=2).fit(X, y).fit(X, y)
        elif how == "partial_fit":
            for part in range(5):
                model.partial_fit(X[part * 50:(part + 1) * 50], y[part * 50:(part + 1) * 50], classes=[0, 1, 2])
        else:
            X[np.abs(X) < 0.8] = 0.0
            model.fit(sparse.csr_matrix(X), y)
    assert _largest_difference(theirs, mine) < 1e-10
    assert (mine.n_iter_, mine.t_, len(mine.loss_curve_)) == (theirs.n_iter_, theirs.t_, len(theirs.loss_curve_))
    assert mine.best_loss_ == pytest.approx(theirs.best_loss_, rel=1e-10)


@pytest.mark.slow
def test_test_scores_match_scikit_learns_over_three_seeds_for_every_combination():
    parity = runpy.run_path(str(PARITY))
    table = parity["compare"](seeds=(0, 1, 2))
    far = [f"{row['dataset']} / {row['case']}: barenet {row['barenet']['mean']:.4f}, "
           f"scikit-learn {row['scikit-learn']['mean']:.4f}" for row in table
           if abs(row["barenet"]["mean"] - row["scikit-learn"]["mean"]) > row["tolerance"]]
    assert len(table) >= 40 and far == []
