"""The data sets a run can train on, by name, each with its test set and what it is.

Images (and their shape), points, or values to regress.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..training import datasets
from ..training.data import train_test_split
from ..training.datasets import DatasetNotFoundError, load_digits, load_mnist, make_clusters, make_regression

__all__ = ["Dataset", "DATASETS", "IMAGE_DATASETS", "IMAGE_SHAPES", "load_dataset", "default_dataset", "split_validation"]


@dataclass
class Dataset:
    """A data set as a run uses it: train and test parts, the task, and what describes it.

    Parameters
    ----------
    name : str
        One of ``DATASETS``.
    X_train, y_train, X_test, y_test : numpy.ndarray
        The parts.
    task : str
        "classification" or "regression".
    class_names : list, optional
        One name per class.
    image_shape : tuple, optional
        (height, width) of images; None for points and values.
    info : dict
        Figures about the data (the Bayes-optimal accuracy, the noise floor).
    """

    name: str
    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    task: str  # "classification" or "regression"
    class_names: list | None = None
    image_shape: tuple | None = None
    info: dict = field(default_factory=dict)


def _images(loader, name, class_names=None):
    (X, y), (Xt, yt) = loader()
    return Dataset(name, X, y, Xt, yt, "classification", class_names or [str(i) for i in range(10)], (28, 28))


def _split(name, X, y, task, seed, **extra):
    stratify = y if task == "classification" else None
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, stratify=stratify, seed=seed)
    return Dataset(name, X_train, y_train, X_test, y_test, task, **extra)


def _load_mnist_10k(seed):
    """MNIST with only the first 10,000 training images (all of them where only those are on disk)."""
    data = _images(load_mnist, "mnist-10k")
    data.X_train, data.y_train = data.X_train[:10000], data.y_train[:10000]
    return data


def _load_digits(seed):
    X, y = load_digits()
    return _split("digits", X, y, "classification", seed, class_names=[str(i) for i in range(10)], image_shape=(8, 8))


def _synthetic(name, make):
    def loader(seed):
        X, y = make(seed)
        return _split(name, X, y, "classification", seed, class_names=[str(i) for i in range(int(y.max()) + 1)])
    return loader


def _load_clusters(seed):
    X, y, truth = make_clusters(20000, seed=seed, return_model=True)  # 5,000 test points: ±0.3 points of noise
    data = _split("clusters", X, y, "classification", seed, class_names=["0", "1", "2"])
    data.info = {"bayes_accuracy": truth.bayes_accuracy(),
                 "bayes_test_accuracy": float((truth.bayes_predict(data.X_test) == data.y_test).mean())}
    return data


def _load_regression(seed):
    X, y, info = make_regression(250_000, seed=seed, return_info=True)  # the noise floor needs plenty of data
    data = _split("regression", X, y, "regression", seed)
    data.info = {"noise_variance": info["noise_variance"]}
    return data


def _make(function, n, **kwargs):
    return lambda seed: function(n, seed=seed, **kwargs)


def _datasets():
    d = datasets
    return {
        "digits": _load_digits,
        "mnist": lambda seed: _images(d.load_mnist, "mnist"),
        "mnist-10k": _load_mnist_10k,
        "fashion-mnist": lambda seed: _images(d.load_fashion_mnist, "fashion-mnist", list(d.FASHION_CLASSES)),
        "clusters": _load_clusters,
        "blobs": _synthetic("blobs", _make(d.make_blobs, 3000, centers=4, cluster_std=1.5)),
        "moons": _synthetic("moons", _make(d.make_moons, 2000, noise=0.2)),
        "spirals": _synthetic("spirals", _make(d.make_spirals, 3000)),
        "xor": _synthetic("xor", _make(d.make_xor, 2000)),
        "regression": _load_regression,
    }


DATASETS = ("digits", "mnist", "mnist-10k", "fashion-mnist", "clusters", "blobs", "moons", "spirals", "xor",
            "regression")
# the images, by their size: augmentation moves and turns them, convolutions read them
IMAGE_SHAPES = {"digits": (8, 8), "mnist": (28, 28), "mnist-10k": (28, 28), "fashion-mnist": (28, 28)}
IMAGE_DATASETS = tuple(IMAGE_SHAPES)

def load_dataset(name: str, seed: int = 0) -> Dataset:
    """Return the data set called ``name``, split by ``seed`` where it has no test set of its own."""
    loaders = _datasets()
    if name not in loaders:
        raise ValueError(f"unknown dataset {name!r}; choose from {', '.join(DATASETS)}")
    return loaders[name](seed)


def default_dataset(log=None) -> str:
    """Return MNIST's name where its files are on disk already (no download), else the 8×8 digits'.

    ``log`` hears why MNIST was not taken, and how to provide it.
    """
    try:
        load_mnist(download=False)
        return "mnist"
    except (DatasetNotFoundError, ValueError) as error:
        if log is not None:
            why = error.for_command_line() if isinstance(error, DatasetNotFoundError) else str(error)
            log(f"note: training on scikit-learn's 8×8 digits, because {why}\n"
                "A bare 'barenet train' never downloads; 'barenet train --dataset mnist' downloads MNIST (about "
                "11 MB) where the network allows. --dataset digits silences this note.")
        return "digits"


def split_validation(config, data):
    """Return (X, y, (X_val, y_val) or None): the validation split a run holds out.

    Seeded by the configuration, stratified for classes; None where ``validation_split`` is 0.
    """
    if not config.validation_split:
        return data.X_train, data.y_train, None
    stratify = data.y_train if data.task == "classification" else None
    X, Xv, y, yv = train_test_split(data.X_train, data.y_train, test_size=config.validation_split,
                                    stratify=stratify, seed=config.seed + 7)
    return X, y, (Xv, yv)
