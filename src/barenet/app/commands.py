"""What each ``barenet`` subcommand does (the parser is ``app.cli``): train, evaluate, predict, ...

Also summary and export. Each returns an exit code, or raises ``UsageError`` (exit code 2).
"""
from __future__ import annotations

import contextlib
import io
import json
import sys
import time
from pathlib import Path

from ..core.backend import set_backend, using_backend
from .config import RUN_SETTINGS
from .data import IMAGE_SHAPES
from .recipes import RECIPES

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130

# the run settings the command line takes as options (--dataset, --hidden, ... ; --recipe apart)
TRAINING_OPTIONS = tuple(name for name in RUN_SETTINGS if name != "recipe")


class UsageError(Exception):
    """Bad arguments or unreadable inputs: exit code 2."""


def _load_model(path):
    from ..training.storage import load

    if not Path(path).is_file():
        raise UsageError(f"no model file at {path}")
    try:
        return load(path)
    except ValueError as error:
        raise UsageError(str(error)) from None



def _train_config(args):
    from . import runs

    settings = {}
    if args.recipe:
        settings.update(RECIPES[args.recipe], recipe=args.recipe)
    explicit = {name: getattr(args, name) for name in TRAINING_OPTIONS if getattr(args, name) is not None}
    if args.device == "gpu":
        if explicit.get("backend", "cupy") != "cupy":
            raise UsageError(f"--device gpu trains on CuPy; it cannot go with --backend {explicit['backend']}")
        explicit["backend"] = "cupy"
    dataset = explicit.get("dataset") or settings.get("dataset") or runs.default_dataset(log=_note)
    merged = {"dataset": dataset, **runs.DATASET_DEFAULTS.get(dataset, {}), **settings, **explicit}
    try:
        config = runs.RunConfig.from_dict(merged)
        with using_backend(config.backend):  # a backend that cannot start is refused before any folder exists
            pass
    except (ValueError, ImportError, RuntimeError) as error:
        raise UsageError(str(error)) from None
    return config


def _use_device(device):
    """Put the models that follow on the GPU (CuPy) when asked; a clear refusal where none is."""
    if device == "gpu":
        try:
            set_backend("cupy")
        except (ImportError, RuntimeError) as error:
            raise UsageError(str(error)) from None


def _note(message):
    print(message, file=sys.stderr, flush=True)


def _run_folder(args):
    if args.out and args.name:
        raise UsageError("--out and --name both name the run folder: give one (--name N means --out runs/N)")
    if args.out:
        return Path(args.out)
    name = args.name or time.strftime("%Y-%m-%d_%H-%M-%S")
    return Path("runs") / name


def _mpi_processes():
    """Return (this process's rank, the number of processes), (0, 1) without an MPI launcher.

    A launcher starting this command among several processes needs mpi4py (UsageError otherwise).
    """
    from ..training.parallel import launched_by_mpi

    if launched_by_mpi() < 2:
        return 0, 1
    try:
        from mpi4py import MPI
    except ImportError:
        raise UsageError(f"started by an MPI launcher with {launched_by_mpi()} processes: data-parallel training "
                         f"needs mpi4py (pip install 'barenet[mpi]')") from None
    return MPI.COMM_WORLD.Get_rank(), MPI.COMM_WORLD.Get_size()


def cmd_train(args):
    """Train, or resume, a run, as the parsed ``args`` say; return the exit code.

    Under ``mpiexec -n K`` the K processes train it data-parallel: process 0 prints and writes the
    run folder, the others train in step with it, silently.
    """
    rank, size = _mpi_processes()
    if rank == 0:
        return _train(args, "mpi" if size > 1 else None)
    with contextlib.redirect_stdout(io.StringIO()):
        return _train(args, "mpi", leader=False)


