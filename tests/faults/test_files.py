"""Fault tests on real files: a really full disk, writers really killed mid-write, a really read-only folder.

Each case uses a small tmpfs (root only; skipped with the reason otherwise) or real processes killed
with SIGKILL, and checks what is left: the previous files intact, one line naming the folder, no
temporary file for good.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys

import pytest
from script_runs import script_env
from suite_helpers import tmpfs

pytestmark = [
    pytest.mark.faults,
    pytest.mark.skipif(sys.platform != "linux", reason="mounts a tmpfs and signals real processes"),
]


def fill(folder):
    """Fill the file system holding `folder` to the last byte."""
    with contextlib.suppress(OSError), open(folder / "filler", "wb") as filler:
        while True:
            filler.write(b"\0" * 4096)
            filler.flush()


def stats_command(*args) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "minidl.stats", *args], env=script_env(), capture_output=True, text=True, timeout=120
    )


@pytest.mark.parametrize("command", ["report", "--plot"])
def test_stats_outputs_on_a_full_disk_are_one_line_naming_the_folder(tmp_path, command):
    """`python -m minidl.stats report` / `--plot` on a full disk: exit 1, one line, the statistics intact."""
    pytest.importorskip("matplotlib")
    from stats_helpers import train

    with tmpfs(tmp_path / "disk", "size=1m") as disk:
        stats = disk / "stats"
        train(stats, epochs=1)
        before = {path.name: path.read_bytes() for path in stats.iterdir()}
        fill(disk)
        result = stats_command(*(["report", str(stats)] if command == "report" else [str(stats), "--plot"]))
        assert result.returncode == 1, result.stderr
        assert result.stderr.splitlines() == [
            f"python -m minidl.stats {command}: error: cannot write in {stats}: No space left on device "
            "(the statistics files are unchanged)"
        ]
        assert {path.name: path.read_bytes() for path in stats.iterdir()} == before  # nothing half-written
