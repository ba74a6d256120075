"""Runs side by side in one statistics folder, and `--resume`: each run has its own backup, restored only on
--resume, which says which run it continues and refuses (one line, exit code 2, the backup kept) a backup
that does not fit. Real training processes on real MNIST (skipped without the data)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import zipfile

import concurrent_runs
import pytest
from concurrent_runs import MODEL, command, environment, kill_after_first_backup

pytestmark = [
    pytest.mark.faults,
    pytest.mark.skipif(sys.platform != "linux", reason="reads process identities from Linux /proc"),
]
PROG = "training_feedforward.py"


@pytest.fixture(autouse=True)
def _mnist(mnist_dir):
    """The scripts read MNIST from $MINIDL_DATA_DIR (skipped when unset, failed when set but incomplete)."""


def run(*arguments, timeout=300) -> subprocess.CompletedProcess:
    return subprocess.run(list(arguments), env=environment(), capture_output=True, text=True, timeout=timeout)


def test_runs_started_together_lose_nothing(tmp_path):
    """Two rounds of the experiment in concurrent_runs.py (run it for 20 rounds by hand)."""
    lines = []
    totals = concurrent_runs.run_rounds(tmp_path, rounds=2, seed=1, log=lines.append)
    assert totals["problems"] == [], "\n".join(lines)
    assert totals["runs"] == 10 and "resuming run" in totals["resume"]


def test_a_plain_run_leaves_a_killed_runs_backup_alone_and_says_it_can_be_resumed(tmp_path):
    stats = tmp_path / "stats"
    killed = kill_after_first_backup(stats, seed=5)
    before = killed.read_bytes()
    plain = run(*command(stats, 6, 1))
    assert plain.returncode == 0, plain.stderr
    assert killed.read_bytes() == before
    assert plain.stderr.splitlines() == [
        f"note: 1 unfinished run(s) of {MODEL} can be continued with --resume (latest first: "
        f"{killed.parent.name}; see {stats / 'backups' / MODEL})"
    ]


def test_two_resumes_at_once_never_take_the_same_backup(tmp_path):
    stats = tmp_path / "stats"
    killed = kill_after_first_backup(stats, seed=5)
    resumes = [subprocess.Popen(command(stats, None, 2, "--resume"), env=environment(), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True) for _ in range(2)]  # fmt: skip
    outputs = [process.communicate(timeout=300) for process in resumes]
    said = [stdout for stdout, _ in outputs if f"resuming run {killed.parent.name}" in stdout]
    assert len(said) == 1, outputs
    for process, (stdout, stderr) in zip(resumes, outputs):
        if stdout not in said:  # the other found nothing left to resume (or lost the race for it)
            assert process.returncode in (0, 2), stderr
            assert "training from the first epoch" in stderr or "taken over by another --resume" in stderr, stderr
        else:
            assert process.returncode == 0, stderr
    assert not killed.parent.exists()


def test_a_backup_taken_while_it_was_being_read_is_a_lost_race_not_a_missing_file(tmp_path, monkeypatch):
    """Two --resume at once: one lists an ended run, the other renames that run's backup away before the
    first reads it. The first must go on to the next candidate (here none: the one line says the runs
    were taken over), never stop on "model file not found"."""
    sys.path.insert(0, str(concurrent_runs.ROOT / "trainings"))
    import backups

    stats = tmp_path / "stats"
    folder = dead_run_folder(stats)
    saved_model(folder / "backup.keras", [120, 84, 10])
    ended = backups.ended_runs(str(folder.parent))
    assert ended == [folder.name]
    (folder / "backup.keras").unlink()  # the other resume's atomic rename, between listing and reading
    mine = tmp_path / "mine"
    mine.mkdir()
    with pytest.raises(backups.CannotResume, match="was taken over by another --resume"):
        backups.take_over(backups.LATEST, str(folder.parent), str(mine), feedforward([120, 84, 10]), ended, 2)


def dead_run_folder(stats, name="20260101T000000-1"):
    """A run folder whose owner is gone (pid 1's start time never matches), to hold a crafted backup."""
    folder = stats / "backups" / MODEL / name
    folder.mkdir(parents=True)
    owner = {"pid": 1, "host": os.uname().nodename, "process_started": -1, "started": "2026-01-01T00:00:00"}
    (folder / "run.json").write_text(json.dumps(owner))
    return folder


def feedforward(layers):
    """An untrained feed-forward model of the script's name, with Dense layers of `layers` units."""
    from minidl import Model
    from minidl.layers import Dense, Flatten

    model = Model(name=MODEL, seed=3)
    model.add(Flatten(input_shape=(28, 28, 1)))
    for units in layers:
        model.add(Dense(units, activation="tanh"))
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    return model


def saved_model(path, layers):
    feedforward(layers).save(path)
    return path


@pytest.mark.parametrize("damage", ["architecture", "crc"])
def test_a_backup_that_does_not_fit_is_refused_in_one_line_and_kept(tmp_path, damage):
    """--resume onto a backup of another architecture (4 layers: 8 weight arrays, the model has 6) or a
    CRC-damaged one: exit code 2 before any training, one line, the backup as it was."""
    stats = tmp_path / "stats"
    folder = dead_run_folder(stats)
    backup = folder / "backup.keras"
    if damage == "architecture":
        saved_model(backup, [50, 40, 30, 10])
        message = f"{backup} holds 8 weight arrays, this model has 6 (weights/0.npy, weights/1.npy, "
    else:
        saved_model(backup, [120, 84, 10])
        blob = bytearray(backup.read_bytes())
        with zipfile.ZipFile(backup) as archive:
            info = archive.getinfo("weights/0.npy")
        blob[info.header_offset + 30 + len(info.filename) + 5000] ^= 0xFF  # a byte of the first kernel
        backup.write_bytes(bytes(blob))
        message = f"{backup}: member 'weights/0.npy' is corrupt (Bad CRC-32"
    before = backup.read_bytes()
    result = run(*command(stats, None, 1, "--resume"))
    assert result.returncode == 2, result.stderr
    [line] = result.stderr.splitlines()
    assert line.startswith(f"{PROG}: error: --resume: cannot resume: {message}"), line
    assert result.stdout == ""  # nothing trained
    assert backup.read_bytes() == before
    assert sorted(path.name for path in (stats / "backups" / MODEL).iterdir()) == [folder.name]  # none made


def test_resume_names_a_run_and_refuses_a_live_one(tmp_path):
    from minidl import saving

    stats = tmp_path / "stats"
    runs = stats / "backups" / MODEL
    live = subprocess.Popen(
        command(stats, 7, 500), env=environment(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        while not list(runs.glob(f"*-{live.pid}/backup.keras")):
            assert live.poll() is None, "the run ended early"
            time.sleep(0.02)
        [folder] = runs.glob(f"*-{live.pid}")
        result = run(*command(stats, None, 1, "--resume", folder.name))
        assert result.returncode == 2, result.stderr
        assert result.stderr.splitlines() == [
            f"{PROG}: error: --resume: cannot resume: run {folder.name!r} is still training (in {runs}; runs "
            "that can be resumed: none)"
        ]
    finally:
        live.send_signal(signal.SIGKILL)
        live.wait(timeout=60)
    done = saving.read_state(folder / "backup.keras")["epoch"]
    result = run(*command(stats, None, done + 1, "--resume", folder.name))
    assert result.returncode == 0, result.stderr
    assert f"resuming run {folder.name} of {MODEL}: {done} epoch(s) done, seed 7" in result.stdout
    assert list(runs.iterdir()) == []
