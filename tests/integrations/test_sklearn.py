"""barenet.sklearn: estimators that pass scikit-learn's own checks, take every parameter of
scikit-learn's MLP with its meaning, and hold what scikit-learn's hold."""
import inspect
import pickle
import re
import subprocess
import sys
import warnings

import numpy as np
import pytest

pytest.importorskip("sklearn")
from sklearn import neural_network  # noqa: E402
from sklearn.base import clone  # noqa: E402
from sklearn.exceptions import ConvergenceWarning, NotFittedError  # noqa: E402
from sklearn.utils._param_validation import InvalidParameterError  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

from barenet.core import checks  # noqa: E402
from barenet.sklearn import EXPECTED_FAILED_CHECKS, MLPClassifier, MLPRegressor  # noqa: E402
from barenet.training.settings import SETTINGS  # noqa: E402

PAIRS = [(MLPClassifier, neural_network.MLPClassifier), (MLPRegressor, neural_network.MLPRegressor)]
OWN = {"dropout", "label_smoothing", "schedule", "clip_norm", "backend"}


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        yield


@parametrize_with_checks([MLPClassifier(random_state=0), MLPRegressor(random_state=0)],
                         expected_failed_checks=lambda estimator: EXPECTED_FAILED_CHECKS)
@pytest.mark.slow
def test_scikit_learns_own_estimator_checks(estimator, check):
    check(estimator)


@pytest.mark.slow
def test_a_pipeline_in_a_grid_search_with_two_workers_and_a_joblib_round_trip():
    import io

    import joblib
    from sklearn.datasets import load_digits
    from sklearn.model_selection import GridSearchCV, train_test_split
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, stratify=y, random_state=0)
    pipeline = Pipeline([("scale", StandardScaler()), ("mlp", MLPClassifier(max_iter=30, random_state=0))])
    search = GridSearchCV(pipeline, {"mlp__hidden_layer_sizes": [(32,), (64, 32)], "mlp__alpha": [1e-4, 1e-2]},
                          cv=3, n_jobs=2).fit(X_train, y_train)
    assert search.best_score_ > 0.9 and search.score(X_test, y_test) > 0.9
    assert set(search.best_params_) == {"mlp__hidden_layer_sizes", "mlp__alpha"}
    buffer = io.BytesIO()
    joblib.dump(search.best_estimator_, buffer)
    buffer.seek(0)
    np.testing.assert_array_equal(joblib.load(buffer).predict_proba(X_test), search.predict_proba(X_test))


def _blobs(n=300, seed=0, classes=3):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, classes, n)
    X = rng.normal(size=(n, 4)) + 3 * np.eye(classes, 4)[y]
    return X, y


# -- the parameters -----------------------------------------------------------------------------

@pytest.mark.parametrize("ours, theirs", PAIRS, ids=["classifier", "regressor"])
def test_every_scikit_learn_parameter_in_its_order_with_its_default_then_barenets_keyword_only(ours, theirs):
    mine = list(inspect.signature(ours).parameters.values())
    their = list(inspect.signature(theirs).parameters.values())
    assert [(p.name, p.default, p.kind) for p in mine[:len(their)]] == [(p.name, p.default, p.kind) for p in their]
    extras = mine[len(their):]
    assert {p.name for p in extras} <= OWN and all(p.kind is p.KEYWORD_ONLY for p in extras)


@pytest.mark.parametrize("ours, theirs", PAIRS, ids=["classifier", "regressor"])
def test_constraints_come_from_barenets_settings_where_shared_and_from_scikit_learn_otherwise(ours, theirs):
    constraints = ours._parameter_constraints
    assert set(constraints) == set(inspect.signature(ours).parameters)
    for name in ("alpha", "tol", "power_t", "beta_1", "epsilon", "n_iter_no_change", "max_fun", "learning_rate"):
        assert constraints[name] is theirs._parameter_constraints[name]
    lr = constraints["learning_rate_init"][0]  # the "lr" setting: (0, MAX_LR]
    assert (lr.left, lr.right, lr.closed) == (0, SETTINGS["lr"].check.high, "right")
    with pytest.raises(InvalidParameterError, match="'learning_rate_init' parameter .* range \\(0.0, 10.0\\]"):
        ours(learning_rate_init=20.0).fit(*_blobs(20))
    assert constraints["clip_norm"][-1] is None  # a setting whose default is None takes None


