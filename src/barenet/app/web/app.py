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
import base64
import binascii
import json
import logging
import re
import threading
from pathlib import Path
from typing import Annotated, Literal

import numpy as np
from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response, StreamingResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ConfigDict, Field, field_validator
from starlette.exceptions import HTTPException as StarletteHTTPException

from ...core.losses import CrossEntropy
from ...integrations.web import ASSETS, PAGE, model_script, render_page
from ..images import has_ink, prepare_digit, prepare_silhouette
from .form import TrainRequest
from .training import TrainingManager

STATIC = Path(__file__).with_name("static")
MAX_BODY = 1 << 20          # bytes: a 280×280 drawing is about 20 kB as PNG, 5 kB as JSON
BODY_TIMEOUT_S = 10.0       # a body that stalls this long between two pieces is answered 408 and dropped
BODY_DEADLINE_S = 60.0      # and so is one that takes longer than this in all
DRAIN_LIMIT = 32 << 20      # bodies over MAX_BODY are read and dropped up to this, so the client reads the 413
MAX_PIXELS = 4_000_000      # pictures larger than 2000×2000 are refused before decoding
PREPARING_AT_ONCE = 2       # pictures prepared at once; each takes up to about 80 MiB (a 2000×2000 one)
log = logging.getLogger("barenet.app.web")

Grey = Annotated[float, Field(ge=0, le=255, allow_inf_nan=False, strict=True)]  # numbers, not "12"


class PredictRequest(BaseModel):
    """Exactly one of ``image`` and ``png``."""

    model_config = ConfigDict(extra="forbid")
    image: list[list[Grey]] | None = Field(None, description="28×28 grey levels 0-255, white ink on black")
    png: str | None = Field(None, max_length=MAX_BODY, description="a data URL: data:image/png;base64,...")

    @field_validator("image")
    @classmethod
    def _square(cls, image):
        if image is not None and (len(image) != 28 or any(len(row) != 28 for row in image)):
            raise ValueError("image must be 28 rows of 28 grey levels")
        return image


def _error(status: int, message: str, details=None, close: bool = False) -> JSONResponse:
    """The API's error answer; ``close`` ends the connection after it (for a body left unread)."""
    body = {"error": message}
    if details:
        body["details"] = details
    return JSONResponse(body, status_code=status, headers={"Connection": "close"} if close else None)


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
    """

    def __init__(self, app, limit: int = MAX_BODY, timeout: float = BODY_TIMEOUT_S,
                 deadline: float = BODY_DEADLINE_S, drain: int = DRAIN_LIMIT):
        self.app, self.limit, self.timeout, self.deadline, self.drain = app, limit, timeout, deadline, drain

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = dict(scope["headers"])
        declared = headers.get(b"content-length")
        if declared is not None and not declared.isdigit():
            return await _error(400, "invalid Content-Length", close=True)(scope, receive, send)
        if declared is not None and int(declared) > self.limit:
            outcome = "over"
            if headers.get(b"expect", b"").lower() != b"100-continue" and int(declared) <= self.drain:
                outcome, _ = await self._read(receive, keep=False)
        else:
            outcome, body = await self._read(receive, keep=True)
        if outcome == "gone":
            return
        if outcome == "stalled":
            return await _error(408, f"the request body stalled for {self.timeout:g} s or took over "
                                     f"{self.deadline:g} s", close=True)(scope, receive, send)
        if outcome == "over":
            return await _error(413, f"request body over the {self.limit:,}-byte limit", close=True)(scope, receive, send)
        delivered = False

        async def replay():
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": bytes(body), "more_body": False}
            return await receive()  # afterwards: the client's disconnect, for streaming responses

        await self.app(scope, replay, send)

    async def _read(self, receive, keep: bool):
        """Read the body, keeping it (if ``keep``) while it is within the limit; past the limit,
        count and drop what arrives, and stop reading after ``drain`` bytes in all.

        Returns ``(outcome, body)``: outcome is "complete", "over" (the limit), "stalled" (a
        pause over ``timeout`` or a body over ``deadline``) or "gone" (the client disconnected).
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


def _decode_png(data_url: str) -> bytes:
    prefix, _, payload = data_url.partition(",")
    if prefix not in ("data:image/png;base64", "data:image/jpeg;base64", "data:image/webp;base64"):
        raise ValueError("png must be a data URL starting with data:image/png;base64,")
    try:
        return base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("png holds invalid base64") from None


def _fragments(path: Path) -> dict:
    """{slot: HTML} from a file of fragments, each after a ``<!-- barenet:slot -->`` line."""
    parts = re.split(r"^<!-- barenet:(\w+) -->$", path.read_text(), flags=re.M)
    return dict(zip(parts[1::2], parts[2::2]))


