"""Tests of minidl.stats: what a run records, how runs accumulate and are averaged, and file safety."""

from __future__ import annotations

import copy
import datetime
import json
import math
import multiprocessing
import re
import subprocess
import sys
import uuid

import numpy as np
import pytest

from minidl import Model
from minidl.callbacks import Callback
from minidl.layers import Dense
from minidl.stats import AVERAGES_FILE, StatisticsTracker, append_run, format_number, load_runs, render_text, summarize
from minidl.stats.cli import main

SAMPLES, FEATURES, BATCH, EPOCHS = 20, 8, 8, 2


def make_model(seed=0, name="tiny"):
    model = Model([Dense(3, activation="softmax", input_shape=(FEATURES,))], name=name, seed=seed)
    return model.compile("sgd", "sparse_categorical_crossentropy")


def data(seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(SAMPLES, FEATURES)).astype("float32"), rng.integers(0, 3, SAMPLES)


def train(out_dir, seed=0, callbacks=(), verbose=False, model_name=None, **fit_args):
    """Fit the tiny model once with a tracker writing to `out_dir`; returns (tracker, history)."""
    tracker = StatisticsTracker(model_name=model_name, out_dir=out_dir, dataset="random", verbose=verbose)
    x, y = data(seed)
    history = make_model(seed).fit(
        x,
        y,
        batch_size=BATCH,
        epochs=fit_args.pop("epochs", EPOCHS),
        verbose=0,
        callbacks=[tracker, *callbacks],
        **fit_args,
    )
    return tracker, history


def runs_in(path):
    document = json.loads(path.read_text())
    assert document["format"] == "minidl-stats" and document["version"] == 1
    return document["runs"]


def text_row(averages: str, label: str) -> str:
    """The first line of averages.txt starting with `label:` (after indentation)."""
    match = re.search(rf"^\s+{re.escape(label)}:(.*)$", averages, re.MULTILINE)
    assert match, f"no {label!r} line in:\n{averages}"
    return match.group(1).strip()


class RaiseAt(Callback):
    """Raises `error` after training step `step` of epoch `epoch`."""

    def __init__(self, error, epoch, step):
        super().__init__()
        self.error, self.at, self.epoch = error, (epoch, step), None

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if (self.epoch, batch) == self.at:
            raise self.error


class StopAfterFirstEpoch(Callback):
    def on_epoch_end(self, epoch, logs=None):
        self.model.stop_training = True
        self.model.stop_reason = "enough"


# ----- what one run records -----
def test_run_records_every_step_epoch_metric_and_setting(tmp_path):
    tracker, history = train(tmp_path)
    [run] = runs_in(tmp_path / "tiny.json")
    steps = math.ceil(SAMPLES / BATCH)
    timings, settings = run["timings"], run["settings"]
    assert len(timings["step_times"]) == steps * EPOCHS
    assert len(timings["epoch_times"]) == EPOCHS
    assert all(t > 0 for t in timings["step_times"] + timings["epoch_times"])
    assert [e["steps"] for e in run["epochs"]] == [steps] * EPOCHS
    assert [e["accuracy"] for e in run["epochs"]] == pytest.approx(history.history["accuracy"])
    assert [e["loss"] for e in run["epochs"]] == pytest.approx(history.history["loss"])
    assert all(e["val_accuracy"] is None for e in run["epochs"])
    assert timings["validation_time"] == 0
    assert sum(timings["step_times"]) <= timings["training_time"] + 1e-6
    assert timings["combined_time"] == pytest.approx(timings["training_time"] + timings["validation_time"])
    assert run["status"] == "finished" and run["error"] is None and run["epochs_completed"] == EPOCHS
    datetime.datetime.fromisoformat(run["started"])
    assert settings["model"] == "tiny" and settings["dataset"] == "random" and settings["seed"] == 0
    assert (settings["batch_size"], settings["epochs"], settings["samples"], settings["val_samples"]) == (
        BATCH,
        EPOCHS,
        SAMPLES,
        0,
    )
    assert settings["layers"] == [
        {
            "name": settings["layers"][0]["name"],
            "class": "Dense",
            "output_shape": [3],
            "params": FEATURES * 3 + 3,
            "config": {"input_shape": [FEATURES], "units": 3, "activation": "softmax"},
        }
    ]
    assert settings["params"] == FEATURES * 3 + 3
    assert settings["optimizer"]["name"] == "sgd" and settings["optimizer"]["learning_rate"] == 0.01
    assert settings["loss"] == "sparse_categorical_crossentropy"
    assert (settings["backend"], settings["workers"], settings["ranks"]) == ("pool", 1, 1)
    assert settings["threads_per_worker"] is None or settings["threads_per_worker"] >= 1
    assert settings["python"].count(".") == 2 and settings["numpy"] == np.__version__ and settings["minidl"]
    assert settings["cpu_count"] >= 1 and settings["hostname"]
    assert tracker.last_saved.path == tmp_path / "tiny.json"


def test_validation_is_timed_and_recorded_per_epoch(tmp_path):
    train(tmp_path, validation_split=0.2)
    [run] = runs_in(tmp_path / "tiny.json")
    assert run["settings"]["val_samples"] == 4 and run["settings"]["samples"] == 16
    assert len(run["timings"]["step_times"]) == 2 * EPOCHS
    assert all(0 <= e["val_accuracy"] <= 1 and e["val_loss"] > 0 and e["validation_time"] > 0 for e in run["epochs"])
    timings = run["timings"]
    assert timings["validation_time"] == pytest.approx(sum(e["validation_time"] for e in run["epochs"]), abs=1e-6)
    assert timings["combined_time"] == pytest.approx(timings["training_time"] + timings["validation_time"], abs=1e-6)
    for epoch, epoch_time in zip(run["epochs"], timings["epoch_times"]):
        assert epoch["training_time"] + epoch["validation_time"] <= epoch_time + 1e-6


