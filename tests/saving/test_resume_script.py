"""`--resume` on the training scripts (issue 15, point 2): a run killed with SIGKILL after its first
epoch's backup, started again with --resume, finishes its 3 epochs with the very weights of a run that
was never killed. Real processes on real MNIST (a 300-image training set), skipped without the data.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from minidl import saving

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "trainings" / "training_convolve.py"
FLAGS = ("--limit", "300", "--epochs", "3", "--batch-size", "64", "--quiet")
NAME = "convolve_conv1"


def command(*extra):
    return [sys.executable, str(SCRIPT), *FLAGS, *extra]


def environment(mnist_dir):
    return dict(os.environ, PYTHONUNBUFFERED="1", MINIDL_DATA_DIR=str(mnist_dir), PYTHONPATH=str(ROOT))


def run(arguments, cwd, env) -> subprocess.CompletedProcess:
    """The script run to its end with `arguments` (text output captured)."""
    return subprocess.run(arguments, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def test_killed_run_resumes_to_the_uninterrupted_weights(mnist_dir, tmp_path):
    env = environment(mnist_dir)
    reference = run(command("--seed", "3", "--stats-dir", "ref", "--save", "ref.npz"), tmp_path, env)
    assert reference.returncode == 0, reference.stderr

    runs = tmp_path / "run" / "backups" / NAME
    killed = subprocess.Popen(
        command("--seed", "3", "--stats-dir", "run", "--save", "resumed.npz"),
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 240
        while not list(runs.glob("*/backup.keras")) and killed.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        killed.send_signal(signal.SIGKILL)
    finally:
        killed.wait(timeout=30)
    assert killed.returncode == -signal.SIGKILL, "the run ended before it could be killed"
    [backup] = runs.glob("*/backup.keras")  # in the killed run's own folder
    assert backup.parent.name.endswith(f"-{killed.pid}")
    done = saving.read_state(backup)["epoch"]
    assert 1 <= done < 3

    # No --seed: the backup's seed is adopted, as it must be for the same shuffles and masks.
    resumed = run(command("--stats-dir", "run", "--save", "resumed.npz", "--resume"), tmp_path, env)
    assert resumed.returncode == 0, resumed.stderr
    assert (
        f"resuming run {backup.parent.name} of {NAME}: {done} epoch(s) done, seed 3 "
        f"(from {Path('run') / 'backups' / NAME / backup.parent.name / 'backup.keras'})"
    ) in resumed.stdout
    assert "after 3 epoch(s)" in resumed.stdout
    final, expected = saving.load_model(tmp_path / "resumed.npz"), saving.load_model(tmp_path / "ref.npz")
    assert saving.training_state(final)["epoch"] == 3
    np.testing.assert_array_equal(final.parameters, expected.parameters, strict=True)
    np.testing.assert_array_equal(final.optimizer.velocity, expected.optimizer.velocity, strict=True)
    assert final.optimizer.iterations == expected.optimizer.iterations
    assert list(runs.iterdir()) == []  # the completed run removed its folder, and the one it continued


def test_resume_without_a_backup_says_so(mnist_dir, tmp_path):
    result = run(
        [sys.executable, str(SCRIPT), "--limit", "100", "--epochs", "1", "--quiet", "--stats-dir", "run", "--resume"],
        tmp_path,
        environment(mnist_dir),
    )
    assert result.returncode == 0, result.stderr
    assert f"--resume: no unfinished run of {NAME} in" in result.stderr
    assert "training from the first epoch" in result.stderr
