"""barenet.sklearn against scikit-learn's MLP, combination by combination: test scores and fit
times side by side.

Each combination of parameters both libraries take (``CASES``: solvers, schedules, activations,
alpha, early stopping, warm start, partial fit, sparse input) runs on each data set of its kind
(``DATASETS``: digits, breast cancer, a multilabel set, make_regression, diabetes, Poisson
counts). For each seed, both fit the same training split with the same arguments and
``random_state``, one after the other in alternating order (so that the machine's load falls on
both alike), and the test score (accuracy, subset accuracy for multilabel targets, R²) and the
fit time are recorded. Fit times are medians over the seeds, with their ratio. The one-epoch
weight check of tests/integrations/test_sklearn_parity.py is repeated on each data set.

    python benchmarks/sklearn_parity.py           # prints the table, writes results/sklearn_parity.json
    python benchmarks/sklearn_parity.py --seeds 1 # a quick look
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy import sparse
from sklearn import datasets, neural_network
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from barenet import get_backend
from barenet import sklearn as barenet_sklearn

RESULTS = Path(__file__).with_name("results") / "sklearn_parity.json"
LIBRARIES = {"barenet": barenet_sklearn, "scikit-learn": neural_network}
COMMON = dict(hidden_layer_sizes=(64,), max_iter=60)


@dataclass
class Data:
    name: str
    kind: str  # "classes", "labels" (multilabel), "values" or "counts"
    X: np.ndarray
    y: np.ndarray

    @property
    def estimator(self):
        return "MLPClassifier" if self.kind in ("classes", "labels") else "MLPRegressor"

    def split(self, seed):
        stratify = self.y if self.kind == "classes" else None
        X_train, X_test, y_train, y_test = train_test_split(self.X, self.y, test_size=0.3, random_state=seed,
                                                            stratify=stratify)
        scaler = StandardScaler().fit(X_train)
        return scaler.transform(X_train), scaler.transform(X_test), y_train, y_test


def _datasets():
    rng = np.random.default_rng(0)
    digits, cancer, diabetes = datasets.load_digits(), datasets.load_breast_cancer(), datasets.load_diabetes()
    X_ml, Y_ml = datasets.make_multilabel_classification(1000, 20, n_classes=5, random_state=0)
    X_reg, y_reg = datasets.make_regression(1000, 20, n_informative=10, noise=10.0, random_state=0)
    X_counts = rng.normal(size=(1500, 10))
    counts = rng.poisson(np.exp(0.4 * X_counts[:, :4].sum(axis=1) - 0.5 * np.tanh(X_counts[:, 4] * X_counts[:, 5])))
    return [Data("digits", "classes", digits.data, digits.target),
            Data("breast cancer", "classes", cancer.data, cancer.target),
            Data("multilabel", "labels", X_ml, Y_ml),
            Data("make_regression", "values", X_reg, y_reg / y_reg.std()),
            Data("diabetes", "values", diabetes.data, diabetes.target / diabetes.target.std()),
            Data("poisson counts", "counts", X_counts, counts)]


def _fit(model, X, y):
    model.fit(X, y)


def _warm_start(model, X, y):
    model.set_params(warm_start=True, max_iter=model.max_iter // 2)
    model.fit(X, y).fit(X, y)


def _partial_fit(model, X, y):
    classes = np.unique(y) if y.ndim == 1 and isinstance(model, (neural_network.MLPClassifier,
                                                                  barenet_sklearn.MLPClassifier)) else None
    for _ in range(model.max_iter):
        if classes is None:
            model.partial_fit(X, y)
        else:
            model.partial_fit(X, y, classes=classes)


@dataclass
class Case:
    name: str
    kinds: tuple
    params: dict = field(default_factory=dict)
    fit: object = _fit
    sparse: bool = False


EVERY, SHAPES = ("classes", "labels", "values", "counts"), ("classes", "values")
CASES = [
    Case("adam, relu", EVERY),
    Case("sgd, nesterov", EVERY, dict(solver="sgd", learning_rate_init=0.01)),
    Case("sgd, plain momentum", SHAPES, dict(solver="sgd", nesterovs_momentum=False, learning_rate_init=0.01)),
    Case("sgd, invscaling", SHAPES, dict(solver="sgd", learning_rate="invscaling", learning_rate_init=0.2)),
    Case("sgd, adaptive", SHAPES, dict(solver="sgd", learning_rate="adaptive", learning_rate_init=0.05)),
    Case("lbfgs", EVERY, dict(solver="lbfgs", max_iter=100)),
    Case("tanh", SHAPES, dict(activation="tanh")),
    Case("logistic", ("classes", "labels"), dict(activation="logistic", learning_rate_init=0.01)),
    Case("identity", ("values",), dict(activation="identity")),
    Case("alpha=1", EVERY, dict(alpha=1.0)),
    Case("early stopping", EVERY, dict(early_stopping=True)),
    Case("warm start", SHAPES, fit=_warm_start),
    Case("partial_fit", SHAPES, fit=_partial_fit),
    Case("sparse input", ("classes", "labels"), sparse=True),
]
TOLERANCE = {"classes": 0.01, "labels": 0.01, "values": 0.02, "counts": 0.02}  # accuracy: 1 point; R²: 0.02


def run(library, case, data, split, seed):
    """(test score, fit seconds) of one library on one case, data set and seed."""
    X_train, X_test, y_train, y_test = split
    if case.sparse:
        X_train, X_test = sparse.csr_matrix(X_train), sparse.csr_matrix(X_test)
    extra = {"loss": "poisson"} if data.kind == "counts" else {}
    model = getattr(library, data.estimator)(**{**COMMON, **case.params, **extra, "random_state": seed})
    started = time.perf_counter()
    case.fit(model, X_train, y_train)
    return float(model.score(X_test, y_test)), time.perf_counter() - started


def compare(seeds=(0, 1, 2), report=None):
    """One row per case and data set: each library's scores and fit times over the seeds."""
    table = []
    warnings.simplefilter("ignore", ConvergenceWarning)
    for data in _datasets():
        splits = {seed: data.split(seed) for seed in seeds}
        run(barenet_sklearn, CASES[0], data, splits[seeds[0]], seeds[0])  # compile numba's loops before timing
        for case in (c for c in CASES if data.kind in c.kinds):
            row = {"dataset": data.name, "case": case.name, "tolerance": TOLERANCE[data.kind],
                   **{name: {"scores": [], "fit_s": []} for name in LIBRARIES}}
            for turn, seed in enumerate(seeds):
                order = list(LIBRARIES) if turn % 2 == 0 else list(LIBRARIES)[::-1]
                for name in order:
                    score, seconds = run(LIBRARIES[name], case, data, splits[seed], seed)
                    row[name]["scores"].append(score)
                    row[name]["fit_s"].append(seconds)
            for name in LIBRARIES:
                row[name]["mean"] = statistics.fmean(row[name]["scores"])
                row[name]["median_fit_s"] = statistics.median(row[name]["fit_s"])
            table.append(row)
            if report:
                report(row)
    return table


