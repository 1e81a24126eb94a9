"""Training runs: a data set, a configuration, and a run folder holding everything a run made.

``barenet train`` is a thin layer over ``train_run``; the web app's training view uses it too.
A run folder holds ``config.json`` (written first), ``checkpoint.npz`` (after every epoch,
optimizer and random state included, so ``resume_run`` continues exactly where it stopped),
``history.json``, and at the end ``model.npz``, ``report.txt`` and the plots as PNG files.
"""
from __future__ import annotations

import dataclasses
import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..core import registry
from ..core.backend import backend_named, using_backend
from ..core.layers import Dense, Dropout
from ..core.losses import MSE, CrossEntropy
from ..core.optimizers import SGD
from ..core.schedules import CosineDecay, StepDecay
from ..training.storage import load
from ..training import callbacks as cb
from ..training import datasets, metrics
from ..core.augment import RandomAffine
from ..core.preprocessing import Standardizer
from ..training.data import train_test_split
from ..training.datasets import (DatasetNotFoundError, load_digits, load_mnist, make_clusters,
                                 make_regression)
from ..training.ensemble import Ensemble
from ..files.atomic import atomic_write
from ..training.model import Sequential
from ..training.parallel import data_parallel, leads
from .interrupts import raise_if_interrupted

__all__ = ["Dataset", "RunConfig", "DATASETS", "DATASET_DEFAULTS", "load_dataset", "default_dataset", "build_model",
           "make_optimizer", "split_validation", "train_run", "resume_run", "evaluate_run", "format_report", "write_plots", "describe"]

ACTIVATIONS = registry.activations.aliases()  # {"relu": ReLU, ...}: what --activation takes
OPTIMIZERS = registry.optimizers.aliases()    # {"sgd": SGD, ...}: what --optimizer takes
SCHEDULES = ("constant", "step", "cosine")
BACKENDS = ("auto", "numpy", "numba", "cupy")  # auto: numba where installed, else NumPy; cupy: the GPU


@dataclass
class Dataset:
    name: str
    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    task: str  # "classification" or "regression"
    class_names: list | None = None
    image_shape: tuple | None = None
    info: dict = field(default_factory=dict)


def _images(loader, name, class_names=None):
    (X, y), (Xt, yt) = loader()
    return Dataset(name, X, y, Xt, yt, "classification", class_names or [str(i) for i in range(10)], (28, 28))


def _split(name, X, y, task, seed, **extra):
    stratify = y if task == "classification" else None
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, stratify=stratify, seed=seed)
    return Dataset(name, X_train, y_train, X_test, y_test, task, **extra)


def _load_mnist_10k(seed):
    """MNIST with only the first 10,000 training images (all of them where only those are on disk)."""
    data = _images(load_mnist, "mnist-10k")
    data.X_train, data.y_train = data.X_train[:10000], data.y_train[:10000]
    return data


def _load_digits(seed):
    X, y = load_digits()
    return _split("digits", X, y, "classification", seed, class_names=[str(i) for i in range(10)], image_shape=(8, 8))


def _synthetic(name, make):
    def loader(seed):
        X, y = make(seed)
        return _split(name, X, y, "classification", seed, class_names=[str(i) for i in range(int(y.max()) + 1)])
    return loader


def _load_clusters(seed):
    X, y, truth = make_clusters(20000, seed=seed, return_model=True)  # 5,000 test points: ±0.3 points of noise
    data = _split("clusters", X, y, "classification", seed, class_names=["0", "1", "2"])
    data.info = {"bayes_accuracy": truth.bayes_accuracy(),
                 "bayes_test_accuracy": float((truth.bayes_predict(data.X_test) == data.y_test).mean())}
    return data


def _load_regression(seed):
    X, y, info = make_regression(250_000, seed=seed, return_info=True)  # the noise floor needs plenty of data
    data = _split("regression", X, y, "regression", seed)
    data.info = {"noise_variance": info["noise_variance"]}
    return data


def _make(function, n, **kwargs):
    return lambda seed: function(n, seed=seed, **kwargs)


def _datasets():
    d = datasets
    return {
        "digits": _load_digits,
        "mnist": lambda seed: _images(d.load_mnist, "mnist"),
        "mnist-10k": _load_mnist_10k,
        "fashion-mnist": lambda seed: _images(d.load_fashion_mnist, "fashion-mnist", list(d.FASHION_CLASSES)),
        "clusters": _load_clusters,
        "blobs": _synthetic("blobs", _make(d.make_blobs, 3000, centers=4, cluster_std=1.5)),
        "moons": _synthetic("moons", _make(d.make_moons, 2000, noise=0.2)),
        "spirals": _synthetic("spirals", _make(d.make_spirals, 3000)),
        "xor": _synthetic("xor", _make(d.make_xor, 2000)),
        "regression": _load_regression,
    }


