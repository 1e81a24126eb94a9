"""Loaders find the files where the README says, in that order, verify what they download, and
explain clearly when the data is nowhere; synthetic sets have the properties they promise."""
import dataclasses
import hashlib
from pathlib import Path

import numpy as np
import pytest

import barenet as bn
from barenet.training.datasets import loaders, write_idx
from https_server import Handler

DEBIAN_FASHION = Path("/usr/share/datasets/fashion-mnist")


def _fake_set(directory, n_train=12, n_test=5, seed=0, gz=True):
    """Four small IDX files like MNIST's; returns (train images, train labels, ...)."""
    rng = np.random.default_rng(seed)
    directory.mkdir(parents=True, exist_ok=True)
    arrays = {"train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
              "train-labels-idx1-ubyte": rng.integers(0, 10, n_train, dtype=np.uint8),
              "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
              "t10k-labels-idx1-ubyte": rng.integers(0, 10, n_test, dtype=np.uint8)}
    for stem, array in arrays.items():
        write_idx(directory / (stem + (".gz" if gz else "")), array)
    return arrays


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    """No BARENET_DATA, an empty cache, no system folders, downloads allowed, and no real mirrors."""
    monkeypatch.delenv("BARENET_DATA", raising=False)
    monkeypatch.delenv("BARENET_OFFLINE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    for name in ("MNIST", "FASHION_MNIST"):
        source = getattr(loaders, name)
        monkeypatch.setattr(loaders, name, dataclasses.replace(source, mirrors=("https://127.0.0.1:9/",),
                                                               system_dirs=()))
    return tmp_path


def test_defaults_are_float32_in_unit_range_with_784_columns_and_int64_labels(isolated):
    arrays = _fake_set(isolated / "data")
    (X, y), (Xt, yt) = bn.datasets.load_mnist(isolated / "data", download=False)
    assert X.shape == (12, 784) and X.dtype == np.float32 and 0 <= X.min() and X.max() <= 1
    assert y.dtype == np.int64 and Xt.shape == (5, 784)
    np.testing.assert_array_equal(X[3], arrays["train-images-idx3-ubyte"][3].ravel() / np.float32(255))
    (R, _), _ = bn.datasets.load_mnist(isolated / "data", download=False, raw=True, flatten=False)
    assert R.dtype == np.uint8 and R.shape == (12, 28, 28)
    np.testing.assert_array_equal(R, arrays["train-images-idx3-ubyte"])


def test_uncompressed_files_are_read_too(isolated):
    _fake_set(isolated / "plain", gz=False)
    (X, _), _ = bn.datasets.load_fashion_mnist(isolated / "plain", download=False)
    assert X.shape == (12, 784)


def test_barenet_data_is_searched_under_the_data_set_name(isolated, monkeypatch):
    _fake_set(isolated / "root" / "mnist", n_train=7)
    _fake_set(isolated / "root" / "fashion-mnist", n_train=9)
    monkeypatch.setenv("BARENET_DATA", str(isolated / "root"))
    assert len(bn.datasets.load_mnist(download=False)[0][0]) == 7
    assert len(bn.datasets.load_fashion_mnist(download=False)[0][0]) == 9


def test_search_order_path_then_env_then_cache_then_system(isolated, monkeypatch):
    _fake_set(isolated / "explicit", n_train=1)
    _fake_set(isolated / "env" / "fashion-mnist", n_train=2)
    _fake_set(isolated / "cache" / "barenet" / "fashion-mnist", n_train=3)
    _fake_set(isolated / "system", n_train=4)
    monkeypatch.setattr(loaders, "FASHION_MNIST",
                        dataclasses.replace(loaders.FASHION_MNIST, system_dirs=(str(isolated / "system"),)))
    cache = isolated / "cache" / "barenet" / "fashion-mnist"
    monkeypatch.setattr(loaders, "FASHION_MNIST", dataclasses.replace(
        loaders.FASHION_MNIST, sha256={p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in cache.iterdir()}))
    monkeypatch.setenv("BARENET_DATA", str(isolated / "env"))
    count = lambda **kw: len(bn.datasets.load_fashion_mnist(download=False, **kw)[0][0])  # noqa: E731
    assert count(path=isolated / "explicit") == 1
    assert count() == 2
    monkeypatch.delenv("BARENET_DATA")
    assert count() == 3
    for f in cache.iterdir():
        f.unlink()
    assert count() == 4


def test_cached_files_are_rehashed_and_a_corrupt_one_is_not_used(isolated, monkeypatch):
    cache = isolated / "cache" / "barenet" / "mnist"
    _fake_set(cache)
    sums = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in cache.iterdir()}
    monkeypatch.setattr(loaders, "MNIST", dataclasses.replace(loaders.MNIST, sha256=sums))
    assert len(bn.datasets.load_mnist(download=False)[0][0]) == 12
    labels = cache / "train-labels-idx1-ubyte.gz"
    data = bytearray(labels.read_bytes())
    data[-1] ^= 0xFF  # the gzip trailer's size field: the payload still reads, the hash differs
    labels.write_bytes(bytes(data))
    with pytest.raises(bn.datasets.DatasetNotFoundError, match="checksum failed.*train-labels"):
        bn.datasets.load_mnist(download=False)


