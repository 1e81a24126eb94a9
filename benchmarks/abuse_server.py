"""Abuse a real ``barenet serve`` the way hostile or broken clients would, and report what it did.

Two phases against one server process, started as a user starts it:

1. **Mixed load.** ``--clients`` threads (16 by default) send ``--requests`` requests each, drawn
   by a seeded generator from valid ones (a 28×28 array, a small drawing, 2000×2000 and
   8192×488 drawings, the largest allowed) and abusive ones (a 4,000,000×1 strip, bodies of 2 MB
   and 20 MB sent whole before reading, as urllib does, a 20 MB body announced with
   ``Expect: 100-continue``, pixels as strings, broken JSON, TLS bytes, HTTP/0.9, a bad
   Content-Length). Every answer must be the expected status with a JSON body; a 5xx, a
   non-JSON body or a reset connection is a failure. The server's resident memory is read
   before, at its peak and after.
2. **Stalled clients.** ``--stalled`` sockets (1,000 by default) send part of a request head, or
   a head and one byte of the body, and then nothing. Meanwhile valid requests are timed; then
   every stalled socket must get a JSON 408 and be closed.

The size of the server's stderr is reported, to show that logging stays bounded.

    python benchmarks/abuse_server.py                      # 16 clients × 40 requests, 1,000 stalled
    python benchmarks/abuse_server.py --requests 12 --stalled 0
"""
from __future__ import annotations

import argparse
import base64
import io
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path

import numpy as np

TLS_HELLO = bytes.fromhex("16030100a5010000a10303") + bytes(32) + b"\x00\x00\x02\x13\x01\x01\x00"


def _png_url(width: int, height: int, ink: str = "box") -> str:
    from PIL import Image
    array = np.zeros((height, width), np.uint8)
    if ink == "box":
        array[height // 4: 3 * height // 4 + 1, width // 4: 3 * width // 4 + 1] = 255
    else:
        array[:] = 255
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, "PNG", optimize=True)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def payloads():
    """name -> (how to send, body or bytes, the expected status)."""
    digit = np.zeros((28, 28), int)
    digit[6:22, 12:16] = 255
    return {
        "array": ("json", {"image": digit.tolist()}, 200),
        "drawing": ("json", {"png": _png_url(280, 280)}, 200),
        "2000x2000": ("json", {"png": _png_url(2000, 2000, "full")}, 200),
        "8192x488": ("json", {"png": _png_url(8192, 488)}, 200),
        "strip 4000000x1": ("json", {"png": _png_url(4_000_000, 1)}, 422),
        "pixels as strings": ("json", {"image": [["12"] * 28] * 28}, 422),
        "broken JSON": ("bytes", b'{"image": [[0, 0', 422),
        "2 MB body": ("bytes", b" " * (2 << 20), 413),
        "20 MB body": ("bytes", b" " * (20 << 20), 413),
        "20 MB, Expect: 100-continue": ("expect", 20 << 20, 413),
        "TLS bytes": ("raw", TLS_HELLO, 400),
        "HTTP/0.9": ("raw", b"GET /\r\n\r\n", 400),
        "bad Content-Length": ("raw", b"POST /api/predict HTTP/1.1\r\nHost: x\r\nContent-Length: 1, 2\r\n\r\n", 400),
    }


def _read_all(sock) -> bytes:
    reply = b""
    while True:
        try:
            data = sock.recv(65536)
        except OSError:
            return reply
        if not data:
            return reply
        reply += data


def _split(reply: bytes):
    """(status, headers as text, body) of a raw reply, or (None, '', reply) if it is not one."""
    head, _, body = reply.partition(b"\r\n\r\n")
    try:
        return int(head.split(b" ", 2)[1]), head.decode("latin-1").lower(), body
    except (IndexError, ValueError):
        return None, "", reply


