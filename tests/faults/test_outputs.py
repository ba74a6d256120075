"""Fault tests: outputs that cannot be written are refused before training (exit 2, one line), and a
disk that fills up during training costs one line naming the file, never the previous file."""

from __future__ import annotations

import contextlib
import json
import re
import subprocess
import sys

import pytest
from script_runs import MODEL, ROOT, run_script, script_env, start
from suite_helpers import read_only_folder, tmpfs

pytestmark = [pytest.mark.faults]
PROG = "training_feedforward.py"
QUICK = ["--limit", "100", "--epochs", "1", "--quiet"]


@pytest.fixture(autouse=True)
def _mnist(mnist_dir):
    """The scripts read MNIST from $MINIDL_DATA_DIR (skipped when unset, failed when set but incomplete)."""


def assert_refused_before_training(result, message):
    assert result.returncode == 2, result.stderr
    assert result.stderr.splitlines() == [f"{PROG}: error: {message}"]
    assert result.stdout == ""  # no model summary, no epoch, no result: nothing was trained


def test_stats_dir_that_is_a_file(tmp_path):
    (tmp_path / "stats").write_text("mine")
    result = run_script(tmp_path, *QUICK, "--stats-dir", "stats")
    assert_refused_before_training(result, "--stats-dir 'stats': is a file, not a folder")
    assert (tmp_path / "stats").read_text() == "mine"


def test_stats_dir_inside_a_file(tmp_path):
    (tmp_path / "stats").write_text("mine")
    result = run_script(tmp_path, *QUICK, "--stats-dir", "stats/run1")
    assert_refused_before_training(
        result, f"--stats-dir 'stats/run1': cannot be created: {str(tmp_path / 'stats')!r} is a file, not a folder"
    )


def test_read_only_stats_dir(tmp_path):
    with read_only_folder(tmp_path) as folder:
        result = run_script(tmp_path, *QUICK, "--stats-dir", str(folder))
        assert result.returncode == 2 and result.stdout == "", result.stderr
        [line] = result.stderr.splitlines()
        assert line.startswith(f"{PROG}: error: --stats-dir {str(folder)!r}: cannot write in this folder (")
        assert "Read-only file system" in line or "Permission denied" in line
        result = run_script(tmp_path, *QUICK, "--stats-dir", str(folder / "new"))
        assert_refused_before_training(
            result, f"--stats-dir {str(folder / 'new')!r}: cannot be created: {str(folder)!r} is not writable"
        )


def test_save_onto_an_existing_folder(tmp_path):
    (tmp_path / "model.npz").mkdir()
    result = run_script(tmp_path, *QUICK, "--stats-dir", "stats", "--save", "model.npz")
    assert_refused_before_training(
        result, "--save 'model.npz' is a folder; give a file name such as 'model.npz/model.npz'"
    )
    assert not (tmp_path / "stats").exists()


def test_save_into_a_read_only_folder(tmp_path):
    with read_only_folder(tmp_path) as folder:
        target = str(folder / "model.npz")
        result = run_script(tmp_path, *QUICK, "--stats-dir", "stats", "--save", target)
        assert result.returncode == 2 and result.stdout == "", result.stderr
        [line] = result.stderr.splitlines()
        assert line.startswith(f"{PROG}: error: --save {target!r}: cannot write in this folder (")


