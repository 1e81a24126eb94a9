"""A real HTTPS server on loopback for download tests, with routes that misbehave on purpose."""
import http.server
import socket
import ssl
import threading
import time


class Handler(http.server.BaseHTTPRequestHandler):
    files: dict = {}
    hits: list = []

    def log_message(self, *args):
        pass

    def _send(self, body, length=None, status=200):
        self.send_response(status)
        self.send_header("Content-Length", str(len(body) if length is None else length))
        self.end_headers()
        self.wfile.write(body)

    def _redirect(self, location):
        self.send_response(302)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self):
        Handler.hits.append(self.path)
        route, _, name = self.path.lstrip("/").partition("/")
        body = self.files.get(name, b"")
        if route == "files":
            self._send(body) if name in self.files else self._send(b"missing", status=404)
        elif route == "truncated":  # promises the whole file, sends half, hangs up
            self._send(body[: len(body) // 2], length=len(body))
            self.close_connection = True
        elif route == "redirect":  # /redirect/<n>:<name> redirects n times then serves
            count, _, target = name.partition(":")
            self._redirect(f"/redirect/{int(count) - 1}:{target}" if int(count) > 1 else f"/files/{target}")
        elif route == "to-http":
            self._redirect(f"http://127.0.0.1:{self.server.server_address[1]}/files/{name}")
        elif route == "stall":  # headers, then nothing
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.flush()
            time.sleep(3)
        elif route == "huge":
            self._send(b"", length=10 ** 12)
        else:
            self._send(b"no such route", status=404)


class Server:
    def __init__(self, cert):
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        cert.configure_cert(context)
        self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()
        self.base = f"https://127.0.0.1:{self.httpd.server_address[1]}"

    def url(self, route, name):
        return f"{self.base}/{route}/{name}"

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def refused_url():
    """An https URL on a loopback port where nothing listens."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return f"https://127.0.0.1:{port}/files/x"