def test_nothing_found_gives_one_clear_error(isolated):
    with pytest.raises(bn.datasets.DatasetNotFoundError) as caught:
        bn.datasets.load_mnist()
    message = str(caught.value)
    assert message.startswith("MNIST was not found")
    assert "BARENET_DATA is not set" in message and str(isolated / "cache" / "barenet" / "mnist") in message
    assert "https://127.0.0.1:9/train-images-idx3-ubyte.gz" in message  # the URL it tried
    assert "set BARENET_DATA" in message and "path=" in message
    assert not list((isolated / "cache" / "barenet" / "mnist").glob("*"))  # nothing half-written


def test_explicit_path_is_not_silently_replaced_by_another_place(isolated, monkeypatch):
    _fake_set(isolated / "env" / "mnist")
    monkeypatch.setenv("BARENET_DATA", str(isolated / "env"))
    with pytest.raises(bn.datasets.DatasetNotFoundError, match="typo"):
        bn.datasets.load_mnist(isolated / "typo", download=False)


def test_download_fills_the_cache_and_the_next_load_is_offline(isolated, https, monkeypatch):
    served = _fake_set(isolated / "served")
    files = {p.name: p.read_bytes() for p in (isolated / "served").iterdir()}
    Handler.files.update(files)
    monkeypatch.setattr(loaders, "MNIST", dataclasses.replace(
        loaders.MNIST, mirrors=(https.base + "/files/",),
        sha256={name: hashlib.sha256(data).hexdigest() for name, data in files.items()}))
    (X, y), _ = bn.datasets.load_mnist()
    np.testing.assert_array_equal(y, served["train-labels-idx1-ubyte"])
    cache = isolated / "cache" / "barenet" / "mnist"
    assert sorted(p.name for p in cache.iterdir()) == sorted(files)
    hits = len(Handler.hits)
    bn.datasets.load_mnist()
    assert len(Handler.hits) == hits  # served from the verified cache


def test_barenet_offline_forbids_the_download_and_says_so(isolated, https, monkeypatch):
    Handler.files.update({p.name: p.read_bytes() for p in (_fake_set(isolated / "served") and isolated / "served").iterdir()})
    monkeypatch.setattr(loaders, "MNIST", dataclasses.replace(loaders.MNIST, mirrors=(https.base + "/files/",)))
    monkeypatch.setenv("BARENET_OFFLINE", "1")
    with pytest.raises(bn.datasets.DatasetNotFoundError, match="did not download it \\(BARENET_OFFLINE is set\\)"):
        bn.datasets.load_mnist()
    assert Handler.hits == []


def test_a_download_with_the_wrong_checksum_is_reported_with_both_hashes(isolated, https, monkeypatch):
    _fake_set(isolated / "served")
    Handler.files.update({p.name: p.read_bytes() for p in (isolated / "served").iterdir()})
    monkeypatch.setattr(loaders, "MNIST", dataclasses.replace(loaders.MNIST, mirrors=(https.base + "/files/",)))
    with pytest.raises(bn.datasets.DatasetNotFoundError, match="SHA-256 mismatch.*expected 440fcabf") as caught:
        bn.datasets.load_mnist()
    assert https.base + "/files/train-images-idx3-ubyte.gz" in str(caught.value)
    assert not list((isolated / "cache" / "barenet" / "mnist").glob("*"))


def test_images_and_labels_must_agree_in_count(isolated):
    _fake_set(isolated / "d")
    write_idx(isolated / "d" / "t10k-labels-idx1-ubyte.gz", np.zeros(4, np.uint8))
    with pytest.raises(ValueError, match="holds 5 images but .* holds 4 labels"):
        bn.datasets.load_mnist(isolated / "d", download=False)


def test_a_corrupt_file_is_named_in_the_error(isolated):
    _fake_set(isolated / "d")
    path = isolated / "d" / "train-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(ValueError, match="train-images-idx3-ubyte.gz"):
        bn.datasets.load_mnist(isolated / "d", download=False)


