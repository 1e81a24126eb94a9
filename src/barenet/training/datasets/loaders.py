"""MNIST, Fashion-MNIST and the 8×8 digits: one call each, offline where the files are on disk."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .download import DownloadError, download, sha256_of
from .idx import read_idx

__all__ = ["load_mnist", "load_fashion_mnist", "load_digits", "data_home", "DatasetNotFoundError"]

_STEMS = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
          "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}


class DatasetNotFoundError(FileNotFoundError):
    """The data set's files are nowhere barenet looks, and could not be downloaded.

    The message says where barenet looked and how to provide the files from Python;
    ``for_command_line()`` says the same for someone at the command line (which has no ``path=``).

    Parameters
    ----------
    title, name : str
        The data set's title ("MNIST") and folder name ("mnist").
    looked : list of str
        The places looked in, and why each failed.
    failure : str
        Why it was not downloaded.
    target : Path
        Where a download would have gone.
    files : tuple of str
        The files the data set is made of.
    """

    def __init__(self, title: str, name: str, looked: list, failure: str, target: Path, files: tuple):
        self.title, self.name, self.looked, self.failure, self.target, self.files = \
            title, name, looked, failure, target, files
        super().__init__(self._text(f"pass path=<folder>, or put them in <dir>/{name}/ and set BARENET_DATA=<dir>, "
                                    f"or copy them to {target}"))

    def __reduce__(self):  # sent between processes whole (a search's workers, MPI ranks)
        return type(self), (self.title, self.name, self.looked, self.failure, self.target, self.files)

    def _text(self, ways: str) -> str:
        return (f"{self.title} was not found. Looked in:\n  " + "\n  ".join(self.looked)
                + f"\nand did not download it ({self.failure}).\n"
                + f"To provide it, put {', '.join(self.files)} (gzipped or not) in a folder and {ways}.")

    def for_command_line(self) -> str:
        """Return the message as the command line says it: BARENET_DATA or the cache, not ``path=``."""
        return self._text(f"set BARENET_DATA to the folder above it, named {self.name}/ (export BARENET_DATA=<dir> "
                          f"for <dir>/{self.name}/), or copy them to {self.target}")


@dataclass(frozen=True)
class _Source:
    name: str
    title: str
    mirrors: tuple
    sha256: dict  # of the official .gz files
    system_dirs: tuple = field(default=())


MNIST = _Source(
    "mnist", "MNIST",
    ("https://ossci-datasets.s3.amazonaws.com/mnist/", "https://storage.googleapis.com/cvdf-datasets/mnist/"),
    {"train-images-idx3-ubyte.gz": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
     "train-labels-idx1-ubyte.gz": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
     "t10k-images-idx3-ubyte.gz": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
     "t10k-labels-idx1-ubyte.gz": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6"})

FASHION_MNIST = _Source(
    "fashion-mnist", "Fashion-MNIST",
    ("https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",),
    {"train-images-idx3-ubyte.gz": "08dc20ab1689590a0bcd66e874647b6ee8464e2d501b5a3f1f78831db19a3fdc",
     "train-labels-idx1-ubyte.gz": "b0197879cbda89f3dc7b894f9fd52b858e68ea4182b6947c9d8c2b67e5f18dcc",
     "t10k-images-idx3-ubyte.gz": "78dcbbfb5a27efaf1b6c1d616caca68560be8766c5bffcb2791df9273a534229",
     "t10k-labels-idx1-ubyte.gz": "42bd18137a62d5998cdeae52bf3a0676ac6b706f5cf8439b47bb5b151ae3dccf"},
    ("/usr/share/datasets/fashion-mnist",))  # Debian's dataset-fashion-mnist package

FASHION_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                   "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")


def data_home() -> Path:
    """Return barenet's download cache: ``$XDG_CACHE_HOME/barenet``, by default ``~/.cache/barenet``."""
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(cache) / "barenet"


def _files_in(directory: Path) -> dict | None:
    """Return the four files (each .gz or plain) in ``directory``, or None if any is missing."""
    found = {}
    for stem in (s for pair in _STEMS.values() for s in pair):
        path = next((directory / (stem + ext) for ext in (".gz", "") if (directory / (stem + ext)).is_file()), None)
        if path is None:
            return None
        found[stem] = path
    return found


def _verified(files: dict, source: _Source) -> str | None:
    """Why files downloaded earlier fail their checksums, or None if all match."""
    for path in files.values():
        expected = source.sha256.get(path.name)
        if expected is None:
            return f"{path} is not a file barenet downloads"
        actual = sha256_of(path)
        if actual != expected:
            return f"{path} has SHA-256 {actual}, expected {expected}"
    return None


