"""Reading files that nobody vouches for: a model file may be damaged or crafted.

Reading it must never run code, never take memory its size does not justify, and fail with a
ValueError that says what is wrong.

What is checked, before any array is read:

- the zip archive: at most ``MAX_MEMBERS`` members, no duplicate names, every name of the exact
  forms barenet writes (no paths), no encrypted member, only stored or deflated members;
- ``meta.npy``: a 1-D uint8 array of at most ``MAX_META_BYTES`` of UTF-8 JSON, nested at most
  ``MAX_JSON_DEPTH`` deep, without NaN or infinity tokens, of the right format and version;
- every array: its ``.npy`` header is parsed (a literal, never executed), its dtype must be
  float32 or float64, C-ordered, its byte count must match the zip entry's, the shapes the
  architecture implies must match, and all arrays together stay below ``max_bytes`` (the
  ``bn.load`` argument, ``MAX_FILE_BYTES`` by default) before anything is decompressed;
- then the arrays are read, each straight into its final array (no second copy), and must be
  finite; weights and buffers must also stay within ``MAX_ABS_VALUE`` in absolute value, where a
  network's arithmetic would overflow;
- the JSON's numbers must be finite (``1e400`` parses to infinity and is refused), its strings
  valid Unicode (no lone surrogates), and every field barenet reads of the type and range it
  needs.

``saving.read`` uses these; ``Problem`` is the ValueError they raise, without the file name,
which ``load`` adds.
"""
from __future__ import annotations

import json
import math
import re
import zipfile

import numpy as np

from ..core import checks as check
from .atomic import read_into

__all__ = ["Problem", "MAX_FILE_BYTES", "MAX_ABS_VALUE", "MAX_META_BYTES", "MAX_JSON_DEPTH", "MAX_MEMBERS",
           "check_members", "read_meta", "read_arrays", "construct", "number", "integer"]

FORMAT = "barenet-model"
FORMAT_VERSION = 2  # 2: Adam's moments as m and v (PyTorch's), where 1 kept them divided by (1 - β)
SUPPORTED_VERSIONS = (1, 2)
MAX_FILE_BYTES = 1 << 30  # 1 GiB of arrays in all, by default (bn.load(max_bytes=...) changes it)
MAX_ABS_VALUE = 1e15      # weights and buffers beyond this make a network overflow, even in float64
MAX_META_BYTES = 16 << 20
MAX_JSON_DEPTH = 32
MAX_MEMBERS = 4096
ARRAY_DTYPES = (np.dtype("<f4"), np.dtype("<f8"))

MEMBER_NAME = re.compile(r"^(?:(?:m(\d{1,3})\.)?(param|buffer)\.(\d{1,4})\.([A-Za-z_][A-Za-z0-9_]{0,63})"
                         r"|(?:m(\d{1,3})\.)?optimizer\.([a-z_]{1,32})|meta)\.npy$")


class Problem(ValueError):
    """What is wrong with a model file (``load`` prefixes the file's name)."""


def check_members(infos) -> None:
    """Check the zip's directory: the member count, names, encryption and compression; a Problem if wrong."""
    names = [info.filename for info in infos]
    if len(names) > MAX_MEMBERS:
        raise Problem(f"{len(names)} members, more than {MAX_MEMBERS}")
    if len(set(names)) != len(names):
        raise Problem("duplicate member names")
    for info in infos:
        if not MEMBER_NAME.match(info.filename):
            raise Problem(f"unexpected member {info.filename!r}")
        if info.flag_bits & 0x1:
            raise Problem(f"member {info.filename} is encrypted; barenet writes no encrypted files")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise Problem(f"member {info.filename} uses compression method {info.compress_type}; "
                          f"only stored and deflated members are read")
    if "meta.npy" not in names:
        raise Problem("no meta.npy member: not a barenet model file")


def _json_depth_ok(text: str) -> bool:
    """Whether brackets nest at most MAX_JSON_DEPTH deep (checked before parsing)."""
    depth, in_string, escaped = 0, False, False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > MAX_JSON_DEPTH:
                return False
        elif char in "]}":
            depth -= 1
    return True


