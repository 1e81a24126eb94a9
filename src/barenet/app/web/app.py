"""The web app behind ``barenet serve``: the page, and a JSON API.

The page is the static web export's draw page (``barenet.integrations.web``), which prepares
drawings and runs the model in the browser, from ``/model.js``: the served model written as the
export writes it. The server adds the "watch it learn" view (static/learn.html, learn.js).

    GET  /                            the page;  GET /model.js  the served model, for the browser
    GET  /api/model                   the model being served: source, data set, classes
    POST /api/predict                 {"image": 28×28 grey levels 0-255, white on black} or {"png": data URL}
                                      -> {"prediction", "probabilities", "input": the 28×28 image (0-255) the model saw}
    POST /api/train                   start training (settings below)  -> 202 {"job": id}
    GET  /api/train/{id}              the job's status and history
    GET  /api/train/{id}/events       server-sent events: "data" (what is learned from, once), one
                                      "epoch" event per epoch (with what was learned), "status" changes
    POST /api/train/{id}/pause|resume|stop
    POST /api/train/{id}/use          serve the model that job trained (28×28 image data sets)

/api/predict prepares pictures with ``barenet.app.images`` (prepare_digit, or prepare_silhouette
for Fashion-MNIST models), the same code as ``barenet predict``; every error is JSON
``{"error": ..., "details": [...]}`` with a 4xx code, never a traceback.
"""
from __future__ import annotations

import asyncio
import logging
import re
import threading
from pathlib import Path

import numpy as np
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from ...core.losses import CrossEntropy
from ...integrations.web import model_script, render_page
from ..images import prepare_digit, prepare_silhouette
from . import routes
from .requests import MAX_BODY, error_answer
from .training import TrainingManager

STATIC = Path(__file__).with_name("static")
BODY_TIMEOUT_S = 10.0       # a body that stalls this long between two pieces is answered 408 and dropped
BODY_DEADLINE_S = 60.0      # and so is one that takes longer than this in all
DRAIN_LIMIT = 32 << 20      # bodies over MAX_BODY are read and dropped up to this, so the client reads the 413
log = logging.getLogger("barenet.app.web")

class BodyLimit:
    """Refuse request bodies over ``limit`` bytes with a readable 413, before the application sees them.

    - A declared Content-Length over the limit is refused without reading the body when the
      client asked ``Expect: 100-continue`` (curl does, for large uploads) or declared more than
      ``drain`` bytes. Otherwise the body is read and thrown away first, so that clients that send
      the whole body before reading the answer (urllib, requests) read the 413 instead of a reset
      connection.
    - Other bodies (chunked, or declared within the limit) are read counting the bytes that
      actually arrive; past the limit they are drained up to ``drain`` bytes and refused.
    - A client that stops sending for ``timeout`` seconds, or whose body takes longer than
      ``deadline`` seconds in all, gets 408 and loses its connection, so slow clients cannot hold
      the server's sockets.

    The application is called only with a complete body within the limit; memory held per
    request is at most ``limit`` bytes whatever the client sends.

    Parameters
    ----------
    app : ASGI application
        The application behind it.
    limit : int, default MAX_BODY
        The largest body, in bytes.
    timeout, deadline : float
        Seconds: the longest pause, and the longest body in all.
    drain : int, default DRAIN_LIMIT
        The most bytes of an oversized body read and dropped.
    """

    def __init__(self, app, limit: int = MAX_BODY, timeout: float = BODY_TIMEOUT_S,
                 deadline: float = BODY_DEADLINE_S, drain: int = DRAIN_LIMIT):
        self.app, self.limit, self.timeout, self.deadline, self.drain = app, limit, timeout, deadline, drain

    async def __call__(self, scope, receive, send):
        """Serve one ASGI connection: HTTP requests with their bodies checked, anything else as it is."""
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = dict(scope["headers"])
        declared = headers.get(b"content-length")
        if declared is not None and not declared.isdigit():
            return await error_answer(400, "invalid Content-Length", close=True)(scope, receive, send)
        if declared is not None and int(declared) > self.limit:
            outcome = "over"
            if headers.get(b"expect", b"").lower() != b"100-continue" and int(declared) <= self.drain:
                outcome, _ = await self._read(receive, keep=False)
        else:
            outcome, body = await self._read(receive, keep=True)
        if outcome == "gone":
            return
        if outcome == "stalled":
            return await error_answer(408, f"the request body stalled for {self.timeout:g} s or took over "
                                     f"{self.deadline:g} s", close=True)(scope, receive, send)
        if outcome == "over":
            return await error_answer(413, f"request body over the {self.limit:,}-byte limit", close=True)(scope, receive, send)
        delivered = False

        async def replay():
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": bytes(body), "more_body": False}
            return await receive()  # afterwards: the client's disconnect, for streaming responses

        await self.app(scope, replay, send)

    async def _read(self, receive, keep: bool):
        """Read the body, keeping it (if ``keep``) while it is within the limit.

        Past the limit, count and drop what arrives, and stop reading after ``drain`` bytes in all.
        Returns ``(outcome, body)``: outcome is "complete", "over" (the limit), "stalled" (a pause over
        ``timeout`` or a body over ``deadline``) or "gone" (the client disconnected).
        """
        loop = asyncio.get_running_loop()
        end, body, seen, more = loop.time() + self.deadline, bytearray(), 0, True
        while more and seen <= self.drain:
            try:
                message = await asyncio.wait_for(receive(), max(0.0, min(self.timeout, end - loop.time())))
            except asyncio.TimeoutError:
                return "stalled", None
            if message["type"] == "http.disconnect":
                return "gone", None
            chunk = message.get("body", b"")
            seen += len(chunk)
            if keep and seen <= self.limit:
                body += chunk
            more = message.get("more_body", False)
        return ("over", None) if seen > self.limit or not keep else ("complete", body)


