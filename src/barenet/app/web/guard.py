"""What stands between the network and the app in ``barenet serve``.

uvicorn answers some requests itself, before the app sees them, and leaves some doors open. This
module closes them, so that what clients meet is the API's contract (every error a JSON body) and
so that no client can starve the others or fill the disk:

- ``GuardedH11Protocol``, uvicorn's HTTP/1.1 protocol with
  - a cap on open connections: the one over the cap gets a JSON 503 and is closed at once;
  - a deadline for the request line and headers (uvicorn has none): a client that has not sent a
    whole request head ``header_timeout`` seconds after connecting, or after its previous answer,
    gets a JSON 408 and is closed;
  - a JSON 400 for bytes that are not HTTP (TLS to the plain port, HTTP/0.9, a bad
    Content-Length), where uvicorn sends ``text/plain``.
- ``Throttle``, a logging filter that lets through a few records of each kind per minute, and a
  bounded number in all, so that a flood of failing connections cannot fill the disk with
  tracebacks. What it holds back is counted and reported with the next record it lets through.

Body limits, body timeouts and the readable 413 are the app's ``BodyLimit`` middleware.
"""
from __future__ import annotations

import json
import logging
import time

from uvicorn.protocols.http.h11_impl import H11Protocol

HEADER_TIMEOUT_S = 10.0    # the whole request head must arrive within this
MAX_CONNECTIONS = 4096     # open connections; one more is answered 503 and closed

_REASONS = {400: "Bad Request", 408: "Request Timeout", 503: "Service Unavailable"}


def json_reply(status: int, message: str) -> bytes:
    """Return a complete HTTP/1.1 response with a JSON error body, closing the connection."""
    body = json.dumps({"error": message}).encode()
    head = (f"HTTP/1.1 {status} {_REASONS[status]}\r\ncontent-type: application/json\r\n"
            f"content-length: {len(body)}\r\nconnection: close\r\n\r\n")
    return head.encode("ascii") + body


class GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a connection cap, a header deadline and JSON errors.

    The two limits are class attributes; ``guarded_protocol`` makes a subclass with others.
    """

    max_connections = MAX_CONNECTIONS
    header_timeout = HEADER_TIMEOUT_S

    def connection_made(self, transport) -> None:
        """Accept a connection, or refuse it with a 503 over the cap; start its header deadline."""
        super().connection_made(transport)
        self._head_timer = None
        if len(self.connections) > self.max_connections:
            self._refuse(503, f"the server has {self.max_connections:,} connections open; try again shortly")
            return
        self._await_head()

    def _await_head(self) -> None:
        """Start the deadline for the next request head."""
        self._cancel_head_timer()
        self._cycle_waited_on = self.cycle
        self._head_timer = self.loop.call_later(self.header_timeout, self._head_timed_out)

    def _cancel_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self.cycle is self._cycle_waited_on:  # no new request began in time
            self._refuse(408, f"the request head did not arrive within {self.header_timeout:g} s")

    def data_received(self, data: bytes) -> None:
        """Take bytes in; once a whole request head has arrived, stop its deadline."""
        super().data_received(data)
        if self._head_timer is not None and self.cycle is not self._cycle_waited_on:
            self._cancel_head_timer()  # a whole request head arrived: the app's timeouts take over

    def on_response_complete(self) -> None:
        """Start the deadline for the next request head (keep-alive)."""
        super().on_response_complete()
        if not self.transport.is_closing():
            self._await_head()  # keep-alive: the next request's head has the same deadline

    def connection_lost(self, exc) -> None:
        """Stop the deadline of a connection that is gone."""
        self._cancel_head_timer()
        super().connection_lost(exc)

    def send_400_response(self, msg: str) -> None:  # uvicorn's hook for bytes h11 cannot parse
        """Answer bytes that are not HTTP with a JSON 400 (uvicorn's hook; ``msg`` is its text)."""
        self._refuse(400, "not a valid HTTP/1.1 request (is it HTTPS sent to the plain HTTP port?)")

    def _refuse(self, status: int, message: str) -> None:
        self._cancel_head_timer()
        if self.transport.is_closing():
            return
        cycle = self.cycle
        if cycle is None or cycle.response_complete or not cycle.response_started:  # never inside a response
            self.transport.write(json_reply(status, message))
        self.transport.close()


def guarded_protocol(max_connections: int = MAX_CONNECTIONS, header_timeout: float = HEADER_TIMEOUT_S):
    """Return ``GuardedH11Protocol`` with these limits (uvicorn takes the class as ``http=``)."""
    return type("GuardedH11Protocol", (GuardedH11Protocol,),
                {"max_connections": max_connections, "header_timeout": header_timeout})


class Throttle(logging.Filter):
    """Let through at most ``burst`` records of one kind, and ``total`` in all, per ``period`` seconds.

    A kind is a logger, a level and the start of the message's template, so records that differ
    only in an address or a file descriptor are one kind. The records held back are counted, and
    the count is added to the next record of that kind let through. The filter's own memory is
    bounded: it forgets kinds not seen for a period, and keeps at most ``kinds`` of them.

    Parameters
    ----------
    burst : int, default 5
        Records of one kind per period.
    total : int, default 60
        Records in all per period.
    period : float, default 60.0
        Seconds.
    kinds : int, default 1000
        The most kinds it keeps count of.
    clock : callable, default time.monotonic
        Gives the time in seconds.
    """

    def __init__(self, burst: int = 5, total: int = 60, period: float = 60.0, kinds: int = 1000,
                 clock=time.monotonic):
        super().__init__()
        self.burst, self.total, self.period, self.kinds, self.clock = burst, total, period, kinds, clock
        self.window_start, self.in_window = clock(), 0
        self.counts: dict[tuple, list[int]] = {}  # kind -> [let through, held back] in this window

    def filter(self, record: logging.LogRecord) -> bool:
        """Return whether to log ``record``: True within its kind's and the period's share."""
        now = self.clock()
        if now - self.window_start >= self.period:
            self.window_start, self.in_window = now, 0
            self.counts = {kind: [0, held] for kind, (_, held) in self.counts.items() if held}
        kind = (record.name, record.levelno, str(record.msg)[:60])
        if kind not in self.counts and len(self.counts) >= self.kinds:
            return False
        passed, held = self.counts.setdefault(kind, [0, 0])
        if passed >= self.burst or self.in_window >= self.total:
            self.counts[kind][1] += 1
            return False
        self.counts[kind] = [passed + 1, 0]
        self.in_window += 1
        if held:
            record.msg = f"{record.msg} [{held} more like this were not logged]"
        return True


def configure_logging(stream=None) -> logging.Handler:
    """Put one throttled handler on the root logger, for the server's warnings and errors; return it.

    uvicorn's, asyncio's and the app's; ``stream`` is where they go (standard error by default).
    """
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(Throttle())
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(logging.WARNING)
    return handler