def _train(args, parallel, leader=True):
    from . import runs

    verbose = 0 if args.quiet or not leader else 1
    started = lambda folder: setattr(args, "training_in", folder)  # noqa: E731  (where Ctrl-C's message points)
    if args.resume:
        fixed = [f"--{name.replace('_', '-')}" for name in (*TRAINING_OPTIONS, "recipe", "out", "name")
                 if name != "epochs" and getattr(args, name, None) is not None]
        if fixed or args.device != "cpu":
            raise UsageError(f"--resume continues a run with the settings in its config.json; "
                             f"{', '.join(fixed or ['--device'])} cannot change them (only --epochs, the new total)")
        try:
            model, report = runs.resume_run(args.resume, verbose=verbose, epochs=args.epochs, plots=not args.no_plots,
                                            parallel=parallel, on_folder=started)
        except (FileNotFoundError, ValueError) as error:
            raise UsageError(str(error)) from None
    else:
        config = _train_config(args)
        folder = _run_folder(args)
        named = bool(args.out or args.name)  # else a timestamp, made unique when the folder is made
        if named and leader and folder.exists() and any(folder.iterdir()):
            raise UsageError(f"{folder} exists and is not empty; choose another --out or --name "
                             f"(or continue it with --resume {folder})")
        model, report = runs.train_run(config, folder, verbose=verbose, plots=not args.no_plots, parallel=parallel,
                                       new_folder=not named, on_folder=started)
    if not leader:
        return EXIT_OK
    folder = args.training_in
    print()
    print((folder / "report.txt").read_text().strip())
    print(f"\nsaved in {folder}/: " + ", ".join(sorted(p.name for p in folder.iterdir() if p.is_file())))
    return EXIT_OK



# -- evaluate, predict, summary, export ----------------------------------------------------------

def cmd_evaluate(args):
    """Print a saved model's test figures and, for a classifier, its classification report."""
    from . import runs
    from ..training import metrics

    _use_device(args.device)
    model = _load_model(args.model)
    dataset = args.dataset or model.metadata.get("dataset")
    if not dataset:
        raise UsageError("this model does not record its data set; pass --dataset")
    def check_width(width):
        if model.input_width not in (None, width):
            raise UsageError(f"the model takes {model.input_width} features but {dataset} has {width}")
    shape = IMAGE_SHAPES.get(dataset)  # images: their width is known before loading (and downloading) them
    if shape is not None:
        check_width(shape[0] * shape[1])
    seed = (model.metadata.get("config") or {}).get("seed", 0)
    data = runs.load_dataset(dataset, seed)
    check_width(data.X_test.shape[1])
    classes, outputs = len(data.class_names or []), model.output_width_
    if data.task == "classification" and (outputs or 0) > 1 and outputs != classes:  # 1: a sigmoid's two classes
        raise UsageError(f"the model has {outputs} outputs but {dataset} has {classes} classes")
    figures = model.evaluate(data.X_test, data.y_test)
    print(f"{dataset} test set ({len(data.X_test)} samples): " + ", ".join(f"{k} {v:.4f}" for k, v in figures.items()))
    if data.task == "classification":
        print()
        print(metrics.classification_report(data.y_test, model.predict(data.X_test), data.class_names,
                                            num_classes=len(data.class_names)))
    return EXIT_OK


def cmd_predict(args):
    """Print the classes a model reads in image files of digits; exit code 2 if an image cannot be read."""
    import numpy as np

    from .images import no_digit_reason, prepare_digit

    model = _load_model(args.model)
    width = model.input_width
    if width not in (784, 64):
        raise UsageError(f"predict reads digit images for models with 784 (28×28) or 64 (8×8) inputs; "
                         f"this model takes {width}")
    names = model.metadata.get("class_names") or [str(i) for i in range(10)]
    invert = {"auto": None, "yes": True, "no": False}[args.invert]
    failures = 0
    for path in args.images:
        try:
            image = prepare_digit(Path(path).read_bytes(), invert=invert, size=28 if width == 784 else 8)
        except (OSError, ValueError) as error:
            print(f"{path}: cannot read it ({error})", file=sys.stderr)
            failures += 1
            continue
        proba = model.predict_proba(image.reshape(1, -1))[0]
        order = np.argsort(-proba)[:args.top]
        best = order[0]
        others = ", ".join(f"{names[k]} {proba[k]:.1%}" for k in order[1:])
        reason = no_digit_reason(Path(path).read_bytes(), image, invert)
        blank = "" if reason is None else f"   ({reason}, so this guess means nothing)"
        print(f"{path}: {names[best]} ({proba[best]:.1%})" + (f"   next: {others}" if others else "") + blank)
        if args.save_input:
            _save_input(image, Path(args.save_input) / (Path(path).stem + "_input.png"))
    return EXIT_USAGE if failures else EXIT_OK


def _save_input(image, path):
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray((image * 255).round().astype("uint8")).save(path)


