"""The ``barenet`` command line: the parser and the way out (exit codes, errors, Ctrl-C).

What each subcommand does is in ``app.commands``. Exit codes: 0 success; 1 the run failed
(training diverged, data not found, a file could not be written); 2 bad usage or an unreadable
input file (a model, an image); 130 interrupted by Ctrl-C (after saving what there was).

``barenet train``'s options are made from the settings' declarations (``training.settings``,
``app.config``): each ``--name`` takes what the setting takes, with its help, and says what it
expected when given something else.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from .commands import (EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, TRAINING_OPTIONS, UsageError, cmd_evaluate,
                       cmd_export, cmd_predict, cmd_summary, cmd_train)
from .interrupts import BEFORE_START, interrupted, raise_if_interrupted
from .pipes import survive_closed_pipes

__all__ = ["main", "build_parser", "EXIT_OK", "EXIT_FAILED", "EXIT_USAGE", "EXIT_INTERRUPTED"]

def _option_extras():
    """Return the command line's own touches on a few options: --augment alone means the light preset."""
    from .config import AUGMENTATIONS
    return {"augment": dict(nargs="?", const="light", choices=tuple(AUGMENTATIONS), metavar=None),
            "dataset": dict(help="data set (default: mnist if on disk, else digits)")}


def _typed(setting):
    """Return an argparse type for a setting: its word parsed and checked, or argparse's usage error."""
    def parse(text):
        try:
            return setting.from_text(text)
        except ValueError as error:
            raise argparse.ArgumentTypeError(str(error)) from None
    parse.__name__ = setting.name  # argparse names the type in some messages
    return parse


def _add_setting(parser, setting, by_dataset=(), **extra):
    """``--name`` for a setting; its default is said, or that the data set sets it."""
    default = "the data set's" if setting.name in by_dataset else setting.default
    help_text = setting.help + (f" (default: {default})" if default not in (None, [], "") else "")
    options = dict(type=_typed(setting), metavar=setting.metavar or setting.name.upper(), help=help_text)
    if setting.choices:
        options.update(choices=setting.choices, metavar=None)
    parser.add_argument(f"--{setting.name.replace('_', '-')}", **{**options, **extra})


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive whole number, got {text!r}")
    return value


def _train_parser(train):
    """``barenet train``'s options: every run setting, then where the run goes and how it speaks."""
    from .config import DATASET_DEFAULTS, RUN_SETTINGS

    extras = _option_extras()
    by_dataset = {name for defaults in DATASET_DEFAULTS.values() for name in defaults}
    for name in ("dataset", "recipe", *TRAINING_OPTIONS[1:]):
        _add_setting(train, RUN_SETTINGS[name], by_dataset, **extras.get(name, {}))
    train.add_argument("--device", choices=("cpu", "gpu"), default="cpu", help="gpu: the same as --backend cupy")
    train.add_argument("--out", help="run folder (default runs/<timestamp or --name>)")
    train.add_argument("--name", help="name of the run folder under runs/")
    train.add_argument("--resume", metavar="RUN_DIR", help="continue the run in RUN_DIR from its last checkpoint")
    train.add_argument("--no-plots", action="store_true", help="do not draw the PNG plots")
    train.add_argument("--quiet", action="store_true", help="no progress output")
    train.set_defaults(run=cmd_train)


_SAYS = {  # what a command's --help says first
    "evaluate": "Score a saved model on the test split of a data set: its test loss and accuracy (R² for "
                "regression) and, for classes, the classification report.",
    "summary": "Print a saved model's layers with their output shapes and parameter counts, and the figures "
               "its history recorded.",
    "export": "Write a saved model in a form other programs read: barenet's JSON, an ONNX graph, or the draw "
              "page as a folder of static files.",
}


