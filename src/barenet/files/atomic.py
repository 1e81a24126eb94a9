"""Atomic file writes: a file is either the old one or the complete new one, never half of it.

And bounded reads: data read from a stream straight into the array it is meant for.
"""
from __future__ import annotations

import glob
import os
import secrets
import time
from contextlib import contextmanager, suppress
from pathlib import Path

import numpy as np

__all__ = ["atomic_write", "read_into", "fsync_directory"]


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
    """Write ``path`` through a temporary file beside it, renamed over ``path`` once complete.

    The data is flushed and fsynced, then renamed over ``path`` (``os.replace``), and the directory
    fsynced. If anything fails, even a KeyboardInterrupt, the temporary file is removed and ``path``
    is left as it was. Temporary files that killed writers left beside ``path`` (untouched for a
    minute) are removed first.

    Parameters
    ----------
    path : str or Path
        The file to write; its folder must exist.
    mode : str, default "wb"
        The file's mode: "wb" or "w".

    Yields
    ------
    file
        The open temporary file.
    """
    path = Path(path)
    # temporary files of this path that a killed writer left (untouched for a minute: not a
    # concurrent writer's) go now, so that kills do not pile up copies of the file
    for stale in path.parent.glob(f".{glob.escape(path.name)}.*.tmp"):
        with suppress(FileNotFoundError):
            if time.time() - stale.stat().st_mtime > STALE_AFTER_S:
                stale.unlink()
    fd, temporary = _create_temporary(path)
    try:
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


def _create_temporary(path: Path):
    """Return (descriptor, name) of a new file beside ``path``, created with mode 0o666.

    So that the process's umask gives it the permissions any new file would get (tempfile.mkstemp's
    0o600 would make every saved model private; reading the umask would mean setting it).
    """
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    while True:
        temporary = path.parent / f".{path.name}.{secrets.token_hex(4)}.tmp"
        try:
            return os.open(temporary, flags, 0o666), temporary
        except FileExistsError:  # a name another writer took this very moment: draw another
            continue
        except (FileNotFoundError, NotADirectoryError) as error:  # name the folder, not the temporary file
            raise type(error)(error.errno, f"cannot write {path}: the folder {path.parent} does not exist") from None


def read_into(stream, array: np.ndarray, chunk: int = 1 << 20):
    """Fill ``array`` (C-contiguous) from ``stream`` in chunks, never holding more than the array.

    Returns (bytes filled, whether the stream has more): a short or over-long stream is the
    caller's to report.
    """
    target = memoryview(array.reshape(-1).view(np.uint8)) if array.size else memoryview(bytearray())
    filled = 0
    while filled < len(target):
        got = stream.readinto(target[filled:filled + chunk])
        if not got:
            break
        filled += got
    return filled, bool(stream.read(1))
