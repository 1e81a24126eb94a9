"""Atomic file writes: a file is either the old one or the complete new one, never half of it.
And bounded reads: data read from a stream straight into the array it is meant for."""
from __future__ import annotations

import glob
import os
import tempfile
import time
from contextlib import contextmanager, suppress
from pathlib import Path

import numpy as np

_UMASK = os.umask(0o022)
os.umask(_UMASK)


def fsync_directory(directory: Path) -> None:
    """Make a rename inside ``directory`` durable (where the platform allows it)."""
    if os.name != "posix":
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


STALE_AFTER_S = 60  # a temporary file untouched this long belongs to no live writer


@contextmanager
def atomic_write(path, mode: str = "wb"):
    """Write ``path`` through a temporary file beside it: the data is flushed and fsynced, then
    renamed over ``path`` (``os.replace``), and the directory fsynced. If anything fails, even a
    KeyboardInterrupt, the temporary file is removed and ``path`` is left as it was."""
    path = Path(path)
    # temporary files of this path that a killed writer left (untouched for a minute: not a
    # concurrent writer's) go now, so that kills do not pile up copies of the file
    for stale in path.parent.glob(f".{glob.escape(path.name)}.*.tmp"):
        with suppress(FileNotFoundError):
            if time.time() - stale.stat().st_mtime > STALE_AFTER_S:
                stale.unlink()
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~_UMASK) if hasattr(os, "fchmod") else None
        with os.fdopen(fd, mode) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        with suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
    fsync_directory(path.parent)


def read_into(stream, array: np.ndarray, chunk: int = 1 << 20):
    """Fill ``array`` (C-contiguous) from ``stream`` in chunks, never holding more than the array.
    Returns (bytes filled, whether the stream has more): a short or over-long stream is the
    caller's to report."""
    target = memoryview(array.reshape(-1).view(np.uint8)) if array.size else memoryview(bytearray())
    filled = 0
    while filled < len(target):
        got = stream.readinto(target[filled:filled + chunk])
        if not got:
            break
        filled += got
    return filled, bool(stream.read(1))