class ServedModel:
    """The model behind /api/predict, swappable while serving; inference under a lock because
    layers keep their last input for backward."""

    def __init__(self, model, source: str):
        self.lock = threading.Lock()
        self.set(model, source)

    def set(self, model, source):
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
        with self.lock:
            return self.model.predict_proba(image28.reshape(1, -1))[0]


def create_app(model, source: str, *, training: TrainingManager | None = None, static_dir=STATIC,
               max_body: int = MAX_BODY, body_timeout: float = BODY_TIMEOUT_S,
               body_deadline: float = BODY_DEADLINE_S):
    """The app serving ``model`` (described by ``source``); ``training`` runs the training view's jobs."""
    static_dir = Path(static_dir)
    served = ServedModel(model, source)
    preparing = threading.BoundedSemaphore(PREPARING_AT_ONCE)  # bounds the memory of concurrent drawings
    training = training or TrainingManager()
    app = FastAPI(title="barenet", version="1", docs_url=None, redoc_url=None)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, error: RequestValidationError):
        details = [{"where": ".".join(str(p) for p in e.get("loc", ()) if p != "body"), "problem": e.get("msg")}
                   for e in error.errors()[:10]]
        return _error(422, "the request does not match the schema", details)

    @app.exception_handler(StarletteHTTPException)  # FastAPI's HTTPException is a subclass
    async def http_error(request: Request, error: StarletteHTTPException):
        return _error(error.status_code, str(error.detail))

    @app.exception_handler(Exception)
    async def crashed(request: Request, error: Exception):  # never a traceback to the client
        log.exception("unhandled error on %s", request.url.path)
        return _error(500, "internal error")

    page = render_page(_fragments(static_dir / "learn.html"))

    @app.get("/")
    def index():
        return HTMLResponse(page)

    @app.get("/model.js")
    def model_js():
        return Response(served.script, media_type="text/javascript; charset=utf-8", headers={"Cache-Control": "no-store"})

    @app.get("/{name}")
    def page_file(name: str):  # the page's own files, by name: nothing else is reachable this way
        if name not in ASSETS:
            raise HTTPException(404, "Not Found")
        return FileResponse(PAGE / name)

    @app.get("/api/model")
    def model_info():
        return served.info

    @app.post("/api/predict")
    def predict(request: PredictRequest):
        if (request.image is None) == (request.png is None):
            raise HTTPException(422, "send exactly one of 'image' (28×28 grey levels) and 'png' (a data URL)")
        try:
            if request.png is not None:
                with preparing:
                    image = served.prepare(_decode_png(request.png), max_pixels=MAX_PIXELS)
            else:
                image = served.prepare(np.asarray(request.image, dtype=np.float32) / 255.0, invert=False)
        except ValueError as error:
            raise HTTPException(422, str(error)) from None
        probabilities = served.predict(image)
        answer = {"prediction": int(np.argmax(probabilities)), "probabilities": [float(p) for p in probabilities],
                  "classes": served.classes, "input": np.round(image * 255).astype(int).tolist()}
        if not has_ink(image):
            answer["warning"] = "no ink found: the picture is blank, so this guess means nothing"
        return answer

    @app.post("/api/train", status_code=202)
    def start_training(request: TrainRequest):
        try:
            job = training.start(request.model_dump())
        except RuntimeError as error:
            raise HTTPException(409, str(error)) from None
        return {"job": job.id}

    def _job(job_id: str):
        job = training.get(job_id)
        if job is None:
            raise HTTPException(404, f"no training job {job_id!r}")
        return job

    @app.get("/api/train/{job_id}")
    def job_status(job_id: str):
        return _job(job_id).snapshot()

    @app.post("/api/train/{job_id}/{action}")
    def job_action(job_id: str, action: Literal["pause", "resume", "stop", "use"]):
        job = _job(job_id)
        if action == "use":
            if job.model is None or job.status not in ("finished", "stopped"):
                raise HTTPException(409, "the job has no finished model yet")
            try:
                served.set(job.model, f"trained here: job {job.id} ({job.settings['dataset']})")
            except ValueError as error:
                raise HTTPException(409, str(error)) from None
            return served.info
        getattr(job, action)()
        return job.snapshot()

    @app.get("/api/train/{job_id}/events")
    async def job_events(job_id: str, request: Request):
        job = _job(job_id)

        async def stream():
            sent = 0
            while True:
                events = job.events[sent:]
                for event in events:
                    yield f"event: {event['type']}\ndata: {json.dumps(event)}\n\n"
                sent += len(events)
                if job.finished and sent == len(job.events):
                    return
                if await request.is_disconnected():
                    return
                await asyncio.sleep(0.1)

        return StreamingResponse(stream(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})

    # Static files: only what is inside STATIC, no symlinks out of it, no directory listings.
    app.mount("/static", StaticFiles(directory=static_dir, follow_symlink=False), name="static")

    app.state.served, app.state.training = served, training
    limited = BodyLimit(app, max_body, body_timeout, body_deadline)
    limited.state = app.state
    return limited