def test_disk_full_during_training(tmp_path):
    """The statistics folder's disk fills up after epoch 1: one line per failed write naming the file, the
    last good record intact and still valid, no temporary left, and exit code 1 (the run was not saved)."""
    with tmpfs(tmp_path / "disk", "size=4m") as disk:
        script = start(tmp_path, "--stats-dir", str(disk), epochs=200, workers=1)
        script.stats_dir = disk
        script.wait_for_epochs(1)
        with contextlib.suppress(OSError), open(disk / "filler", "wb") as filler:
            while True:
                filler.write(b"\0" * 4096)
                filler.flush()
        code = script.finish(timeout=60)
        stats_file = disk / f"{MODEL}.json"
        lines = script.stderr.strip().splitlines()
        assert code == 1, script.stderr
        could_not_save = (
            f"WARNING: minidl.stats: could not save the statistics of this run: cannot write {stats_file}: "
            "No space left on device"
        )
        # The run's backup (BackupAndRestore, written after the record at every epoch's end) is on the same
        # disk: when its write fails, training stops there with one line naming it; when the disk filled
        # only after it, training finishes and only the statistics are lost.
        # (in the run's own folder, removed when the run completes).
        runs = disk / "backups" / MODEL
        finished = f"{PROG}: error: the statistics of this run were not saved (see the warning above)"
        stopped = re.compile(
            rf"{PROG}: error: \[Errno 28\] cannot save {re.escape(str(runs))}/[^/]+/backup\.keras: the disk is full "
            r"\(any previous file is unchanged\)"
        )
        assert lines[-1] == finished or stopped.fullmatch(lines[-1]), script.stderr
        assert ("test accuracy" in script.stdout) == (lines[-1] == finished), script.stdout
        if lines[-1] == finished:
            assert lines[-2] == could_not_save, script.stderr
        for line in lines[:-1]:  # every other line names the statistics file that could not be written
            assert line == could_not_save or (
                re.match(r"WARNING: minidl.stats: could not update the running record after epoch \d+: ", line)
                and line.endswith(f"cannot write {stats_file}: No space left on device")
            ), script.stderr
        [run] = json.loads(stats_file.read_text())["runs"]
        # "running" when the record's last write found the disk full; "failed" (the backup's error) when the
        # failed backup's removed temporary left room for it.
        assert run["status"] in ("running", "failed") and run["epochs_completed"] >= 1, run["status"]
        if run["status"] == "failed":
            assert stopped.fullmatch(lines[-1]) and "disk is full" in run["error"], run["error"]
        left = {path.name for path in disk.iterdir()} - {"averages.txt"}  # written when the final record fit
        assert left == {".stats.lock", "backups", MODEL + ".json", "filler"}, left
        for folder in runs.iterdir():  # no temporary left behind
            assert {path.name for path in folder.iterdir()} <= {"backup.keras", "run.json"}


def test_script_refusals_take_no_training_time(tmp_path):
    """The refusals above come before the data is even loaded: an empty data folder is not reached."""
    (tmp_path / "empty").mkdir()
    (tmp_path / "stats").write_text("mine")
    result = run_script(tmp_path, *QUICK, "--data-dir", "empty", "--stats-dir", "stats")
    assert_refused_before_training(result, "--stats-dir 'stats': is a file, not a folder")
    result = run_script(tmp_path, *QUICK, "--data-dir", "empty", "--stats-dir", "ok")
    assert result.returncode == 1 and "data_dir" in result.stderr and "empty lacks" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(
    "flag, value, message",
    [
        ("--lr", "inf", "must be a finite number greater than 0, got inf"),
        ("--lr", "nan", "must be a finite number greater than 0, got nan"),
        ("--lr", "-1e-3", "must be a finite number greater than 0, got -0.001"),
        ("--seed", "-1", "must be a whole number in [0, 2**63), got -1"),
        ("--seed", str(2**63), f"must be a whole number in [0, 2**63), got {2**63}"),
    ],
)
def test_a_bad_number_is_one_line_before_any_work(tmp_path, flag, value, message):
    (tmp_path / "empty").mkdir()  # no data: a refusal after loading it would say so instead
    result = run_script(tmp_path, *QUICK, "--data-dir", "empty", "--stats-dir", "stats", f"{flag}={value}")
    assert_refused_before_training(result, f"argument {flag}: {message}")
    assert not (tmp_path / "stats").exists()


@pytest.mark.parametrize("script", ["classify.py", "sweep.py"])
def test_the_other_scripts_refuse_a_negative_seed_alike(tmp_path, script):
    result = subprocess.run(
        [sys.executable, str(ROOT / "trainings" / script), "--seed=-1"],
        cwd=tmp_path,
        env=script_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2 and result.stdout == "", result.stderr
    assert result.stderr.splitlines() == [
        f"{script}: error: argument --seed: must be a whole number in [0, 2**63), got -1"
    ]
