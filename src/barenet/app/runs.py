"""Training runs: a data set, a configuration, and a run folder holding everything a run made.

``barenet train`` is a thin layer over ``train_run``; the web app's training view builds the same
way (``app.config``). A run folder holds ``config.json`` (written first), ``checkpoint.npz``
(after every epoch, optimizer and random state included, so ``resume_run`` continues exactly where
it stopped), ``history.json``, and at the end ``model.npz``, ``report.txt`` and the plots as PNG
files.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

from ..core.backend import backend_named
from ..files.atomic import atomic_write
from ..training import callbacks as cb
from ..training.ensemble import Ensemble
from ..training.parallel import data_parallel, leads
from ..training.storage import load
from ..training.threads import threads
from .config import AUGMENTATIONS, DATASET_DEFAULTS, RUN_SETTINGS, RunConfig, build_model, make_loss, make_optimizer
from .data import DATASETS, IMAGE_DATASETS, Dataset, default_dataset, load_dataset, split_validation
from .interrupts import raise_if_interrupted
from .report import describe, evaluate_run, format_report, write_plots

__all__ = ["train_run", "resume_run", "unused_folder", "plural",
           # the run's parts, by the names they always had here
           "Dataset", "DATASETS", "IMAGE_DATASETS", "load_dataset", "default_dataset", "split_validation",
           "RunConfig", "RUN_SETTINGS", "AUGMENTATIONS", "DATASET_DEFAULTS", "build_model", "make_optimizer",
           "make_loss", "evaluate_run", "format_report", "write_plots", "describe"]


def _write_json(path, value):
    with atomic_write(path, "w") as handle:
        json.dump(value, handle, indent=1)


def _member_dir(out: Path, config: RunConfig, member: int) -> Path:
    return out if config.ensemble == 1 else out / f"member{member}"


def _fit_member(config, data, out, member, log, verbose, callbacks, resume, parallel=None):
    """Train (or continue) one model; return it. Checkpoints go to <out>/checkpoint.npz."""
    if leads(parallel):
        out.mkdir(parents=True, exist_ok=True)
    X, y, validation = split_validation(config, data)
    checkpoint = out / "checkpoint.npz"
    if resume and checkpoint.exists():
        model = load(checkpoint)
        done = model.history.epochs[-1]
        if done >= config.epochs:
            return model
        log(f"resuming {out} at epoch {done + 1} of {config.epochs}")
    else:
        model = build_model(config, data, member)
        model.loss, model.optimizer = make_loss(config, data), make_optimizer(config)
        done = 0
    hooks = [cb.ModelCheckpoint(checkpoint), cb.HistoryWriter(out / "history.json")] + list(callbacks)
    if config.patience and validation is not None:
        # the best weights are kept on disk too, so that early stopping carries over a resume
        best = cb.ModelCheckpoint(out / "best.npz", monitor="val_loss", save_best_only=True, include_optimizer=False)
        stopper = cb.EarlyStopping("val_loss", patience=config.patience)
        if done:
            best.resume(model.history)
            weights = load(out / "best.npz").parameter_vectors()[0] if (out / "best.npz").exists() else None
            stopper.resume(model.history, weights)
            if stopper.wait > stopper.patience:  # it had already stopped: the run was complete
                log(f"{out} stopped early at epoch {done} (val_loss had not improved for {config.patience} "
                    f"epochs): nothing to continue")
                if weights is not None:
                    model.parameter_vectors()[0][...] = weights
                return model
        hooks += [best, stopper]
    model.fit(X, y, epochs=config.epochs - done, batch_size=config.batch_size, validation_data=validation,
              callbacks=hooks, verbose=verbose, parallel=parallel)  # callbacks (files) run on the leader only
    return model


def _announce(config, out, log):
    """Say where the run's folder is and what it trains."""
    log(f"run folder: {out}/  (model.npz, history.json, report.txt, plots)")
    log(f"training on {config.dataset}: " + (f"conv '{config.conv}', " if config.conv else "") +
        f"hidden {config.hidden}, {config.activation}, {config.optimizer} "
        f"lr {config.lr}, {plural(config.epochs, 'epoch')}, batch {config.batch_size}, backend "
        f"{backend_named(config.backend).name}" + (f", recipe {config.recipe}" if config.recipe else ""))


