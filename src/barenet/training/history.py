"""The history of training: the figures of every epoch, kept on the model."""
from __future__ import annotations

__all__ = ["History"]


class History:
    """Per-epoch figures of every ``fit`` on a model: ``history["val_loss"][i]`` is epoch ``history.epochs[i]``'s.

    Epoch 0 is the model before any update (full passes over the data); for later epochs, ``loss``
    and ``accuracy`` are running means over the epoch's batches (the weights change during the
    epoch) and ``val_*`` are full passes at the end of the epoch. A later ``fit`` appends to the same
    history; a figure an epoch lacks is None.
    """

    def __init__(self):
        self.epochs: list[int] = []
        self.history: dict[str, list] = {}

    def append(self, epoch: int, logs: dict) -> None:
        """Add an epoch's figures.

        Parameters
        ----------
        epoch : int
            The epoch's number.
        logs : dict
            {name: number or None}; a name new to the history gets None for the earlier epochs.
        """
        self.epochs.append(int(epoch))
        for key in list(self.history) + [k for k in logs if k not in self.history]:
            column = self.history.setdefault(key, [None] * (len(self.epochs) - 1))
            value = logs.get(key)
            column.append(None if value is None else float(value))

    def __getitem__(self, key: str) -> list:
        return self.history[key]

    def __contains__(self, key) -> bool:
        return key in self.history

    def __len__(self) -> int:
        return len(self.epochs)

    def keys(self):
        """Return the names of the figures recorded."""
        return self.history.keys()

    def last(self) -> dict:
        """Return the figures of the last epoch ({} before any)."""
        return {k: v[-1] for k, v in self.history.items()} if self.epochs else {}

    def to_dict(self) -> dict:
        """Return ``{"epochs": [...], name: [value per epoch], ...}``, plain data for JSON."""
        return {"epochs": list(self.epochs), **{k: list(v) for k, v in self.history.items()}}

    @classmethod
    def from_dict(cls, data: dict) -> "History":
        """Return the History ``to_dict`` described."""
        history = cls()
        history.epochs = [int(e) for e in data.get("epochs", [])]
        history.history = {k: list(v) for k, v in data.items() if k != "epochs"}
        return history

    def __repr__(self):
        return f"History({len(self)} epochs: {', '.join(self.history)})"

    def _repr_html_(self):
        """Return a table, epoch by epoch: what a notebook shows for a cell that ends with a history."""
        from html import escape

        keys = [k for k in self.history if k not in ("threads",)]
        head = "".join(f"<th>{escape(k)}</th>" for k in ["epoch", *keys])
        rows = "".join("<tr><td>{}</td>{}</tr>".format(epoch, "".join(
            "<td></td>" if self.history[k][i] is None else f"<td>{self.history[k][i]:.4g}</td>" for k in keys))
            for i, epoch in enumerate(self.epochs))
        return f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"

