"""Shared test setup.

- Every test runs with NumPy's floating-point errors raised, so that an overflow, an invalid
  operation or a division by zero fails the test instead of hiding behind a warning (underflow to
  zero is harmless and stays allowed).
- Data sets: a test that reads MNIST or Fashion-MNIST says so, ``@pytest.mark.data("mnist")``,
  and is skipped, with the data set's name, where the files are not on this machine (CI has them;
  the README says how to get them). Every other test runs with ``BARENET_DATA`` pointing at an
  empty folder and downloads forbidden (``BARENET_OFFLINE``), so a test that reads a data set
  without saying so fails everywhere, not only on a machine without the data.
- ``slow`` marks the tests that ``pytest -m "not slow"`` (the fast lane) leaves out.
"""
import dataclasses
import functools
import os

import numpy as np
import pytest

DATA_SETS = {"mnist": ("MNIST", "load_mnist"), "fashion-mnist": ("Fashion-MNIST", "load_fashion_mnist")}


def pytest_configure(config):
    config.addinivalue_line("markers", "data(*names): the test reads these data sets (mnist, fashion-mnist); "
                                       "skipped where their files are not on this machine")
    config.addinivalue_line("markers", "slow: left out of the fast lane, pytest -m 'not slow'")


@functools.cache
def data_set_missing(name: str) -> str | None:
    """Why the data set cannot be read here without a download, or None if it can."""
    import barenet as bn

    title, loader = DATA_SETS[name]
    if os.environ.get("BARENET_TEST_NO_SYSTEM_DATA"):  # the offline check: Debian's folder counts as absent
        return f"{title} is not on this machine (BARENET_TEST_NO_SYSTEM_DATA is set)"
    try:
        getattr(bn.datasets, loader)(download=False)
    except (bn.datasets.DatasetNotFoundError, ValueError) as error:
        where = " ".join(str(error).split())  # the folders it looked in, on one line
        return f"{title} is not on this machine: {where} (docs/how-to/datasets.md says how to get it)"
    return None


@pytest.fixture(autouse=True)
def _backend_per_test():
    """Each test starts on the default backend ("auto"), whatever the test before it set."""
    import barenet as bn

    with bn.using_backend("auto"):
        yield


@pytest.fixture(autouse=True)
def _data_sets(request, monkeypatch, tmp_path_factory):
    marker = request.node.get_closest_marker("data")
    if marker is not None:
        unknown = set(marker.args) - set(DATA_SETS)
        assert marker.args and not unknown, f"@pytest.mark.data takes data set names from {sorted(DATA_SETS)}"
        for name in marker.args:
            why = data_set_missing(name)
            if why is not None:
                pytest.skip(why)
        return
    from barenet.training.datasets import loaders

    empty = tmp_path_factory.getbasetemp() / "no-data-sets"
    empty.mkdir(exist_ok=True)
    monkeypatch.setenv("BARENET_DATA", str(empty))
    monkeypatch.setenv("BARENET_OFFLINE", "1")
    for source in ("MNIST", "FASHION_MNIST"):  # Debian's folder too, in this process
        monkeypatch.setattr(loaders, source, dataclasses.replace(getattr(loaders, source), system_dirs=()))


@pytest.fixture(autouse=True)
def _raise_floating_point_errors():
    with np.errstate(over="raise", invalid="raise", divide="raise", under="ignore"):
        yield


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


@pytest.fixture
def https(tmp_path_factory, monkeypatch):
    """A local HTTPS server whose certificate the default SSL context trusts (via SSL_CERT_FILE)."""
    trustme = pytest.importorskip("trustme")
    from https_server import Handler, Server

    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    bundle = tmp_path_factory.mktemp("ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    monkeypatch.setenv("SSL_CERT_FILE", str(bundle))
    Handler.files = {}
    Handler.hits = []
    server = Server(cert)
    yield server
    server.close()


@pytest.fixture(params=["numpy", "numba", "strict"])
def cpu_backend(request):
    """Run a test on each backend a CPU has: NumPy (the reference), numba (the fused kernels) and
    the strict stand-in for CuPy (device arrays that refuse NumPy arrays). Tests move inputs with
    ``bn.to_device`` and read results with ``bn.to_numpy``, as they would on a GPU."""
    import barenet as bn

    if request.param == "numba":
        pytest.importorskip("numba", reason="the numba backend needs numba (pip install 'barenet[fast]')")
    with bn.using_backend(request.param):
        yield request.param