def train_run(config: RunConfig, out, *, log=print, verbose=1, callbacks=(), resume=False, plots=True,
              parallel=None, new_folder=False, on_folder=None, data=None):
    """Train the configured model(s) on the configured data, writing the run folder ``out``.

    Returns (model, report dict). Ctrl-C stops after the current batch: what exists is saved and
    KeyboardInterrupt raised again. ``new_folder``: make ``out`` unique (``out-2``..., even against
    a run started the same second); ``on_folder(path)`` hears the folder once made. ``parallel``: as
    for ``fit``; process 0 alone writes the folder and evaluates, the others return (model, None).
    ``data``: a ``Dataset`` instead of the configured one's (the draw model's), which --resume cannot know.
    """
    config.validate()
    started = time.perf_counter()
    if data is None:  # before the folder exists: missing data leaves nothing behind
        data = load_dataset(config.dataset, config.seed)
    raise_if_interrupted(hand_over=True)  # one swallowed while the data loaded; then fit's own handling
    par = data_parallel(parallel)
    out = Path(out)
    if leads(par):
        if new_folder:
            out = unused_folder(out)
        out.mkdir(parents=True, exist_ok=True)
        if not resume:
            _write_json(out / "config.json", config.to_dict())
            _announce(config, out, log)
    if on_folder is not None:
        on_folder(out)
    models, interrupted = [], None
    try:
        with threads(config.threads):
            for member in range(config.ensemble):
                if config.ensemble > 1:
                    log(f"ensemble member {member + 1} of {config.ensemble}")
                models.append(_fit_member(config, data, _member_dir(out, config, member), member, log, verbose,
                                          callbacks, resume, par))
    except KeyboardInterrupt as error:
        interrupted = error
        partial = _member_dir(out, config, len(models)) / "checkpoint.npz"
        if partial.exists():
            models.append(load(partial))
        if not models:
            raise
    model = models[0] if len(models) == 1 else Ensemble(models)
    if not leads(par):
        return model, None
    model.metadata = {"dataset": data.name, "task": data.task, "class_names": data.class_names,
                      "image_shape": list(data.image_shape) if data.image_shape else None,
                      "config": config.to_dict()}
    report = evaluate_run(model, data, time.perf_counter() - started, interrupted is not None)
    model.metadata["test"] = report["test"]
    model.save(out / "model.npz") if isinstance(model, Ensemble) else model.save(out / "model.npz", include_optimizer=False)
    if len(models) == 1:
        _write_json(out / "history.json", model.history.to_dict())
    (out / "report.txt").write_text(format_report(config, data, report))
    if plots:
        write_plots(model, data, out, log)
    if interrupted is not None:
        raise interrupted
    return model, report


def resume_run(run_dir, *, log=print, verbose=1, epochs=None, parallel=None, **kwargs):
    """Continue the run in ``run_dir`` from its last checkpoint (optionally to more ``epochs``).

    Refused (ValueError) where a member's checkpoint is gone after it trained: the run cannot go on
    exactly, and its finished model is never replaced unasked. The other arguments are
    ``train_run``'s.
    """
    run_dir = Path(run_dir)
    config_path = run_dir / "config.json"
    if not config_path.is_file():
        raise FileNotFoundError(f"{run_dir} is not a run folder (no config.json)")
    config = RunConfig.from_dict(json.loads(config_path.read_text()))
    members = [_member_dir(run_dir, config, m) for m in range(config.ensemble)]
    for member in members:
        if not (member / "checkpoint.npz").is_file() and (_epochs_done(member) or (member / "model.npz").exists()):
            raise ValueError(
                f"cannot resume {run_dir}: {member / 'checkpoint.npz'} is gone, and a run continues only from its "
                f"checkpoint (the optimizer's and the random generator's state). The finished model is left as it "
                f"is: train it further in Python (bn.load('{run_dir / 'model.npz'}').fit(...)), or start a new run")
    done = min(_epochs_done(member) for member in members)
    if epochs is not None:
        if epochs <= done:
            raise ValueError(f"the run in {run_dir} already has {plural(done, 'epoch')}; with --resume, --epochs is "
                             f"the new total, so ask for more than {done} (e.g. --epochs {done + config.epochs})")
        config.epochs = epochs
    elif done >= config.epochs:
        raise ValueError(f"the run in {run_dir} is complete ({done} of {plural(config.epochs, 'epoch')}); to train "
                         f"it further, give the new total with --epochs (e.g. --epochs {2 * config.epochs})")
    par = data_parallel(parallel)
    if leads(par):
        _write_json(config_path, config.to_dict())
        log(f"resuming the run in {run_dir}/" if done else
            f"resuming the run in {run_dir}/: no epoch had finished, so it starts from the first")
    return train_run(config, run_dir, log=log, verbose=verbose, resume=True, parallel=par, **kwargs)


def unused_folder(path: Path) -> Path:
    """Return ``path``, or ``path-2``, ``path-3``... the first that did not exist, made now.

    Atomically: two runs started in the same second by a loop or two terminals get different folders.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    for k in range(1, 10_000):
        candidate = path if k == 1 else path.with_name(f"{path.name}-{k}")
        try:
            candidate.mkdir()
            return candidate
        except FileExistsError:
            continue
    raise FileExistsError(f"no free run folder name next to {path}")


def plural(count: int, word: str) -> str:
    """Return '1 epoch', '3 epochs'."""
    return f"{count} {word}" + ("" if count == 1 else "s")


def _epochs_done(member_dir: Path) -> int:
    """Return the last epoch in a member's history.json (written after every epoch), 0 if none yet."""
    try:
        return int(json.loads((member_dir / "history.json").read_text())["epochs"][-1])
    except (FileNotFoundError, KeyError, IndexError, ValueError, TypeError):
        return 0