DATASETS = ("digits", "mnist", "mnist-10k", "fashion-mnist", "clusters", "blobs", "moons", "spirals", "xor",
            "regression")
IMAGE_DATASETS = ("digits", "mnist", "mnist-10k", "fashion-mnist")  # the ones augmentation can move and turn
MAX_LR = 10.0  # a learning rate above this diverges on every data set here; the CLI and the web form share it

# Augmentation presets for 28×28 images (RandomAffine settings); a run may also give a dict.
AUGMENTATIONS = {
    "light": dict(shift=2.0, rotation=10.0, scale=0.1),
    "elastic": dict(shift=2.0, rotation=10.0, scale=0.1, elastic_alpha=8.0, elastic_sigma=3.0),
    "flip": dict(shift=2.0, rotation=8.0, scale=0.08, flip=True),
    "mirror": dict(shift=0.0, rotation=0.0, scale=0.0, flip=True),
}


def load_dataset(name: str, seed: int = 0) -> Dataset:
    loaders = _datasets()
    if name not in loaders:
        raise ValueError(f"unknown dataset {name!r}; choose from {', '.join(DATASETS)}")
    return loaders[name](seed)


def default_dataset(log=None) -> str:
    """MNIST where its files are on disk already (no download), else the 8×8 digits; ``log``
    hears why MNIST was not taken, and how to provide it."""
    try:
        load_mnist(download=False)
        return "mnist"
    except (DatasetNotFoundError, ValueError) as error:
        if log is not None:
            why = error.for_command_line() if isinstance(error, DatasetNotFoundError) else str(error)
            log(f"note: training on scikit-learn's 8×8 digits, because {why}\n"
                "A bare 'barenet train' never downloads; 'barenet train --dataset mnist' downloads MNIST (about "
                "11 MB) where the network allows. --dataset digits silences this note.")
        return "digits"


@dataclass
class RunConfig:
    """Everything that decides a run; saved as config.json in the run folder."""

    dataset: str = "digits"
    hidden: list = field(default_factory=lambda: [128, 64])
    activation: str = "relu"
    dropout: float = 0.0
    optimizer: str = "adam"
    lr: float = 1e-3
    momentum: float = 0.9
    schedule: str = "constant"
    warmup: float = 0.0
    weight_decay: float = 0.0
    epochs: int = 20
    batch_size: int = 64
    augment: object = None  # None, a preset name from AUGMENTATIONS, or a dict of RandomAffine settings
    label_smoothing: float = 0.0
    validation_split: float = 0.1
    patience: int = 0
    ensemble: int = 1
    seed: int = 0
    recipe: str | None = None
    backend: str = "auto"  # numba (compiled kernels, barenet[fast]) where installed, else numpy; or cupy
    clip_norm: float | None = None  # rescale a gradient whose norm exceeds this (the divergence error suggests 1.0)

    def validate(self):
        if self.dataset not in DATASETS:
            raise ValueError(f"dataset must be one of {', '.join(DATASETS)}, got {self.dataset!r}")
        if not self.hidden or any(not isinstance(h, int) or h < 1 for h in self.hidden):
            raise ValueError(f"hidden must be positive layer widths, got {self.hidden!r}")
        for name, choices in (("activation", ACTIVATIONS), ("optimizer", OPTIMIZERS), ("schedule", SCHEDULES),
                              ("backend", BACKENDS)):
            if getattr(self, name) not in choices:
                raise ValueError(f"{name} must be one of {', '.join(choices)}, got {getattr(self, name)!r}")
        checks = [("dropout", 0 <= self.dropout < 1, "0 ≤ dropout < 1"), ("lr", 0 < self.lr <= MAX_LR, f"0 < lr ≤ {MAX_LR:g}"),
                  ("weight_decay", self.weight_decay >= 0, "≥ 0"), ("epochs", self.epochs >= 1, "≥ 1"),
                  ("batch_size", self.batch_size >= 1, "≥ 1"), ("warmup", self.warmup >= 0, "≥ 0"),
                  ("label_smoothing", 0 <= self.label_smoothing < 1, "0 ≤ label_smoothing < 1"),
                  ("validation_split", 0 <= self.validation_split < 1, "0 ≤ validation_split < 1"),
                  ("patience", self.patience >= 0, "≥ 0"), ("ensemble", 1 <= self.ensemble <= 20, "1 to 20"),
                  ("seed", self.seed >= 0, "≥ 0"), ("momentum", 0 <= self.momentum < 1, "0 ≤ momentum < 1"),
                  ("clip_norm", self.clip_norm is None or self.clip_norm > 0, "> 0")]
        for name, ok, expected in checks:
            if not ok:
                raise ValueError(f"{name}={getattr(self, name)!r} is out of range (expected {expected})")
        # settings that would do nothing are refused rather than ignored
        if self.warmup and self.schedule != "cosine":
            raise ValueError(f"warmup applies to the cosine schedule only (schedule is {self.schedule!r}): "
                             f"add schedule='cosine' (--schedule cosine) or drop warmup")
        if self.patience and not self.validation_split:
            raise ValueError("patience (early stopping) watches the validation loss, but validation_split is 0: "
                             "hold out data with validation_split > 0, or drop patience")
        if self.augment is True:
            self.augment = "light"
        if self.augment is False:
            self.augment = None
        if isinstance(self.augment, str) and self.augment not in AUGMENTATIONS:
            raise ValueError(f"augment must be one of {', '.join(AUGMENTATIONS)} (or settings), got {self.augment!r}")
        if self.augment is not None and not isinstance(self.augment, (str, dict)):
            raise ValueError(f"augment must be a preset name or a dict of settings, got {self.augment!r}")
        if self.augment is not None and self.dataset not in IMAGE_DATASETS:
            raise ValueError(f"augment moves and turns images, and {self.dataset} is not an image data set "
                             f"(images: {', '.join(IMAGE_DATASETS)}): drop augment")
        if self.schedule == "cosine" and self.warmup >= self.epochs:
            raise ValueError(f"warmup ({self.warmup}) must be shorter than epochs ({self.epochs})")
        return self

    def to_dict(self):
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> "RunConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(values) - known
        if unknown:
            raise ValueError(f"unknown settings: {', '.join(sorted(unknown))}")
        return cls(**values).validate()


