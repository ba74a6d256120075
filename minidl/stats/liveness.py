"""Whether the process that recorded a ``running`` run still runs: a run it left behind reads as ``killed``.

A run is saved as ``running`` when it starts, with the pid, the host name and the process's start
time (clock ticks since boot, from Linux /proc), so that a pid reused by another process later is
not taken for the training. Runs recorded on another host cannot be checked from here and stay
``running``.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path


def process_identity() -> dict:
    """This process as a run records it: pid, host name and the process's start time (to tell a reused pid)."""
    return {"pid": os.getpid(), "host": socket.gethostname(), "process_started": _process_start_ticks(os.getpid())}


def _process_start_ticks(pid: int) -> int | None:
    """The process's start time in clock ticks since boot (Linux /proc), None where unknown."""
    fields = _proc_stat(pid)
    return int(fields[19]) if fields and len(fields) > 19 and fields[19].isdigit() else None


def _proc_stat(pid: int):
    """Fields 3... of /proc/<pid>/stat (after the command name), or None."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rfind(")") + 2 :].split()


def process_gone(run: dict) -> bool:
    """True when the process that recorded a ``running`` run on this host has ended (or its pid was reused).

    False when it may still be running, and when the run was recorded on another host (that
    cannot be checked from here).
    """
    pid = run.get("pid")
    if not isinstance(pid, int) or pid <= 0 or run.get("host") != socket.gethostname():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # someone else's process: it exists
        pass
    fields = _proc_stat(pid)
    if fields is None:
        return False
    if fields[0] in ("Z", "X"):  # a zombie has ended; only its exit status waits to be collected
        return True
    started = run.get("process_started")
    return isinstance(started, int) and _process_start_ticks(pid) not in (None, started)


def mark_killed(run: dict) -> dict:
    """`run`, or for a ``running`` run whose process is gone a copy marked ``killed`` with its completed epochs."""
    if run.get("status") != "running" or not process_gone(run):
        return run
    killed = dict(run, status="killed", epochs_completed=len(run.get("epochs") or []))
    killed["error"] = (
        f"the process (pid {run['pid']} on {run['host']}) ended without recording how the run ended "
        "(killed, crashed or the machine stopped)"
    )
    return killed
