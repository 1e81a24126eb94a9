"""Shared test setup: every test runs with NumPy's floating-point errors raised, so that an
overflow, an invalid operation or a division by zero fails the test instead of hiding behind a
warning (underflow to zero is harmless and stays allowed)."""
import numpy as np
import pytest


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
    bn.set_backend(request.param)
    yield request.param
    bn.set_backend("numpy")
