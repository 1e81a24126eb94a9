"""A run's configuration: the training settings, the run's own, the rules between them, what they build.

The training settings are ``training.settings``'; the run's own are the data set, augmentation, an
ensemble and the recipe. ``RunConfig`` has one field per setting, with the declared defaults;
``validate()`` checks each value against its declaration and the settings against each other,
refusing settings that would do nothing (a warm-up without the cosine schedule, patience without
validation data).
"""
from __future__ import annotations

import copy
import dataclasses

from ..core import checks as check
from ..core.augment import RandomAffine
from ..core.preprocessing import Standardizer
from ..training.builder import build_loss, build_network, build_optimizer
from ..training.settings import SETTINGS, Setting
from ..training import convolutions
from .data import DATASETS, IMAGE_DATASETS, IMAGE_SHAPES
from .recipes import RECIPES

__all__ = ["RunConfig", "RUN_SETTINGS", "AUGMENTATIONS", "DATASET_DEFAULTS", "build_model", "make_optimizer",
           "make_loss"]

# Augmentation presets for 28×28 images (RandomAffine settings); a run may also give a dict.
AUGMENTATIONS = {
    "light": dict(shift=2.0, rotation=10.0, scale=0.1),
    "elastic": dict(shift=2.0, rotation=10.0, scale=0.1, elastic_alpha=8.0, elastic_sigma=3.0),
    "flip": dict(shift=2.0, rotation=8.0, scale=0.08, flip=True),
    "mirror": dict(shift=0.0, rotation=0.0, scale=0.0, flip=True),
    "crop": dict(shift=2.0, rotation=0.0, scale=0.0, flip=True, whole_pixels=True),
}

RUN_SETTINGS = {
    "dataset": Setting("dataset", check.Options(*DATASETS), "digits", "data set"),
    **SETTINGS,
    "augment": Setting("augment", check.Options(*AUGMENTATIONS) | check.Instance(dict, "a dict of settings"),
                       None, "augment images (random affine moves of each picture): light (shifts, rotations, zoom; the default), elastic (also "
                       "elastic distortion), flip (also mirroring; not for digits), mirror (mirroring alone, exact: "
                       "no interpolation), crop (mirroring and shifts of up to 2 whole pixels, exact: a padded "
                       "random crop; not for digits)"),
    "ensemble": Setting("ensemble", check.Integer(1, 20), 1, "train this many models and average them"),
    "recipe": Setting("recipe", check.Options(*RECIPES), None,
                      "a named, tuned configuration: " + ", ".join(RECIPES), metavar="NAME"),
}

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


class _Rules:
    """What ``RunConfig`` does beyond holding its fields."""

    def validate(self):
        """Check each setting against its declaration (and convert it), then against the others; return self.

        Raises ValueError or TypeError naming the setting.
        """
        if self.augment is True or self.augment is False:  # the web form's switch
            self.augment = "light" if self.augment else None
        for name, setting in RUN_SETTINGS.items():
            setattr(self, name, setting(getattr(self, name)))
        if self.warmup and self.schedule != "cosine":
            raise ValueError(f"warmup applies to the cosine schedule only (schedule is {self.schedule!r}): "
                             f"add schedule='cosine' (--schedule cosine) or drop warmup")
        if self.schedule == "cosine" and self.warmup >= self.epochs:
            raise ValueError(f"warmup ({self.warmup}) must be shorter than epochs ({self.epochs})")
        if self.patience and not self.validation_split:
            raise ValueError("patience (early stopping) watches the validation loss, but validation_split is 0: "
                             "hold out data with validation_split > 0, or drop patience")
        if self.augment is not None and self.dataset not in IMAGE_DATASETS:
            raise ValueError(f"augment moves and turns images, and {self.dataset} is not an image data set "
                             f"(images: {', '.join(IMAGE_DATASETS)}): drop augment")
        if self.conv is not None:
            self._check_conv()
        return self

    def _check_conv(self):
        """Refuse convolutions on data without images, and pooling that leaves none of the data set's."""
        if self.dataset not in IMAGE_DATASETS:
            raise ValueError(f"conv: convolutional layers read images, and {self.dataset} is not an image data set "
                             f"(images: {', '.join(IMAGE_DATASETS)}): drop conv")
        try:
            convolutions.output_shape(convolutions.parse(self.conv), IMAGE_SHAPES[self.dataset])
        except ValueError as error:
            raise ValueError(f"conv {self.conv!r} on {self.dataset}: {error}") from None

    def to_dict(self) -> dict:
        """Return the settings as a dict of plain data (what config.json holds)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict):
        """Return the validated RunConfig of a dict of settings; ValueError for a name that is no setting."""
        unknown = set(values) - set(RUN_SETTINGS)
        if unknown:
            raise ValueError(f"unknown settings: {', '.join(sorted(unknown))}")
        return cls(**values).validate()


RunConfig = dataclasses.make_dataclass(
    "RunConfig", [(name, object, dataclasses.field(default_factory=lambda d=s.default: copy.deepcopy(d)))
                  for name, s in RUN_SETTINGS.items()], bases=(_Rules,), namespace={"__module__": __name__})
RunConfig.__doc__ = ("Everything that decides a run, one field per setting (RUN_SETTINGS), saved as config.json "
                     "in the run folder; validate() checks it.")


def build_model(config, data, member: int = 0):
    """Return the network a configuration describes, for member ``member`` of an ensemble.

    Augmentation (images) or standardisation (points and values) first, then the convolutions and
    the hidden layers (``training.builder``); the seed is the config's + 1000 × member.
    """
    first = []
    if config.augment and data.image_shape is not None:
        settings = dict(AUGMENTATIONS[config.augment] if isinstance(config.augment, str) else config.augment)
        if data.image_shape != (28, 28):  # the presets are in pixels of a 28×28 image
            shift = settings.get("shift", 2.0) * data.image_shape[0] / 28
            if settings.get("whole_pixels") and shift:  # at least one whole pixel, or no shift at all
                shift = max(1.0, float(round(shift)))
            settings["shift"] = shift
        first.append(RandomAffine(tuple(data.image_shape), **settings))
    elif data.image_shape is None:
        first.append(Standardizer().fit(data.X_train))
    outputs = int(data.y_train.max()) + 1 if data.task == "classification" else 1
    return build_network(config, data.X_train.shape[1], outputs, first=first, image_shape=data.image_shape,
                         seed=config.seed + 1000 * member, backend=config.backend)


def make_optimizer(config):
    """Return the optimizer the configuration names (``training.builder.build_optimizer``)."""
    return build_optimizer(config)


def make_loss(config, data):
    """Return the loss for the data set's task, with the configuration's label smoothing."""
    return build_loss(data.task == "classification", config.label_smoothing)