def _header(archive, info):
    """(dtype, shape, header length) of one .npy member, read from its first bytes only."""
    with archive.open(info) as stream:
        try:
            version = np.lib.format.read_magic(stream)
            if version == (1, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_1_0(stream)
            elif version in ((2, 0), (3, 0)):
                shape, fortran, dtype = np.lib.format.read_array_header_2_0(stream)
            else:
                raise Problem(f"unsupported .npy version {version}")
        except Problem:
            raise
        except Exception as error:  # the header is text parsed by ast.literal_eval: never executed
            raise Problem(f"member {info.filename}: not a valid .npy header ({error})") from None
        offset = stream.tell()
    if fortran:
        raise Problem(f"member {info.filename}: Fortran-ordered arrays are not accepted")
    return np.dtype(dtype), tuple(shape), offset


def _read_array(archive, info, offset, dtype, shape, out=None):
    """Return the member's data read straight into ``out`` (or a new array) of the declared shape.

    In chunks: the memory taken is the array's, never more, whatever the compressed stream holds.
    """
    array = np.empty(shape, dtype=dtype) if out is None else out
    with archive.open(info) as stream:
        stream.read(offset)
        filled, extra = read_into(stream, array)
    if filled != array.nbytes or extra:
        raise Problem(f"member {info.filename}: holds {'more' if extra else filled} bytes of data, its header "
                      f"declares {array.nbytes}")
    return array


def read_meta(archive, info) -> dict:
    """Return the JSON of meta.npy, bounded in size and depth, of a supported format version; else a Problem."""
    dtype, shape, offset = _header(archive, info)
    if dtype != np.dtype("uint8") or len(shape) != 1:
        raise Problem("meta.npy must be a 1-D uint8 array of JSON text")
    if shape[0] > MAX_META_BYTES:
        raise Problem(f"meta.npy is {shape[0]:,} bytes, more than the {MAX_META_BYTES:,}-byte limit")
    if info.file_size != offset + shape[0]:
        raise Problem("meta.npy: zip entry size does not match its header")
    raw = _read_array(archive, info, offset, dtype, shape).tobytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise Problem("meta.npy is not UTF-8 text") from None
    if not _json_depth_ok(text):
        raise Problem(f"meta.npy nests deeper than {MAX_JSON_DEPTH} levels")
    try:
        meta = json.loads(text, parse_constant=lambda c: (_ for _ in ()).throw(Problem(f"{c} is not valid JSON")),
                          parse_float=_finite_float)
    except (json.JSONDecodeError, RecursionError) as error:
        raise Problem(f"meta.npy is not valid JSON ({error})") from None
    try:
        json.dumps(meta, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise Problem("meta.npy holds a string that is not valid Unicode (a lone surrogate)") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise Problem("not a barenet model file (meta.format is not 'barenet-model')")
    if meta.get("version") not in SUPPORTED_VERSIONS:
        raise Problem(f"format version {meta.get('version')!r} is not supported; this barenet reads "
                      f"versions {', '.join(map(str, SUPPORTED_VERSIONS))}")
    return meta


def _finite_float(text):
    value = float(text)
    if not math.isfinite(value):
        raise Problem(f"meta.npy holds the number {text}, which is not finite")
    return value


def number(value, what, low=-math.inf, high=math.inf):
    """Return ``value`` if a finite real number (not a bool) in [low, high]; else a Problem naming ``what``."""
    if not check.Real(low, high).accepts(value):
        raise Problem(f"{what} must be a number in [{low:g}, {high:g}], got {str(value)[:40]}")
    return value


def integer(value, what, low=0, high=2**62):
    """Return ``value`` if an int (not a bool) in [low, high]; else a Problem naming ``what``."""
    if not check.Integer(low).accepts(value) or value > high:
        raise Problem(f"{what} must be an integer in [{low}, {high}], got {str(value)[:40]}")
    return value


def read_arrays(archive, expected: dict, custom_prefixes: tuple, max_bytes: int = MAX_FILE_BYTES,
                destinations=None, labels=None) -> dict:
    """Return every array member by name, once the members and every header are checked.

    Parameters
    ----------
    archive : zipfile.ZipFile
        The open file.
    expected : dict
        {name: shape, or None where only the architecture's builder knows it}: the members there must be.
    custom_prefixes : tuple of str
        Members under these (custom layers' arrays) are checked once those layers are built.
    max_bytes : int
        The most all arrays may declare together.
    destinations : callable, optional
        Called once every header passed, gives {name: array}: where members of that shape and dtype
        are read into.
    labels : dict, optional
        {name: "layer 1 Conv2D"}: the layer an array of the wrong shape belongs to, for the message.
    """
    by_name = {info.filename: info for info in archive.infolist()}
    actual = set(by_name) - {"meta.npy"}
    expected_files = {f"{name}.npy" for name in expected}
    for name in actual - expected_files:
        if not name.startswith(custom_prefixes):
            raise Problem(f"unexpected array {name!r} for this architecture")
    missing = expected_files - actual
    if missing:
        raise Problem(f"missing arrays: {', '.join(sorted(missing))}")
    headers, total = {}, 0
    for name in sorted(actual):
        info = by_name[name]
        dtype, shape, offset = _header(archive, info)
        if dtype not in ARRAY_DTYPES:
            raise Problem(f"member {name}: dtype {dtype} is not float32 or float64")
        if any(not isinstance(d, int) or d < 0 for d in shape) or len(shape) > 4:
            raise Problem(f"member {name}: invalid shape {shape}")
        nbytes = math.prod(shape) * dtype.itemsize
        total += nbytes
        if total > max_bytes:
            raise Problem(f"arrays declare more than {max_bytes:,} bytes in all (the limit; "
                          f"bn.load(path, max_bytes=...) raises it for a model you trust to be that large)")
        if info.file_size != offset + nbytes:
            raise Problem(f"member {name}: zip entry declares {info.file_size} bytes, its .npy header "
                          f"implies {offset + nbytes}")
        want = expected.get(name[:-4])
        if isinstance(want, tuple) and shape != want:
            owner = (labels or {}).get(name[:-4])
            raise Problem(f"member {name}{f' ({owner})' if owner else ''}: shape {shape}, the architecture "
                          f"needs {want}")
        headers[name] = (dtype, shape, offset)
    arrays, destinations = {}, destinations() if destinations is not None else {}
    for name, (dtype, shape, offset) in headers.items():
        out = destinations.get(name[:-4])
        if out is not None and (out.dtype != dtype or out.shape != shape):
            out = None
        array = _read_array(archive, by_name[name], offset, dtype, shape, out)
        _check_values(name, array, limit=math.inf if name.startswith("optimizer.") else MAX_ABS_VALUE)
        arrays[name[:-4]] = array
    return arrays


def _check_values(name, array, limit, chunk=1 << 20):
    """Check every value is finite and within ±limit, a chunk of ``chunk`` values at a time.

    So that the check takes a few MiB whatever the array's size (np.abs(array) would copy all of it).
    """
    flat = array.reshape(-1)
    for start in range(0, flat.size, chunk):
        part = flat[start:start + chunk]
        low, high = part.min(), part.max()  # NaN propagates into both
        if not (np.isfinite(low) and np.isfinite(high)):
            raise Problem(f"member {name}: contains NaN or infinity")
        if max(-low, high) > limit:
            raise Problem(f"member {name}: holds {max(-low, high):.3g}, beyond ±{limit:g}, "
                          f"where the network's arithmetic would overflow")


def construct(table, entry, what: str, extra: dict | None = None):
    """Return ``table[entry["type"]](**entry["config"])``, or a Problem that says what is wrong.

    ``table`` is a registry table, ``extra`` more classes by name (custom layers); ``what`` names the
    entry ("layer", "loss") in messages.
    """
    if not isinstance(entry, dict) or not isinstance(entry.get("type"), str) \
            or not isinstance(entry.get("config", {}), dict):
        raise Problem(f"{what} must be {{'type': ..., 'config': {{...}}}}, got {str(entry)[:80]}")
    kind = entry["type"]
    if kind in (extra or {}):
        cls = extra[kind]
    elif kind in table.names():
        cls = table[kind]
    else:
        accepted = sorted(set(table.names()) | set(extra or {}))
        raise Problem(f"unknown {what} type {kind!r}; accepted: {', '.join(accepted)}"
                      + ("" if what != "layer" else " (pass custom_layers={'Name': cls} for your own)"))
    try:
        return cls(**entry.get("config", {}))
    except (TypeError, ValueError) as error:
        raise Problem(f"invalid {what} {kind} configuration: {error}") from None
