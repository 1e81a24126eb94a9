"""A real uvicorn server on a free loopback port, in a thread, for tests that need sockets."""
import socket
import threading
import time

import uvicorn

from barenet.app.web.server import serve_config


class LiveServer:
    """``barenet serve``'s configuration (connection cap, header deadline, JSON errors), on a free port."""

    def __init__(self, app, **limits):
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
