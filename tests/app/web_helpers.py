"""A real uvicorn server on a free loopback port, in a thread, for tests that need sockets; a plain
static file server, as any static host; Debian's Chromium for the browser tests; and drawing on a
page's canvas with the mouse."""
import functools
import http.server
import os
import shutil
import socket
import threading
import time

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"  # Debian's, never a downloaded browser
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]
SCREENSHOTS = os.environ.get("BARENET_SCREENSHOTS")  # a folder to keep the screenshots in


def chromium():
    """Yield a headless Chromium, driven by Playwright, and close it after (a fixture's body)."""
    from playwright import sync_api

    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield browser
        browser.close()


class LiveServer:
    """``barenet serve``'s configuration (connection cap, header deadline, JSON errors), on a free port."""

    def __init__(self, app, **limits):
        import uvicorn

        from barenet.app.web.server import serve_config

        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        sock.close()
        self.server = uvicorn.Server(serve_config(app, "127.0.0.1", self.port, log_level="error", **limits))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self):
        self.thread.start()
        deadline = time.time() + 20
        while not self.server.started and time.time() < deadline:
            time.sleep(0.02)
        return self

    def __exit__(self, *exc):
        self.server.should_exit = True
        self.thread.join(10)

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def raw(self, request: bytes, body_chunks=(), timeout=10) -> bytes:
        """Send raw bytes (no client-side normalisation of the path) and read the whole reply."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=timeout) as sock:
            sock.sendall(request)
            for chunk in body_chunks:
                try:
                    sock.sendall(chunk)
                except OSError:  # the server may close the connection early, as it should
                    break
            reply = b""
            while True:
                try:
                    data = sock.recv(65536)
                except OSError:
                    break
                if not data:
                    break
                reply += data
        return reply


def status_of(reply: bytes) -> int:
    return int(reply.split(b" ", 2)[1])


class StaticServer:
    """Python's own static file server on a free loopback port, serving ``folder``, in a thread."""

    def __init__(self, folder):
        class Quiet(http.server.SimpleHTTPRequestHandler):
            def log_message(self, *args):
                pass
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(folder)))
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()

    @property
    def url(self):
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"


def draw_strokes(page, strokes, box=(0.2, 0.1, 0.6, 0.8)):
    """Draw strokes (lists of points in a unit box) with the mouse, as a person would, into the part
    ``box`` (left, top, width, height, as fractions) of the page's #canvas."""
    import numpy as np

    from barenet.training.datasets.drawn import _smooth

    page.locator("#canvas").wait_for(state="visible")  # a view may still be switching to the canvas
    canvas = page.locator("#canvas").bounding_box()
    left, top, width, height = box
    for stroke in strokes:
        points = _smooth(np.asarray(stroke, dtype=float))
        to_screen = lambda p: (canvas["x"] + canvas["width"] * (left + width * p[0]),  # noqa: E731
                               canvas["y"] + canvas["height"] * (top + height * p[1]))
        page.mouse.move(*to_screen(points[0]))
        page.mouse.down()
        for point in points[1:]:
            page.mouse.move(*to_screen(point), steps=2)
        page.mouse.up()
