"""Tests of minidl.stats: how runs accumulate and are averaged, and the command line.

What one run records is tested in stats/test_tracker.py, file safety in stats/test_store.py.
"""

from __future__ import annotations

import copy
import json
import math
import os
import re
import subprocess
import sys
import uuid

import numpy as np
import pytest
from stats_helpers import EPOCHS, RaiseAt, StopAfterFirstEpoch, runs_in, text_row, train

from minidl.stats import AVERAGES_FILE, format_number, summarize
from minidl.stats.cli import main


# ----- accumulation and averages -----
def assert_shows(text, value):
    """`text` is `value` to three significant digits (the mean may be summed in another order than
    here, so a value on a rounding boundary may print either way: compare numbers, not strings)."""
    half_unit = 0.5 * 10 ** (math.floor(math.log10(abs(value))) - 2)
    assert abs(float(text) - value) <= half_unit * (1 + 1e-6), f"{text} does not show {value}"


def test_runs_accumulate_and_averages_are_the_means_of_the_recorded_values(tmp_path):
    for seed in range(3):
        train(tmp_path, seed=seed)
    runs = runs_in(tmp_path / "tiny.json")
    assert len(runs) == 3 and len({run["id"] for run in runs}) == 3
    averages = (tmp_path / AVERAGES_FILE).read_text()
    assert text_row(averages, "runs counted (finished or stopped)") == "3"

    steps = [t for run in runs for t in run["timings"]["step_times"]]
    epochs = [t for run in runs for t in run["timings"]["epoch_times"]]
    training = [run["timings"]["training_time"] for run in runs]
    [row] = summarize(runs)
    assert row["runs"] == 3 and row["workers"] == 1 and row["speedup"] == pytest.approx(1.0)
    assert row["step_time"]["median"] == pytest.approx(np.median(steps)) and row["step_time"]["count"] == len(steps)
    assert (row["step_time"]["min"], row["step_time"]["max"]) == (min(steps), max(steps))
    assert row["epoch_time"]["median"] == pytest.approx(np.median(epochs))
    assert row["training_time"]["median"] == pytest.approx(np.median(training))
    for epoch in range(EPOCHS):
        expected = np.mean([run["epochs"][epoch]["accuracy"] for run in runs])
        assert row["train_accuracy"][epoch] == pytest.approx(expected)
        assert text_row(averages, f"train accuracy during epoch {epoch + 1} (running), mean") == f"{expected:.4f}"
    step_ms = [t * 1000 for t in steps]
    median_shown, low_high = text_row(averages, "step time, ms: median (min-max) of all steps").split(" (")
    assert_shows(median_shown, np.median(step_ms))
    assert low_high == f"{format_number(min(step_ms))}-{format_number(max(step_ms))})"
    shown = text_row(averages, "training time per run, s: median (min-max)").split(" (")[0]
    assert_shows(shown, np.median(training))
    assert "\x1b[" not in averages


def test_only_finished_and_stopped_runs_are_averaged(tmp_path):
    train(tmp_path, seed=0)
    train(tmp_path, seed=1, callbacks=[StopAfterFirstEpoch()])
    with pytest.raises(KeyboardInterrupt):
        train(tmp_path, seed=2, callbacks=[RaiseAt(KeyboardInterrupt(), 0, 0)])
    with pytest.raises(ValueError):
        train(tmp_path, seed=3, callbacks=[RaiseAt(ValueError("boom"), 1, 1)])
    runs = runs_in(tmp_path / "tiny.json")
    assert [run["status"] for run in runs] == ["completed", "stopped", "interrupted", "failed"]
    assert runs[1]["error"] == "enough" and runs[3]["error"] == "ValueError: boom"
    [row] = summarize(runs)
    assert (row["runs"], row["stopped"], row["interrupted"], row["failed"]) == (2, 1, 1, 1)
    counted_steps = runs[0]["timings"]["step_times"] + runs[1]["timings"]["step_times"]
    assert row["step_time"]["median"] == pytest.approx(np.median(counted_steps))
    assert row["train_accuracy"][1] == pytest.approx(runs[0]["epochs"][1]["accuracy"])  # only run 0 reached epoch 2
    averages = (tmp_path / AVERAGES_FILE).read_text()
    assert text_row(averages, "runs counted (finished or stopped)") == "2 (1 stopped) +1 interrupted +1 failed"


