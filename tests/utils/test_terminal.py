"""Terminal codes only on a terminal, also under an MPI launcher: a rank's stdout is the launcher's
pseudo-terminal, so the launcher's own output decides. Played here by a small launcher process that
gives its child a pseudo-terminal, as Open MPI's mpiexec does, and writes itself to a pipe or a terminal."""

import os
import subprocess
import sys

import pytest

from minidl.utils.terminal import LAUNCHER_VARIABLES

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

pytestmark = pytest.mark.skipif(
    not (hasattr(os, "openpty") and os.path.isdir("/proc/self/fd")), reason="needs pseudo-terminals and /proc"
)

# What a rank reports: the stream check, and whether a rich console would write terminal codes.
RANK = (
    "import sys; from minidl.utils import terminal; "
    "print(terminal.writes_to_terminal(sys.stdout), terminal.console().is_terminal)"
)
# The launcher: runs RANK with a pseudo-terminal as its stdout, then passes on what it printed.
LAUNCHER = f"""
import os, subprocess, sys
master, slave = os.openpty()
subprocess.run([sys.executable, "-c", {RANK!r}], stdout=slave, env=dict(os.environ, **{{sys.argv[1]: "2"}}))
os.close(slave)
print(os.read(master, 1000).decode().strip())
"""


def environment(**extra):
    """This environment without the variables that would decide for rich or say an MPI launcher is here."""
    chosen = ("FORCE_COLOR", "TTY_COMPATIBLE", "NO_COLOR", *LAUNCHER_VARIABLES)
    return dict({k: v for k, v in os.environ.items() if k not in chosen}, PYTHONPATH=ROOT, **extra)


def launch(variable, launcher_on_terminal, **extra):
    """What the rank reported, with the launcher's stdout a pipe or a pseudo-terminal (`extra`: variables set)."""
    if not launcher_on_terminal:
        done = subprocess.run(
            [sys.executable, "-c", LAUNCHER, variable], stdout=subprocess.PIPE, env=environment(**extra), timeout=60
        )
        return done.stdout.decode().strip()
    master, slave = os.openpty()
    try:
        subprocess.run([sys.executable, "-c", LAUNCHER, variable], stdout=slave, env=environment(**extra), timeout=60)
        os.close(slave)
        return os.read(master, 1000).decode().strip()
    finally:
        os.close(master)


def test_a_rank_whose_launcher_writes_to_a_file_writes_no_terminal_codes():
    assert launch("OMPI_COMM_WORLD_SIZE", launcher_on_terminal=False) == "False False"
    assert launch("PMI_RANK", launcher_on_terminal=False) == "False False"  # MPICH's Hydra


def test_a_rank_whose_launcher_writes_to_a_terminal_keeps_its_terminal():
    assert launch("OMPI_COMM_WORLD_SIZE", launcher_on_terminal=True) == "True True"


def test_without_a_launcher_the_process_own_terminal_decides():
    """A variable no launcher sets: the child's own pseudo-terminal counts, as rich would count it."""
    assert launch("MINIDL_NOT_A_LAUNCHER", launcher_on_terminal=False) == "True True"


def test_force_color_still_wins_under_a_launcher():
    """The user's FORCE_COLOR gives rich's colours (not the redrawn bar, which needs a real terminal)."""
    assert launch("OMPI_COMM_WORLD_SIZE", launcher_on_terminal=False, FORCE_COLOR="1") == "False True"
