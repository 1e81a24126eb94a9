"""What stands between clients and the app in ``barenet serve`` (barenet.app.web.guard and the
body limits): every refusal is a JSON answer, slow or stalled clients are dropped on a deadline,
connections are capped, logging cannot flood, and a real server's memory stays bounded under
mixed valid and abusive load."""
import json
import logging
import runpy
import socket
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest

import barenet as bn

pytest.importorskip("fastapi")
pytest.importorskip("PIL")
from barenet.app.web.app import MAX_BODY, create_app  # noqa: E402
from barenet.app.web.guard import Throttle  # noqa: E402
from web_helpers import LiveServer  # noqa: E402

pytestmark = pytest.mark.slow  # the fast lane (pytest -m 'not slow') leaves these out

ABUSE = Path(__file__).resolve().parents[2] / "benchmarks" / "abuse_server.py"


@pytest.fixture(scope="module")
def model():
    rng = np.random.default_rng(0)
    net = bn.Sequential(bn.Dense(784, 16), bn.ReLU(), bn.Dense(16, 10), seed=0)
    net.fit(rng.random((100, 784), dtype=np.float32), rng.integers(0, 10, 100), loss="cross_entropy",
            epochs=1, verbose=0)
    return net


@pytest.fixture(scope="module")
def abuse():
    return runpy.run_path(str(ABUSE))


def _answer(sock) -> tuple[int, str, dict]:
    """(status, headers, JSON body) of what the server sent before closing."""
    reply = b""
    while chunk := sock.recv(65536):
        reply += chunk
    head, _, body = reply.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), head.decode().lower(), json.loads(body)


def _image_request() -> bytes:
    body = json.dumps({"image": np.zeros((28, 28), int).tolist()}).encode()
    return (b"POST /api/predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nConnection: close\r\n"
            b"Content-Length: %d\r\n\r\n" % len(body)) + body


def test_a_request_head_that_stalls_gets_a_json_408_and_is_closed_while_others_are_served(model):
    """uvicorn itself has no deadline for the request head: these clients would hold their
    sockets for ever. Three ways to stall: nothing sent, half a request line, a head without its
    blank line; and a keep-alive client that stalls in its second request's head."""
    with LiveServer(create_app(model, "m"), header_timeout=1.0) as server:
        stalled = []
        for first in [b"", b"POST /api/pre", b"GET /api/model HTTP/1.1\r\nHost: x\r\n"]:
            sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
            sock.sendall(first)
            stalled.append(sock)
        kept = socket.create_connection(("127.0.0.1", server.port), timeout=10)
        kept.sendall(b"GET /api/model HTTP/1.1\r\nHost: x\r\n\r\nGET /api/mo")
        started = time.perf_counter()
        assert server.raw(_image_request()).startswith(b"HTTP/1.1 200")
        assert time.perf_counter() - started < 0.9  # answered while the others stall
        for sock in stalled:
            status, head, body = _answer(sock)
            assert status == 408 and "application/json" in head
            assert body == {"error": "the request head did not arrive within 1 s"}
            assert time.perf_counter() - started < 5
        reply = b""
        while chunk := kept.recv(65536):
            reply += chunk
        assert reply.startswith(b"HTTP/1.1 200") and reply.count(b"HTTP/1.1 ") == 2
        assert b"HTTP/1.1 408 Request Timeout" in reply and reply.endswith(b'"the request head did not arrive within 1 s"}')