@pytest.mark.data("mnist")
def test_the_real_mnist_files_load_as_the_official_sets():
    (X, y), (Xt, yt) = bn.datasets.load_mnist(download=False)
    assert X.shape[1:] == (784,) and len(X) in (10000, 60000) and Xt.shape == (10000, 784)
    assert list(y[:5]) == [5, 0, 4, 1, 9] and np.bincount(yt).min() > 800


@pytest.mark.data("fashion-mnist")
@pytest.mark.skipif(not DEBIAN_FASHION.is_dir(), reason="Debian's dataset-fashion-mnist package is not installed")
def test_fashion_mnist_is_found_where_debian_installs_it(monkeypatch, tmp_path):
    monkeypatch.delenv("BARENET_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    (X, y), (Xt, yt) = bn.datasets.load_fashion_mnist(download=False)
    assert X.shape == (60000, 784) and Xt.shape == (10000, 784)
    np.testing.assert_array_equal(np.bincount(y), [6000] * 10)


def test_load_digits_is_scaled_to_the_unit_range():
    pytest.importorskip("sklearn")
    X, y = bn.datasets.load_digits()
    assert X.shape == (1797, 64) and X.dtype == np.float32 and X.max() == 1.0 and X.min() == 0.0
    assert bn.datasets.load_digits(flatten=False)[0].shape == (1797, 8, 8)
    assert set(y) == set(range(10))


# -- synthetic sets ------------------------------------------------------------------------------

def test_clusters_know_their_bayes_accuracy():
    X, y, truth = bn.datasets.make_clusters(200_000, seed=0, return_model=True)
    assert X.dtype == np.float32 and y.dtype == np.int64 and set(y) == {0, 1, 2}
    exact = truth.bayes_accuracy()
    assert 0.95 < exact < 0.97
    assert abs((truth.bayes_predict(X) == y).mean() - exact) < 0.003  # Monte Carlo agrees
    for k in range(3):
        np.testing.assert_allclose(np.cov(X[y == k].T), truth.covariances[k], atol=0.03)


def test_clusters_validate_their_parameters():
    with pytest.raises(ValueError, match="positive definite"):
        bn.datasets.make_clusters(means=[(0, 0), (1, 1)], covariances=[np.eye(2), [[1, 2], [2, 1]]])
    with pytest.raises(ValueError, match="symmetric"):
        bn.datasets.make_clusters(means=[(0, 0), (1, 1)], covariances=[np.eye(2), [[1, 0.5], [0, 1]]])
    with pytest.raises(ValueError, match="weights"):
        bn.datasets.make_clusters(weights=[0.5, 0.5, 0.5])


def test_regression_noise_has_the_stated_variance():
    X, y, info = bn.datasets.make_regression(100_000, noise=0.5, seed=1, return_info=True)
    residual = y - info["function"](X)
    assert info["noise_variance"] == 0.25
    assert abs(residual.var() - 0.25) < 0.005 and abs(residual.mean()) < 0.005
    assert X.shape == (100_000, 8) and -2 <= X.min() and X.max() <= 2


@pytest.mark.parametrize("make", [bn.datasets.make_blobs, bn.datasets.make_moons, bn.datasets.make_spirals,
                                  bn.datasets.make_xor, bn.datasets.make_clusters, bn.datasets.make_regression])
def test_synthetic_sets_are_seeded(make):
    a, b, c = make(seed=3), make(seed=3), make(seed=4)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert not np.array_equal(a[0], c[0])


def test_blobs_moons_spirals_xor_shapes_and_balance():
    X, y = bn.datasets.make_blobs(300, centers=4, n_features=3, seed=0)
    assert X.shape == (300, 3) and np.array_equal(np.bincount(y), [75] * 4)
    for make, classes in [(bn.datasets.make_moons, 2), (bn.datasets.make_spirals, 3), (bn.datasets.make_xor, 2)]:
        X, y = make(seed=0)
        assert X.shape[1] == 2 and len(set(y)) == classes and X.dtype == np.float32


@pytest.mark.parametrize("shape", [(12, 56, 14), (12, 1, 784), (12, 1, 1)])
def test_images_that_are_not_28_by_28_are_refused(isolated, shape):
    """The loaders promise 784 columns: the header's shape is checked against it."""
    _fake_set(isolated / "d")
    write_idx(isolated / "d" / "train-images-idx3-ubyte.gz", np.zeros(shape, np.uint8))
    with pytest.raises(ValueError, match=r"expected uint8 images of shape \(n, 28, 28\)"):
        bn.datasets.load_mnist(isolated / "d", download=False)