def test_the_conversion_of_each_kind_of_declared_constraint():
    from barenet.integrations.sklearn.params import from_setting
    real = from_setting(checks.Real(0, 1, closed="left"))[0]
    assert (real.left, real.right, real.closed) == (0, 1, "left")
    assert from_setting(checks.Real(0))[0].right is None
    whole = from_setting(checks.Integer(1))[0]
    assert (whole.left, whole.right, whole.closed) == (1, None, "left")
    assert from_setting(checks.Options("a", "b", None))[0].options == {"a", "b"}
    assert from_setting(checks.Options("a") | checks.Integer(1, 4))[1].right == 4
    assert from_setting(checks.Boolean()) == ["boolean"] and from_setting(checks.Widths())[0] == "array-like"


@pytest.mark.parametrize("argument, value, message", [
    ("solver", "lbfgsx", "'solver' parameter"), ("activation", "swish", "'activation' parameter"),
    ("hidden_layer_sizes", (10, 0), "hidden_layer_sizes must be comma-separated positive"),
    ("alpha", -1.0, "'alpha' parameter"), ("max_iter", 0, "'max_iter' parameter"),
    ("batch_size", 0, "'batch_size' parameter"), ("validation_fraction", 1.0, "'validation_fraction' parameter"),
    ("dropout", 1.0, "'dropout' parameter"), ("learning_rate", "cosine", "'learning_rate' parameter"),
])
def test_bad_arguments_are_refused_by_fit_naming_the_argument(argument, value, message):
    estimator = MLPClassifier(**{argument: value})
    assert estimator.get_params()[argument] == value  # stored as given, checked by fit
    with pytest.raises(ValueError, match=message):
        estimator.fit(*_blobs(50))


def test_barenets_schedule_and_scikit_learns_learning_rate_cannot_both_move_the_rate():
    with pytest.raises(ValueError, match="keep one of them 'constant'"):
        MLPClassifier(solver="sgd", learning_rate="invscaling", schedule="cosine").fit(*_blobs(50))


# -- what a fit leaves -------------------------------------------------------------------------

def _shapes(model):
    names = ["n_layers_", "n_outputs_", "out_activation_", "n_features_in_", "n_iter_", "t_"]
    return ({name: getattr(model, name) for name in names}, [c.shape for c in model.coefs_],
            [b.shape for b in model.intercepts_], len(model.loss_curve_), model.best_loss_ is None,
            model.validation_scores_ is None, type(model.loss_))


@pytest.mark.parametrize("task", ["multiclass", "binary", "multilabel", "regression", "poisson"])
def test_fitted_attributes_have_scikit_learns_names_values_kinds_and_shapes(task):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 5))
    y = {"multiclass": rng.integers(0, 3, 60), "binary": rng.integers(0, 2, 60),
         "multilabel": rng.integers(0, 2, (60, 4)), "regression": rng.normal(size=(60, 2)),
         "poisson": rng.poisson(2.0, 60)}[task]
    ours, theirs = PAIRS[0] if task in ("multiclass", "binary", "multilabel") else PAIRS[1]
    args = dict(hidden_layer_sizes=(7, 6), max_iter=3, shuffle=False, random_state=0)
    if task == "poisson":
        args["loss"] = "poisson"
    mine, their = ours(**args).fit(X, y), theirs(**args).fit(X, y)
    assert _shapes(mine) == _shapes(their)
    assert all(c.dtype == np.float64 for c in mine.coefs_ + mine.intercepts_)
    if ours is MLPClassifier:
        np.testing.assert_array_equal(mine.classes_, their.classes_)
        assert mine.predict_proba(X).shape == their.predict_proba(X).shape
    assert mine.predict(X).shape == their.predict(X).shape