def one_epoch_difference(data):
    """The largest weight difference after one epoch of plain SGD from the same weights."""
    X_train, _, y_train, _ = data.split(0)
    args = dict(hidden_layer_sizes=(32,), solver="sgd", momentum=0.0, shuffle=False, alpha=0.1, max_iter=1,
                warm_start=True, random_state=0, **({"loss": "poisson"} if data.kind == "counts" else {}))
    models = [getattr(library, data.estimator)(**args).fit(X_train, y_train) for library in LIBRARIES.values()]
    start = [w.copy() for w in models[1].coefs_ + models[1].intercepts_]
    for model in models:
        layers = len(model.coefs_)
        model.coefs_, model.intercepts_ = [w.copy() for w in start[:layers]], [b.copy() for b in start[layers:]]
        model.fit(X_train, y_train)
    return max(float(np.abs(a - b).max()) for a, b in zip(models[0].coefs_ + models[0].intercepts_,
                                                          models[1].coefs_ + models[1].intercepts_))


def _print_row(row):
    mine, theirs = row["barenet"], row["scikit-learn"]
    print(f"{row['dataset']:16s} {row['case']:20s} {mine['mean']:8.4f} {theirs['mean']:8.4f} "
          f"{mine['median_fit_s']:8.2f} {theirs['median_fit_s']:8.2f} "
          f"{theirs['median_fit_s'] / mine['median_fit_s']:6.2f}", flush=True)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    print(f"{'data set':16s} {'case':20s} {'barenet':>8s} {'sklearn':>8s} {'bn fit s':>8s} {'sk fit s':>8s} "
          f"{'sk ÷ bn':>6s}")
    table = compare(seeds=tuple(range(args.seeds)), report=_print_row)
    checks = {data.name: one_epoch_difference(data) for data in _datasets()}
    print("one epoch of SGD from the same weights, largest weight difference: "
          + ", ".join(f"{name} {value:.1e}" for name, value in checks.items()))
    ratios = [row["scikit-learn"]["median_fit_s"] / row["barenet"]["median_fit_s"] for row in table]
    print(f"scikit-learn ÷ barenet fit time: median {statistics.median(ratios):.2f} over {len(table)} rows")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"machine": _machine(), "date": time.strftime("%Y-%m-%d"), "seeds": args.seeds,
                                    "common": {k: list(v) if isinstance(v, tuple) else v for k, v in COMMON.items()},
                                    "rows": table, "one_epoch_weight_difference": checks}, indent=1))
    return 0


def _machine() -> dict:
    import numba
    import scipy
    import sklearn
    from barenet.app.bench.report import processor

    return {"processor": processor(), "cores": os.cpu_count(), "python": platform.python_version(),
            "numpy": np.__version__, "scipy": scipy.__version__, "sklearn": sklearn.__version__,
            "numba": numba.__version__, "barenet backend": get_backend()}


if __name__ == "__main__":
    sys.exit(main())