# Settings that suit each data set; explicit settings and recipes override them.
DATASET_DEFAULTS = {
    "digits": dict(hidden=[128, 64], epochs=40, batch_size=32, lr=2e-3),
    "mnist": dict(hidden=[256, 128], epochs=15, batch_size=128),
    "mnist-10k": dict(hidden=[256, 128], epochs=15, batch_size=128),
    "fashion-mnist": dict(hidden=[256, 128], epochs=15, batch_size=128),
    "clusters": dict(hidden=[32, 32], epochs=40, batch_size=64, lr=3e-3),
    "blobs": dict(hidden=[32, 32], epochs=30, batch_size=64, lr=3e-3),
    "moons": dict(hidden=[64, 64], epochs=60, batch_size=32, lr=3e-3),
    "spirals": dict(hidden=[128, 128], epochs=150, batch_size=32, lr=3e-3),
    "xor": dict(hidden=[16, 16], activation="tanh", epochs=60, batch_size=32, lr=1e-2),
    "regression": dict(hidden=[256, 256], epochs=60, batch_size=128, lr=1e-3, schedule="cosine"),
}


def build_model(config: RunConfig, data: Dataset, member: int = 0) -> Sequential:
    """The MLP a configuration describes: [augmentation or standardisation] → (Dense → activation
    [→ dropout]) per hidden layer → Dense to the outputs."""
    features = data.X_train.shape[1]
    outputs = int(data.y_train.max()) + 1 if data.task == "classification" else 1
    layers = []
    if config.augment and data.image_shape is not None:
        settings = dict(AUGMENTATIONS[config.augment] if isinstance(config.augment, str) else config.augment)
        if data.image_shape != (28, 28):  # the presets are in pixels of a 28×28 image
            settings["shift"] = settings.get("shift", 2.0) * data.image_shape[0] / 28
        layers.append(RandomAffine(tuple(data.image_shape), **settings))
    elif data.image_shape is None:  # tabular or 2-D points: standardise with training statistics
        layers.append(Standardizer().fit(data.X_train))
    width = features
    init = ACTIVATIONS[config.activation].init  # He for the ReLU family, Xavier for sigmoid and tanh
    for hidden in config.hidden:
        layers += [Dense(width, hidden, init=init), ACTIVATIONS[config.activation]()]
        if config.dropout:
            layers.append(Dropout(config.dropout))
        width = hidden
    layers.append(Dense(width, outputs, init="xavier" if init == "xavier" else "he"))
    return Sequential(*layers, seed=config.seed + 1000 * member)


