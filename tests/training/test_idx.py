"""The IDX reader is strict: anything wrong with a file raises ValueError naming it; a valid
file of any count round-trips exactly."""
import gzip
import struct

import numpy as np
import pytest

from barenet.training.datasets import read_idx, write_idx


@pytest.mark.parametrize("suffix", [".gz", ""])
@pytest.mark.parametrize("dtype", ["uint8", "int8", "int16", "int32", "float32", "float64"])
def test_idx_round_trips_every_type(tmp_path, rng, suffix, dtype):
    array = (rng.normal(size=(7, 3, 2)) * 50).astype(dtype)
    path = tmp_path / f"a.idx{suffix}"
    write_idx(path, array)
    back = read_idx(path)
    assert back.dtype == array.dtype and back.shape == array.shape and np.array_equal(back, array)
    assert back.flags.writeable


def test_a_subset_file_of_any_count_is_valid(tmp_path):
    images = np.arange(5 * 28 * 28, dtype=np.uint8).reshape(5, 28, 28)
    write_idx(tmp_path / "x.gz", images)
    assert read_idx(tmp_path / "x.gz").shape == (5, 28, 28)


def _raw(tmp_path, data: bytes, gz=False, name="bad.idx"):
    path = tmp_path / (name + (".gz" if gz else ""))
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


HEADER = bytes([0, 0, 0x08, 1]) + struct.pack(">I", 4)


@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize("data, message", [
    (b"\x01\x02\x08\x01" + struct.pack(">I", 4) + b"abcd", "not an IDX file"),
    (bytes([0, 0, 0x07, 1]) + struct.pack(">I", 4) + b"abcd", "unknown IDX type code 0x07"),
    (bytes([0, 0, 0x08, 0]), "declares 0 dimensions"),
    (bytes([0, 0, 0x08, 9]) + b"\x00" * 36, "declares 9 dimensions"),
    (HEADER + b"abc", r"truncated: header declares shape \(4,\)"),
    (HEADER + b"abcde", "more data than its header declares"),
    (HEADER[:6], "file ends inside the dimensions"),
    (b"\x00\x00", "file ends inside the magic number"),
    (b"", "file ends inside the magic number"),
    (bytes([0, 0, 0x08, 3]) + struct.pack(">III", 100000, 100000, 100000) + b"x", "more than the"),
], ids=["magic", "type", "0-dims", "9-dims", "short", "trailing", "cut-header", "cut-magic", "empty", "absurd"])
def test_corrupt_idx_files_raise_value_error_naming_the_file(tmp_path, data, message, gz):
    path = _raw(tmp_path, data, gz)
    with pytest.raises(ValueError, match=message) as caught:
        read_idx(path)
    assert str(path) in str(caught.value)


def test_truncated_gzip_stream_raises_value_error(tmp_path):
    good = gzip.compress(HEADER + bytes(range(4)) * 1000)
    path = tmp_path / "cut.gz"
    path.write_bytes(good[: len(good) // 2])
    with pytest.raises(ValueError, match="cut.gz"):
        read_idx(path)


def test_corrupted_gzip_bytes_raise_value_error(tmp_path, rng):
    data = bytearray(gzip.compress(bytes([0, 0, 0x08, 1]) + struct.pack(">I", 5000) + rng.bytes(5000)))
    data[len(data) // 2] ^= 0xFF
    path = tmp_path / "flipped.gz"
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="flipped.gz"):
        read_idx(path)


def test_a_decompression_bomb_is_refused_without_inflating_it(tmp_path):
    # the header promises 4 bytes, the gzip member inflates to 200 MB of zeros
    compressor = gzip.compress(HEADER + b"\x00" * (200 << 20), compresslevel=9)
    path = tmp_path / "bomb.gz"
    path.write_bytes(compressor)
    assert path.stat().st_size < 1 << 20
    import tracemalloc
    tracemalloc.start()
    with pytest.raises(ValueError, match="more data than its header declares"):
        read_idx(path)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 10 << 20


def test_the_checks_survive_python_optimisation_mode(tmp_path):
    import subprocess
    import sys
    path = _raw(tmp_path, HEADER + b"ab")
    result = subprocess.run([sys.executable, "-O", "-c",
                             f"from barenet.training.datasets import read_idx; read_idx({str(path)!r})"],
                            capture_output=True, text=True)
    assert result.returncode != 0 and "ValueError" in result.stderr and "truncated" in result.stderr


def test_write_idx_rejects_what_idx_cannot_store(tmp_path):
    with pytest.raises(ValueError, match="cannot store dtype"):
        write_idx(tmp_path / "a", np.zeros(3, dtype=np.uint16))
    with pytest.raises(ValueError, match="1 to 4 dimensions"):
        write_idx(tmp_path / "a", np.zeros((1,) * 5, dtype=np.uint8))


def _zeros_idx(path, shape):
    """A gzipped IDX file of uint8 zeros with the given shape, written in chunks."""
    header = bytes([0, 0, 0x08, len(shape)]) + struct.pack(f">{len(shape)}I", *shape)
    with gzip.open(path, "wb", compresslevel=1) as stream:
        stream.write(header)
        total, chunk = int(np.prod(shape)), bytes(1 << 20)
        for start in range(0, total, len(chunk)):
            stream.write(chunk[:min(len(chunk), total - start)])
    return path


def test_a_header_declaring_more_than_the_limit_is_refused_before_reading(tmp_path):
    import tracemalloc
    path = tmp_path / "big.gz"
    path.write_bytes(gzip.compress(bytes([0, 0, 0x08, 3]) + struct.pack(">3I", 1 << 20, 32, 32)))  # 1 GiB declared
    tracemalloc.start()
    with pytest.raises(ValueError, match="more than the 268,435,456-byte limit"):
        read_idx(path)
    assert tracemalloc.get_traced_memory()[1] < 1 << 20
    tracemalloc.stop()


def test_a_large_file_is_read_into_its_array_without_a_second_copy(tmp_path):
    import tracemalloc
    path = _zeros_idx(tmp_path / "large.gz", (60000, 28, 28))  # 47 MB, the size of MNIST's training images
    tracemalloc.start()
    array = read_idx(path)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert array.shape == (60000, 28, 28) and array.dtype == np.uint8 and not array.any()
    assert peak < 1.1 * array.nbytes, peak / array.nbytes  # it was about twice


@pytest.mark.parametrize("dtype", [">i4", ">f8", ">i2"])
def test_multi_byte_types_come_back_in_native_order(tmp_path, dtype, rng):
    array = (rng.normal(size=(5, 3)) * 100).astype(dtype)
    write_idx(tmp_path / "x.idx", array)
    back = read_idx(tmp_path / "x.idx")
    assert back.dtype.isnative and np.array_equal(back, array)


@pytest.mark.slow
def test_hundreds_of_mutated_mnist_folders_give_value_error_or_what_the_loader_promises(tmp_path):
    """benchmarks/fuzz_idx_files.py's seeded mutator (headers, bytes, gzip streams, bombs, swapped
    files), a few hundred folders here; the script runs thousands."""
    import runpy
    from pathlib import Path
    fuzzer = runpy.run_path(str(Path(__file__).resolve().parents[2] / "benchmarks" / "fuzz_idx_files.py"))
    report = fuzzer["run"](300, 0, tmp_path)
    assert report["failures"] == [], report["failures"][:5]
    assert report["outcomes"]["refused"] > 150 and report["outcomes"]["loaded"] > 10  # both paths exercised
    assert report["peak_mib"] < 64  # the 300 MB bombs were never inflated