def test_lbfgs_leaves_what_scikit_learns_lbfgs_leaves_and_no_stochastic_records():
    X, y = _blobs(80)
    mine = MLPClassifier((6,), solver="lbfgs", max_iter=15, random_state=0).fit(X, y)
    their = neural_network.MLPClassifier((6,), solver="lbfgs", max_iter=15, random_state=0).fit(X, y)
    for name in ("loss_curve_", "best_loss_", "validation_scores_"):
        assert hasattr(mine, name) == hasattr(their, name) is False
    assert 0 < mine.n_iter_ <= 15 and mine.t_ == 0 and np.isfinite(mine.loss_)
    assert not hasattr(mine, "partial_fit") and not hasattr(their, "partial_fit")
    with pytest.warns(ConvergenceWarning, match="lbfgs failed to converge"):
        warnings.simplefilter("always", ConvergenceWarning)
        MLPClassifier((6,), solver="lbfgs", max_iter=2, random_state=0).fit(X, y)


def test_early_stopping_leaves_best_loss_none_and_keeps_the_best_epoch():
    X, y = _blobs(600)
    clf = MLPClassifier((16,), early_stopping=True, validation_fraction=0.2, n_iter_no_change=3, max_iter=200,
                        random_state=0).fit(X, y)
    assert clf.best_loss_ is None and len(clf.validation_scores_) == clf.n_iter_ < 200
    assert clf.best_validation_score_ == max(clf.validation_scores_)


def test_the_validation_score_weighs_the_held_out_samples():
    """Each sample twice: with its label (weight 1) and with a wrong one (weight 0). Unweighted,
    half the held-out samples would be wrong whatever the model; weighted, none need be."""
    X, y = _blobs(400)
    clf = MLPClassifier((16,), early_stopping=True, validation_fraction=0.3, learning_rate_init=0.01,
                        random_state=0).fit(np.vstack([X, X]), np.r_[y, (y + 1) % 3],
                                            sample_weight=np.r_[np.ones(400), np.zeros(400)])
    assert clf.best_validation_score_ > 0.9


def test_a_batch_larger_than_the_data_is_clipped_with_scikit_learns_warning():
    with pytest.warns(UserWarning, match="larger than sample size. It is going to be clipped"):
        MLPClassifier((4,), batch_size=500, max_iter=1).fit(*_blobs(50))


def test_verbose_prints_scikit_learns_lines(capsys):
    MLPClassifier((4,), max_iter=2, verbose=True, early_stopping=True, random_state=0).fit(*_blobs(60))
    out = capsys.readouterr().out
    assert re.search(r"Iteration 1, loss = \d+\.\d{8}\nValidation score: \d\.\d{6}\nIteration 2", out)


# -- outputs --------------------------------------------------------------------------------------

def test_one_logistic_output_for_two_classes_and_one_per_label_for_multilabel_targets():
    X, y = _blobs(200, classes=2)
    binary = MLPClassifier((8,), max_iter=100, learning_rate_init=0.01, random_state=0).fit(X, y)
    assert binary.out_activation_ == "logistic" and binary.coefs_[-1].shape == (8, 1)
    proba = binary.predict_proba(X)
    assert proba.shape == (200, 2) and np.allclose(proba.sum(axis=1), 1) and binary.score(X, y) > 0.9
    Y = np.c_[y, 1 - y, X[:, 0] > 0]
    multilabel = MLPClassifier((8,), max_iter=100, learning_rate_init=0.01, random_state=0).fit(X, Y)
    assert multilabel.out_activation_ == "logistic" and multilabel.coefs_[-1].shape == (8, 3)
    assert multilabel.predict(X).shape == (200, 3) and multilabel.predict_proba(X).shape == (200, 3)
    assert list(multilabel.classes_) == [0, 1, 2] and multilabel.score(X, Y) > 0.8
    multiclass = MLPClassifier((8,), max_iter=2, random_state=0).fit(*_blobs(60))
    assert multiclass.out_activation_ == "softmax" and multiclass.coefs_[-1].shape == (8, 3)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_probabilities_come_in_the_inputs_dtype(dtype):
    X, y = _blobs(60)
    clf = MLPClassifier((4,), max_iter=2, random_state=0).fit(X.astype(dtype), y)
    assert clf.predict_proba(X.astype(dtype)).dtype == dtype and clf.coefs_[0].dtype == dtype
    assert clf.predict_proba(X.astype(np.float64)).dtype == np.float64  # as NumPy promotes, as scikit-learn


