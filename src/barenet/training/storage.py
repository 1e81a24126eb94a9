"""``bn.save`` and ``bn.load``: a trained model to a file and back (the format is ``files.saving``)."""
from __future__ import annotations

from ..files import saving, untrusted
from .ensemble import Ensemble
from .history import History
from .model import Sequential

__all__ = ["save", "load"]


def save(model, path, **options):
    """Write ``model`` to ``path`` atomically: ``model.save(path, **options)``.

    Parameters
    ----------
    model : Sequential or Ensemble
        The model.
    path : str or Path
        The file.
    **options
        ``Sequential.save``'s: ``include_optimizer``, ``metadata``.

    Returns
    -------
    Path
        The file written.
    """
    if not isinstance(model, (Sequential, Ensemble)):
        raise TypeError(f"save needs a barenet Sequential or Ensemble, got {type(model).__name__}")
    return model.save(path, **options)


def load(path, *, custom_layers: dict | None = None, max_bytes: int = untrusted.MAX_FILE_BYTES):
    """Read a model file written by ``save``.

    Nothing in a file can run code. The arrays may declare at most ``max_bytes`` in all, checked
    before anything is decompressed; loading then takes about that much memory and no more.

    Parameters
    ----------
    path : str or Path
        The file.
    custom_layers : dict, optional
        Your own layer types, accepted only when named: ``custom_layers={"Scale": Scale}``.
    max_bytes : int, default 1 GiB
        The limit on the arrays' size.

    Returns
    -------
    Sequential or Ensemble
        A Sequential with its loss, optimizer state, history and metadata, ready to train on; or an
        Ensemble.

    Raises
    ------
    ValueError
        For anything wrong with the file, naming the file and the problem.
    FileNotFoundError
        If there is no such file.
    """
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
