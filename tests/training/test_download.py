"""Downloads against a real HTTPS server on loopback: good files land atomically; truncated
bodies, wrong checksums, redirect loops and downgrades, stalls, refused connections and Ctrl-C
all fail cleanly, leave no file behind, and say which URLs were tried."""
import hashlib

import pytest

from barenet.training.datasets import DownloadError, download
from https_server import Handler, refused_url

BODY = bytes(range(256)) * 400  # 100 kB
SHA = hashlib.sha256(BODY).hexdigest()


def _leftovers(directory):
    return sorted(p.name for p in directory.iterdir())


@pytest.fixture
def served(https):
    Handler.files["data.bin"] = BODY
    return https


def test_good_file_is_downloaded_and_verified(served, tmp_path):
    target = tmp_path / "out" / "data.bin"
    seen = []
    assert download([served.url("files", "data.bin")], target, SHA, progress=lambda n, total: seen.append((n, total))) == target
    assert target.read_bytes() == BODY
    assert _leftovers(target.parent) == ["data.bin"]
    assert seen[-1] == (len(BODY), len(BODY))


def test_falls_back_to_the_next_mirror(served, tmp_path):
    target = tmp_path / "data.bin"
    download([served.url("files", "missing"), served.url("files", "data.bin")], target, SHA)
    assert target.read_bytes() == BODY


@pytest.mark.parametrize("route, reason", [
    ("truncated", r"IncompleteRead|SHA-256 mismatch"),
    ("files", "HTTP 404 Not Found"),
])
def test_failed_downloads_leave_nothing_behind_and_name_the_url(served, tmp_path, route, reason):
    target = tmp_path / "data.bin"
    url = served.url(route, "data.bin" if route == "truncated" else "nothing-here")
    with pytest.raises(DownloadError, match=reason) as caught:
        download([url], target, SHA)
    assert url in str(caught.value) and SHA in str(caught.value)
    assert _leftovers(tmp_path) == []


def test_wrong_checksum_names_both_hashes_and_every_url(served, tmp_path):
    other = "0" * 64
    urls = [served.url("files", "data.bin"), served.url("redirect", "1:data.bin")]
    with pytest.raises(DownloadError) as caught:
        download(urls, tmp_path / "data.bin", other)
    message = str(caught.value)
    assert f"expected {other}, got {SHA}" in message
    assert all(url in message for url in urls)
    assert _leftovers(tmp_path) == []


def test_a_few_redirects_are_followed_but_not_many(served, tmp_path):
    download([served.url("redirect", "3:data.bin")], tmp_path / "a.bin", SHA)
    assert (tmp_path / "a.bin").read_bytes() == BODY
    with pytest.raises(DownloadError, match="redirect"):
        download([served.url("redirect", "8:data.bin")], tmp_path / "b.bin", SHA)
    assert not (tmp_path / "b.bin").exists()


def test_never_downgrades_from_https_to_http(served, tmp_path):
    with pytest.raises(DownloadError, match="non-HTTPS"):
        download([served.url("to-http", "data.bin")], tmp_path / "data.bin", SHA)
    with pytest.raises(DownloadError, match="not an HTTPS address"):
        download([served.url("files", "data.bin").replace("https://", "http://")], tmp_path / "data.bin", SHA)
    assert _leftovers(tmp_path) == []


@pytest.mark.slow
def test_a_stalled_server_times_out(served, tmp_path):
    with pytest.raises(DownloadError, match="timed out"):
        download([served.url("stall", "data.bin")], tmp_path / "data.bin", SHA, timeout=0.5)
    assert _leftovers(tmp_path) == []


def test_an_oversized_announcement_is_refused(served, tmp_path):
    with pytest.raises(DownloadError, match="more than the"):
        download([served.url("huge", "x")], tmp_path / "data.bin", SHA)


def test_a_refused_connection_is_reported(tmp_path):
    url = refused_url()
    with pytest.raises(DownloadError, match="Connection refused") as caught:
        download([url], tmp_path / "data.bin", SHA, timeout=2)
    assert url in str(caught.value)
    assert _leftovers(tmp_path) == []


def test_ctrl_c_mid_download_leaves_no_file_and_keeps_the_old_one(served, tmp_path):
    target = tmp_path / "data.bin"
    target.write_bytes(b"previous complete file")

    def interrupt(received, total):
        if received > 10_000:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        download([served.url("files", "data.bin")], target, SHA, progress=interrupt)
    assert target.read_bytes() == b"previous complete file"
    assert _leftovers(tmp_path) == ["data.bin"]