def build_parser():
    """Return the ``barenet`` command's parser, with its subcommands (bench and serve parse their own)."""
    from .data import DATASETS

    parser = argparse.ArgumentParser(
        prog="barenet", description="Train, judge and use neural networks written from scratch on NumPy.",
        epilog="exit codes: 0 success, 1 the run failed, 2 bad usage or unreadable input, 130 interrupted.")
    parser.add_argument("--version", action="version", version=f"barenet {_version()}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True

    _train_parser(commands.add_parser(
        "train", help="train a model and write a run folder",
        description="Train a network. With no options: MNIST where its files are on disk, else the 8×8 digits. "
                    "Settings not given come from the recipe, then from the data set's defaults."))
    evaluate = commands.add_parser("evaluate", help="a saved model's test figures and classification report",
                                   description=_SAYS["evaluate"])
    evaluate.add_argument("model", help="a model file (.npz), such as a run folder's model.npz")
    evaluate.add_argument("--dataset", choices=DATASETS, help="default: the data set the model was trained on")
    evaluate.add_argument("--device", choices=("cpu", "gpu"), default="cpu", help="gpu: run the model on CuPy")
    evaluate.set_defaults(run=cmd_evaluate)

    predict = commands.add_parser("predict", help="read digits from image files",
                                  description="Classify pictures of digits (PNG, JPEG...; white-on-black or "
                                              "black-on-white, any size), prepared the MNIST way.")
    predict.add_argument("model", help="a model file (.npz) of 784 inputs, such as a run folder's model.npz")
    predict.add_argument("images", nargs="+", metavar="IMAGE")
    predict.add_argument("--invert", choices=("auto", "yes", "no"), default="auto",
                         help="dark ink on light paper? auto decides from the border")
    predict.add_argument("--top", type=_positive_int, default=3, help="show this many classes")
    predict.add_argument("--save-input", metavar="DIR", help="save the 28×28 images the model saw")
    predict.set_defaults(run=cmd_predict)

    summary = commands.add_parser("summary", help="layers, parameters and recorded figures of a model",
                                  description=_SAYS["summary"])
    summary.add_argument("model", help="a model file (.npz), such as a run folder's model.npz")
    summary.set_defaults(run=cmd_summary)

    export = commands.add_parser("export", help="write a model as JSON, ONNX or a static web page for use outside Python",
                                 description=_SAYS["export"])
    export.add_argument("model", help="a model file (.npz), or a fitted barenet.sklearn estimator or Pipeline "
                                      "pickled in a .pkl file (--format onnx; read without running code from it)")
    export.add_argument("--format", choices=("json", "onnx", "web"), default="json",
                        help="json (barenet's own), onnx (for onnxruntime in any language) or web (a folder: the "
                             "draw page running the model in any browser, from disk or a static host)")
    export.add_argument("--out", help="file to write (json: standard output if it is a file or a pipe), or the "
                                      "folder for web")
    export.add_argument("--quantize", choices=("int8",), help="web: store the weights as int8, one scale per "
                                                              "output channel (about a quarter of the size)")
    export.add_argument("--input-dtype", choices=("float32", "float64"),
                        help="onnx, for an estimator: the input's type (default: the one it was fitted on)")
    export.set_defaults(run=cmd_export)

    bench = commands.add_parser("bench", help="speed against PyTorch, JAX, Keras and scikit-learn "
                                              "(see barenet bench --help)", add_help=False)
    bench.set_defaults(run=cmd_bench)

    serve = commands.add_parser("serve", help="the web page: draw a digit, watch a model learn", add_help=False)
    serve.set_defaults(run=cmd_serve)
    return parser


def cmd_bench(args, rest):
    """Run ``barenet bench`` with the words after it (``rest``); return its exit code."""
    from .bench import main as bench_main
    return bench_main(rest)


def cmd_serve(args, rest):
    """Run ``barenet serve`` with the words after it (``rest``); return its exit code."""
    from .web.server import main as serve_main
    return serve_main(rest)


def _version():
    from importlib.metadata import PackageNotFoundError, version
    try:
        return version("barenet")
    except PackageNotFoundError:  # running from a source tree that is not installed
        return "unknown"


def _end_mpi_job_on_failure(code: int) -> int:
    """Return the exit code; under MPI, a failed command ends every process of the job first.

    The others would wait for it for ever.
    """
    MPI = sys.modules.get("mpi4py.MPI")
    if code != EXIT_OK and MPI is not None and MPI.Is_initialized() and not MPI.Is_finalized() \
            and MPI.COMM_WORLD.Get_size() > 1:
        from ..training.parallel import end_job
        end_job(MPI.COMM_WORLD, f"failed (exit code {code})", code)
    return code


def main(argv=None) -> int:
    """Run the ``barenet`` command.

    Parameters
    ----------
    argv : list of str, optional
        The words after ``barenet`` (by default the process's arguments).

    Returns
    -------
    int
        The exit code: 0, 1 (the run failed), 2 (bad usage), 130 (interrupted).
    """
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
        return _interrupted(args)
    except Exception as error:  # a failed run: say what, not a traceback (BARENET_DEBUG=1 shows it)
        if interrupted():  # a Ctrl-C that a library's import turned into another error (scikit-learn's)
            return _interrupted(args)
        if isinstance(error, ImportError):
            print(f"barenet {args.command}: error: {error}", file=sys.stderr)
            return EXIT_FAILED
        if os.environ.get("BARENET_DEBUG"):
            raise
        if hasattr(error, "for_command_line"):  # a data set not found: how to provide it, in the CLI's terms
            print(f"barenet {args.command}: error: {error.for_command_line()}", file=sys.stderr)
        else:
            print(f"barenet {args.command}: error: {type(error).__name__}: {error}", file=sys.stderr)
        return EXIT_FAILED


def _interrupted(args) -> int:
    """Say what a Ctrl-C left (the model saved so far, or nothing) and return 130."""
    folder = getattr(args, "training_in", None)  # set once a run has its folder and begins training
    saved = folder is not None and (Path(folder) / "model.npz").exists()
    print("\ninterrupted: " + (f"what was trained so far is saved in {folder}/ (--resume {folder} continues)"
                               if saved else "no epoch had finished, so no model was saved"), file=sys.stderr)
    return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
