"""Temporary files beside their target, so that a file is replaced whole or not at all, and none outlives
its writer for long.

Every file minidl writes (models, weights, statistics, pictures) is written to a hidden temporary in the
target's folder and renamed over the target once complete. A writer killed on the spot (SIGKILL, the
out-of-memory killer, a power cut) cannot remove its temporary, so each one is locked (`flock`) while
its writer lives: the lock ends with the process, whatever kills it. The next writer into the same
folder removes the temporaries nobody locks any more that are older than `STALE_SECONDS` (a
temporary is locked microseconds after it is created; the age only guards that instant).
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
import time

try:  # POSIX; elsewhere temporaries are still removed on every error, but not swept after a crash
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None

MARK = ".minidl-"  # in every temporary's name: `.<target name>.minidl-<random>.tmp`
STALE_SECONDS = 60.0
_TEMPORARY = re.compile(r"^\..+\.minidl-[A-Za-z0-9_]+\.tmp$")


@contextlib.contextmanager
def temporary_beside(path):
    """A new hidden temporary file in `path`'s folder, locked for as long as the block runs; yields
    (descriptor, temporary path). Rename it over `path` inside the block (`os.replace`); whatever is
    left of it when the block ends (an error, an interrupt) is removed. Stale temporaries of dead
    writers in the folder are swept first.

    OSError from creating it (a read-only folder, a full disk) propagates.
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    sweep(folder)
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=f".{os.path.basename(path)}{MARK}", suffix=".tmp")
    try:
        if fcntl is not None:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        yield handle, temporary
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        os.close(handle)  # last: the lock ends with it


def sweep(folder, older_than=STALE_SECONDS) -> list[str]:
    """Remove the temporaries in `folder` left by writers that died; returns their paths.

    A temporary is stale when no process holds its lock and it is older than `older_than` seconds (the
    age covers a live writer between creating its file and locking it; a caller that knows no writer is
    left in the folder passes 0). Files of other programs are never touched: only names of the form
    `.<name>.minidl-<random>.tmp`.
    """
    if fcntl is None:
        return []
    removed = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return []
    now = time.time()
    for entry in entries:
        if not _TEMPORARY.match(entry.name):
            continue
        try:
            if (
                not entry.is_file(follow_symlinks=False)
                or now - entry.stat(follow_symlinks=False).st_mtime < older_than
            ):
                continue
            if _remove_if_unlocked(entry.path):
                removed.append(entry.path)
        except OSError:  # gone meanwhile, or not ours to remove: leave it
            continue
    return removed


def _remove_if_unlocked(path) -> bool:
    """Remove `path` if no process holds its lock (its writer is gone); True if removed."""
    handle = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:  # its writer is alive
            return False
        if os.fstat(handle).st_ino != os.lstat(path).st_ino:  # renamed into a target meanwhile
            return False
        os.unlink(path)
        return True
    finally:
        os.close(handle)
