"""The convolutional part of a network, written as text: the ``conv`` setting.

``barenet train --conv "conv 32 3, pool 2, conv 64 3, pool 2"``: ``training.builder`` turns the
text into layers in front of the hidden dense layers.

Items, separated by commas, each a word and its numbers:

    conv F [K]    F filters of K × K pixels (K = 3 unless given), padded to keep the image's size
                  ("same"), then the activation
    pool [K]      K × K max-pooling (K = 2 unless given): the image K times smaller, rounded down
    norm          batch normalisation of the channels
    dropout P     zero each value with probability P while training

``ConvLayers`` is the setting's constraint: it takes such text (ASCII only, numbers in digits,
within its limits), says which item is wrong when one is, and writes the text out in one form,
every number given ("conv 32, pool" is stored as "conv 32 3, pool 2").
"""
from __future__ import annotations

import re

from ..core import checks as check

__all__ = ["ConvLayers", "parse", "output_shape", "SYNTAX"]

SYNTAX = "conv FILTERS [KERNEL], pool [SIZE], norm, dropout P"
EXAMPLE = "conv 32 3, pool 2, conv 64 3, pool 2"
MAX_TEXT = 1000  # characters: a longer text is refused before it is looked at

_WHOLE = r"([0-9]+)"  # ASCII digits only: int() would also read "３２" and "1_000"
_GRAMMAR = {"conv": re.compile(rf"conv {_WHOLE}(?: {_WHOLE})?"), "pool": re.compile(rf"pool(?: {_WHOLE})?"),
            "norm": re.compile("norm"), "dropout": re.compile(r"dropout ([0-9]*\.?[0-9]+)")}
_FORMS = {"conv": "conv FILTERS [KERNEL]", "pool": "pool [SIZE]", "norm": "norm (nothing after it)",
          "dropout": "dropout P, P a probability like 0.25"}
_DEFAULTS = {"conv": 3, "pool": 2}


def parse(text: str, filters: int = 1024, kernel: int = 15, most: int = 32) -> list:
    """Return the items of ``text``: ("conv", filters, kernel), ("pool", size), ("norm",), ("dropout", p).

    Parameters
    ----------
    text : str
        Items separated by commas (the module's docstring gives their forms).
    filters, kernel, most : int
        The most filters a convolution may have, the widest kernel, and the most items.

    Raises
    ------
    ValueError
        Saying which item is wrong and why.
    TypeError
        Where ``text`` is not text.
    """
    if not isinstance(text, str):
        raise TypeError(f"expected text like {EXAMPLE!r}, got {type(text).__name__}")
    if len(text) > MAX_TEXT:
        raise ValueError(f"the text is {len(text)} characters long (at most {MAX_TEXT})")
    if not text.isascii() or not text.isprintable():
        raise ValueError("only letters, digits, spaces, commas and points may be used")
    parts = [" ".join(part.lower().split()) for part in text.split(",")]
    if parts == [""]:
        raise ValueError("it is empty")
    if len(parts) > most:
        raise ValueError(f"{len(parts)} items, at most {most}")
    return [_item(part, k + 1, filters, kernel) for k, part in enumerate(parts)]


def _item(part: str, number: int, filters: int, kernel: int) -> tuple:
    word = part.split(" ")[0] if part else ""
    grammar = _GRAMMAR.get(word)
    match = grammar.fullmatch(part) if grammar else None
    where = f"item {number}, {part!r}," if part else f"item {number} is empty:"
    if match is None:
        expected = _FORMS.get(word, f"one of {SYNTAX}")
        raise ValueError(f"{where} is not {expected}" if part else f"{where} expected one of {SYNTAX}")
    if word == "dropout":
        p = float(match.group(1))
        if not 0 < p < 1:
            raise ValueError(f"{where} asks for a dropout probability of {p:g}: above 0 and below 1")
        return ("dropout", p)
    numbers = [int(g) if g is not None else _DEFAULTS[word] for g in match.groups()]
    if word == "conv":
        if not 1 <= numbers[0] <= filters:
            raise ValueError(f"{where} asks for {numbers[0]} filters: from 1 to {filters}")
        if not 1 <= numbers[1] <= kernel:
            raise ValueError(f"{where} asks for a kernel of {numbers[1]} pixels: from 1 to {kernel}")
    if word == "pool" and not 2 <= numbers[0] <= 16:
        raise ValueError(f"{where} asks for a window of {numbers[0]} pixels: from 2 to 16")
    return (word, *numbers)


def text_of(items) -> str:
    """Return the items written out, every number given: "conv 32 3, pool 2"."""
    return ", ".join(" ".join(str(v) for v in item) for item in items)


def output_shape(items, image_shape) -> tuple:
    """Return (channels, height, width) after the items, from (height, width) images of one channel.

    Raises
    ------
    ValueError
        Where a pooling window does not fit in the image it gets.
    """
    channels, (height, width) = 1, image_shape
    for number, item in enumerate(items, 1):
        if item[0] == "conv":
            channels = item[1]
        elif item[0] == "pool":
            if min(height, width) < item[1]:
                raise ValueError(f"item {number}, {text_of([item])!r}, gets {height}×{width} images (from "
                                 f"{image_shape[0]}×{image_shape[1]}), too small for its window: pool less")
            height, width = height // item[1], width // item[1]
    return channels, height, width


class ConvLayers(check.Constraint):
    """Text like "conv 32 3, pool 2" (``parse``), converted to its written-out form (``text_of``).

    Parameters
    ----------
    filters, kernel, most : int
        The most filters a convolution may have, the widest kernel (pixels), and the most items.
    """

    def __init__(self, filters: int = 1024, kernel: int = 15, most: int = 32):
        self.filters, self.kernel, self.most = filters, kernel, most

    def _items(self, value):
        return parse(value, self.filters, self.kernel, self.most)

    def accepts(self, value) -> bool:
        """Return whether ``value`` is text that ``parse`` reads."""
        try:
            self._items(value)
        except (TypeError, ValueError):
            return False
        return True

    def convert(self, value):
        """Return the text written out, every number given."""
        return text_of(self._items(value))

    def why(self, value) -> str:
        """Return what ``parse`` says is wrong with ``value`` (empty if nothing)."""
        try:
            self._items(value)
        except (TypeError, ValueError) as error:
            return str(error)
        return ""

    def describe(self) -> str:
        """Return what the setting takes, with an example."""
        return f"convolutional layers like {EXAMPLE!r} ({SYNTAX})"