def send(port: int, how: str, what, timeout: float = 60.0):
    """Send one request; (status, is the body a JSON object, what went wrong or '')."""
    url = f"http://127.0.0.1:{port}/api/predict"
    try:
        if how in ("json", "bytes"):
            data = json.dumps(what).encode() if how == "json" else what
            request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
            try:
                with urllib.request.urlopen(request, timeout=timeout) as response:
                    status, body, kind = response.status, response.read(), response.headers.get_content_type()
            except urllib.error.HTTPError as error:
                status, body, kind = error.code, error.read(), error.headers.get_content_type()
        else:
            with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
                if how == "expect":
                    sock.sendall(b"POST /api/predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                                 b"Expect: 100-continue\r\nContent-Length: %d\r\n\r\n" % what)
                else:
                    sock.sendall(what)
                status, head, body = _split(_read_all(sock))
                kind = "application/json" if "content-type: application/json" in head else head
        try:
            is_json = kind == "application/json" and isinstance(json.loads(body), dict)
        except ValueError:
            is_json = False
        return status, is_json, ""
    except OSError as error:
        return None, False, f"{type(error).__name__}: {error}"


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


class Server:
    """``barenet serve`` in a child process, on a free port, stderr to a file."""

    def __init__(self, args=()):
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        self.port = probe.getsockname()[1]
        probe.close()
        self.stderr = tempfile.NamedTemporaryFile(prefix="barenet-serve-", suffix=".log", delete=False)
        self.process = subprocess.Popen([sys.executable, "-m", "barenet", "serve", "--port", str(self.port), *args],
                                        stdout=subprocess.DEVNULL, stderr=self.stderr)
        deadline = time.time() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/api/model", timeout=2):
                    break
            except OSError:
                if self.process.poll() is not None or time.time() > deadline:
                    self.stop()
                    raise RuntimeError(f"barenet serve did not start: {Path(self.stderr.name).read_text()[-2000:]}")
                time.sleep(0.2)

    def rss(self) -> float:
        return rss_mib(self.process.pid)

    def stderr_bytes(self) -> int:
        return os.path.getsize(self.stderr.name)

    def stop(self):
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.stderr.close()
        os.unlink(self.stderr.name)


def mixed_load(server: Server, clients: int = 16, requests: int = 40, seed: int = 0):
    """Phase 1. Returns a dict: counts by (name, status), failures, memory before/peak/after."""
    table = payloads()
    names = sorted(table)
    counts, failures, lock = Counter(), [], threading.Lock()
    before = peak = server.rss()
    done = threading.Event()

    def watch():
        nonlocal peak
        while not done.is_set():
            peak = max(peak, server.rss())
            time.sleep(0.05)

    def client(index):
        rng = random.Random(seed * 1000 + index)
        for _ in range(requests):
            name = rng.choice(names)
            how, what, expected = table[name]
            status, is_json, problem = send(server.port, how, what)
            with lock:
                counts[name, status] += 1
                if problem or status != expected or not is_json:
                    failures.append(f"{name}: status {status}, JSON body {is_json} {problem}".strip())

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - started
    done.set()
    watcher.join()
    time.sleep(1.0)
    return {"counts": counts, "failures": failures, "rss_before": before, "rss_peak": peak,
            "rss_after": server.rss(), "seconds": seconds, "requests": clients * requests}


def stalled_clients(server: Server, count: int = 1000, valid: int = 20, wait: float = 30.0):
    """Phase 2. Returns a dict: valid answers and their slowest time, stalled ones answered 408."""
    head = (b"POST /api/predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 10\r\n\r\n")
    sockets = []
    for i in range(count):
        sock = socket.create_connection(("127.0.0.1", server.port), timeout=wait)
        sock.sendall(head[:20] if i % 2 else head + b"{")  # half stall in the head, half in the body
        sockets.append(sock)
    how, what, _ = payloads()["array"]
    times, statuses = [], Counter()
    for _ in range(valid):
        started = time.perf_counter()
        status, _, _ = send(server.port, how, what, timeout=wait)
        times.append(time.perf_counter() - started)
        statuses[status] += 1
    answered = Counter()
    for sock in sockets:
        status, head_text, body = _split(_read_all(sock))
        sock.close()
        answered[status, "application/json" in head_text] += 1
    return {"valid": statuses, "slowest_valid_s": max(times), "stalled_answers": answered}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--requests", type=int, default=40, help="per client")
    parser.add_argument("--stalled", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    server = Server()
    try:
        load = mixed_load(server, args.clients, args.requests, args.seed)
        print(f"mixed load: {load['requests']} requests from {args.clients} clients in {load['seconds']:.1f} s")
        for (name, status), n in sorted(load["counts"].items(), key=str):
            print(f"  {name:30s} {status}  ×{n}")
        print(f"  failures: {len(load['failures'])}")
        for failure in load["failures"][:20]:
            print(f"    {failure}")
        print(f"  server memory: {load['rss_before']:.0f} MiB at start, {load['rss_peak']:.0f} MiB at the peak, "
              f"{load['rss_after']:.0f} MiB after (+{load['rss_after'] - load['rss_before']:.0f} MiB)")
        if args.stalled:
            stall = stalled_clients(server, args.stalled)
            print(f"{args.stalled} stalled clients: valid requests meanwhile {dict(stall['valid'])}, slowest "
                  f"{stall['slowest_valid_s']:.2f} s; stalled ones answered "
                  f"{ {f'{s} JSON' if j else f'{s} not JSON': n for (s, j), n in stall['stalled_answers'].items()} }")
        print(f"server stderr: {server.stderr_bytes():,} bytes")
    finally:
        server.stop()
    return 1 if load["failures"] else 0


if __name__ == "__main__":
    sys.exit(main())
