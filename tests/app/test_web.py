"""The web app's API, body limits, static files and training jobs; bad requests always get a 4xx
JSON answer, never a 500 or a traceback."""
import base64
import io
import json
import os
import re
import shutil
import time

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import barenet as bn

pytest.importorskip("fastapi")
pytest.importorskip("PIL")
from fastapi.testclient import TestClient  # noqa: E402
from PIL import Image, ImageDraw  # noqa: E402

from barenet.app.web.app import MAX_BODY, STATIC, create_app  # noqa: E402
from barenet.integrations.web import ASSETS, PAGE  # noqa: E402
from web_helpers import LiveServer, status_of  # noqa: E402


@pytest.fixture(scope="module")
def model():
    rng = np.random.default_rng(0)
    X = rng.random((200, 784), dtype=np.float32)
    y = rng.integers(0, 10, 200)
    net = bn.Sequential(bn.Dense(784, 32), bn.ReLU(), bn.Dense(32, 10), seed=0)
    net.fit(X, y, loss="cross_entropy", epochs=1, verbose=0)
    return net


@pytest.fixture
def app(model):
    return create_app(model, "a test model")


@pytest.fixture
def client(app):
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


def _png_url(image: Image.Image) -> str:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def _drawing():
    image = Image.new("L", (280, 280), 255)
    ImageDraw.Draw(image).line([(90, 60), (190, 60), (130, 230)], fill=0, width=20)
    return image


def _assert_error(response, status=None):
    assert response.status_code == status if status else 400 <= response.status_code < 500, response.text
    body = response.json()
    assert isinstance(body["error"], str) and "Traceback" not in response.text
    return body


# -- the page -----------------------------------------------------------------------------------

def test_the_page_and_its_files_are_served_locally_with_no_cdn(client):
    page = client.get("/")
    assert page.status_code == 200 and "<canvas id=\"canvas\"" in page.text
    assert 'id="view-train"' in page.text and "<!-- barenet:" not in page.text  # the learn view is in its slots
    for path in ("static/learn.js", "static/learned.js", "static/learn.css", "static/vendor/chart.umd.min.js",
                 *ASSETS, "model.js"):
        assert client.get(f"/{path}").status_code == 200, path
        assert f'src="{path}"' in page.text or f'href="{path}"' in page.text, path
    for folder, names in ((STATIC, ("learn.html", "learn.js", "learned.js", "learn.css")), (PAGE, ("index.html", *ASSETS))):
        for name in names:
            text = (folder / name).read_text()
            assert "http://" not in text and "https://" not in text, name
    assert client.get("/api/model").json()["source"] == "a test model"


def test_the_page_files_route_serves_only_the_page_files(client):
    for path in ("/default_model.npz", "/app.py", "/__init__.py", "/index.html", "/learn.html", "/%2e%2e"):
        _assert_error(client.get(path), 404)


def test_model_js_is_the_served_model_as_the_web_export_writes_it(client, app, model):
    from barenet.integrations.web import model_script
    reply = client.get("/model.js")
    assert reply.headers["content-type"].startswith("text/javascript")
    assert reply.text == model_script(model, source="a test model")


# -- predict ------------------------------------------------------------------------------------

def test_predict_an_image_array(client):
    image = np.zeros((28, 28), int)
    image[5:23, 12:16] = 255
    reply = client.post("/api/predict", json={"image": image.tolist()})
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert len(body["probabilities"]) == 10 and abs(sum(body["probabilities"]) - 1) < 1e-5
    assert body["prediction"] == int(np.argmax(body["probabilities"]))
    seen = np.array(body["input"])
    assert seen.shape == (28, 28) and seen.min() >= 0 and seen.max() <= 255
    assert "warning" not in body


def test_a_blank_picture_gets_its_guess_with_a_warning(client):
    body = client.post("/api/predict", json={"image": np.zeros((28, 28), int).tolist()}).json()
    assert "no ink found" in body["warning"] and len(body["probabilities"]) == 10
    blank = client.post("/api/predict", json={"png": _png_url(Image.new("RGB", (280, 280), "white"))}).json()
    assert "no ink found" in blank["warning"]


