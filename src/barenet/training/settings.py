"""The settings of a training run, each declared once: its name, values, default and meaning.

The command line's options (``barenet train --lr 0.01``), the web form's fields, the run
configuration (``app.runs.RunConfig``) and the scikit-learn estimators' parameter checks are all
made from these declarations, so a range or a default cannot differ between them::

    SETTINGS["lr"]                      Setting("lr", Real(0, 10, closed="right"), 1e-3, "learning rate")
    SETTINGS["lr"](0.0)                 ValueError: lr must be a positive number up to 10, got 0.0
    SETTINGS["lr"].from_text("abc")     ValueError: expected a positive number up to 10, got 'abc'

``training.builder`` turns settings into a network, an optimizer and a loss.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..core import checks as check
from ..core import registry
from ..core.backend import BACKENDS
from .convolutions import EXAMPLE, SYNTAX, ConvLayers

__all__ = ["Setting", "SETTINGS", "MAX_LR", "SCHEDULES"]

MAX_LR = 10.0  # a learning rate above this diverges on every data set here
SCHEDULES = ("constant", "step", "cosine")


@dataclass(frozen=True)
class Setting:
    """One setting of a training run.

    Parameters
    ----------
    name : str
        Its name: the run config's field, the option ``--name``.
    check : Constraint
        What it takes (and converts it to).
    default : object
        Its default; None means off.
    help : str
        What it means, for the command line's help and the web form.
    web : Constraint, optional
        The narrower range the web form offers (None: not in the form).
    metavar : str, optional
        The command line's name for its value.
    """

    name: str
    check: check.Constraint
    default: object
    help: str
    web: check.Constraint | None = None
    metavar: str | None = None

    def __call__(self, value, name: str | None = None):
        """Return ``value`` checked and converted, or raise a ValueError or TypeError naming the setting.

        A setting whose default is None (off) also takes None; ``name`` replaces the setting's name in
        errors.
        """
        if value is None and self.default is None:
            return None
        return self.check(value, name or self.name)

    def from_text(self, text: str):
        """Return the value a command-line word gives, or raise a ValueError that says what was expected."""
        value = self.check.parse(text)
        if value is None or not self.check.accepts(value):
            raise ValueError(self.check.refusal("expected", text))
        return self.check.convert(value)

    @property
    def choices(self):
        """The values it takes, where they are a few names (else None)."""
        return getattr(self.check, "values", None)


_FRACTION = check.Real(0, 1, closed="left", what="a fraction")
_SETTINGS = [
    Setting("conv", ConvLayers(), None,
            f"convolutional layers before the hidden ones, for images: e.g. '{EXAMPLE}' ({SYNTAX}; "
            "each conv keeps the image's size and is followed by the activation)",
            web=ConvLayers(filters=64, kernel=5, most=8), metavar="LAYERS"),
    Setting("hidden", check.Widths(), [128, 64], "hidden layer widths, e.g. 256,128",
            web=check.Widths(high=2048, most=4), metavar="WIDTHS"),
    Setting("activation", check.Options(*registry.activations.aliases()), "relu",
            "activation after each convolution and hidden layer",
            web=check.Options(*registry.activations.aliases())),
    Setting("dropout", _FRACTION, 0.0, "dropout probability after each hidden layer",
            web=check.Real(0, 0.95, closed="left", what="a fraction")),
    Setting("optimizer", check.Options(*registry.optimizers.aliases()), "adam", "optimizer",
            web=check.Options(*registry.optimizers.aliases())),
    Setting("lr", check.Real(0, MAX_LR, closed="right"), 1e-3, "learning rate",
            web=check.Real(0, MAX_LR, closed="right")),
    Setting("momentum", check.Real(0, 1, closed="left"), 0.9, "SGD's momentum (Nesterov); 0 for none"),
    Setting("schedule", check.Options(*SCHEDULES), "constant", "learning-rate schedule over the epochs"),
    Setting("warmup", check.Real(0), 0.0, "warm-up epochs for the cosine schedule"),
    Setting("weight_decay", check.Real(0), 0.0, "L2 weight decay (decoupled for AdamW)"),
    Setting("clip_norm", check.Real(0, closed="right"), None,
            "rescale each gradient whose norm exceeds this (1.0 is a good start after divergence)",
            metavar="NORM"),
    Setting("epochs", check.Integer(1), 20, "passes over the training data", web=check.Integer(1, 200)),
    Setting("batch_size", check.Integer(1), 64, "samples per optimizer step", web=check.Integer(1, 2048)),
    Setting("label_smoothing", _FRACTION, 0.0, "mix the targets with the uniform distribution (classifiers)"),
    Setting("validation_split", _FRACTION, 0.1, "fraction of the training data held out for validation"),
    Setting("patience", check.Integer(0), 0, "stop after this many epochs without a better validation loss "
            "(0: never)"),
    Setting("seed", check.Integer(0), 0, "random seed: initialisation, shuffling, dropout, splits"),
    Setting("backend", check.Options(*(b for b in BACKENDS if b != "strict")), "auto",
            "auto: numba where installed, else numpy; numpy: the reference code; numba: the hot loops "
            "compiled, same results (pip install 'barenet[fast]'); cupy: an NVIDIA GPU (pip install 'barenet[gpu]')"),
    Setting("threads", check.Options("auto") | check.Integer(1, 1024), "auto",
            "BLAS threads for the matrix products: auto (the free cores, checked every epoch, so that jobs sharing "
            "the machine do not stall each other) or a number", metavar="N"),
]
SETTINGS = {setting.name: setting for setting in _SETTINGS}