def make_optimizer(config: RunConfig):
    if config.schedule == "cosine":
        lr = CosineDecay(config.lr, epochs=config.epochs, warmup_epochs=config.warmup)
    elif config.schedule == "step":
        lr = StepDecay(config.lr, step_size=max(1, config.epochs // 3), gamma=0.1)
    else:
        lr = config.lr
    kind = OPTIMIZERS[config.optimizer]
    if kind is SGD:
        return SGD(lr, momentum=config.momentum, nesterov=config.momentum > 0, weight_decay=config.weight_decay,
                   clip_norm=config.clip_norm)
    return kind(lr, weight_decay=config.weight_decay, clip_norm=config.clip_norm)


def split_validation(config, data):
    """(X, y, (X_val, y_val) or None): the seeded, stratified validation split a run holds out."""
    if not config.validation_split:
        return data.X_train, data.y_train, None
    stratify = data.y_train if data.task == "classification" else None
    X, Xv, y, yv = train_test_split(data.X_train, data.y_train, test_size=config.validation_split,
                                    stratify=stratify, seed=config.seed + 7)
    return X, y, (Xv, yv)


def _write_json(path, value):
    with atomic_write(path, "w") as handle:
        json.dump(value, handle, indent=1)


def _member_dir(out: Path, config: RunConfig, member: int) -> Path:
    return out if config.ensemble == 1 else out / f"member{member}"


def _fit_member(config, data, out, member, log, verbose, callbacks, resume, parallel=None):
    """Train (or continue) one model; returns it. Checkpoints go to <out>/checkpoint.npz."""
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
        model.loss = CrossEntropy(config.label_smoothing) if data.task == "classification" else MSE()
        model.optimizer = make_optimizer(config)
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


def train_run(config: RunConfig, out, *, log=print, verbose=1, callbacks=(), resume=False, plots=True,
              parallel=None, new_folder=False, on_folder=None):
    """Train the configured model(s) on the configured data, writing the run folder ``out``.
    Returns (model, report dict). Ctrl-C stops after the current batch; what exists is saved
    (model.npz, history, report) and KeyboardInterrupt is raised again.

    ``new_folder``: ``out`` is a name to make unique (``out-2``, ``out-3``... where it is taken,
    even by a run started the same second); ``on_folder(path)`` hears the folder once it exists.
    ``parallel``: as for ``fit`` ("mpi" under mpiexec). Every process trains; process 0 alone
    writes the run folder and evaluates, and the others return (model, None)."""
    config.validate()
    started = time.perf_counter()
    data = load_dataset(config.dataset, config.seed)  # before the folder exists: missing data leaves nothing behind
    raise_if_interrupted(hand_over=True)  # one swallowed while the data loaded; then fit's own handling
    par = data_parallel(parallel)
    out = Path(out)
    if leads(par):
        if new_folder:
            out = unused_folder(out)
        out.mkdir(parents=True, exist_ok=True)
        if not resume:
            _write_json(out / "config.json", config.to_dict())
            log(f"run folder: {out}/  (model.npz, history.json, report.txt, plots)")
            log(f"training on {config.dataset}: hidden {config.hidden}, {config.activation}, {config.optimizer} "
                f"lr {config.lr}, {plural(config.epochs, 'epoch')}, batch {config.batch_size}, backend "
                f"{backend_named(config.backend).name}" + (f", recipe {config.recipe}" if config.recipe else ""))
    if on_folder is not None:
        on_folder(out)
    models, interrupted = [], None
    try:
        with using_backend(config.backend):
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
    Refused (ValueError) where a member's checkpoint is gone after it trained: the run cannot go
    on exactly, and its finished model is never replaced unasked."""
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
    """``path``, or ``path-2``, ``path-3``... the first that did not exist, made now (atomically:
    two runs started in the same second by a loop or two terminals get different folders)."""
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
    """'1 epoch', '3 epochs'."""
    return f"{count} {word}" + ("" if count == 1 else "s")


def _epochs_done(member_dir: Path) -> int:
    """The last epoch in a member's history.json (written after every epoch), 0 if none yet."""
    try:
        return int(json.loads((member_dir / "history.json").read_text())["epochs"][-1])
    except (FileNotFoundError, KeyError, IndexError, ValueError, TypeError):
        return 0


def evaluate_run(model, data: Dataset, seconds: float, interrupted: bool) -> dict:
    history = model.history if len(model.history) else getattr(model, "members", [model])[0].history
    report = {"seconds": seconds, "interrupted": interrupted, "test": {},
              "threads": history["threads"] if "threads" in history else []}
    if data.task == "classification":
        predicted = model.predict(data.X_test)
        report["test"] = {"accuracy": metrics.accuracy(data.y_test, predicted), **model.evaluate(data.X_test, data.y_test)}
        report["confusion_matrix"] = metrics.confusion_matrix(data.y_test, predicted, len(data.class_names)).tolist()
        report["classification_report"] = metrics.classification_report(data.y_test, predicted, data.class_names,
                                                                         num_classes=len(data.class_names))
    else:
        predicted = model.predict(data.X_test)
        report["test"] = {"mse": metrics.mean_squared_error(data.y_test, predicted),
                          "mae": metrics.mean_absolute_error(data.y_test, predicted),
                          "r2": metrics.r2_score(data.y_test, predicted)}
    return report


def format_report(config: RunConfig, data: Dataset, report: dict) -> str:
    lines = [f"barenet run: {data.name}" + (f" (recipe {config.recipe})" if config.recipe else ""),
             f"training {'images' if data.image_shape else 'samples'}: {len(data.X_train)} (of which "
             f"{config.validation_split:.0%} held out for validation), test: {len(data.X_test)}",
             f"backend: {backend_named(config.backend).name}" + (" (auto)" if config.backend == "auto" else ""),
             _threads_line(report.get("threads")),
             "settings: " + ", ".join(f"{k}={v}" for k, v in config.to_dict().items()),
             f"time: {report['seconds']:.1f}s" + ("  (INTERRUPTED: figures are for the model as it stood)"
                                                  if report["interrupted"] else ""), ""]
    for key, value in report["test"].items():
        lines.append(f"test {key}: {value:.4f}")
    for key, value in data.info.items():
        lines.append(f"{key.replace('_', ' ')}: {value:.4f}")
    if "classification_report" in report:
        lines += ["", report["classification_report"]]
    return "\n".join(lines) + "\n"


def _threads_line(threads) -> str:
    """What the matrix products ran on: the BLAS library and its threads per epoch."""
    from ..training.threads import blas_info, get_threads

    library = blas_info()["library"] or "the BLAS library (thread count unknown: pip install threadpoolctl)"
    counts = sorted({int(t) for t in threads or [] if t is not None})
    used = "" if not counts else f", {counts[0]}" + (f" to {counts[-1]}" if len(counts) > 1 else "")
    return f"matrix products: {library}, threads {get_threads()}{used}"


def write_plots(model, data: Dataset, out: Path, log=print) -> list:
    """The run's pictures as PNG files; skipped (with a note) where matplotlib is missing."""
    try:
        from . import plots
    except ImportError:
        return []
    written = []

    def save(name, make):
        try:
            figure = make()
        except ImportError:
            return
        figure.savefig(out / name, dpi=110)
        written.append(name)

    history = model.history if len(model.history) else model.members[0].history
    save("learning_curves.png", lambda: plots.learning_curves(history, f"{data.name}: learning curves"))
    if data.task == "classification":
        predicted = model.predict(data.X_test)
        cm = metrics.confusion_matrix(data.y_test, predicted, len(data.class_names))
        save("confusion_matrix.png", lambda: plots.confusion_matrix(cm, data.class_names))
        if data.image_shape is not None:
            save("samples.png", lambda: plots.sample_grid(data.X_test, data.y_test, predicted, data.class_names,
                                                          image_shape=data.image_shape))
            save("confident_errors.png", lambda: plots.confident_errors(model, data.X_test, data.y_test,
                                                                        class_names=data.class_names,
                                                                        image_shape=data.image_shape))
            first = model if isinstance(model, Sequential) else model.members[0]
            save("first_layer_weights.png", lambda: plots.first_layer_weights(first, data.image_shape))
        elif data.X_test.shape[1] == 2:
            save("decision_boundary.png", lambda: plots.decision_boundary(model, data.X_test, data.y_test,
                                                                           class_names=data.class_names))
    else:
        save("predicted_vs_true.png", lambda: plots.predicted_vs_true(data.y_test, model.predict(data.X_test),
                                                                      data.info.get("noise_variance")))
    save("activation_functions.png", plots.activation_functions)
    return written


def describe(model) -> list:
    """Lines describing a saved model's origin and figures (for ``barenet summary``)."""
    meta = getattr(model, "metadata", {}) or {}
    lines = []
    if meta.get("dataset"):
        lines.append(f"trained on: {meta['dataset']}")
    history = model.history if len(model.history) else getattr(model, "members", [model])[0].history
    if len(history):
        lines.append(f"epochs trained: {history.epochs[-1]}")
    for key, value in (meta.get("test") or {}).items():
        if isinstance(value, (int, float)) and math.isfinite(value):
            lines.append(f"test {key}: {value:.4f}")
    if meta.get("class_names"):
        lines.append("classes: " + ", ".join(map(str, meta["class_names"])))
    return lines