def test_a_fashion_model_reads_pictures_as_filled_silhouettes(model):
    from barenet.app.images import prepare_silhouette
    fashion = bn.Sequential(bn.Dense(784, 10), seed=0)
    fashion.loss = bn.CrossEntropy()
    fashion.metadata = {"dataset": "fashion-mnist", "class_names": list(bn.datasets.FASHION_CLASSES)}
    image = Image.new("L", (280, 280), 255)
    ImageDraw.Draw(image).rectangle([60, 40, 220, 240], outline=0, width=12)  # a bag, say
    with TestClient(create_app(fashion, "a Fashion-MNIST model")) as client:
        reply = client.post("/api/predict", json={"png": _png_url(image)}).json()
    expected = np.round(prepare_silhouette(np.asarray(image)) * 255).astype(int)
    np.testing.assert_array_equal(reply["input"], expected)
    assert np.array(reply["input"])[14, 14] == round(255 * 0.7)  # the inside is filled
    assert reply["classes"] == list(bn.datasets.FASHION_CLASSES)


def test_predict_a_png_drawing_returns_the_image_prepared_by_the_python_code(client):
    from barenet.app.images import prepare_digit
    drawing = _drawing()
    reply = client.post("/api/predict", json={"png": _png_url(drawing)})
    assert reply.status_code == 200, reply.text
    buffer = io.BytesIO()
    drawing.save(buffer, format="PNG")
    expected = np.round(prepare_digit(buffer.getvalue()) * 255).astype(int)
    np.testing.assert_array_equal(reply.json()["input"], expected)


BAD_BODIES = {
    "not json": b"{this is not json",
    "empty object": b"{}",
    "both inputs": json.dumps({"image": [[0] * 28] * 28, "png": "data:image/png;base64,AAAA"}).encode(),
    "extra key": json.dumps({"image": [[0] * 28] * 28, "colour": "blue"}).encode(),
    "27 rows": json.dumps({"image": [[0] * 28] * 27}).encode(),
    "27 columns": json.dumps({"image": [[0] * 27] * 28}).encode(),
    "ragged": json.dumps({"image": [[0] * 28] * 27 + [[0] * 5]}).encode(),
    "flat": json.dumps({"image": [0] * 784}).encode(),
    "3-d": json.dumps({"image": [[[0]] * 28] * 28}).encode(),
    "negative": json.dumps({"image": [[-1] * 28] * 28}).encode(),
    "over 255": json.dumps({"image": [[256] * 28] * 28}).encode(),
    "NaN": ('{"image": [' + ",".join(["[" + ",".join(["NaN"] * 28) + "]"] * 28) + "]}").encode(),
    "Infinity": ('{"image": [' + ",".join(["[" + ",".join(["Infinity"] * 28) + "]"] * 28) + "]}").encode(),
    "strings": json.dumps({"image": [["a"] * 28] * 28}).encode(),
    "numeric strings": json.dumps({"image": [["12"] * 28] * 28}).encode(),
    "booleans": json.dumps({"image": [[True] * 28] * 28}).encode(),
    "null image": json.dumps({"image": None}).encode(),
    "list body": b"[1, 2, 3]",
    "data URL of text": json.dumps({"png": "data:text/plain;base64,aGVsbG8="}).encode(),
    "data URL bad base64": json.dumps({"png": "data:image/png;base64,@@@@"}).encode(),
    "data URL not an image": json.dumps({"png": "data:image/png;base64," + base64.b64encode(b"hello").decode()}).encode(),
    "png is a number": json.dumps({"png": 42}).encode(),
}


@pytest.mark.parametrize("name", BAD_BODIES)
def test_malformed_predict_requests_get_a_4xx_json_error(client, name):
    reply = client.post("/api/predict", content=BAD_BODIES[name], headers={"Content-Type": "application/json"})
    _assert_error(reply)


def test_a_long_thin_png_is_refused_before_decoding(client):
    """4,000,000×1 pixels passes a pixel count but cost about 95 MB to prepare: the longest side
    is limited too."""
    buffer = io.BytesIO()
    Image.new("L", (4_000_000, 1)).save(buffer, format="PNG")
    reply = client.post("/api/predict", json={"png": "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()})
    assert reply.status_code == 422 and "a side longer than 8,192" in reply.json()["error"]


def test_a_png_declaring_100000_by_100000_pixels_is_refused(client):
    import struct
    import zlib
    buffer = io.BytesIO()
    Image.new("L", (10, 10)).save(buffer, format="PNG")
    header = buffer.getvalue()
    ihdr = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 0, 0, 0, 0)
    forged = header[:16] + ihdr + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr)) + header[33:]
    reply = client.post("/api/predict", json={"png": "data:image/png;base64," + base64.b64encode(forged).decode()})
    assert "refused" in _assert_error(reply, 422)["error"]


