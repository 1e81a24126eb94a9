"""Training jobs for the web page's "watch it learn" view: one at a time, in a thread.

With pause, resume and stop, and an event list the page follows (server-sent events): what the
model learns from (once), then every epoch its figures and what it has learned (learned.py).
"""
from __future__ import annotations

import itertools
import threading
import time

from ...training import metrics
from . import learned
from ...training.callbacks import Callback
from ..config import DATASET_DEFAULTS, RunConfig, build_model, make_loss, make_optimizer
from ..data import load_dataset, split_validation

_ids = itertools.count(1)


class _Follow(Callback):
    """Publishes every epoch and honours pause and stop between batches."""

    def __init__(self, job):
        self.job = job

    def on_train_begin(self, logs=None):
        self.job._emit("epoch", epoch=0, logs=_clean(logs), **self.job._learned(self.model))

    def on_batch_end(self, batch, logs=None):
        if not self.job._running.is_set():
            self.job._running.wait()
        if self.job._stop_requested:
            self.model.stop_training = True

    def on_epoch_end(self, epoch, logs=None):
        self.job._emit("epoch", epoch=epoch, logs=_clean(logs), **self.job._learned(self.model))


def _clean(logs):
    return {k: (None if v is None else float(v)) for k, v in (logs or {}).items()}


class TrainingJob:
    """One training run of the web page, in its own thread, and the events it publishes.

    Parameters
    ----------
    settings : dict
        The form's settings (``form.TrainRequest``), None where left out.
    """

    def __init__(self, settings: dict):
        self.settings = settings
        self.config = self._config()  # settings that do not go together are refused before a job exists
        self.id = str(next(_ids))
        self.status = "starting"
        self.events: list = []
        self.model = None
        self.error = None
        self.test = None
        self.picture = None  # model -> what it has learned, for the page to draw
        self._running = threading.Event()
        self._running.set()
        self._stop_requested = False
        self._thread = threading.Thread(target=self._run, name=f"barenet-train-{self.id}", daemon=True)

    @property
    def finished(self) -> bool:
        """Whether the job has ended: finished, stopped or failed."""
        return self.status in ("finished", "stopped", "failed")

    def _emit(self, event, **data):
        self.events.append({"type": event, "time": time.time(), **data})

    def _learned(self, model) -> dict:
        return {} if self.picture is None else {"learned": self.picture(model)}

    def _set_status(self, status, **data):
        self.status = status
        self._emit("status", status=status, **data)

    def _config(self):
        """Return the run configuration: the form's settings over the data set's defaults.

        As on the command line; the augmentation switch on means the "light" preset.
        """
        given = {name: value for name, value in self.settings.items() if value is not None}
        return RunConfig.from_dict({**DATASET_DEFAULTS.get(given["dataset"], {}), **given, "seed": 0})

    def _run(self):
        try:
            config = self.config
            self._set_status("loading data")
            data = load_dataset(config.dataset, config.seed)
            X, y, validation = split_validation(config, data)
            model = build_model(config, data)
            model.metadata = {"dataset": data.name, "class_names": data.class_names,
                              "image_shape": list(data.image_shape) if data.image_shape else None}
            fixed, self.picture = learned.describe(data, *(validation or (X, y)))
            if fixed is not None:
                self._emit("data", **fixed)  # what the model learns from, before its first epoch
            self._set_status("running")
            model.fit(X, y, loss=make_loss(config, data), optimizer=make_optimizer(config), epochs=config.epochs,
                      batch_size=config.batch_size, validation_data=validation, callbacks=[_Follow(self)], verbose=0)
            if data.task == "classification":
                self.test = {"accuracy": metrics.accuracy(data.y_test, model.predict(data.X_test))}
                model.metadata["test"] = self.test
            self.model = model
            self._set_status("stopped" if self._stop_requested else "finished", test=self.test)
        except Exception as error:  # reported to the page; the server goes on
            self.error = f"{type(error).__name__}: {error}"
            self._set_status("failed", error=self.error)

    def pause(self):
        """Pause a running job between two batches."""
        if self.status == "running":
            self._running.clear()
            self._set_status("paused")

    def resume(self):
        """Resume a paused job."""
        if self.status == "paused":
            self._running.set()
            self._set_status("running")

    def stop(self):
        """Stop the job after the current batch; its model so far can still be served."""
        if not self.finished:
            self._stop_requested = True
            self._running.set()
            self._emit("status", status="stopping")

    def forget_pictures(self):
        """Keep only the last epoch's picture of what was learned (the one a late viewer draws).

        Called on finished jobs when another starts, so that kept jobs hold one picture each.
        """
        epochs = [e for e in self.events if e["type"] == "epoch" and e.get("learned") is not None]
        for event in epochs[:-1]:
            event["learned"] = None

    def snapshot(self) -> dict:
        """Return the job as the API shows it: its status, settings, error, test figures and epochs."""
        return {"job": self.id, "status": self.status, "settings": self.settings, "error": self.error,
                "test": self.test, "epochs": [e for e in self.events if e["type"] == "epoch"],
                "data": next((e for e in self.events if e["type"] == "data"), None)}


class TrainingManager:
    """Runs one training job at a time (they share the machine's cores) and keeps recent ones.

    Parameters
    ----------
    keep : int, default 20
        How many jobs to keep, the oldest forgotten first.
    """

    def __init__(self, keep: int = 20):
        self.jobs: dict[str, TrainingJob] = {}
        self.keep = keep
        self.lock = threading.Lock()

    def start(self, settings: dict) -> TrainingJob:
        """Start a job with ``settings``; return it. RuntimeError while another is running."""
        with self.lock:
            if any(not job.finished for job in self.jobs.values()):
                raise RuntimeError("a training job is already running; stop it first")
            job = TrainingJob(settings)  # a ValueError where the settings do not go together
            for old in self.jobs.values():
                old.forget_pictures()
            self.jobs[job.id] = job
            while len(self.jobs) > self.keep:
                self.jobs.pop(next(iter(self.jobs)))
        job._thread.start()
        return job

    def get(self, job_id: str) -> TrainingJob | None:
        """Return the job of that id, or None."""
        return self.jobs.get(job_id)

    def wait(self, job_id: str, timeout: float = 300) -> TrainingJob:
        """Block until a job ends, at most ``timeout`` seconds (for tests and scripts); return it."""
        job = self.jobs[job_id]
        job._thread.join(timeout)
        return job
