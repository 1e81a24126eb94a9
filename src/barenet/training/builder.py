"""Settings into objects: the one place that turns a run's settings (``training.settings``) into
the network, the optimizer and the loss. The command line's runs, the web page's training jobs
and the scikit-learn estimators all build through it."""
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
    """``first`` layers (augmentation, standardisation), then the convolutional layers where
    ``settings.conv`` names some (on flat rows of ``image_shape`` (height, width) images), then per
    hidden width a Dense layer, the activation (``None``: no activation, a linear network) and
    dropout where set, then a Dense layer to the outputs. Dense layers start as suits the
    activation: He for the ReLU family, Xavier for sigmoid and tanh."""
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
    """(the layers ``text`` describes (``training.convolutions``), from flat rows of one-channel
    ``image_shape`` images to flat rows again; the width of those rows)."""
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
    """The optimizer the settings name, with its learning rate on the schedule they name (over
    ``epochs``, by default ``settings.epochs``); SGD with Nesterov momentum where momentum > 0
    (``nesterov=False``: plain momentum); ``betas``, ``eps`` and ``eps_hat`` for Adam and AdamW
    (their own defaults where None)."""
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
    """Softmax cross-entropy (with label smoothing) for classes, the binary cross-entropy of one
    logistic output per label where ``logistic`` (binary and multilabel problems), the mean
    squared error for values, the Poisson deviance for counts where ``poisson``."""
    if classifies:
        return BinaryCrossEntropy() if logistic else CrossEntropy(label_smoothing)
    return Poisson() if poisson else MSE()
