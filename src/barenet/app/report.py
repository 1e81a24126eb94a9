"""What a run says about itself: the test figures, the report, the plots, the summary lines."""
from __future__ import annotations

import math
from pathlib import Path

from ..core.backend import backend_named
from ..training import metrics
from ..training.model import Sequential
from ..training.threads import blas_info

__all__ = ["evaluate_run", "format_report", "write_plots", "describe"]


def evaluate_run(model, data, seconds: float, interrupted: bool) -> dict:
    """Return a run's report: its test figures, the time it took, and the BLAS threads of each epoch.

    For classifiers also the confusion matrix and the classification report; ``interrupted`` says
    whether Ctrl-C ended the training.
    """
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


def format_report(config, data, report: dict) -> str:
    """Return report.txt's text: the data, the backend, the settings, the time and the test figures."""
    lines = [f"barenet run: {data.name}" + (f" (recipe {config.recipe})" if config.recipe else ""),
             f"training {'images' if data.image_shape else 'samples'}: {len(data.X_train)} (of which "
             f"{config.validation_split:.0%} held out for validation), test: {len(data.X_test)}",
             f"backend: {backend_named(config.backend).name}" + (" (auto)" if config.backend == "auto" else ""),
             _threads_line(report.get("threads"), config.threads),
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


def _threads_line(threads, setting) -> str:
    """Return what the matrix products ran on: the BLAS library and its threads per epoch."""
    library = blas_info()["library"] or "the BLAS library (thread count unknown: pip install threadpoolctl)"
    counts = sorted({int(t) for t in threads or [] if t is not None})
    used = "" if not counts else f", {counts[0]}" + (f" to {counts[-1]}" if len(counts) > 1 else "")
    return f"matrix products: {library}, threads {setting}{used}"


def write_plots(model, data, out: Path, log=print) -> list:
    """Write the run's pictures as PNG files into ``out``; return their names (none without matplotlib)."""
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
    """Return lines describing a saved model's origin and figures (for ``barenet summary``)."""
    meta = getattr(model, "metadata", {}) or {}
    lines = []
    if meta.get("dataset"):
        lines.append(f"trained on: {_printable(meta['dataset'])}")
    if isinstance(meta.get("description"), str):  # the shipped draw model says what else it learned from
        lines.append(f"description: {_printable(meta['description'])}")
    history = model.history if len(model.history) else getattr(model, "members", [model])[0].history
    if len(history):
        lines.append(f"epochs trained: {history.epochs[-1]}")
    for key, value in (meta.get("test") or {}).items():
        if isinstance(value, (int, float)) and math.isfinite(value):
            lines.append(f"test {key}: {value:.4f}")
    if meta.get("class_names"):
        lines.append("classes: " + _printable(", ".join(map(str, meta["class_names"]))))
    return lines


def _printable(text, most: int = 500) -> str:
    """``text`` on one line, without what a terminal would obey (escapes, bells): a file's words, shown safely."""
    return "".join(ch for ch in " ".join(str(text).split()) if ch.isprintable())[:most]