def test_unknown_paths_and_methods_are_json_errors(client):
    _assert_error(client.get("/api/nothing"), 404)
    _assert_error(client.get("/api/predict"), 405)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.one_of(
    st.lists(st.lists(st.integers(0, 255), min_size=28, max_size=28), min_size=28, max_size=28).map(lambda i: {"image": i}),
    st.lists(st.lists(st.floats(0, 255), min_size=28, max_size=28), min_size=28, max_size=28).map(lambda i: {"image": i}),
    st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
                 lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=5), children, max_size=3),
                 max_leaves=20),
    st.dictionaries(st.sampled_from(["image", "png", "x"]), st.lists(st.integers(-5, 300), max_size=30), max_size=2),
))
@pytest.mark.slow
def test_fuzzed_predict_requests_answer_well_formed_json(client, payload):
    reply = client.post("/api/predict", content=json.dumps(payload, allow_nan=True),
                        headers={"Content-Type": "application/json"})
    assert reply.status_code in (200, 413, 422, 400), reply.text
    body = reply.json()
    if reply.status_code == 200:
        p = np.array(body["probabilities"])
        assert abs(p.sum() - 1) < 1e-5 and body["prediction"] == int(p.argmax())
    else:
        assert "error" in body


# -- body limits (a real server, raw sockets) ---------------------------------------------------

def _post(length_header: bytes, path=b"/api/predict") -> bytes:
    return (b"POST " + path + b" HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n" +
            length_header + b"Connection: close\r\n\r\n")


@pytest.mark.slow
def test_stalled_clients_get_408_and_lose_their_sockets_while_valid_requests_are_answered(model):
    """300 clients send their headers and one byte of a 10-byte body, then nothing. A valid
    request meanwhile is answered as fast as ever; after the body timeout (1 s here, 10 s by
    default) every stalled client has a JSON 408 and a closed connection."""
    import socket
    app = create_app(model, "a test model", body_timeout=1.0)
    image = json.dumps({"image": np.zeros((28, 28), int).tolist()}).encode()
    with LiveServer(app) as server:
        stalled = []
        for _ in range(300):
            sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
            sock.sendall(_post(b"Content-Length: 10\r\n") + b"{")
            stalled.append(sock)
        started = time.perf_counter()
        reply = server.raw(_post(f"Content-Length: {len(image)}\r\n".encode()) + image)
        assert status_of(reply) == 200 and time.perf_counter() - started < 2.0
        for sock in stalled:
            answer = b""
            while chunk := sock.recv(65536):
                answer += chunk
            sock.close()
            assert status_of(answer) == 408 and b'"the request body stalled for 1 s or took over 60 s"' in answer


def test_serve_lifts_the_open_file_limit_within_the_hard_limit():
    import resource
    from barenet.app.web.server import raise_open_file_limit
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(256, hard), hard))
        now = raise_open_file_limit(4096)
        assert now == (4096 if hard == resource.RLIM_INFINITY else min(4096, hard)) and now >= min(256, hard)
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


@pytest.fixture
def live(model):
    app = create_app(model, "a test model")
    calls = []
    served = app.state.served
    original = served.predict
    served.predict = lambda image: calls.append(1) or original(image)
    with LiveServer(app) as server:
        server.calls = calls
        yield server


def test_a_body_one_byte_over_the_limit_gets_413_before_the_handler_runs(live):
    body = b" " * (MAX_BODY + 1)
    reply = live.raw(_post(b"Content-Length: %d\r\n" % len(body)), [body])
    assert status_of(reply) == 413 and b'"error"' in reply
    assert live.calls == []
    exactly = json.dumps({"image": [[0] * 28] * 28}).encode()
    assert status_of(live.raw(_post(b"Content-Length: %d\r\n" % len(exactly)), [exactly])) == 200


