"""Ctrl-C in classify.py while its worker processes classify: one line that says so, exit code 130, the pool
closed (no worker, no shared-memory segment left), never the start-up message of an abrupt exit."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import pytest
from script_runs import ROOT, ScriptRun, children, script_env, segments

pytestmark = [
    pytest.mark.faults,
    pytest.mark.skipif(sys.platform != "linux", reason="finds workers and shared memory through Linux /proc"),
]


def wide_model(path):
    """A model slow enough to classify (two 2000-unit layers) that the interrupt lands mid-way."""
    from minidl import Model
    from minidl.layers import Dense, Flatten

    model = Model(name="wide", seed=0)
    model.add(Flatten(input_shape=(28, 28, 1)))
    model.add(Dense(2000, activation="relu"))
    model.add(Dense(2000, activation="relu"))
    model.add(Dense(10, activation="softmax"))
    model.save(path)
    return path


@pytest.mark.parametrize(
    "number, code, cause", [(signal.SIGINT, 130, "Interrupted (Ctrl-C)"), (signal.SIGTERM, 143, "Terminated (SIGTERM)")]
)
def test_an_interrupt_while_classifying_closes_the_pool(tmp_path, mnist_dir, number, code, cause):
    model = wide_model(tmp_path / "wide.keras")
    before = set(segments())
    process = subprocess.Popen(
        [
            sys.executable,
            str(ROOT / "trainings" / "classify.py"),
            "--model",
            str(model),
            "--workers",
            "2",
            "--batch-size",
            "32",
        ],
        cwd=tmp_path,
        env=script_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    script = ScriptRun(process, tmp_path, shm_before=before)
    deadline = time.monotonic() + 60
    while len(children(process.pid)) < 2:  # the worker and the resource tracker: classifying has begun
        assert process.poll() is None and time.monotonic() < deadline, process.communicate()
        time.sleep(0.02)
    time.sleep(0.3)
    script.signal(number, group=True)  # a terminal's Ctrl-C, or `timeout`'s SIGTERM, reach the whole group
    assert script.finish(timeout=60) == code, script.stderr
    assert script.stderr.strip().splitlines() == [f"{cause}: nothing was classified to the end."]
    assert script.leftovers() == ([], [])


def test_an_interrupted_sweep_lets_its_run_record_itself(tmp_path, mnist_dir):
    """`kill -INT` to the sweep alone: it hands the interrupt to its run in progress, which stops at a step
    boundary and is recorded as interrupted; the sweep exits 130 with one line, leaving no process."""
    stats = tmp_path / "stats"
    before = set(segments())
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "trainings" / "sweep.py"), "--script", "training_feedforward.py", "--workers", "1"]
        + ["--repeat", "2", "--limit", "3000", "--epochs", "200", "--stats-dir", str(stats)],
        cwd=tmp_path,
        env=script_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    script = ScriptRun(process, stats, shm_before=before)
    script.wait_for_epochs(1, timeout=120)
    [run_pid] = children(process.pid)
    script.signal(signal.SIGINT)  # the sweep alone: its run must be told
    assert script.finish(timeout=60) == 130, script.stderr
    assert script.stderr.strip().splitlines() == ["Interrupted (Ctrl-C): the finished runs are in the statistics."]
    [run] = script.runs()
    assert (run["status"], run["pid"]) == ("interrupted", run_pid) and run["epochs_completed"] >= 1
    assert script.leftovers() == ([], [])