def test_a_head_that_arrives_in_time_is_not_cut_off_by_the_deadline(model):
    """The deadline ends when a whole head has arrived: a slow handler or a slowly sent
    (but moving) body is not the head's business."""
    with LiveServer(create_app(model, "m"), header_timeout=0.5) as server:
        request = _image_request()
        head, body = request.split(b"\r\n\r\n", 1)
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
            sock.sendall(head + b"\r\n\r\n")
            for piece in (body[: len(body) // 2], body[len(body) // 2:]):
                time.sleep(0.4)  # 0.8 s in all: past the head deadline, within the body's pause limit
                sock.sendall(piece)
            status, _, answer = _answer(sock)
        assert status == 200 and len(answer["probabilities"]) == 10


def test_connections_over_the_cap_get_a_json_503_and_the_server_recovers(model):
    with LiveServer(create_app(model, "m"), max_connections=20, header_timeout=30) as server:
        idle = [socket.create_connection(("127.0.0.1", server.port), timeout=10) for _ in range(20)]
        time.sleep(0.2)
        extra = socket.create_connection(("127.0.0.1", server.port), timeout=10)
        status, head, body = _answer(extra)
        assert status == 503 and "application/json" in head and "20 connections open" in body["error"]
        for sock in idle:
            sock.close()
        time.sleep(0.3)
        assert server.raw(_image_request()).startswith(b"HTTP/1.1 200")


@pytest.mark.parametrize("name", ["TLS bytes", "HTTP/0.9", "bad Content-Length"])
def test_bytes_that_are_not_http_get_a_json_400_not_uvicorns_text(model, abuse, name):
    how, what, expected = abuse["payloads"]()[name]
    with LiveServer(create_app(model, "m")) as server:
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
            sock.sendall(what)
            status, head, body = _answer(sock)
    assert status == expected == 400 and "content-type: application/json" in head
    assert body["error"].startswith("not a valid HTTP/1.1 request")


@pytest.mark.parametrize("size", [2 << 20, 20 << 20])
def test_an_oversized_body_sent_whole_gets_a_readable_413(model, size):
    """urllib (like requests) sends the whole body before reading the answer: the server reads
    and drops it, so the client reads the 413 instead of a reset connection."""
    with LiveServer(create_app(model, "m")) as server:
        request = urllib.request.Request(f"{server.url}/api/predict", data=b" " * size,
                                         headers={"Content-Type": "application/json"})
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=30)
    assert refused.value.code == 413
    assert json.loads(refused.value.read()) == {"error": f"request body over the {MAX_BODY:,}-byte limit"}


def test_an_oversized_body_announced_with_expect_100_continue_is_refused_before_it_is_sent(model):
    with LiveServer(create_app(model, "m")) as server:
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
            sock.sendall(b"POST /api/predict HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
                         b"Content-Length: 50000000\r\n\r\n")
            status, head, body = _answer(sock)  # nothing of the body was sent
    assert status == 413 and "100 continue" not in head and "byte limit" in body["error"]


def test_a_body_trickled_past_its_deadline_gets_408(model):
    """A byte every 0.3 s never trips the pause limit (1 s here) but the whole body must arrive
    within its deadline (1.5 s here, 60 s by default)."""
    app = create_app(model, "m", body_timeout=1.0, body_deadline=1.5)
    with LiveServer(app) as server:
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
            sock.sendall(b"POST /api/predict HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n")
            started = time.perf_counter()
            try:
                for _ in range(100):
                    sock.sendall(b" ")
                    time.sleep(0.3)
            except OSError:
                pass
            status, _, body = _answer(sock)
    assert status == 408 and "took over 1.5 s" in body["error"] and time.perf_counter() - started < 4


# -- logging ------------------------------------------------------------------------------------

class _Clock:
    now = 0.0

    def __call__(self):
        return self.now


def _record(message, *args, name="asyncio"):
    return logging.LogRecord(name, logging.ERROR, __file__, 1, message, args, None)


def test_a_flood_of_one_error_lets_a_few_through_and_counts_the_rest():
    clock = _Clock()
    throttle = Throttle(burst=5, total=60, period=60.0, clock=clock)
    passed = [throttle.filter(_record("socket.accept() out of system resource %s", i)) for i in range(100_000)]
    assert sum(passed) == 5 and passed[:5] == [True] * 5
    clock.now = 61.0
    record = _record("socket.accept() out of system resource %s", 7)
    assert throttle.filter(record) and record.getMessage() == (
        "socket.accept() out of system resource 7 [99995 more like this were not logged]")


def test_many_kinds_of_error_are_capped_in_all_and_the_filters_memory_is_bounded():
    clock = _Clock()
    throttle = Throttle(burst=5, total=60, period=60.0, kinds=1000, clock=clock)
    passed = sum(throttle.filter(_record(f"error number {i}")) for i in range(50_000))
    assert passed == 60 and len(throttle.counts) == 1000
    clock.now = 60.0
    assert throttle.filter(_record("a new kind after a period"))
    assert len(throttle.counts) <= 1000


def test_serve_logs_through_the_throttle(tmp_path):
    """``configure_logging`` is what ``barenet serve`` calls: 10,000 identical errors from
    asyncio's logger (what 'Too many open files' produced) write a few lines, not megabytes."""
    from barenet.app.web.guard import configure_logging
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    with open(tmp_path / "stderr", "w") as stream:
        try:
            configure_logging(stream)
            try:
                raise OSError(24, "Too many open files")
            except OSError:
                for _ in range(10_000):
                    logging.getLogger("asyncio").error("socket.accept() out of system resource", exc_info=True)
        finally:
            root.handlers, root.level = saved
    text = (tmp_path / "stderr").read_text()
    assert text.count("socket.accept() out of system resource") == 5 and len(text) < 5000


# -- a real server under mixed load -----------------------------------------------------------

def test_barenet_serve_answers_mixed_valid_and_abusive_clients_in_json_with_bounded_memory(abuse):
    """``barenet serve`` as a user starts it, 16 clients sending 12 requests each, drawn from
    valid drawings (up to 2000×2000) and abuse (a 4,000,000×1 strip, 2 MB and 20 MB bodies,
    TLS bytes, ...): every answer is the expected status with a JSON body, the server's memory
    after the run is within 100 MiB of its memory at start, and its stderr stays small.
    benchmarks/abuse_server.py runs the larger version."""
    server = abuse["Server"]()
    try:
        load = abuse["mixed_load"](server, clients=16, requests=12, seed=0)
        stalled = abuse["stalled_clients"](server, count=100, valid=5)
        stderr = server.stderr_bytes()
    finally:
        server.stop()
    assert load["failures"] == []
    assert {name for name, _ in load["counts"]} == set(abuse["payloads"]())  # every kind was sent
    assert load["rss_after"] - load["rss_before"] < 100, load
    assert stalled["valid"] == {200: 5} and stalled["stalled_answers"] == {(408, True): 100}
    assert stderr < 10_000
