"""Downloading data files safely: HTTPS only, a few redirects, time limits, a size cap and a checksum.

A SHA-256 check, and an atomic rename, so that a failed or interrupted download leaves nothing
behind and a file that exists in the cache is always complete.
"""
from __future__ import annotations

import hashlib
import os
import ssl
import tempfile
import time
import urllib.error
import urllib.request
from contextlib import suppress
from pathlib import Path
from urllib.parse import urlparse

from ...files.atomic import fsync_directory

__all__ = ["download", "sha256_of", "DownloadError"]

CHUNK = 1 << 16


class DownloadError(OSError):
    """No mirror gave the file with the expected checksum; the message lists every URL tried."""


def sha256_of(path) -> str:
    """Return the SHA-256 of a file's contents, as hexadecimal, reading it a MiB at a time."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class _HttpsRedirects(urllib.request.HTTPRedirectHandler):
    """Follows at most ``max_redirections`` redirects, and never to a non-HTTPS address."""

    max_redirections = 3

    def redirect_request(self, request, fp, code, msg, headers, new_url):
        """Follow a redirect to an HTTPS address; refuse any other (URLError)."""
        if urlparse(new_url).scheme != "https":
            raise urllib.error.URLError(f"refused redirect from {request.full_url} to non-HTTPS {new_url}")
        return super().redirect_request(request, fp, code, msg, headers, new_url)


def _fetch(url, temporary, sha256, timeout, max_bytes, context, progress):
    """Stream ``url`` into the open file ``temporary``; return the reason it failed, or None."""
    deadline = time.monotonic() + 20 * timeout
    if urlparse(url).scheme != "https":
        return "refused: not an HTTPS address"
    opener = urllib.request.build_opener(urllib.request.HTTPSHandler(context=context), _HttpsRedirects)
    digest = hashlib.sha256()
    received = 0
    try:
        with opener.open(url, timeout=timeout) as response:
            total = response.headers.get("Content-Length")
            total = int(total) if total and total.isdigit() else None
            if total is not None and total > max_bytes:
                return f"server announces {total:,} bytes, more than the {max_bytes:,}-byte limit"
            while True:
                if time.monotonic() > deadline:
                    return f"took longer than the {20 * timeout:g}s limit for the whole file"
                block = response.read(CHUNK)
                if not block:
                    break
                received += len(block)
                if received > max_bytes:
                    return f"more than the {max_bytes:,}-byte limit"
                digest.update(block)
                temporary.write(block)
                if progress is not None:
                    progress(received, total)
    except urllib.error.HTTPError as error:
        return f"HTTP {error.code} {error.reason}"
    except (urllib.error.URLError, OSError, ValueError) as error:  # refused, timed out, reset, bad TLS...
        reason = getattr(error, "reason", None) or error
        return f"{type(error).__name__}: {reason}"
    except Exception as error:  # http.client.IncompleteRead and other protocol errors
        return f"{type(error).__name__}: {error}"
    actual = digest.hexdigest()
    if actual != sha256:
        return f"SHA-256 mismatch after {received:,} bytes: expected {sha256}, got {actual}"
    return None


def download(urls, destination, sha256: str, *, timeout: float = 30.0, max_bytes: int = 200 << 20,
             context: ssl.SSLContext | None = None, progress=None) -> Path:
    """Download the first of ``urls`` that yields a file with the given SHA-256 to ``destination``.

    Each attempt streams into a temporary file beside the destination, which is renamed into
    place only after the checksum matched; every other outcome (error, wrong checksum, timeout,
    Ctrl-C) deletes it.

    Parameters
    ----------
    urls : list of str
        Mirrors to try in order; HTTPS only.
    destination : str or Path
        The file to write (its folder is made).
    sha256 : str
        The expected checksum, hexadecimal.
    timeout : float, default 30.0
        Seconds of each network wait; 20× that for the whole file.
    max_bytes : int, default 200 MiB
        A larger file is refused.
    context : ssl.SSLContext, optional
        The TLS settings (by default Python's, which verify the server).
    progress : callable, optional
        ``progress(received_bytes, total_or_None)``, called as data arrives.

    Returns
    -------
    Path
        The destination.

    Raises
    ------
    DownloadError
        If no mirror gave the file; the message lists every URL tried and why it failed.
    """
    destination = Path(destination)
    destination.parent.mkdir(parents=True, exist_ok=True)
    failures = []
    for url in urls:
        fd, temporary = tempfile.mkstemp(prefix=f".{destination.name}.", suffix=".part", dir=destination.parent)
        try:
            with os.fdopen(fd, "wb") as handle:
                reason = _fetch(url, handle, sha256, timeout, max_bytes, context, progress)
                if reason is None:
                    handle.flush()
                    os.fsync(handle.fileno())
            if reason is None:
                os.replace(temporary, destination)
                fsync_directory(destination.parent)
                return destination
            failures.append(f"{url}: {reason}")
        finally:
            with suppress(FileNotFoundError):
                os.unlink(temporary)
    raise DownloadError(f"could not download {destination.name} (expected SHA-256 {sha256}); tried:\n  "
                        + "\n  ".join(failures))
