"""The ``barenet`` command line: train, evaluate, predict, summary, export, bench.

Exit codes: 0 success; 1 the run failed (training diverged, data not found, a file could not be
written); 2 bad usage or an unreadable input file (a model, an image); 130 interrupted by Ctrl-C
(after saving what there was).
"""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import sys
import time
from pathlib import Path

from ..core.backend import set_backend, using_backend
from ..training.threads import set_threads
from .interrupts import BEFORE_START, raise_if_interrupted
from .pipes import survive_closed_pipes
from .recipes import RECIPES

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


class UsageError(Exception):
    """Bad arguments or unreadable inputs: exit code 2."""


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _non_negative_float(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a non-negative number, got {text!r}")
    return value


def _widths(text):
    try:
        widths = [int(part) for part in text.split(",")]
    except ValueError:  # an empty part (256,,128), a letter, a fraction
        raise argparse.ArgumentTypeError(f"expected comma-separated positive layer widths like 256,128, "
                                         f"got {text!r}") from None
    if any(w < 1 for w in widths):
        raise argparse.ArgumentTypeError(f"expected comma-separated positive layer widths like 256,128, got {text!r}")
    return widths


def _positive_float(text):
    try:
        value = float(text)
    except ValueError:
        value = None
    if value is None or not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


def _threads(text):
    if text == "auto":
        return text
    try:
        return _positive_int(text)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(f"expected 'auto' or a positive whole number, got {text!r}") from None



def _load_model(path):
    from ..training.storage import load

    if not Path(path).is_file():
        raise UsageError(f"no model file at {path}")
    try:
        return load(path)
    except ValueError as error:
        raise UsageError(str(error)) from None


# -- train ---------------------------------------------------------------------------------------

TRAIN_SETTINGS = ("dataset", "hidden", "activation", "dropout", "optimizer", "lr", "momentum", "schedule", "warmup",
                  "weight_decay", "epochs", "batch_size", "augment", "label_smoothing", "validation_split",
                  "patience", "ensemble", "seed", "backend", "clip_norm")


def _train_config(args):
    from . import runs

    settings = {}
    if args.recipe:
        if args.recipe not in RECIPES:
            raise UsageError(f"unknown recipe {args.recipe!r}; available: {', '.join(RECIPES)}")
        settings.update(RECIPES[args.recipe], recipe=args.recipe)
    explicit = {name: getattr(args, name) for name in TRAIN_SETTINGS if getattr(args, name) is not None}
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
    """(this process's rank, the number of processes) when an MPI launcher started this command
    among several, else (0, 1)."""
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
    """Train, or resume, a run. Under ``mpiexec -n K`` the K processes train it data-parallel:
    process 0 prints and writes the run folder, the others train in step with it, silently."""
    rank, size = _mpi_processes()
    if rank == 0:
        return _train(args, "mpi" if size > 1 else None)
    with contextlib.redirect_stdout(io.StringIO()):
        return _train(args, "mpi", leader=False)


def _train(args, parallel, leader=True):
    from . import runs

    verbose = 0 if args.quiet or not leader else 1
    if args.threads is not None:
        set_threads(args.threads)
    started = lambda folder: setattr(args, "training_in", folder)  # noqa: E731  (where Ctrl-C's message points)
    if args.resume:
        fixed = [f"--{name.replace('_', '-')}" for name in (*TRAIN_SETTINGS, "recipe", "out", "name")
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
    from . import runs
    from ..training import metrics

    _use_device(args.device)
    model = _load_model(args.model)
    dataset = args.dataset or model.metadata.get("dataset")
    if not dataset:
        raise UsageError("this model does not record its data set; pass --dataset")
    seed = (model.metadata.get("config") or {}).get("seed", 0)
    data = runs.load_dataset(dataset, seed)
    if model.input_width not in (None, data.X_test.shape[1]):
        raise UsageError(f"the model takes {model.input_width} features but {dataset} has {data.X_test.shape[1]}")
    figures = model.evaluate(data.X_test, data.y_test)
    print(f"{dataset} test set ({len(data.X_test)} samples): " + ", ".join(f"{k} {v:.4f}" for k, v in figures.items()))
    if data.task == "classification":
        print()
        print(metrics.classification_report(data.y_test, model.predict(data.X_test), data.class_names,
                                            num_classes=len(data.class_names)))
    return EXIT_OK


def cmd_predict(args):
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
    from .runs import describe

    model = _load_model(args.model)
    model.summary()
    for line in describe(model):
        print(line)
    return EXIT_OK


def cmd_export(args):
    from ..files.export import to_json

    model = _load_model(args.model)
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


def cmd_bench(args, rest):
    from .bench import main as bench_main
    return bench_main(rest)


# -- the parser ----------------------------------------------------------------------------------

def build_parser():
    from .runs import ACTIVATIONS, AUGMENTATIONS, BACKENDS, DATASETS, OPTIMIZERS, SCHEDULES

    parser = argparse.ArgumentParser(
        prog="barenet", description="Train, judge and use multilayer perceptrons written from scratch on NumPy.",
        epilog="exit codes: 0 success, 1 the run failed, 2 bad usage or unreadable input, 130 interrupted.")
    parser.add_argument("--version", action="version", version=f"barenet {_version()}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True

    train = commands.add_parser(
        "train", help="train a model and write a run folder",
        description="Train an MLP. With no options: MNIST where its files are on disk, else the 8×8 digits. "
                    "Settings not given come from the recipe, then from the data set's defaults.")
    train.add_argument("--dataset", choices=DATASETS, help="data set (default: mnist if on disk, else digits)")
    train.add_argument("--recipe", metavar="NAME", help="a named, tuned configuration: " + ", ".join(RECIPES)
                       + " (test figures in the README's Recipes)")
    train.add_argument("--hidden", type=_widths, help="hidden layer widths, e.g. 256,128")
    train.add_argument("--activation", choices=sorted(ACTIVATIONS))
    train.add_argument("--dropout", type=_non_negative_float, help="dropout probability after each hidden layer")
    train.add_argument("--optimizer", choices=sorted(OPTIMIZERS))
    train.add_argument("--lr", type=_positive_float, help="learning rate")
    train.add_argument("--momentum", type=_non_negative_float, help="SGD momentum (Nesterov)")
    train.add_argument("--schedule", choices=SCHEDULES, help="learning-rate schedule")
    train.add_argument("--warmup", type=_non_negative_float, help="warm-up epochs for the cosine schedule")
    train.add_argument("--weight-decay", type=_non_negative_float)
    train.add_argument("--clip-norm", type=_positive_float, metavar="NORM",
                       help="rescale each gradient whose norm exceeds NORM (1.0 is a good start after divergence)")
    train.add_argument("--epochs", type=_positive_int)
    train.add_argument("--batch-size", type=_positive_int)
    train.add_argument("--augment", nargs="?", const="light", choices=tuple(AUGMENTATIONS),
                       help="augment 28×28 images: light (shifts, rotations, zoom; the default), elastic "
                            "(also elastic distortion), flip (also mirroring; not for digits), mirror "
                            "(mirroring alone, exact: no interpolation)")
    train.add_argument("--label-smoothing", type=_non_negative_float)
    train.add_argument("--validation-split", type=_non_negative_float, help="fraction held out (default 0.1)")
    train.add_argument("--patience", type=int, help="early stopping patience in epochs (0: off)")
    train.add_argument("--ensemble", type=_positive_int, help="train this many models and average them")
    train.add_argument("--seed", type=int)
    train.add_argument("--backend", choices=BACKENDS,
                       help="auto (default): numba where installed, else numpy; numpy: the reference code; numba: "
                            "the hot loops compiled, same results (pip install 'barenet[fast]'); cupy: an NVIDIA GPU "
                            "(pip install 'barenet[gpu]')")
    train.add_argument("--device", choices=("cpu", "gpu"), default="cpu", help="gpu: the same as --backend cupy")
    train.add_argument("--threads", type=_threads, metavar="N",
                       help="BLAS threads for the matrix products: auto (default: the free cores, checked every "
                            "epoch, so that jobs sharing the machine do not stall each other) or a number")
    train.add_argument("--out", help="run folder (default runs/<timestamp or --name>)")
    train.add_argument("--name", help="name of the run folder under runs/")
    train.add_argument("--resume", metavar="RUN_DIR", help="continue the run in RUN_DIR from its last checkpoint")
    train.add_argument("--no-plots", action="store_true", help="do not draw the PNG plots")
    train.add_argument("--quiet", action="store_true", help="no progress output")
    train.set_defaults(run=cmd_train)

    evaluate = commands.add_parser("evaluate", help="a saved model's test figures and classification report")
    evaluate.add_argument("model")
    evaluate.add_argument("--dataset", choices=DATASETS, help="default: the data set the model was trained on")
    evaluate.add_argument("--device", choices=("cpu", "gpu"), default="cpu", help="gpu: run the model on CuPy")
    evaluate.set_defaults(run=cmd_evaluate)

    predict = commands.add_parser("predict", help="read digits from image files",
                                  description="Classify pictures of digits (PNG, JPEG...; white-on-black or "
                                              "black-on-white, any size), prepared the MNIST way.")
    predict.add_argument("model")
    predict.add_argument("images", nargs="+", metavar="IMAGE")
    predict.add_argument("--invert", choices=("auto", "yes", "no"), default="auto",
                         help="dark ink on light paper? auto decides from the border")
    predict.add_argument("--top", type=_positive_int, default=3, help="show this many classes")
    predict.add_argument("--save-input", metavar="DIR", help="save the 28×28 images the model saw")
    predict.set_defaults(run=cmd_predict)

    summary = commands.add_parser("summary", help="layers, parameters and recorded figures of a model")
    summary.add_argument("model")
    summary.set_defaults(run=cmd_summary)

    export = commands.add_parser("export", help="write a model as JSON or ONNX for use outside Python")
    export.add_argument("model")
    export.add_argument("--format", choices=("json", "onnx"), default="json",
                        help="json (barenet's own, for the browser) or onnx (for onnxruntime in any language)")
    export.add_argument("--out", help="file to write (json: standard output if it is a file or a pipe)")
    export.set_defaults(run=cmd_export)

    bench = commands.add_parser("bench", help="speed against PyTorch and scikit-learn (see barenet bench --help)",
                                add_help=False)
    bench.set_defaults(run=cmd_bench)

    serve = commands.add_parser("serve", help="the web page: draw a digit, watch a model learn", add_help=False)
    serve.set_defaults(run=cmd_serve)
    return parser


def cmd_serve(args, rest):
    from .web.server import main as serve_main
    return serve_main(rest)


def _version():
    from importlib.metadata import PackageNotFoundError, version
    try:
        return version("barenet")
    except PackageNotFoundError:  # running from a source tree that is not installed
        return "unknown"


def _end_mpi_job_on_failure(code: int) -> int:
    """Under MPI, a command that fails in one process ends every process of the job (the others
    would wait for it for ever); elsewhere, returns the exit code."""
    MPI = sys.modules.get("mpi4py.MPI")
    if code != EXIT_OK and MPI is not None and MPI.Is_initialized() and not MPI.Is_finalized() \
            and MPI.COMM_WORLD.Get_size() > 1:
        from ..training.parallel import end_job
        end_job(MPI.COMM_WORLD, f"failed (exit code {code})", code)
    return code


def main(argv=None) -> int:
    survive_closed_pipes()  # barenet train | head: the run goes on and is saved
    return _end_mpi_job_on_failure(_main(argv))


def _main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        parser = build_parser()
        if argv and argv[0] in ("bench", "serve"):  # these parse their own options
            args, rest = parser.parse_args(argv[:1]), argv[1:]
            call = lambda: args.run(args, rest)  # noqa: E731
        else:
            args = parser.parse_args(argv)
            call = lambda: args.run(args)  # noqa: E731
        raise_if_interrupted()
    except KeyboardInterrupt:
        print(f"\n{BEFORE_START}", file=sys.stderr)
        return EXIT_INTERRUPTED
    try:
        return call()
    except UsageError as error:
        print(f"barenet {args.command}: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        folder = getattr(args, "training_in", None)  # set once a run has its folder and begins training
        saved = folder is not None and (Path(folder) / "model.npz").exists()
        print("\ninterrupted: " + (f"what was trained so far is saved in {folder}/ (--resume {folder} continues)"
                                   if saved else "no epoch had finished, so no model was saved"), file=sys.stderr)
        return EXIT_INTERRUPTED
    except ImportError as error:
        print(f"barenet {args.command}: error: {error}", file=sys.stderr)
        return EXIT_FAILED
    except Exception as error:  # a failed run: say what, not a traceback (BARENET_DEBUG=1 shows it)
        if os.environ.get("BARENET_DEBUG"):
            raise
        if hasattr(error, "for_command_line"):  # a data set not found: how to provide it, in the CLI's terms
            print(f"barenet {args.command}: error: {error.for_command_line()}", file=sys.stderr)
        else:
            print(f"barenet {args.command}: error: {type(error).__name__}: {error}", file=sys.stderr)
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
