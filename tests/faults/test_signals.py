"""Fault tests: real training processes stopped by real signals (Ctrl-C, SIGTERM, SIGKILL).

Each case checks the exit code, the one message, that no worker or resource tracker outlives the
script, that no shared-memory segment is left behind, and the statistics file afterwards.
Run alone with ``pytest -m faults``.
"""

from __future__ import annotations

import signal
import socket
import sys
from pathlib import Path

import pytest
from script_runs import start

from minidl.stats import load_runs

pytestmark = [
    pytest.mark.faults,
    pytest.mark.skipif(sys.platform != "linux", reason="finds workers and shared memory through Linux /proc"),
]


@pytest.fixture(autouse=True)
def _mnist(mnist_dir):
    """The scripts read MNIST from $MINIDL_DATA_DIR (skipped when unset, failed when set but incomplete)."""


@pytest.mark.parametrize(
    "number, code, cause, group",
    [
        (signal.SIGINT, 130, "Interrupted (Ctrl-C)", True),  # a terminal's Ctrl-C reaches the whole group
        (signal.SIGTERM, 143, "Terminated (SIGTERM)", False),  # kill <pid>, a batch scheduler
        (signal.SIGTERM, 143, "Terminated (SIGTERM)", True),  # timeout(1), kill -- -<pgid>
    ],
    ids=["ctrl-c", "sigterm", "sigterm-group"],
)
def test_an_interrupt_mid_training_stops_cleanly_and_records_the_run(tmp_path, number, code, cause, group):
    script = start(tmp_path)
    script.wait_for_epochs(1)
    script.signal(number, group=group)
    assert script.finish() == code, script.stderr
    assert script.stderr.strip().splitlines() == [
        f"{cause}: training stopped; the partial run is recorded as interrupted in "
        f"{script.stats_file} ({script.runs()[-1]['epochs_completed']} epoch(s) completed)."
    ]
    assert len(script.helpers) >= 2  # the worker and the resource tracker were there...
    assert script.leftovers() == ([], [])  # ...and are gone, with every shared-memory segment
    [run] = script.runs()
    expected_error = "SIGTERM" if number == signal.SIGTERM else "KeyboardInterrupt"
    assert (run["status"], run["error"], run["settings"]["workers"]) == ("interrupted", expected_error, 2)
    assert run["epochs_completed"] >= 1 and len(run["epochs"]) == run["epochs_completed"]
    assert not list(script.stats_dir.glob(".*.tmp"))


def test_sigkill_leaves_a_running_record_that_reads_as_killed(tmp_path):
    script = start(tmp_path)
    script.wait_for_epochs(2)
    script.signal(signal.SIGKILL)  # the training process alone, as the out-of-memory killer picks it
    assert script.finish() == -signal.SIGKILL
    # Its worker exits with it and the resource tracker it leaves removes its shared memory.
    assert len(script.helpers) >= 2 and script.leftovers() == ([], [])
    [saved] = script.runs()
    assert saved["status"] == "running" and saved["pid"] == script.process.pid
    assert saved["host"] == socket.gethostname()
    [run], files, skipped = load_runs(script.stats_dir)
    assert (run["status"], files, skipped) == ("killed", 1, [])
    assert run["epochs_completed"] == len(saved["epochs"]) >= 2
    assert f"pid {script.process.pid}" in run["error"]


@pytest.mark.parametrize("delay", [0.05, 0.4, 1.0])
def test_an_interrupt_during_start_up_says_truthfully_what_was_recorded(tmp_path, delay):
    """Whenever the Ctrl-C lands -- importing, loading data, starting the pool, training -- the line
    printed matches the statistics folder: nothing recorded, or the run recorded as interrupted."""
    import time

    script = start(tmp_path)
    time.sleep(delay)
    script.signal(signal.SIGINT, group=True)
    code = script.finish()
    lines = script.stderr.strip().splitlines()
    if code == 130 and lines and lines[-1].endswith("nothing was recorded."):
        assert len(lines) == 1 and script.runs() == []
    elif code == 130:
        assert len(lines) == 1 and "recorded as interrupted in" in lines[0], script.stderr
        assert [run["status"] for run in script.runs()] == ["interrupted"]
    else:  # the interpreter itself was still starting, before any line of the script ran: killed by the
        # signal (no handler yet) or Python's own KeyboardInterrupt -- and certainly nothing recorded
        assert code == -signal.SIGINT or (code == 1 and "KeyboardInterrupt" in script.stderr), script.stderr
        assert script.runs() == []
    assert script.leftovers() == ([], [])
    assert not Path(script.stats_dir).exists() or not list(script.stats_dir.glob(".*.tmp"))
