"""Random draws per sample, the same however a batch is split across processes.

Data-parallel training (``training/parallel.py``) gives each process some rows of every batch. A
layer that draws random numbers per sample (dropout, augmentation) then draws them for the whole
batch and keeps its rows, so that every sample meets the draw one process training alone would
have given it.
"""
from __future__ import annotations

import contextlib
import contextvars

__all__ = ["per_sample", "batch_share"]

_SHARE = contextvars.ContextVar("barenet_batch_share", default=None)  # (start, stop, total) or None


@contextlib.contextmanager
def batch_share(start: int, stop: int, total: int):
    """Declare that, within the block, the batches passed forward are rows [start, stop) of a batch.

    Parameters
    ----------
    start, stop : int
        This process's rows.
    total : int
        The whole batch's size.
    """
    token = _SHARE.set((start, stop, total))
    try:
        yield
    finally:
        _SHARE.reset(token)


def per_sample(draw, n: int, axis: int = 0):
    """Return random numbers for a batch of ``n`` samples, the same however the batch is split.

    Parameters
    ----------
    draw : callable
        ``draw(m)`` draws the numbers for m samples.
    n : int
        The samples in this batch.
    axis : int, default 0
        The axis of ``draw``'s result that runs over the samples.

    Returns
    -------
    array
        ``draw(n)``; inside ``batch_share``, this process's rows of ``draw(total)``.
    """
    share = _SHARE.get()
    if share is None:
        return draw(n)
    start, stop, total = share
    if stop - start != n:
        raise ValueError(f"a batch of {n} samples inside a share of rows {start}:{stop}")
    rows = [slice(None)] * axis + [slice(start, stop)]
    return draw(total)[tuple(rows)]