def test_speedup_compares_worker_counts_within_the_same_model_and_batch_size(tmp_path):
    train(tmp_path)
    [base] = runs_in(tmp_path / "tiny.json")

    def variant(workers, batch_size, factor):
        run = copy.deepcopy(base)
        run["id"] = uuid.uuid4().hex
        run["settings"].update(workers=workers, batch_size=batch_size, threads_per_worker=1)
        run["timings"]["training_time"] *= factor
        return run

    rows = summarize([variant(1, 8, 1.0), variant(4, 8, 0.25), variant(4, 8, 0.25), variant(4, 16, 0.1)])
    by_key = {(row["batch_size"], row["workers"]): row for row in rows}
    assert by_key[(8, 4)]["speedup"] == pytest.approx(4.0) and by_key[(8, 4)]["runs"] == 2
    assert by_key[(8, 1)]["speedup"] == pytest.approx(1.0)
    assert by_key[(16, 4)]["speedup"] is None  # no one-worker run with batch 16 to compare with


# ----- file safety -----


# ----- printing and the command line -----


def run_cli(*args, cwd):
    return subprocess.run(
        [sys.executable, "-m", "minidl.stats", *map(str, args)], capture_output=True, text=True, cwd=cwd, timeout=60
    )


def test_command_line_prints_table_and_json(tmp_path):
    stats_dir = tmp_path / "stats"
    for seed in range(2):
        train(stats_dir, seed=seed)
    table = run_cli(stats_dir, cwd=tmp_path)
    assert table.returncode == 0, table.stderr
    assert "tiny" in table.stdout and re.search(r"runs counted \(finished or stopped\)\s+2\b", table.stdout)
    assert "step time, ms" in table.stdout
    machine = run_cli(stats_dir, "--json", cwd=tmp_path)
    assert machine.returncode == 0, machine.stderr
    summary = json.loads(machine.stdout)
    assert summary["runs"] == 2 and summary["files"] == 1 and summary["skipped"] == []
    [row] = summary["rows"]
    runs = runs_in(stats_dir / "tiny.json")
    assert row["model"] == "tiny" and row["runs"] == 2
    assert row["combined_time"]["median"] == pytest.approx(np.median([r["timings"]["combined_time"] for r in runs]))


def test_command_line_without_statistics_exits_1(tmp_path):
    (tmp_path / "empty").mkdir()
    for folder in (tmp_path / "empty", tmp_path / "missing"):
        result = run_cli(folder, cwd=tmp_path)
        assert result.returncode == 1 and "no statistics" in result.stderr and result.stdout == ""
    assert main([str(tmp_path / "empty"), "--json"]) == 1


@pytest.mark.parametrize("command", [["report"], ["--plot"]], ids=["report", "plot"])
def test_an_output_that_cannot_be_written_is_one_line_and_exit_1(tmp_path, monkeypatch, capsys, command):
    """A full disk under `report` / `--plot` (simulated here; for real in tests/faults/test_files.py)."""
    figure = pytest.importorskip("matplotlib.figure")
    train(tmp_path)
    before = {path.name: path.read_bytes() for path in tmp_path.iterdir()}
    real_fsync = os.fsync

    def full(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)  # report.md's write
    monkeypatch.setattr(figure.Figure, "savefig", lambda self, *args, **kwargs: full(0))  # the pictures
    capsys.readouterr()
    assert main([*command[:1], str(tmp_path)] if command == ["report"] else [str(tmp_path), *command]) == 1
    monkeypatch.setattr(os, "fsync", real_fsync)
    [line] = capsys.readouterr().err.strip().splitlines()
    assert line.startswith(f"python -m minidl.stats {command[0]}: error: cannot write ")
    assert line.endswith("No space left on device (the statistics files are unchanged)")
    assert str(tmp_path) in line
    assert {path.name: path.read_bytes() for path in tmp_path.iterdir()} == before