def _locate(source: _Source, path, download_missing: bool, progress) -> dict:
    """Find the data set's files: path=, $BARENET_DATA/<name>, the cache, system folders, in order.

    Else download them into path= or the cache; else raise DatasetNotFoundError.
    """
    looked = []
    if path is not None:
        places = [("path=", Path(path))]
        target = Path(path)
    else:
        env = os.environ.get("BARENET_DATA")
        places = [("$BARENET_DATA", Path(env) / source.name)] if env else []
        if not env:
            looked.append(f"$BARENET_DATA/{source.name} (BARENET_DATA is not set)")
        target = data_home() / source.name
        places.append(("cache", target))
        places += [("system", Path(d)) for d in source.system_dirs]
    for kind, directory in places:
        files = _files_in(directory)
        if files is None:
            looked.append(f"{directory} ({_what_is_in(directory)})")
            continue
        if kind == "cache":
            problem = _verified(files, source)
            if problem is not None:
                looked.append(f"{directory} (checksum failed: {problem})")
                continue
        return files
    failure = "download=False"
    if download_missing and os.environ.get("BARENET_OFFLINE"):
        download_missing, failure = False, "BARENET_OFFLINE is set"
    if download_missing:
        try:
            for name, sha in source.sha256.items():
                destination = target / name
                if not (destination.is_file() and sha256_of(destination) == sha):
                    download([mirror + name for mirror in source.mirrors], destination, sha, progress=progress)
            return _files_in(target)
        except DownloadError as error:
            failure = str(error)
    raise DatasetNotFoundError(source.title, source.name, looked, failure, target, tuple(source.sha256))


def _what_is_in(directory: Path) -> str:
    """'missing', 'empty', or how many of the four files a folder holds."""
    if not directory.is_dir():
        return "missing"
    present = sum(any((directory / (stem + ext)).is_file() for ext in (".gz", "")) for pair in _STEMS.values()
                  for stem in pair)
    return "empty" if present == 0 else f"incomplete: {present} of 4 files"


def _load(source: _Source, path, download_missing, flatten, raw, progress):
    files = _locate(source, path, download_missing, progress)
    parts = []
    for images_stem, labels_stem in _STEMS.values():
        images, labels = read_idx(files[images_stem]), read_idx(files[labels_stem])
        if images.ndim != 3 or images.shape[1:] != (28, 28) or images.dtype != np.uint8:
            raise ValueError(f"{files[images_stem]}: expected uint8 images of shape (n, 28, 28), "
                             f"got {images.dtype} {images.shape}")
        if labels.ndim != 1 or labels.dtype != np.uint8:
            raise ValueError(f"{files[labels_stem]}: expected uint8 labels of shape (n,), got {labels.dtype} {labels.shape}")
        if len(images) != len(labels):
            raise ValueError(f"{files[images_stem]} holds {len(images)} images but "
                             f"{files[labels_stem]} holds {len(labels)} labels")
        if labels.size and labels.max() > 9:
            raise ValueError(f"{files[labels_stem]}: labels must be 0 to 9, found {labels.max()}")
        if flatten:
            images = images.reshape(len(images), -1)
        if not raw:
            images = images.astype(np.float32)  # one float copy, divided in place
            images /= np.float32(255)
        parts.append((images, labels.astype(np.int64)))
    return tuple(parts)


def load_mnist(path=None, *, download: bool = True, flatten: bool = True, raw: bool = False, progress=None):
    """Return MNIST's handwritten digits: ``(X_train, y_train), (X_test, y_test)``.

    X is float32 in [0, 1] with 784 columns; y is int64, 0-9. Files are looked for in ``path``,
    else ``$BARENET_DATA/mnist``, then the cache (``data_home()/mnist``).

    Parameters
    ----------
    path : str or Path, optional
        The folder of the four files (gzipped or not).
    download : bool, default True
        Where the files are absent, download (and checksum) them into ``path`` or the cache.
    flatten : bool, default True
        False keeps the (n, 28, 28) images.
    raw : bool, default False
        True keeps the uint8 grey levels 0-255.
    progress : callable, optional
        As for ``download``.

    Raises
    ------
    DatasetNotFoundError
        Where the files are nowhere and cannot be downloaded.
    ValueError
        For files that are not MNIST's format.
    """
    return _load(MNIST, path, download, flatten, raw, progress)


def load_fashion_mnist(path=None, *, download: bool = True, flatten: bool = True, raw: bool = False,
                       progress=None):
    """Return Fashion-MNIST (Zalando's clothing images, MNIST's format): ``(X_train, y_train), (X_test, y_test)``.

    Class names are ``barenet.training.datasets.FASHION_CLASSES``. Looked for like ``load_mnist``
    (``$BARENET_DATA/fashion-mnist``, the cache), and also in ``/usr/share/datasets/fashion-mnist``
    where Debian's ``dataset-fashion-mnist`` puts it. The arguments are ``load_mnist``'s.
    """
    return _load(FASHION_MNIST, path, download, flatten, raw, progress)


def load_digits(*, flatten: bool = True):
    """Return the 8×8 handwritten digits bundled with scikit-learn (1,797 images): ``X, y``.

    X is float32 in [0, 1], 64 columns (or (n, 8, 8) with ``flatten=False``), y int64, 0-9. Raises
    ImportError without scikit-learn.
    """
    try:
        from sklearn.datasets import load_digits as sklearn_digits
    except ImportError:
        raise ImportError("load_digits needs scikit-learn, which ships these digits: "
                          "pip install scikit-learn (or pip install 'barenet[data]')") from None
    digits = sklearn_digits()
    X = (digits.images if not flatten else digits.data).astype(np.float32) / np.float32(16)
    return X, digits.target.astype(np.int64)