def test_a_chunked_body_over_the_limit_gets_413(live):
    chunk = b" " * 65536
    chunks = [b"%x\r\n" % len(chunk) + chunk + b"\r\n"] * (MAX_BODY // len(chunk) + 2) + [b"0\r\n\r\n"]
    reply = live.raw(_post(b"Transfer-Encoding: chunked\r\n"), chunks)
    assert status_of(reply) == 413 and live.calls == []


def test_an_understated_length_never_gets_more_than_it_declared_to_the_handler(live):
    """HTTP/1.1 frames a body by its Content-Length: the server reads exactly the declared bytes
    (here a fragment that is not JSON: 422), and the surplus, which is no valid request, is
    refused and the connection closed. The handler never sees more than was declared."""
    surplus = b"x" * (2 * MAX_BODY)
    reply = live.raw(_post(b"Content-Length: 12\r\n"), [b'{"image": [[', surplus])
    replies = re.findall(rb"HTTP/1\.1 (\d{3}) ", reply)
    assert replies and all(400 <= int(status) < 500 for status in replies)
    assert live.calls == []


def test_a_declared_length_over_the_limit_is_refused_without_reading_the_body(live):
    reply = live.raw(_post(b"Content-Length: 999999999\r\n"))
    assert status_of(reply) == 413


# -- static files -------------------------------------------------------------------------------

@pytest.fixture
def static_tree(tmp_path, model):
    """A copy of the static folder with a secret beside it, a sibling-prefix folder, and a
    symlink inside pointing out."""
    static = tmp_path / "static"
    shutil.copytree(STATIC, static)
    (tmp_path / "secret.txt").write_text("secret")
    (tmp_path / "static-private").mkdir()
    (tmp_path / "static-private" / "key.txt").write_text("secret")
    os.symlink(tmp_path / "secret.txt", static / "link.txt")
    app = create_app(model, "a test model", static_dir=static)
    with LiveServer(app) as server:
        yield server


@pytest.mark.parametrize("path", [
    b"/static/..%2fsecret.txt", b"/static/%2e%2e/secret.txt", b"/static/..%5csecret.txt",
    b"/static/%2e%2e%2fsecret.txt", b"/static/../secret.txt", b"/static//etc/passwd", b"/static/%2fetc%2fpasswd",
    b"/static/../static-private/key.txt", b"/static-private/key.txt", b"/static/link.txt",
    b"/static/vendor/../../secret.txt", b"/static/", b"/static/vendor/",
])
def test_static_paths_cannot_escape_the_static_folder(static_tree, path):
    reply = static_tree.raw(b"GET " + path + b" HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
    assert status_of(reply) == 404, reply[:200]
    assert b"secret" not in reply


def test_static_files_inside_are_served(static_tree):
    reply = static_tree.raw(b"GET /static/learn.js HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
    assert status_of(reply) == 200


# -- training jobs ------------------------------------------------------------------------------

def test_a_training_job_runs_streams_its_epochs_and_finishes(client, app):
    reply = client.post("/api/train", json={"dataset": "xor", "hidden": [8], "epochs": 4, "batch_size": 32,
                                            "activation": "tanh", "lr": 0.01})
    assert reply.status_code == 202, reply.text
    job_id = reply.json()["job"]
    app.state.training.wait(job_id, timeout=120)
    status = client.get(f"/api/train/{job_id}").json()
    assert status["status"] == "finished" and [e["epoch"] for e in status["epochs"]] == [0, 1, 2, 3, 4]
    assert status["test"]["accuracy"] > 0.5
    stream = client.get(f"/api/train/{job_id}/events")
    assert stream.headers["content-type"].startswith("text/event-stream")
    events = [json.loads(line[6:]) for line in stream.text.splitlines() if line.startswith("data: ")]
    assert [e["epoch"] for e in events if e["type"] == "epoch"] == [0, 1, 2, 3, 4]
    assert events[-1] == {**events[-1], "type": "status", "status": "finished"}
    # an XOR model cannot read drawings: 784 inputs are needed
    assert "784 inputs" in _assert_error(client.post(f"/api/train/{job_id}/use"), 409)["error"]


@pytest.mark.parametrize("settings, kind", [
    ({"dataset": "xor", "hidden": [8], "epochs": 2, "lr": 0.01}, "regions"),
    ({"dataset": "digits", "hidden": [32], "epochs": 2}, "weights"),
    ({"dataset": "regression", "hidden": [16], "epochs": 1, "batch_size": 2048}, "regression"),
])
def test_a_training_job_sends_what_the_model_learned_every_epoch(client, app, settings, kind):
    from barenet.app.web.learned import GRID, POINTS
    job_id = client.post("/api/train", json=settings).json()["job"]
    app.state.training.wait(job_id, timeout=300)
    status = client.get(f"/api/train/{job_id}").json()
    assert status["status"] == "finished", status["error"]
    data, epochs = status["data"], status["epochs"]
    assert data["kind"] == kind and len(epochs) == settings["epochs"] + 1
    job = app.state.training.get(job_id)
    for epoch in epochs:
        learned = epoch["learned"]
        if kind == "regions":  # the class and certainty of every cell, from the model itself
            assert len(learned["regions"]) == len(learned["sure"]) == GRID * GRID
            assert set(learned["regions"]) <= {0, 1} and all(50 <= p <= 100 for p in learned["sure"])
            assert len(data["points"]) == POINTS and all(label in (0, 1) for *_, label in data["points"])
        elif kind == "weights":  # 25 units of 8×8 weights, each scaled to reach ±127
            assert data["image_shape"] == [8, 8] and len(learned["weights"]) == 25
            assert all(len(unit) == 64 and max(abs(v) for v in unit) == 127 for unit in learned["weights"])
        else:
            assert len(learned["predicted"]) == len(data["true"]) == POINTS
    if kind == "regions":  # the last picture is what the finished model says about the grid
        x0, x1, y0, y1 = data["extent"]
        xs, ys = np.linspace(x0, x1, GRID), np.linspace(y1, y0, GRID)
        grid = np.stack(np.meshgrid(xs, ys), axis=-1).reshape(-1, 2)
        agree = np.mean(job.model.predict(grid.astype(np.float32)) == np.array(epochs[-1]["learned"]["regions"]))
        assert agree > 0.99  # the extent is rounded to 4 digits in the message
    if kind == "weights":
        W = bn.to_numpy(job.model.layers[0].params["W"])[:, 0]
        np.testing.assert_allclose(epochs[-1]["learned"]["weights"][0], 127 * W / np.abs(W).max(), atol=0.5)


def test_finished_jobs_keep_only_their_last_picture_once_another_starts(client, app):
    first = client.post("/api/train", json={"dataset": "xor", "hidden": [4], "epochs": 3}).json()["job"]
    app.state.training.wait(first, timeout=120)
    assert all(epoch["learned"] for epoch in client.get(f"/api/train/{first}").json()["epochs"])
    second = client.post("/api/train", json={"dataset": "xor", "hidden": [4], "epochs": 1}).json()["job"]
    app.state.training.wait(second, timeout=120)
    kept = [epoch["learned"] is not None for epoch in client.get(f"/api/train/{first}").json()["epochs"]]
    assert kept == [False, False, False, True]  # memory: one picture per finished job


def test_only_one_job_at_a_time_and_pause_resume_stop(client, app):
    first = client.post("/api/train", json={"dataset": "spirals", "hidden": [64, 64], "epochs": 200,
                                            "batch_size": 8}).json()["job"]
    _assert_error(client.post("/api/train", json={"dataset": "xor"}), 409)
    job = app.state.training.get(first)
    deadline = time.time() + 60
    # running, and past epoch 0's full pass (which happens before the first batch, where a pause
    # takes effect): on a busy machine a pause right after "running" still saw epoch 0 arrive
    while not (job.status == "running" and any(e["type"] == "epoch" for e in job.events)) and time.time() < deadline:
        time.sleep(0.05)
    assert client.post(f"/api/train/{first}/pause").json()["status"] == "paused"
    time.sleep(0.5)  # an epoch whose last batch ran before the pause still reports (and draws its picture)
    epochs = len(job.events)
    time.sleep(0.5)
    assert len(job.events) == epochs  # nothing happens while paused
    assert client.post(f"/api/train/{first}/resume").json()["status"] == "running"
    client.post(f"/api/train/{first}/stop")
    app.state.training.wait(first, timeout=60)
    assert job.status == "stopped"
    assert client.post("/api/train", json={"dataset": "xor", "epochs": 1}).status_code == 202


@pytest.mark.parametrize("settings", [
    {"dataset": "imagenet"}, {"hidden": []}, {"hidden": [0]}, {"lr": 0}, {"lr": "fast"}, {"epochs": 1000},
    {"batch_size": -3}, {"dropout": 1.0}, {"optimizer": "lbfgs"}, {"unknown": 1}, {"lr": 1000},
])
def test_bad_training_settings_get_422(client, settings):
    _assert_error(client.post("/api/train", json=settings), 422)


def test_the_form_and_the_command_line_share_the_learning_rate_limit(client):
    from barenet.app.runs import RunConfig
    from barenet.training.settings import MAX_LR
    reply = client.post("/api/train", json={"dataset": "xor", "lr": MAX_LR * 1.01})
    assert reply.status_code == 422 and reply.json()["details"][0]["where"] == "lr"
    assert f"{MAX_LR:g}" in reply.json()["details"][0]["problem"]
    with pytest.raises(ValueError, match="lr must be a positive number up to 10, got 10.1"):
        RunConfig(dataset="xor", lr=MAX_LR * 1.01).validate()
    RunConfig(dataset="xor", lr=MAX_LR).validate()
    page = client.get("/").text
    assert f'name="lr" type="number" value="0.001" step="any" min="0" max="{MAX_LR:g}"' in page


def test_unknown_jobs_get_404(client):
    _assert_error(client.get("/api/train/999"), 404)
    _assert_error(client.post("/api/train/999/pause"), 404)
    _assert_error(client.post("/api/train/1/explode"), 422)
