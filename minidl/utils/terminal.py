"""Whether output ends on a terminal, also under mpiexec; rich consoles that ask it.

Terminal codes (colours, bold, a bar redrawn in place with ``\\r``) belong on a terminal only. Rich
decides that by itself (``isatty``, ``NO_COLOR``, ``FORCE_COLOR``, ``TTY_COMPATIBLE``), but Open MPI's
mpiexec gives each rank's stdout a pseudo-terminal of its own whatever mpiexec itself writes to, so a
rank's ``isatty()`` says yes for a log file. Under a launcher, the launcher's output decides: where it
points is read from ``/proc`` (Linux), and taken as no terminal where it cannot be read.
"""

from __future__ import annotations

import os
import sys

# Set by the launchers in every process they start: Open MPI / PMIx, MPICH / Intel MPI (Hydra).
LAUNCHER_VARIABLES = ("OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE", "MPI_LOCALNRANKS")
# Where a terminal's device lives: pseudo-terminals, virtual consoles, serial lines.
TERMINAL_DEVICES = ("/dev/pts/", "/dev/tty", "/dev/console")


def launched_by_mpiexec() -> bool:
    """Whether this process was started by an MPI launcher (read from the environment, without starting MPI)."""
    return any(name in os.environ for name in LAUNCHER_VARIABLES)


def launcher_writes_to_terminal(descriptor: int) -> bool:
    """Whether the parent process (the launcher) has a terminal as its file `descriptor`; False when unknown."""
    try:
        target = os.readlink(f"/proc/{os.getppid()}/fd/{descriptor}")
    except OSError:  # no /proc (macOS), or not ours to read
        return False
    return target.startswith(TERMINAL_DEVICES)


def writes_to_terminal(stream) -> bool:
    """Whether `stream` ends on a terminal: its own ``isatty()``, and under an MPI launcher also the
    launcher's stream of the same number (a rank's terminal is the launcher's pseudo-terminal)."""
    try:
        if not stream.isatty():
            return False
        descriptor = stream.fileno()
    except (AttributeError, ValueError, OSError):  # no isatty / fileno, or closed
        return False
    return launcher_writes_to_terminal(descriptor) if launched_by_mpiexec() else True


def console(**options):
    """A rich ``Console(**options)`` on stdout (stderr with ``stderr=True``) that writes terminal codes only
    when the output ends on a terminal. Rich's own detection decides, except under an MPI launcher whose
    output is not a terminal; ``FORCE_COLOR`` and ``TTY_COMPATIBLE`` still win, as rich has them."""
    from rich.console import Console

    chosen = "force_terminal" in options or "file" in options or {"FORCE_COLOR", "TTY_COMPATIBLE"} & set(os.environ)
    if not chosen and launched_by_mpiexec():
        stream = sys.stderr if options.get("stderr") else sys.stdout
        if not writes_to_terminal(stream):
            options["force_terminal"] = False
    return Console(**options)
