"""Settings into objects: the one place that turns a run's settings into a network, optimizer and loss.

The settings are ``training.settings``'. The command line's runs, the web page's training jobs
and the scikit-learn estimators all build through it.
"""
from __future__ import annotations

from ..core import registry
from ..core.conv import Conv2D
from ..core.layers import Dense, Dropout
from ..core.losses import MSE, BinaryCrossEntropy, CrossEntropy, Poisson
from ..core.normalization import BatchNorm2D
from ..core.optimizers import SGD, Adam
from ..core.pooling import MaxPool2D
from ..core.schedules import CosineDecay, StepDecay
from ..core.shaping import Flatten, Reshape
from . import convolutions
from .model import Sequential

__all__ = ["build_network", "conv_layers", "build_optimizer", "build_loss"]


def build_network(settings, n_features: int, n_outputs: int, *, first=(), image_shape=None, seed=0,
                  dtype="float32", backend=None) -> Sequential:
    """Return the Sequential the settings describe.

    ``first`` layers (augmentation, standardisation), then the convolutional layers where
    ``settings.conv`` names some, then per hidden width a Dense layer, the activation and dropout
    where set, then a Dense layer to the outputs. Dense layers start as suits the activation: He
    for the ReLU family, Xavier for sigmoid and tanh.

    Parameters
    ----------
    settings
        Anything with the settings as attributes: ``conv`` (text for ``training.convolutions``, or
        None), ``hidden``, ``activation`` (None: no activation, a linear network) and ``dropout``.
    n_features, n_outputs : int
        The input's width and the outputs.
    first : sequence of Layer
        Layers before the first convolutional or Dense one.
    image_shape : tuple of int, optional
        (height, width) of the one-channel images that the rows hold; needed where ``conv`` is set.
    seed, dtype, backend
        As for ``Sequential``.
    """
    activation = None if settings.activation is None else registry.activations[settings.activation]
    init = "he" if activation is None else activation.init
    layers, width = list(first), n_features
    if settings.conv:
        convolutions, width = conv_layers(settings.conv, image_shape, activation)
        layers += convolutions
    for hidden in settings.hidden:
        layers.append(Dense(width, int(hidden), init=init))
        layers += [activation()] if activation is not None else []
        layers += [Dropout(settings.dropout)] if settings.dropout else []
        width = int(hidden)
    layers.append(Dense(width, n_outputs, init="xavier" if init == "xavier" else "he"))
    return Sequential(*layers, seed=seed, dtype=dtype, backend=backend)


def conv_layers(text: str, image_shape, activation=None):
    """Return the layers ``text`` describes (``training.convolutions``), and the width they give.

    The layers take flat rows of one-channel ``image_shape`` (height, width) images, Reshape them
    to (n, 1, height, width), and Flatten the last convolution's channels to rows again.

    Parameters
    ----------
    text : str
        The ``conv`` setting, e.g. "conv 32 3, pool 2, conv 64 3, pool 2".
    image_shape : tuple of int
        (height, width) of the images.
    activation : type, optional
        The activation layer that follows each convolution.

    Returns
    -------
    layers : list of Layer
    width : int
        The width of the rows the last layer gives.
    """
    if image_shape is None:
        raise ValueError("convolutional layers (conv) need images, and this data has none")
    items = convolutions.parse(text)
    channels, height, width = convolutions.output_shape(items, image_shape)
    layers, now = [Reshape((1, *image_shape))], 1
    for item in items:
        if item[0] == "conv":
            layers.append(Conv2D(now, item[1], item[2], padding="same"))
            layers += [activation()] if activation is not None else []
            now = item[1]
        elif item[0] == "pool":
            layers.append(MaxPool2D(item[1]))
        elif item[0] == "norm":
            layers.append(BatchNorm2D(now))
        else:
            layers.append(Dropout(item[1]))
    return layers + [Flatten()], channels * height * width


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
