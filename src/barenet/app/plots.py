"""Plots of training and of what a model learned; each function returns a matplotlib ``Figure``.

Save one with ``fig.savefig("name.png")``; ``barenet train`` writes them into its run folder.
Needs matplotlib: ``pip install "barenet[plot]"``.
"""
from __future__ import annotations

import functools
import io

import numpy as np

from ..core import registry
from ..core.backend import to_device, to_numpy
from ..core.conv import Conv2D
from ..core.layers import Dense

__all__ = ["html", "learning_curves", "confusion_matrix", "activation_functions", "decision_boundary", "class_colours", "sample_grid",
           "confident_errors", "first_layer_pictures", "first_layer_weights", "predicted_vs_true"]


@functools.cache
def _figure_class():
    """Return matplotlib's Figure, able to show itself.

    A notebook displays one that ends a cell (as a PNG), without pyplot or an inline backend.
    """
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise ImportError("barenet's plots need matplotlib: pip install 'barenet[plot]'") from None

    class ShownFigure(Figure):
        def _repr_png_(self):
            buffer = io.BytesIO()
            self.savefig(buffer, format="png", dpi=100)
            return buffer.getvalue()

    return ShownFigure


def _figure(width, height):
    return _figure_class()(figsize=(width, height), layout="constrained")


def learning_curves(history, title: str | None = None):
    """Plot loss and accuracy per epoch, training against validation.

    Training figures of epochs ≥ 1 are running means over the epoch; full passes (epoch 0,
    ``train_*``) are drawn as markers.

    Parameters
    ----------
    history : History or dict
        A model's history, or its ``to_dict()``.
    title : str, optional
        The figure's title.
    """
    history = history.to_dict() if hasattr(history, "to_dict") else dict(history)
    epochs = history["epochs"]
    kinds = [k for k in ("loss", "accuracy") if k in history]
    fig = _figure(5.2 * len(kinds), 3.6)
    axes = fig.subplots(1, len(kinds), squeeze=False)[0]
    for ax, kind in zip(axes, kinds):
        def series(key):
            values = history.get(key)
            if values is None:
                return None
            points = [(e, v) for e, v in zip(epochs, values) if v is not None]
            return np.array(points) if points else None

        train = series(kind)
        if train is not None:
            ax.plot(train[:, 0], train[:, 1], "-o", ms=3, label="train (running mean)")
        full = series(f"train_{kind}")
        if full is not None:
            ax.plot(full[:, 0], full[:, 1], "--", label="train (full pass)")
        val = series(f"val_{kind}")
        if val is not None:
            ax.plot(val[:, 0], val[:, 1], "-s", ms=3, label="validation")
        ax.set_xlabel("epoch (0: before training)")
        ax.set_ylabel(kind)
        if kind == "loss":  # on a log scale epoch 0's loss does not flatten the later epochs' differences
            ax.set_yscale("log")
            ax.set_ylabel("loss (log scale)")
        else:
            _zoom_past_epoch_0(ax, [s for s in (train, full, val) if s is not None])
        ax.grid(alpha=0.3, which="both")
        ax.legend()
    if title:
        fig.suptitle(title)
    return fig


def _zoom_past_epoch_0(ax, series):
    """Fit the y-range to epochs ≥ 1, so that 95% against 99% is not a sliver beside epoch 0's 10%.

    Epoch 0's figures, then below the view, are written in the corner.
    """
    later = np.concatenate([s[s[:, 0] >= 1, 1] for s in series]) if series else np.array([])
    first = np.concatenate([s[s[:, 0] == 0, 1] for s in series]) if series else np.array([])
    if not later.size or not first.size:
        return
    margin = max(0.1 * (later.max() - later.min()), 0.005)
    bottom, top = later.min() - margin, later.max() + margin
    if first.min() >= bottom:
        return
    ax.set_ylim(bottom, top)
    ax.text(0.02, 0.02, f"epoch 0 (untrained): {first.min():.3g}, below the view", transform=ax.transAxes,
            fontsize=8, color="0.35")