def test_log_probabilities_are_minus_infinity_where_a_probability_is_zero_as_in_scikit_learn():
    X, y = _blobs(40, classes=2)
    mine = MLPClassifier((3,), max_iter=1, random_state=0).fit(X, y)
    their = neural_network.MLPClassifier((3,), max_iter=1, random_state=0).fit(X, y)
    for model in (mine, their):
        model.coefs_ = [np.ones((4, 3)), np.ones((3, 1))]
        model.intercepts_ = [np.zeros(3), np.full(1, 800.0)]
    logs = mine.predict_log_proba(X)
    assert np.isneginf(logs[:, 0]).all() and (logs[:, 1] == 0).all()
    with np.errstate(divide="ignore"):  # scikit-learn's np.log(0) warns
        np.testing.assert_array_equal(logs, their.predict_log_proba(X))


def test_weights_assigned_to_coefs_go_into_the_network_and_in_place_changes_too():
    X, y = _blobs(60)
    clf = MLPClassifier((4,), max_iter=2, random_state=0).fit(X, y)
    clf.coefs_[0] = np.zeros((4, 4))
    clf.intercepts_[0][...] = 0.0
    hidden_free = clf.predict_proba(X)
    assert np.allclose(hidden_free, hidden_free[0])  # every sample the same: no signal passes the first layer
    with pytest.raises(ValueError, match=r"coefs_\[1\] has shape \(2, 2\)"):
        clf.coefs_[1] = np.zeros((2, 2))
        clf.predict(X)


def test_regressor_one_or_several_outputs_and_the_poisson_loss():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 3))
    Y = np.c_[X @ [1.0, -2.0, 0.5], np.sin(X[:, 0])]
    one = MLPRegressor(hidden_layer_sizes=(32,), max_iter=200, learning_rate_init=0.01, random_state=0).fit(X, Y[:, 0])
    two = MLPRegressor(hidden_layer_sizes=(32,), max_iter=200, learning_rate_init=0.01, random_state=0).fit(X, Y)
    assert one.predict(X).shape == (300,) and two.predict(X).shape == (300, 2)
    assert one.score(X, Y[:, 0]) > 0.9 and two.score(X, Y) > 0.8
    counts = rng.poisson(np.exp(0.8 * X[:, 0]))
    poisson = MLPRegressor("poisson", (16,), max_iter=100, learning_rate_init=0.01, random_state=0).fit(X, counts)
    assert poisson.out_activation_ == "exp" and (poisson.predict(X) > 0).all() and poisson.score(X, counts) > 0.3
    with pytest.raises(ValueError, match="non-negative"):
        MLPRegressor("poisson", max_iter=1).fit(X, -np.abs(Y[:, 0]))


def test_a_linear_network_pays_the_penalty_on_its_weights_and_not_its_bias():
    """The issue's case: no hidden layer, y = 30 + x₀, alpha = 400: scikit-learn's bias stays
    near 30 (the penalty spares it) and the weight shrinks as scikit-learn's does."""
    X = np.random.default_rng(0).normal(size=(200, 2))
    args = dict(hidden_layer_sizes=(), activation="identity", alpha=400.0, solver="lbfgs", max_iter=500,
                random_state=0)
    mine = MLPRegressor(**args).fit(X, 30 + X[:, 0])
    their = neural_network.MLPRegressor(**args).fit(X, 30 + X[:, 0])
    assert mine.intercepts_[0][0] == pytest.approx(29.93, abs=0.01)
    np.testing.assert_allclose(mine.coefs_[0], their.coefs_[0], rtol=1e-6)


# -- fitting again: warm_start, partial_fit, set_params --------------------------------------------

def test_warm_start_takes_the_new_learning_rate():
    X, y = _blobs()
    clf = MLPClassifier((8,), max_iter=5, warm_start=True, random_state=0).fit(X, y)
    before = clf.predict_proba(X)
    clf.set_params(learning_rate_init=1e-12).fit(X, y)
    assert np.abs(clf.predict_proba(X) - before).max() < 1e-9