def _fragments(path: Path) -> dict:
    """Return {slot: HTML} from a file of fragments, each after a ``<!-- barenet:slot -->`` line."""
    parts = re.split(r"^<!-- barenet:(\w+) -->$", path.read_text(), flags=re.M)
    return dict(zip(parts[1::2], parts[2::2]))


class ServedModel:
    """The model behind /api/predict, swappable while serving.

    Inference runs under a lock because layers keep their last input for backward.

    Parameters
    ----------
    model : Sequential or Ensemble
        A classifier of 28×28 pictures.
    source : str
        Where it comes from, shown on the page.
    """

    def __init__(self, model, source: str):
        self.lock = threading.Lock()
        self.set(model, source)

    def set(self, model, source):
        """Serve ``model`` from now on; ValueError for a model the page cannot draw for."""
        if model.input_width != 784:
            raise ValueError(f"the page draws 28×28 digits: the model must take 784 inputs, not {model.input_width}")
        if model.loss is None or not isinstance(model.loss, CrossEntropy):
            raise ValueError("the model must be a classifier (trained with CrossEntropy)")
        script = model_script(model, source=source)  # refuses a layer the browser cannot run
        with self.lock:
            self.model, self.source, self.script = model, source, script
            meta = getattr(model, "metadata", {}) or {}
            classes = (model.members[0] if hasattr(model, "members") else model).output_width_
            self.classes = [str(c) for c in (meta.get("class_names") or range(classes))]
            self.info = {"source": source, "dataset": meta.get("dataset"), "classes": self.classes,
                         "test": meta.get("test")}
            self.prepare = prepare_silhouette if meta.get("dataset") == "fashion-mnist" else prepare_digit

    def predict(self, image28: np.ndarray):
        """Return the model's class probabilities for one prepared (28, 28) image."""
        with self.lock:
            return self.model.predict_proba(image28.reshape(1, -1))[0]


def create_app(model, source: str, *, training: TrainingManager | None = None, static_dir=STATIC,
               max_body: int = MAX_BODY, body_timeout: float = BODY_TIMEOUT_S,
               body_deadline: float = BODY_DEADLINE_S):
    """Return the app serving ``model``, behind its body limit.

    Parameters
    ----------
    model : Sequential or Ensemble
        A classifier of 28×28 pictures.
    source : str
        Where it comes from, shown on the page.
    training : TrainingManager, optional
        Runs the training view's jobs (a new one by default).
    static_dir : Path
        The page's own files.
    max_body, body_timeout, body_deadline
        ``BodyLimit``'s limit, timeout and deadline.
    """
    static_dir = Path(static_dir)
    served = ServedModel(model, source)
    training = training or TrainingManager()
    app = FastAPI(title="barenet", version="1", docs_url=None, redoc_url=None)
    routes.errors(app)
    routes.page(app, served, render_page(_fragments(static_dir / "learn.html")))
    routes.prediction(app, served)
    routes.training(app, training, served)
    # Static files: only what is inside STATIC, no symlinks out of it, no directory listings.
    app.mount("/static", StaticFiles(directory=static_dir, follow_symlink=False), name="static")
    app.state.served, app.state.training = served, training
    limited = BodyLimit(app, max_body, body_timeout, body_deadline)
    limited.state = app.state
    return limited
