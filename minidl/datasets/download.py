"""Fetching a missing dataset file into the cache: mirrors in turn, checksum-verified, written atomically.

Each download goes to a temporary file in the cache folder and is renamed into place only once its
checksum matches, so a cut transfer never leaves a half file that looks valid. A runaway server is
cut off at 128 MB. The progress bar (rich) is imported only when something is downloaded.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import os
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from ..utils import terminal
from ..utils.temporaries import temporary_beside
from .idx import DatasetError

_CHUNK = 1 << 16
_MAX_DOWNLOAD_BYTES = 128 << 20  # the largest real file is ~26 MB; stop runaway servers
_USER_AGENT = "minidl-datasets (python urllib)"

Checksum = tuple[str, str]


class DownloadFailed(Exception):
    """Every mirror failed for one file; args[0] lists 'url: reason' strings."""


def fetch(name, cache: Path, mirrors, checksums, timeout, progress) -> Path:
    """Fetch ``name`` into ``cache`` from the first mirror that delivers a verified file."""
    if isinstance(mirrors, str):
        mirrors = [mirrors]
    checksum = checksums.get(name)
    if checksum is None:
        raise DownloadFailed([f"{name}: no checksum known, refusing to download it unverified"])
    if not mirrors:
        raise DownloadFailed([f"{name}: no mirrors configured"])
    target = cache / name
    errors = []
    for base in mirrors:
        url = base.rstrip("/") + "/" + name
        try:
            _fetch_verified(url, target, checksum, timeout, progress)
            return target
        except (OSError, ValueError, http.client.HTTPException) as exc:
            errors.append(f"{url}: {exc}")
    raise DownloadFailed(errors)


def _fetch_verified(url: str, target: Path, checksum: Checksum, timeout: float, progress) -> None:
    """Download into a temp file beside ``target``, verify it, then os.replace it in place."""
    target.parent.mkdir(parents=True, exist_ok=True)
    # A killed download's temporary is swept by the next download into the cache (utils.temporaries).
    with temporary_beside(target) as (fd, tmp_name):
        request = urllib.request.Request(url, headers={"User-Agent": _USER_AGENT})
        with os.fdopen(os.dup(fd), "wb") as out, urllib.request.urlopen(request, timeout=timeout) as resp:
            digest = _copy_response(resp, out, hashlib.new(checksum[0]), progress, url)
            out.flush()
            os.fsync(out.fileno())
        if digest != checksum[1].lower():
            raise DatasetError(f"checksum mismatch ({checksum[0]} expected {checksum[1]}, got {digest})")
        os.replace(tmp_name, target)


def _copy_response(response, out, hasher, progress, url: str) -> str:
    """Stream ``response`` into ``out`` with a progress bar; check the length; return the hash."""
    length = response.headers.get("Content-Length")
    total = int(length) if length and length.isdigit() else None
    task = progress.add_task(url.rsplit("/", 1)[-1], total=total)
    received = 0
    while chunk := response.read(_CHUNK):
        received += len(chunk)
        if received > _MAX_DOWNLOAD_BYTES:
            raise DatasetError(f"response larger than {_MAX_DOWNLOAD_BYTES} bytes, giving up")
        hasher.update(chunk)
        out.write(chunk)
        progress.update(task, advance=len(chunk))
    if total is not None and received != total:
        raise DatasetError(f"incomplete transfer: received {received} of {total} bytes")
    return hasher.hexdigest()


@contextlib.contextmanager
def progress_bar() -> Iterator:
    """A rich download progress bar on stderr (imported lazily: only downloads need it)."""
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=terminal.console(stderr=True)) as progress:
        yield progress