def test_warm_start_takes_the_new_solver_and_the_new_alpha():
    X, y = _blobs()
    clf = MLPClassifier((8,), max_iter=5, warm_start=True, random_state=0).fit(X, y)
    clf.set_params(solver="sgd").fit(X, y)
    assert type(clf.model_.optimizer).__name__ == "SGD"
    same = clone(clf).set_params(warm_start=False).fit(X, y)
    norm = np.linalg.norm(same.coefs_[0])
    same.set_params(warm_start=True, alpha=1e4, max_iter=20).fit(X, y)
    assert np.linalg.norm(same.coefs_[0]) < norm / 2  # the new penalty pulls the weights in


def test_barenets_schedule_starts_again_with_each_new_optimizer_and_goes_on_across_partial_fits():
    X, y = _blobs()
    clf = MLPClassifier((8,), schedule="cosine", max_iter=4, warm_start=True, random_state=0).fit(X, y)
    first = clf.model_.optimizer.learning_rate
    clf.fit(X, y)  # a new optimizer, on a cosine of its own over max_iter epochs, not past the first's end
    assert clf.model_.optimizer.progress == 3.5 and clf.model_.optimizer.learning_rate == first > 0  # 2 batches an epoch
    parts = MLPClassifier((8,), schedule="cosine", max_iter=2, random_state=0)
    rates = [parts.partial_fit(X, y, classes=[0, 1, 2]).model_.optimizer.learning_rate for _ in range(2)]
    assert rates[1] < rates[0] < 0.9 * parts.learning_rate_init


def test_n_iter_counts_the_epochs_of_the_last_fit_and_t_every_sample_seen():
    X, y = _blobs()
    clf = MLPClassifier((8,), max_iter=10, n_iter_no_change=100, warm_start=True, random_state=0).fit(X, y)
    clf.fit(X, y)
    assert clf.n_iter_ == 10 and clf.t_ == 20 * 300 and len(clf.loss_curve_) == 20
    parts = MLPClassifier((8,), random_state=0)
    parts.partial_fit(X[:100], y[:100], classes=[0, 1, 2])
    parts.partial_fit(X[100:], y[100:])
    assert parts.n_iter_ == 1 and parts.t_ == 300 and len(parts.loss_curve_) == 2


def test_fit_after_partial_fit_starts_again_with_the_classes_of_its_data():
    X, y = _blobs(classes=4)
    clf = MLPClassifier((8,), random_state=0).partial_fit(X, y, classes=[0, 1, 2, 3])
    two = y < 2
    clf.fit(X[two], y[two])
    assert list(clf.classes_) == [0, 1] and clf.predict_proba(X).shape == (300, 2)


def test_partial_fit_refuses_other_classes_unknown_labels_and_early_stopping():
    X, y = _blobs()
    clf = MLPClassifier((8,), random_state=0)
    with pytest.raises(ValueError, match="classes must be passed on the first call"):
        clf.partial_fit(X, y)
    clf.partial_fit(X, y, classes=[0, 1, 2])
    with pytest.raises(ValueError, match="is not the same as on last call to partial_fit"):
        clf.partial_fit(X, y, classes=[0, 1, 2, 3])
    with pytest.raises(ValueError, match="has classes not in"):
        clf.partial_fit(X, y + 1)
    with pytest.raises(ValueError, match="partial_fit does not support early_stopping=True"):
        MLPClassifier(early_stopping=True).partial_fit(X, y, classes=[0, 1, 2])
    with pytest.raises(ValueError, match="X has 3 features"):
        clf.partial_fit(X[:, :3], y)


def test_warm_start_refuses_new_classes_and_new_hidden_layers_but_takes_a_new_activation():
    X, y = _blobs()
    clf = MLPClassifier((8,), max_iter=3, warm_start=True, random_state=0).fit(X, y)
    with pytest.raises(ValueError, match="warm_start can only be used where `y` has the same classes"):
        clf.fit(X, y % 2)
    with pytest.raises(ValueError, match="differs from the fitted network's"):
        clf.set_params(hidden_layer_sizes=(9,)).fit(X, y)
    weights = clf.set_params(hidden_layer_sizes=(8,), max_iter=1, learning_rate_init=1e-12).coefs_[0].copy()
    clf.set_params(activation="tanh").fit(X, y)
    assert type(clf.model_.layers[1]).__name__ == "Tanh"
    np.testing.assert_allclose(clf.coefs_[0], weights, atol=1e-9)


