"""Data sets: MNIST, Fashion-MNIST, the 8×8 digits, synthetic problems, and the IDX format.

For example::

    (X_train, y_train), (X_test, y_test) = bn.datasets.load_mnist()
    X, y = bn.datasets.make_clusters(1500, seed=0)
"""
from .download import DownloadError, download, sha256_of
from .idx import read_idx, write_idx
from .loaders import (FASHION_CLASSES, DatasetNotFoundError, data_home, load_digits, load_fashion_mnist,
                      load_mnist)
from .synthetic import (GaussianClusters, make_blobs, make_clusters, make_moons, make_regression, make_spirals,
                        make_xor, regression_function)

__all__ = ["load_mnist", "load_fashion_mnist", "load_digits", "FASHION_CLASSES", "data_home",
           "DatasetNotFoundError", "DownloadError", "download", "sha256_of", "read_idx", "write_idx",
           "make_blobs", "make_clusters", "GaussianClusters", "make_regression", "regression_function",
           "make_moons", "make_spirals", "make_xor"]
