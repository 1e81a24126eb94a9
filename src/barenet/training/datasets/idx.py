"""The IDX file format of MNIST and Fashion-MNIST, read strictly.

An IDX file is a 4-byte magic number (two zero bytes, a type code, the number of dimensions),
one big-endian uint32 per dimension, then the values, big-endian, row-major. Files may be
gzipped. The reader checks every part and raises ``ValueError`` naming the file for anything
wrong; it decides how much to read from the header (after capping it) before reading, so a
corrupt or hostile file can neither exhaust memory nor make it read forever.
"""
from __future__ import annotations

import gzip
import math
import struct
import zlib
from pathlib import Path

import numpy as np

from ...files.atomic import atomic_write, read_into

__all__ = ["read_idx", "write_idx", "MAX_BYTES"]

_TYPES = {0x08: np.dtype(">u1"), 0x09: np.dtype(">i1"), 0x0B: np.dtype(">i2"),
          0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}
_CODES = {dtype.newbyteorder("="): code for code, dtype in _TYPES.items()}
MAX_BYTES = 256 << 20  # 256 MiB by default: the full MNIST training images take 47 MB
MAX_DIMS = 4


def _read_exact(stream, size: int, path, what: str) -> bytes:
    data = stream.read(size)
    if len(data) != size:
        raise ValueError(f"{path}: file ends inside the {what} ({len(data)} of {size} bytes)")
    return data


def read_idx(path, max_bytes: int = MAX_BYTES) -> np.ndarray:
    """Return the array stored in an IDX file (gzipped or not), in native byte order.

    Parameters
    ----------
    path : str or Path
        The file.
    max_bytes : int, default 256 MiB
        The most data its header may declare; more is refused before anything is read.

    Raises
    ------
    ValueError
        For anything wrong with the file, naming it: the magic number, the type code, the
        dimensions, truncated or extra data, corrupt gzip data.
    """
    path = Path(path)
    with open(path, "rb") as raw:
        gzipped = raw.read(2) == b"\x1f\x8b"
        raw.seek(0)
        stream = gzip.GzipFile(fileobj=raw, mode="rb") if gzipped else raw
        try:
            magic = _read_exact(stream, 4, path, "magic number")
            if magic[:2] != b"\x00\x00":
                raise ValueError(f"{path}: not an IDX file (magic number {magic.hex()} does not start with 0000)")
            code, ndim = magic[2], magic[3]
            if code not in _TYPES:
                raise ValueError(f"{path}: unknown IDX type code 0x{code:02x} "
                                 f"(known: {', '.join(f'0x{c:02x}' for c in _TYPES)})")
            if not 1 <= ndim <= MAX_DIMS:
                raise ValueError(f"{path}: IDX header declares {ndim} dimensions, expected 1 to {MAX_DIMS}")
            shape = struct.unpack(f">{ndim}I", _read_exact(stream, 4 * ndim, path, "dimensions"))
            nbytes = math.prod(shape) * _TYPES[code].itemsize
            if nbytes > max_bytes:
                raise ValueError(f"{path}: IDX header declares shape {shape} ({nbytes:,} bytes), "
                                 f"more than the {max_bytes:,}-byte limit")
            array = np.empty(shape, dtype=_TYPES[code])  # the memory taken is the array's, once
            filled, extra = read_into(stream, array)  # a byte more than promised reveals trailing data
        except (EOFError, zlib.error, gzip.BadGzipFile) as error:
            raise ValueError(f"{path}: corrupt or truncated gzip data ({error})") from None
    if filled < nbytes:
        raise ValueError(f"{path}: truncated: header declares shape {shape} ({nbytes:,} bytes of data) "
                         f"but the file holds {filled:,}")
    if extra:
        raise ValueError(f"{path}: more data than its header declares (shape {shape}, {nbytes:,} bytes)")
    if array.dtype.itemsize > 1 and not array.dtype.isnative:  # IDX is big-endian: swap in place
        array = array.byteswap(inplace=True).view(array.dtype.newbyteorder("="))
    return array


def write_idx(path, array) -> None:
    """Write ``array`` as an IDX file, gzipped if ``path`` ends in ``.gz``; atomically."""
    array = np.asarray(array)
    dtype = array.dtype.newbyteorder("=")
    if dtype not in _CODES:
        raise ValueError(f"IDX cannot store dtype {array.dtype}; use one of "
                         f"{sorted(str(d) for d in _CODES)}")
    if not 1 <= array.ndim <= MAX_DIMS:
        raise ValueError(f"IDX stores 1 to {MAX_DIMS} dimensions, got {array.ndim}")
    header = bytes([0, 0, _CODES[dtype], array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    data = header + array.astype(_TYPES[_CODES[dtype]]).tobytes()
    path = Path(path)
    with atomic_write(path) as handle:
        if path.suffix == ".gz":
            with gzip.GzipFile(fileobj=handle, mode="wb", mtime=0) as compressed:
                compressed.write(data)
        else:
            handle.write(data)