def test_model_name_is_sanitised_for_the_file_name(tmp_path):
    train(tmp_path, model_name="../my model/v2")
    [run] = runs_in(tmp_path / "my_model_v2.json")
    assert run["settings"]["model"] == "../my model/v2"
    assert sorted(p.name for p in tmp_path.iterdir()) == [".stats.lock", AVERAGES_FILE, "my_model_v2.json"]


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
    assert [run["status"] for run in runs] == ["finished", "stopped", "interrupted", "failed"]
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
@pytest.mark.parametrize("damage", [b'{"format": "minidl-stats", "runs": [{"id": ', b"[1, 2, 3]\n"])
def test_damaged_json_is_preserved_and_runs_go_to_recovered_files(tmp_path, capsys, damage):
    damaged = tmp_path / "tiny.json"
    damaged.write_bytes(damage)
    with pytest.warns(RuntimeWarning, match=r"tiny\.json.*tiny\.recovered-"):
        first, _ = train(tmp_path, seed=0)
    with pytest.warns(RuntimeWarning):
        second, _ = train(tmp_path, seed=1)
    assert damaged.read_bytes() == damage
    recovered = [first.last_saved.path, second.last_saved.path]
    assert recovered[0] != recovered[1] and all(p.name.startswith("tiny.recovered-") for p in recovered)
    assert [run["id"] for path in recovered for run in runs_in(path)] == [first.run["id"], second.run["id"]]
    assert first.last_saved.damaged == damaged
    stderr = capsys.readouterr().err
    assert "tiny.json" in stderr and recovered[0].name in stderr and recovered[1].name in stderr
    averages = (tmp_path / AVERAGES_FILE).read_text()
    assert text_row(averages, "runs counted (finished or stopped)") == "2"
    assert re.search(r"Skipped.*\n\s+tiny\.json: ", averages)


def test_interrupted_run_is_recorded_and_the_file_stays_valid(tmp_path):
    train(tmp_path, seed=0)
    with pytest.raises(KeyboardInterrupt):
        train(tmp_path, seed=1, callbacks=[RaiseAt(KeyboardInterrupt(), 1, 1)])
    runs = runs_in(tmp_path / "tiny.json")
    assert [run["status"] for run in runs] == ["finished", "interrupted"]
    interrupted = runs[1]
    assert interrupted["error"] == "KeyboardInterrupt" and interrupted["epochs_completed"] == 1
    assert len(interrupted["timings"]["step_times"]) == 3 + 2  # epoch 1 complete, 2 steps of epoch 2
    assert interrupted["unfinished_epoch"]["steps"] == 2
    assert interrupted["timings"]["training_time"] > interrupted["epochs"][0]["training_time"]
    assert text_row((tmp_path / AVERAGES_FILE).read_text(), "runs counted (finished or stopped)") == "1 +1 interrupted"
    assert not list(tmp_path.glob(".*.tmp"))


def test_only_rank_zero_writes(tmp_path):
    tracker = StatisticsTracker(out_dir=tmp_path / "out", verbose=False)
    tracker.set_model(make_model())
    tracker.set_params(
        {"epochs": 1, "steps": 1, "batch_size": 8, "samples": 8, "rank": 1, "ranks": 2, "backend": "mpi"}
    )
    for hook in ("on_train_begin", "on_train_end"):
        getattr(tracker, hook)({"status": "finished"})
    assert tracker.run is None and not (tmp_path / "out").exists()


def _append_copies(out_dir, template, worker, count, barrier):
    barrier.wait()
    for index in range(count):
        run = copy.deepcopy(template)
        run["id"] = f"worker{worker}-run{index}"
        append_run(run, out_dir, "tiny", render=render_text)


def test_concurrent_writers_lose_no_run(tmp_path):
    train(tmp_path / "template")
    [template] = runs_in(tmp_path / "template" / "tiny.json")
    out_dir, processes, count = tmp_path / "shared", 4, 5
    context = multiprocessing.get_context("fork" if sys.platform.startswith("linux") else "spawn")
    barrier = context.Barrier(processes)
    workers = [
        context.Process(target=_append_copies, args=(out_dir, template, w, count, barrier)) for w in range(processes)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
    assert [worker.exitcode for worker in workers] == [0] * processes
    ids = sorted(run["id"] for run in runs_in(out_dir / "tiny.json"))
    assert ids == sorted(f"worker{w}-run{i}" for w in range(processes) for i in range(count))
    counted = text_row((out_dir / AVERAGES_FILE).read_text(), "runs counted (finished or stopped)")
    assert counted == str(processes * count)
    assert not list(out_dir.glob(".*.tmp"))


# ----- printing and the command line -----
def test_verbose_tracker_prints_the_models_summary(tmp_path, capsys):
    train(tmp_path, verbose=True)
    out = capsys.readouterr().out
    assert "runs counted" in out and "tiny" in out and str(tmp_path / "tiny.json") in out.replace("\n", "")


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


def test_load_runs_skips_damaged_files(tmp_path):
    train(tmp_path)
    (tmp_path / "broken.json").write_text("{nope")
    runs, files, skipped = load_runs(tmp_path)
    assert len(runs) == 1 and files == 1 and [name for name, _ in skipped] == ["broken.json"]
