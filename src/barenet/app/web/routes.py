"""The routes of ``barenet serve``'s app, by what they serve.

Errors as JSON, the page and its files, predictions, training jobs (``app.create_app`` puts them
together).
"""
from __future__ import annotations

import asyncio
import json
import logging
import threading
from typing import Literal

import numpy as np
from fastapi import HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, Response, StreamingResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from ...integrations.web import ASSETS, PAGE
from ..images import has_ink
from .form import TrainRequest
from .requests import MAX_PIXELS, PREPARING_AT_ONCE, PredictRequest, decode_png, error_answer

__all__ = ["errors", "page", "prediction", "training"]

log = logging.getLogger("barenet.app.web")


def errors(app):
    """Make every error a JSON answer: a 422 naming the fields, the HTTP errors, and a 500 with no traceback."""
    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, error: RequestValidationError):
        details = [{"where": ".".join(str(p) for p in e.get("loc", ()) if p != "body"), "problem": e.get("msg")}
                   for e in error.errors()[:10]]
        return error_answer(422, "the request does not match the schema", details)

    @app.exception_handler(StarletteHTTPException)  # FastAPI's HTTPException is a subclass
    async def http_error(request: Request, error: StarletteHTTPException):
        return error_answer(error.status_code, str(error.detail))

    @app.exception_handler(Exception)
    async def crashed(request: Request, error: Exception):  # never a traceback to the client
        log.exception("unhandled error on %s", request.url.path)
        return error_answer(500, "internal error")



def page(app, served, html):
    """Serve the page, the served model as a script for the browser, and the page's own files."""
    @app.get("/")
    def index():
        return HTMLResponse(html)

    @app.get("/model.js")
    def model_js():
        return Response(served.script, media_type="text/javascript; charset=utf-8", headers={"Cache-Control": "no-store"})

    @app.get("/{name}")
    def page_file(name: str):  # the page's own files, by name: nothing else is reachable this way
        if name not in ASSETS:
            raise HTTPException(404, "Not Found")
        return FileResponse(PAGE / name)



def prediction(app, served):
    """Serve what the model is, and its answer to a drawing (prepared as ``barenet predict`` prepares)."""
    preparing = threading.BoundedSemaphore(PREPARING_AT_ONCE)  # bounds the memory of concurrent drawings

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
                    image = served.prepare(decode_png(request.png), max_pixels=MAX_PIXELS)
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



def training(app, training, served):
    """Serve training jobs: start, follow (server-sent events), pause, resume, stop, and serve what one trained."""
    @app.post("/api/train", status_code=202)
    def start_training(request: TrainRequest):
        try:
            job = training.start(request.model_dump())
        except RuntimeError as error:
            raise HTTPException(409, str(error)) from None
        except ValueError as error:  # settings that do not go together (conv on points, a warm-up without cosine)
            raise HTTPException(422, str(error)) from None
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