def test_random_state_gives_identical_runs_and_another_gives_another():
    X, y = _blobs()
    a = MLPClassifier((8,), max_iter=5, random_state=3).fit(X, y).predict_proba(X)
    b = MLPClassifier((8,), max_iter=5, random_state=3).fit(X, y).predict_proba(X)
    c = MLPClassifier((8,), max_iter=5, random_state=4).fit(X, y).predict_proba(X)
    assert np.array_equal(a, b) and not np.allclose(a, c)


# -- data -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["csr_matrix", "csc_array"])
def test_sparse_input_trains_as_its_dense_twin(kind):
    sparse = pytest.importorskip("scipy.sparse")
    X, y = _blobs(120)
    X[np.abs(X) < 1.0] = 0.0
    args = dict(hidden_layer_sizes=(6,), max_iter=4, random_state=0, backend="numpy")
    dense = MLPClassifier(**args).fit(X, y)
    thin = MLPClassifier(**args).fit(getattr(sparse, kind)(X), y)
    np.testing.assert_allclose(thin.coefs_[0], dense.coefs_[0], rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(thin.predict_proba(sparse.csr_matrix(X)), dense.predict_proba(X), rtol=1e-12)
    lbfgs = MLPRegressor(hidden_layer_sizes=(4,), solver="lbfgs", max_iter=5, random_state=0).fit(sparse.csr_matrix(X), X[:, 0])
    np.testing.assert_allclose(lbfgs.predict(sparse.csr_matrix(X)), lbfgs.predict(X), rtol=1e-12)


def test_a_large_sparse_data_set_is_never_made_dense():
    """20,000 × 50,000 with 5 values a row: 8 GB dense, a few MB sparse. Fitting and predicting
    allocate a small fraction of the dense size (tracemalloc counts NumPy's arrays)."""
    import tracemalloc
    sparse = pytest.importorskip("scipy.sparse")
    rng = np.random.default_rng(0)
    rows, columns = 20_000, 50_000
    X = sparse.csr_matrix((rng.random(rows * 5), (np.repeat(np.arange(rows), 5), rng.integers(0, columns, rows * 5))),
                          shape=(rows, columns))
    y = (np.asarray(X[:, :25_000].sum(axis=1)).ravel() > np.asarray(X[:, 25_000:].sum(axis=1)).ravel()).astype(int)
    clf = MLPClassifier((8,), max_iter=1, random_state=0)
    tracemalloc.start()
    try:
        clf.fit(X, y)
        clf.predict(X)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < rows * columns * 8 / 100, f"{peak / 1e6:.0f} MB at the peak"


def test_string_labels_and_probabilities_in_the_order_of_classes():
    X, y = _blobs()
    labels = np.array(["cat", "dog", "emu"])[y]
    clf = MLPClassifier((16,), max_iter=30, learning_rate_init=0.01, random_state=0).fit(X, labels)
    assert list(clf.classes_) == ["cat", "dog", "emu"] and clf.n_features_in_ == 4
    proba = clf.predict_proba(X)
    assert proba.shape == (300, 3) and np.allclose(proba.sum(axis=1), 1)
    assert set(clf.predict(X)) <= set(clf.classes_) and clf.score(X, labels) > 0.9


def test_sample_weight_of_zero_ignores_a_sample_and_only_the_penalty_sees_the_weights_scale():
    """As in scikit-learn, the loss is Σ w·l / Σ w (scaling every weight changes nothing) and the
    penalty alpha/2·|W|² / Σ w (a weight of 2 counts a sample twice: scaling weights weakens it)."""
    X, y = _blobs(200)
    flipped = y.copy()
    flipped[:40] = (flipped[:40] + 1) % 3  # wrong labels, weighted out
    weights = np.r_[np.zeros(40), np.ones(160)]
    fits = {(alpha, scale): MLPClassifier((8,), max_iter=100, learning_rate_init=0.01, alpha=alpha, random_state=0)
            .fit(X, flipped, sample_weight=scale * weights) for alpha in (0.0, 1.0) for scale in (1, 5)}
    assert fits[0.0, 1].score(X[:40], y[:40]) > 0.8  # it learnt the true classes of the down-weighted samples
    np.testing.assert_allclose(fits[0.0, 1].predict_proba(X), fits[0.0, 5].predict_proba(X), rtol=1e-6)
    assert not np.allclose(fits[1.0, 1].predict_proba(X), fits[1.0, 5].predict_proba(X), rtol=1e-6)


def test_barenets_own_options_reach_the_model():
    X, y = _blobs()
    clf = MLPClassifier((16, 8), activation="gelu", solver="adamw", dropout=0.2, label_smoothing=0.1,
                        schedule="cosine", clip_norm=1.0, max_iter=3, random_state=0, backend="numpy").fit(X, y)
    kinds = [type(layer).__name__ for layer in clf.model_.layers]
    assert kinds == ["Dense", "GELU", "Dropout", "Dense", "GELU", "Dropout", "Dense"]
    optimizer = clf.model_.optimizer
    assert type(optimizer).__name__ == "AdamW" and optimizer.weight_decay == clf.alpha and optimizer.clip_norm == 1.0
    assert clf.model_.loss.label_smoothing == 0.1 and clf.model_.ops.name == "numpy"
    assert type(optimizer.lr).__name__ == "CosineDecay"
    with pytest.raises(ValueError, match="cannot train with dropout"):
        MLPClassifier(solver="lbfgs", dropout=0.1).fit(X, y)


@pytest.mark.parametrize("solver", ["adam", "sgd", "lbfgs"])
def test_on_a_device_backend_the_estimators_train_as_on_numpy(solver, monkeypatch):
    """The strict stand-in for CuPy (device arrays that refuse NumPy's) finds every place where
    host arrays would meet the network's: the initial weights, the targets, the penalty, lbfgs."""
    from sklearn.utils._param_validation import StrOptions
    monkeypatch.setattr(MLPClassifier, "_parameter_constraints",
                        {**MLPClassifier._parameter_constraints, "backend": [StrOptions({"numpy", "strict"})]})
    X, y = _blobs(120, classes=2)
    args = dict(hidden_layer_sizes=(5,), solver=solver, max_iter=3, alpha=0.5, early_stopping=solver == "sgd",
                random_state=0)
    device = MLPClassifier(**args, backend="strict").fit(X, y, sample_weight=np.arange(120) % 3)
    host = MLPClassifier(**args, backend="numpy").fit(X, y, sample_weight=np.arange(120) % 3)
    np.testing.assert_allclose(device.predict_proba(X), host.predict_proba(X), rtol=1e-12)


# -- what a pickle holds -------------------------------------------------------------------------------

def _rows_in(blob, X):
    return [i for i, row in enumerate(X) if row.tobytes() in blob or row.astype(np.float32).tobytes() in blob]


@pytest.mark.parametrize("solver", ["adam", "lbfgs"])
def test_pickles_hold_no_row_of_the_training_or_prediction_data(solver):
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(300, 6)), rng.integers(0, 3, 300)
    clf = MLPClassifier((5,), solver=solver, max_iter=3, random_state=0).fit(X, y)
    assert _rows_in(pickle.dumps(clf), X) == []
    X_new = rng.normal(size=(50, 6))
    clf.predict_proba(X_new)
    blob = pickle.dumps(clf)
    assert _rows_in(blob, X) == [] and _rows_in(blob, X_new) == []
    again = pickle.loads(blob)
    np.testing.assert_array_equal(again.predict_proba(X_new), clf.predict_proba(X_new))
    again.coefs_[0][...] = 0.0  # the attributes are the unpickled network's own weights again
    assert not np.allclose(again.predict_proba(X_new), clf.predict_proba(X_new))


def test_clone_gives_an_unfitted_copy_with_the_same_parameters():
    clf = MLPRegressor(hidden_layer_sizes=(4,), max_iter=2, dropout=0.1).fit(*_blobs(40))
    fresh = clone(clf)
    assert fresh.get_params() == clf.get_params()
    with pytest.raises(NotFittedError):
        fresh.predict(_blobs(40)[0])


def test_the_core_does_not_import_scikit_learn():
    code = ("import sys, barenet as bn; X, y = bn.datasets.make_clusters(50, seed=0); "
            "bn.Sequential(bn.Dense(2, 3), seed=0).fit(X, y, loss='cross_entropy', verbose=0); "
            "print('sklearn' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == "False", out.stderr
