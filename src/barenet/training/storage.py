"""``bn.save`` and ``bn.load``: a trained model to a file and back (the format is ``files.saving``)."""
from __future__ import annotations

from ..files import saving, untrusted
from .ensemble import Ensemble
from .history import History
from .model import Sequential

__all__ = ["save", "load"]


def save(model, path, **options):
    """Write ``model`` (a ``Sequential`` or an ``Ensemble``) to ``path`` atomically:
    ``model.save(path, **options)``."""
    if not isinstance(model, (Sequential, Ensemble)):
        raise TypeError(f"save needs a barenet Sequential or Ensemble, got {type(model).__name__}")
    return model.save(path, **options)


def load(path, *, custom_layers: dict | None = None, max_bytes: int = untrusted.MAX_FILE_BYTES):
    """Read a model file written by ``save``: a ``Sequential`` (with its loss, optimizer state,
    history and metadata, ready to train on) or an ``Ensemble``. Your own layer types are
    accepted only when named: ``custom_layers={"Scale": Scale}``. Anything wrong with the file
    raises ValueError naming the file and the problem; nothing in a file can run code. The
    arrays may declare at most ``max_bytes`` in all (1 GiB by default), checked before anything
    is decompressed; loading then takes about that much memory and no more."""
    saved = saving.read(path, network_class=Sequential, custom_layers=custom_layers, max_bytes=max_bytes)
    if saved.ensemble:
        model = Ensemble(saved.networks)
    else:
        model = saved.networks[0]
        model.optimizer = saved.optimizer
    model.loss = saved.loss
    model.history = History.from_dict(saved.history)
    model.metadata = saved.metadata
    return model