def confusion_matrix(cm, class_names=None, normalize: bool = False, title: str = "Confusion matrix"):
    """Plot counts of true class (rows) against predicted class (columns).

    Parameters
    ----------
    cm : array (classes, classes)
        A confusion matrix (``metrics.confusion_matrix``).
    class_names : list, optional
        The classes' names (their ids by default).
    normalize : bool, default False
        Show each row's fractions instead of counts.
    title : str, default "Confusion matrix"
        The figure's title.
    """
    cm = np.asarray(cm)
    k = len(cm)
    shown = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1) if normalize else cm
    names = [str(n) for n in class_names] if class_names is not None else [str(i) for i in range(k)]
    fig = _figure(1.0 + 0.55 * k, 0.8 + 0.5 * k)
    ax = fig.subplots()
    image = ax.imshow(shown, cmap="Blues")
    fig.colorbar(image, ax=ax, shrink=0.8)
    ax.set_xticks(range(k), names, rotation=45 if max(map(len, names)) > 2 else 0, ha="right" if max(map(len, names)) > 2 else "center")
    ax.set_yticks(range(k), names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    threshold = shown.max() / 2
    for i in range(k):
        for j in range(k):
            text = f"{shown[i, j]:.2f}" if normalize else f"{int(cm[i, j])}"
            ax.text(j, i, text, ha="center", va="center", fontsize=8,
                    color="white" if shown[i, j] > threshold else "black")
    ax.set_title(title)
    return fig


def activation_functions(x=None):
    """Plot every activation and its derivative, computed by the layers' own forward and backward, over ``x``."""
    x = np.linspace(-4, 4, 401)[:, None] if x is None else np.asarray(x, dtype=np.float64).reshape(-1, 1)
    layers = []
    for cls in registry.activations.aliases().values():
        slope = {"alpha": 0.1} if "alpha" in cls.constraints else {}  # a slope small enough to see
        layer = cls(**slope)
        layers.append((repr(layer) if slope else cls.__name__, layer))
    fig = _figure(3.2 * len(layers), 3.0)
    axes = fig.subplots(1, len(layers))
    for ax, (name, layer) in zip(axes, layers):
        y = to_numpy(layer.forward(to_device(x)))
        derivative = to_numpy(layer.backward(to_device(np.ones_like(x))))  # dL/dx with dL/dy = 1 is f'(x)
        ax.plot(x[:, 0], y[:, 0], label="f(x)")
        ax.plot(x[:, 0], derivative[:, 0], "--", label="f′(x)")
        ax.axhline(0, color="0.6", lw=0.6)
        ax.axvline(0, color="0.6", lw=0.6)
        ax.set_title(name)
        ax.grid(alpha=0.3)
    axes[0].legend()
    return fig


def class_colours(classes: int):
    """Return one colour per class, the same wherever a plot draws that class (regions, points, legend)."""
    from matplotlib import colormaps
    palette = colormaps["tab10" if classes <= 10 else "tab20"].colors
    return [palette[k % len(palette)] for k in range(classes)]


def decision_boundary(model, X, y, resolution: int = 300, title: str = "Decision boundary", class_names=None):
    """Plot the class the model predicts over the plane, with every sample in its true class's colour.

    A dot when classified correctly and a cross when not; one colour per class throughout, named in
    the legend. For models with two input features.

    Parameters
    ----------
    model : Sequential or Ensemble
        A classifier of points in the plane.
    X, y : array
        The points (n, 2) and their classes.
    resolution : int, default 300
        Grid cells per side.
    title : str, default "Decision boundary"
        The figure's title (the accuracy is added).
    class_names : list, optional
        The classes' names.
    """
    from matplotlib.colors import ListedColormap
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    X, y = np.asarray(X), np.asarray(y).astype(int)
    if X.ndim != 2 or X.shape[1] != 2:
        raise ValueError(f"decision_boundary needs 2-D points, got X of shape {X.shape}")
    pad = 0.1 * (X.max(axis=0) - X.min(axis=0)) + 1e-9
    low, high = X.min(axis=0) - pad, X.max(axis=0) + pad
    xs, ys = np.linspace(low[0], high[0], resolution), np.linspace(low[1], high[1], resolution)
    grid = np.stack(np.meshgrid(xs, ys), axis=-1).reshape(-1, 2)
    regions = model.predict(grid).reshape(resolution, resolution)
    predicted = model.predict(X)
    correct = predicted == y
    classes = int(max(regions.max(), y.max())) + 1
    colours = class_colours(classes)
    names = [str(n) for n in class_names] if class_names is not None else [str(k) for k in range(classes)]
    fig = _figure(5.5, 4.8)
    ax = fig.subplots()
    ax.contourf(xs, ys, regions, levels=np.arange(classes + 1) - 0.5, cmap=ListedColormap(colours), alpha=0.25)
    point_colours = np.array(colours)[y]
    ax.scatter(X[correct, 0], X[correct, 1], c=point_colours[correct], s=12, marker="o", edgecolors="none")
    ax.scatter(X[~correct, 0], X[~correct, 1], c=point_colours[~correct], s=40, marker="x")
    handles = [Patch(facecolor=colours[k], edgecolor=colours[k], label=f"class {names[k]}") for k in range(classes)]
    handles += [Line2D([], [], marker="o", color="0.3", linestyle="", label=f"correct ({correct.sum()})"),
                Line2D([], [], marker="x", color="0.3", linestyle="", label=f"wrong ({(~correct).sum()})")]
    ax.legend(handles=handles, loc="best", fontsize=8, title="region: predicted; point: true", title_fontsize=8)
    ax.set_title(f"{title}: accuracy {correct.mean():.1%}")
    return fig


def _image_grid(images, titles, colors, columns, image_shape, caption=None):
    n = len(images)
    rows = max(1, int(np.ceil(n / columns)))
    fig = _figure(1.3 * columns, 1.45 * rows)
    axes = np.atleast_1d(fig.subplots(rows, columns)).ravel()
    for ax in axes:
        ax.axis("off")
    for ax, image, title, color in zip(axes, images, titles, colors):
        ax.imshow(np.asarray(image).reshape(image_shape), cmap="gray_r", interpolation="nearest")
        ax.set_title(title, fontsize=8, color=color)
    if caption:
        fig.suptitle(caption, fontsize=8)
    return fig


def sample_grid(images, y_true, y_pred=None, class_names=None, n: int = 25, image_shape=(28, 28), columns: int = 5):
    """Plot the first n images, titled 'predicted (true)' in green when right and red when wrong.

    Parameters
    ----------
    images : array (n, pixels)
        Flattened images.
    y_true : array (n,)
        Their classes.
    y_pred : array (n,), optional
        The model's answers (without them, the titles are the true classes).
    class_names : list, optional
        The classes' names.
    n : int, default 25
        How many images.
    image_shape : (int, int), default (28, 28)
        An image's (height, width).
    columns : int, default 5
        Images per row.
    """
    names = (lambda c: str(class_names[c])) if class_names is not None else str
    images, y_true = np.asarray(images)[:n], np.asarray(y_true)[:n]
    if y_pred is None:
        titles, colors = [names(t) for t in y_true], ["black"] * len(y_true)
    else:
        y_pred = np.asarray(y_pred)[:n]
        titles = [names(p) if p == t else f"{names(p)} ({names(t)})" for p, t in zip(y_pred, y_true)]
        colors = ["green" if p == t else "red" for p, t in zip(y_pred, y_true)]
        wrong = sum(p != t for p, t in zip(y_pred, y_true))
        return _image_grid(images, titles, colors, columns, image_shape,
                           caption=f"the model's answer, in green when right; in red when wrong, with the true class "
                                   f"in brackets ({wrong} of {len(titles)} wrong)")
    return _image_grid(images, titles, colors, columns, image_shape)


def confident_errors(model, X, y, n: int = 16, class_names=None, image_shape=(28, 28), columns: int = 8):
    """Plot the n wrongly classified images the model was most sure of.

    Titled with the predicted class, its probability and the true class. ``class_names``,
    ``image_shape`` and ``columns`` as for ``sample_grid``.
    """
    proba = model.predict_proba(X)
    predicted = proba.argmax(axis=1)
    wrong = np.flatnonzero(predicted != np.asarray(y))
    order = wrong[np.argsort(-proba[wrong, predicted[wrong]])][:n]
    names = (lambda c: str(class_names[c])) if class_names is not None else str
    titles = [f"{names(predicted[i])} {proba[i, predicted[i]]:.1%}\n(true {names(y[i])})" for i in order]
    return _image_grid(np.asarray(X)[order], titles, ["red"] * len(order), columns, image_shape)


def first_layer_pictures(model, image_shape=(28, 28), n: int = 64):
    """Return the patterns the first layer responds to, as pictures, and what they are.

    The incoming weights of the first dense layer's first ``n`` units, each the size of an
    ``image_shape`` image ("units"), or a first convolution's first ``n`` filters ("filters").

    Returns
    -------
    pictures : ndarray
        (k, height, width).
    what : str
        "units" or "filters".

    Raises
    ------
    ValueError
        Where the first layer with parameters is neither such a Dense layer nor a Conv2D on images
        of one channel.
    """
    first = next((layer for layer in model.layers if layer.params), None)
    if isinstance(first, Conv2D) and first.in_channels == 1:
        return to_numpy(first.params["W"])[:n, 0], "filters"
    if not isinstance(first, Dense) or first.in_features != int(np.prod(image_shape)):
        raise ValueError(f"first_layer_weights needs a first Dense layer with {int(np.prod(image_shape))} inputs, "
                         f"or a first Conv2D on images of one channel")
    return to_numpy(first.params["W"])[:, :n].T.reshape(-1, *image_shape), "units"


def first_layer_weights(model, image_shape=(28, 28), n: int = 64, columns: int = 8):
    """Plot the incoming weights of the first dense layer's units, or a first convolution's filters.

    The patterns the first layer responds to: the first ``n`` units or filters, ``columns`` per
    row, each drawn as an image (``first_layer_pictures``).
    """
    W, what = first_layer_pictures(model, image_shape, n)
    fig = _figure(1.1 * columns, 1.1 * int(np.ceil(len(W) / columns)))
    axes = np.atleast_1d(fig.subplots(int(np.ceil(len(W) / columns)), columns)).ravel()
    for ax in axes:
        ax.axis("off")
    for ax, w in zip(axes, W):
        limit = np.abs(w).max() or 1.0
        ax.imshow(w, cmap="RdBu_r", vmin=-limit, vmax=limit, interpolation="nearest")
    fig.suptitle(f"first-layer {'weights' if what == 'units' else 'filters'} (red +, blue −)", fontsize=9)
    return fig


def predicted_vs_true(y_true, y_pred, noise_variance: float | None = None):
    """Plot regression's predicted against true values, with the identity line (and the noise floor in the title)."""
    y_true, y_pred = np.ravel(y_true), np.ravel(y_pred)
    fig = _figure(4.8, 4.5)
    ax = fig.subplots()
    ax.scatter(y_true, y_pred, s=5, alpha=0.5)
    low, high = min(y_true.min(), y_pred.min()), max(y_true.max(), y_pred.max())
    ax.plot([low, high], [low, high], color="0.3", lw=1)
    mse = float(((y_true - y_pred) ** 2).mean())
    ax.set_title(f"test MSE {mse:.4f}" + (f" (noise floor {noise_variance:.4f})" if noise_variance else ""))
    ax.set_xlabel("true")
    ax.set_ylabel("predicted")
    return fig


def html(figure, alt: str = "") -> str:
    """Return the figure as an HTML ``<img>`` holding the PNG itself (no file).

    For a notebook's or a page's output, where ``print(plots.html(fig))`` shows it in place; ``alt``
    is the image's text.
    """
    import base64
    import io
    from html import escape

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return f'<img alt="{escape(alt)}" src="data:image/png;base64,{data}">'

