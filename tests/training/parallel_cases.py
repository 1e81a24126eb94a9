"""Training set-ups that data-parallel training must reproduce exactly; run under mpiexec by
test_parallel.py (``mpiexec -n K python parallel_cases.py OUT``), and in one process by the test
itself, which compares the weights and histories.

Each case returns (model, fit arguments); the data sets leave uneven last batches, some smaller
than the number of processes."""
import sys
from pathlib import Path

import numpy as np

import barenet as bn


def _clusters(n, seed=0):
    X, y = bn.datasets.make_clusters(n, seed=seed)
    return X, y


def sgd_momentum_float64():
    X, y = _clusters(193)  # batch 32: the last batch has 1 sample, fewer than the processes
    model = bn.Sequential(bn.Dense(2, 16), bn.Tanh(), bn.Dense(16, 3), seed=1, dtype="float64")
    return model, dict(X=X, y=y, loss=bn.CrossEntropy(), optimizer=bn.SGD(0.1, momentum=0.9, nesterov=True),
                       epochs=3, batch_size=32)


def adam_dropout_weights_float64():
    X, y = _clusters(250)
    weights = np.random.default_rng(5).uniform(0.2, 3.0, len(X))
    model = bn.Sequential(bn.Standardizer().fit(X), bn.Dense(2, 32), bn.ReLU(), bn.Dropout(0.3),
                          bn.Dense(32, 3), seed=2, dtype="float64")
    return model, dict(X=X, y=y, loss=bn.CrossEntropy(0.1), sample_weight=weights, epochs=3, batch_size=48,
                       optimizer=bn.Adam(bn.schedules.CosineDecay(0.01, epochs=3), clip_norm=1.0))


def rmsprop_centered_float64():
    X, y = _clusters(170)
    model = bn.Sequential(bn.Dense(2, 12), bn.GELU(), bn.Dense(12, 3), seed=3, dtype="float64")
    return model, dict(X=X, y=y, loss=bn.CrossEntropy(), optimizer=bn.RMSProp(0.01, centered=True, momentum=0.5),
                       epochs=2, batch_size=25)


def adamw_regression_float64():
    rng = np.random.default_rng(4)
    X = rng.normal(size=(157, 5))
    y = np.sin(X @ rng.normal(size=(5, 2)))
    model = bn.Sequential(bn.Dense(5, 20), bn.LeakyReLU(0.1), bn.Dense(20, 2), seed=4, dtype="float64")
    return model, dict(X=X, y=y, loss=bn.MSE(), optimizer=bn.AdamW(0.01, weight_decay=0.05), epochs=3,
                       batch_size=20)


def augmented_digits_float64():
    X, y = bn.datasets.load_digits()
    X, y = X[:300], y[:300]
    model = bn.Sequential(bn.RandomAffine((8, 8), shift=1, rotation=10, scale=0.1, elastic_alpha=2.0),
                          bn.Dense(64, 32), bn.ReLU(), bn.Dropout(0.2), bn.Dense(32, 10), seed=5, dtype="float64")
    return model, dict(X=X, y=y, loss=bn.CrossEntropy(), optimizer=bn.Adam(3e-3), epochs=2, batch_size=64)


def early_stopping_validation_float64():
    X, y = _clusters(300, seed=2)
    model = bn.Sequential(bn.Dense(2, 16), bn.ReLU(), bn.Dense(16, 3), seed=6, dtype="float64")
    return model, dict(X=X, y=y, loss=bn.CrossEntropy(), optimizer=bn.SGD(0.5), epochs=6, batch_size=40,
                       validation_split=0.2, full_train_metrics=True,
                       callbacks=[bn.callbacks.EarlyStopping(patience=1, min_delta=0.05, restore_best_weights=True)])


def adam_dropout_float32():
    X, y = _clusters(230)
    model = bn.Sequential(bn.Dense(2, 32), bn.ReLU(), bn.Dropout(0.2), bn.Dense(32, 3), seed=7)
    return model, dict(X=X.astype(np.float32), y=y, loss=bn.CrossEntropy(), optimizer=bn.Adam(1e-2), epochs=2,
                       batch_size=64)


def convolution_digits_float64():
    X, y = bn.datasets.load_digits()
    X, y = X[:193], y[:193]  # batch 32: a last batch of 1, so some processes run an empty batch through Flatten
    model = bn.Sequential(bn.Reshape((1, 8, 8)), bn.Conv2D(1, 4, 3, padding=1), bn.ReLU(), bn.MaxPool2D(2),
                          bn.Dropout(0.1), bn.Flatten(), bn.Dense(64, 10), seed=8, dtype="float64")
    return model, dict(X=X, y=y, loss=bn.CrossEntropy(), optimizer=bn.Adam(3e-3), epochs=2, batch_size=32)


CASES = {f.__name__: f for f in [sgd_momentum_float64, adam_dropout_weights_float64, rmsprop_centered_float64,
                                  adamw_regression_float64, augmented_digits_float64,
                                  early_stopping_validation_float64, adam_dropout_float32,
                                  convolution_digits_float64]}


def train(name, parallel=None):
    model, arguments = CASES[name]()
    model.fit(arguments.pop("X"), arguments.pop("y"), verbose=0, parallel=parallel, **arguments)
    return model


def main(out):
    from mpi4py import MPI
    rank = MPI.COMM_WORLD.Get_rank()
    for name in CASES:
        model = train(name, "mpi")
        if rank == 0:
            model.save(Path(out) / f"{name}.npz")


if __name__ == "__main__":
    main(sys.argv[1])
