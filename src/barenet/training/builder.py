"""Settings into objects: the one place that turns a run's settings into a network, optimizer and loss.

The settings are ``training.settings``'. The command line's runs, the web page's training jobs
and the scikit-learn estimators all build through it.
"""
from __future__ import annotations

from ..core import registry
from ..core.layers import Dense, Dropout
from ..core.losses import MSE, BinaryCrossEntropy, CrossEntropy, Poisson
from ..core.optimizers import SGD, Adam
from ..core.schedules import CosineDecay, StepDecay
from .model import Sequential

__all__ = ["build_network", "build_optimizer", "build_loss"]


def build_network(settings, n_features: int, n_outputs: int, *, first=(), seed=0, dtype="float32",
                  backend=None) -> Sequential:
    """Return the Sequential the settings describe.

    ``first`` layers (augmentation, standardisation), then per hidden width a Dense layer, the
    activation and dropout where set, then a Dense layer to the outputs. Dense layers start as suits
    the activation: He for the ReLU family, Xavier for sigmoid and tanh.

    Parameters
    ----------
    settings
        Anything with the settings as attributes: ``hidden``, ``activation`` (None: no activation, a
        linear network) and ``dropout``.
    n_features, n_outputs : int
        The input's width and the outputs.
    first : sequence of Layer
        Layers before the first Dense one.
    seed, dtype, backend
        As for ``Sequential``.
    """
    activation = None if settings.activation is None else registry.activations[settings.activation]
    init = "he" if activation is None else activation.init
    layers, width = list(first), n_features
    for hidden in settings.hidden:
        layers.append(Dense(width, int(hidden), init=init))
        layers += [activation()] if activation is not None else []
        layers += [Dropout(settings.dropout)] if settings.dropout else []
        width = int(hidden)
    layers.append(Dense(width, n_outputs, init="xavier" if init == "xavier" else "he"))
    return Sequential(*layers, seed=seed, dtype=dtype, backend=backend)


def build_optimizer(settings, epochs: int | None = None, weight_decay: float | None = None, *,
                    nesterov: bool = True, betas=None, eps=None, eps_hat: bool = False):
    """Return the optimizer the settings name, its learning rate on the schedule they name.

    SGD takes Nesterov momentum where momentum > 0.

    Parameters
    ----------
    settings
        Anything with ``optimizer``, ``lr``, ``schedule``, ``warmup``, ``momentum``, ``weight_decay``,
        ``clip_norm`` and ``epochs`` as attributes.
    epochs : int, optional
        The schedule's length; ``settings.epochs`` by default.
    weight_decay : float, optional
        Instead of ``settings.weight_decay``.
    nesterov : bool, default True
        False: SGD's plain momentum.
    betas, eps, eps_hat
        Adam's and AdamW's (their own defaults where None; eps_hat default False).
    """
    epochs = settings.epochs if epochs is None else epochs
    decay = settings.weight_decay if weight_decay is None else weight_decay
    lr = settings.lr
    if settings.schedule == "cosine":
        lr = CosineDecay(settings.lr, epochs=epochs, warmup_epochs=settings.warmup)
    elif settings.schedule == "step":
        lr = StepDecay(settings.lr, step_size=max(1, epochs // 3), gamma=0.1)
    kind = registry.optimizers[settings.optimizer]
    if kind is SGD:
        return SGD(lr, momentum=settings.momentum, nesterov=nesterov and settings.momentum > 0, weight_decay=decay,
                   clip_norm=settings.clip_norm)
    moments = {} if not issubclass(kind, Adam) else \
        {name: value for name, value in (("betas", betas), ("eps", eps)) if value is not None} | {"eps_hat": eps_hat}
    return kind(lr, weight_decay=decay, clip_norm=settings.clip_norm, **moments)


def build_loss(classifies: bool, label_smoothing: float = 0.0, *, logistic: bool = False, poisson: bool = False):
    """Return the loss for the task.

    Parameters
    ----------
    classifies : bool
        Classes: softmax cross-entropy; values: the mean squared error.
    label_smoothing : float, default 0.0
        For the cross-entropy.
    logistic : bool, default False
        For classes: the binary cross-entropy of one logistic output per label (binary and
        multilabel problems).
    poisson : bool, default False
        For values: the Poisson deviance, for counts.
    """
    if classifies:
        return BinaryCrossEntropy() if logistic else CrossEntropy(label_smoothing)
    return Poisson() if poisson else MSE()
