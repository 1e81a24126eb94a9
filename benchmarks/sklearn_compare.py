"""barenet.sklearn.MLPClassifier against scikit-learn's MLPClassifier, with the same settings.

Both get the same arguments (hidden_layer_sizes, solver adam, learning_rate_init, alpha,
batch_size, max_iter, tol, n_iter_no_change, random_state) on the same features in [0, 1], and
are timed fitting side by side, alternating, ``--rounds`` times; the test accuracy is measured
once (each run with one seed gives the same model every round). Data sets: the 8×8 digits (a
stratified quarter held out) and Fashion-MNIST (the official 60,000/10,000 split).

    python benchmarks/sklearn_compare.py          # writes benchmarks/results/sklearn_compare.json
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import warnings
from pathlib import Path

from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier as SklearnMLP

import barenet as bn
from barenet.sklearn import MLPClassifier as BarenetMLP

RESULTS = Path(__file__).with_name("results") / "sklearn_compare.json"
SETTINGS = {
    "digits": dict(hidden_layer_sizes=(256, 128), solver="adam", learning_rate_init=1e-3, alpha=1e-4,
                   batch_size=32, max_iter=100, tol=1e-4, n_iter_no_change=10, random_state=0),
    "fashion-mnist": dict(hidden_layer_sizes=(256, 128), solver="adam", learning_rate_init=1e-3, alpha=1e-4,
                          batch_size=128, max_iter=20, tol=1e-4, n_iter_no_change=10, random_state=0),
}


def data(name):
    if name == "digits":
        X, y = bn.datasets.load_digits()
        return train_test_split(X, y, test_size=0.25, stratify=y, random_state=0)
    (X, y), (X_test, y_test) = bn.datasets.load_fashion_mnist(download=False)
    return X, X_test, y, y_test


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    results = {}
    for name, settings in SETTINGS.items():
        X, X_test, y, y_test = data(name)
        systems = (("barenet", BarenetMLP, "float64"), ("scikit-learn", SklearnMLP, "float64"),
                   ("barenet, float32", BarenetMLP, "float32"))  # both follow the features' dtype
        times = {system: [] for system, _, _ in systems}
        accuracy, epochs = {}, {}
        for round_ in range(args.rounds):
            for system, kind, dtype in systems:
                model = kind(**settings)
                started = time.perf_counter()
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", ConvergenceWarning)
                    model.fit(X.astype(dtype), y)
                times[system].append(time.perf_counter() - started)
                if round_ == 0:
                    accuracy[system], epochs[system] = model.score(X_test.astype(dtype), y_test), model.n_iter_
        results[name] = {"settings": {k: list(v) if isinstance(v, tuple) else v for k, v in settings.items()},
                         "train": len(X), "test": len(X_test), "accuracy": accuracy, "epochs": epochs,
                         "fit_s": {k: statistics.median(v) for k, v in times.items()}, "fit_s_rounds": times}
        r = results[name]
        print(f"{name}: {len(X):,} training, {len(X_test):,} test samples")
        for system in times:
            print(f"  {system:16s} test accuracy {r['accuracy'][system]:.2%}, {r['epochs'][system]} epochs, "
                  f"fit {r['fit_s'][system]:.1f} s (rounds {[round(t, 1) for t in times[system]]})")
        print(f"  scikit-learn ÷ barenet fit time: {r['fit_s']['scikit-learn'] / r['fit_s']['barenet']:.2f}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
