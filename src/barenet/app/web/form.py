"""The web page's training form, made from the settings' declarations (``training.settings``).

Each field takes what its setting's ``web`` range allows, so the form, the command line and a
run's configuration cannot disagree. A field left out takes the data set's default, as on the
command line.
"""
from __future__ import annotations

from typing import Annotated, Literal, Optional

from pydantic import AfterValidator, ConfigDict, Field, create_model

from ...core import checks as check
from ...training.convolutions import MAX_TEXT, ConvLayers
from ...training.settings import SETTINGS

__all__ = ["TrainRequest", "FORM_SETTINGS", "WEB_DATASETS"]

# the data sets the page trains on
WEB_DATASETS = ("digits", "mnist", "mnist-10k", "fashion-mnist", "clusters", "blobs", "moons", "spirals", "xor",
                "regression")
FORM_SETTINGS = [name for name, setting in SETTINGS.items() if setting.web is not None]


def field_type(constraint):
    """Return the pydantic type of a value a constraint accepts (the same range, in the API's schema)."""
    if isinstance(constraint, check.Real):
        bounds = {("ge" if constraint.closed in ("both", "left") else "gt"): constraint.low,
                  ("le" if constraint.closed in ("both", "right") else "lt"): constraint.high}
        return Annotated[float, Field(allow_inf_nan=False, strict=False,
                                      **{k: v for k, v in bounds.items() if abs(v) != float("inf")})]
    if isinstance(constraint, check.Integer):
        return Annotated[int, Field(ge=constraint.low, **({} if constraint.high is None else {"le": constraint.high}))]
    if isinstance(constraint, check.Options):
        return Literal[constraint.values]
    if isinstance(constraint, ConvLayers):  # text in a small language: its own parser says what is wrong
        def checked(text):
            if not constraint.accepts(text):
                raise ValueError(constraint.refusal("expected", text))
            return constraint.convert(text)
        return Annotated[str, Field(max_length=MAX_TEXT), AfterValidator(checked)]
    if isinstance(constraint, check.Widths):
        each = field_type(constraint.each)
        return Annotated[list[each], Field(min_length=1, **({} if constraint.most is None else
                                                             {"max_length": constraint.most}))]
    raise TypeError(f"no form field for {type(constraint).__name__}")


TrainRequest = create_model(
    "TrainRequest", __config__=ConfigDict(extra="forbid"),
    dataset=(Literal[WEB_DATASETS], "mnist"),
    augment=(bool, False),
    **{name: (Optional[field_type(SETTINGS[name].web)], None) for name in FORM_SETTINGS})
TrainRequest.__doc__ = "The training form: the data set, augmentation on or off, and the settings the page offers."