def cmd_summary(args):
    """Print a saved model's layers, parameter counts and recorded figures."""
    from .runs import describe

    model = _load_model(args.model)
    model.summary()
    for line in describe(model):
        print(line)
    return EXIT_OK


PICKLES = (".pkl", ".pickle")  # a pickled scikit-learn estimator (integrations.sklearn.files)


def cmd_export(args):
    """Write a model as JSON, ONNX or a static web page (or a pickled estimator as ONNX)."""
    from ..files.export import to_json

    if Path(args.model).suffix in PICKLES + (".joblib",):
        return _export_estimator(args)
    if args.input_dtype:
        raise UsageError("--input-dtype applies to a pickled estimator (a .pkl file); a model's graph takes float32")
    model = _load_model(args.model)
    if args.quantize and args.format != "web":
        raise UsageError(f"--quantize applies to --format web only (the format is {args.format})")
    if args.format == "web":
        return _export_web(model, args)
    if args.format == "onnx":
        return _export_onnx(model, args)
    text = json.dumps(to_json(model), separators=(",", ":"))
    if not args.out and sys.stdout.isatty():
        raise UsageError(f"--format json writes {len(text):,} bytes of JSON: give the file with --out FILE "
                         f"(or send it on: > model.json, | another program)")
    if args.out:
        from ..files.atomic import atomic_write
        with atomic_write(args.out, "w") as handle:
            handle.write(text)
        print(f"wrote {args.out} ({len(text):,} bytes)")
    else:
        sys.stdout.write(text + "\n")
    return EXIT_OK


def _export_web(model, args):
    from ..integrations.web import export_web

    if not args.out:
        raise UsageError("--format web writes a folder: give it with --out DIR")
    try:
        source = (getattr(model, "metadata", None) or {}).get("description") or f"the model in {Path(args.model).name}"
        sizes = export_web(model, args.out, quantize=args.quantize, source=source)
    except ValueError as error:  # a layer the browser cannot run, a model the page cannot draw for
        raise UsageError(str(error)) from None
    print(f"wrote {args.out.rstrip('/')}/ ({sum(sizes.values()):,} bytes; the model in model.js, {sizes['model.js']:,} bytes): "
          f"open {Path(args.out) / 'index.html'} in a browser, or put the folder on any static host")
    return EXIT_OK


def _export_estimator(args):
    """Write a pickled barenet.sklearn estimator or Pipeline as ONNX."""
    if Path(args.model).suffix == ".joblib":
        raise UsageError("a joblib file can run code when it is read (it reads arrays of objects with plain pickle); "
                         "pickle the estimator instead (pickle.dump), or call bn.to_onnx on it in Python")
    if args.format != "onnx" or not args.out:
        raise UsageError("a pickled estimator exports to ONNX: --format onnx --out MODEL.onnx")
    if not Path(args.model).is_file():
        raise UsageError(f"no file at {args.model}")
    try:
        from ..integrations.onnx import to_onnx
        from ..integrations.sklearn.files import load_estimator
    except ImportError as error:
        raise UsageError(f"exporting an estimator needs scikit-learn and onnx: pip install 'barenet[sklearn,onnx]' "
                         f"({error})") from None
    try:
        estimator = load_estimator(args.model)
        proto = to_onnx(estimator, args.out, input_dtype=args.input_dtype)
    except ValueError as error:
        raise UsageError(str(error)) from None
    outputs = ", ".join(output.name for output in proto.graph.output)
    dtype = {entry.key: entry.value for entry in proto.metadata_props}["input_dtype"]
    print(f"wrote {args.out} ({Path(args.out).stat().st_size:,} bytes): input 'input' (n, {estimator.n_features_in_}) "
          f"{dtype}, outputs {outputs}")
    return EXIT_OK


def _export_onnx(model, args):
    from ..integrations.onnx import to_onnx

    if not args.out:
        raise UsageError("--format onnx writes a binary file: give it with --out MODEL.onnx")
    try:
        to_onnx(model, args.out)
    except ValueError as error:  # a layer with no ONNX form
        raise UsageError(str(error)) from None
    outputs = "output and probabilities" if model.loss is not None and model.loss.classifies else "output"
    sizes = ", ".join("?" if size is None else str(size) for size in model.input_shape or (None,))
    print(f"wrote {args.out} ({Path(args.out).stat().st_size:,} bytes): input 'input' (n, {sizes}) "
          f"float32, {outputs}")
    return EXIT_OK
