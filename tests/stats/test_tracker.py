"""Tests of minidl.stats.tracker: what one run records, and that it is on disk from its start to its end."""

from __future__ import annotations

import datetime
import json
import math
import os
import socket

import numpy as np
import pytest
from stats_helpers import BATCH, EPOCHS, FEATURES, SAMPLES, RaiseAt, data, make_model, runs_in, text_row, train

from minidl.callbacks import Callback, LambdaCallback
from minidl.distributed.pieces import piece_bounds
from minidl.distributed.resources import available_cpus
from minidl.stats import AVERAGES_FILE, StatisticsTracker, StatsWriteError
from minidl.stats.tracker import run_settings


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
    assert run["status"] == "completed" and run["error"] is None and run["epochs_completed"] == EPOCHS
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
    assert settings["cpus_available"] == available_cpus()  # in-process: this process's CPUs
    assert tracker.last_saved.path == tmp_path / "tiny.json"


def test_cpus_available_are_the_runners_when_it_knows_them():
    """Under MPI the runner counts the CPUs all ranks have (`params["cpus"]`); rank 0's one core is not recorded."""
    model = make_model(0)
    assert run_settings(model, {"cpus": 6}, "tiny")["cpus_available"] == 6
    assert run_settings(model, {"cpus": None}, "tiny")["cpus_available"] == available_cpus()


def test_each_step_records_its_own_batchs_loss_and_accuracy(tmp_path):
    weights = []  # the weights each step starts from
    keep = LambdaCallback(on_train_batch_begin=lambda batch, logs: weights.append(keep.model.get_weights()))
    _, history = train(tmp_path, callbacks=[keep], shuffle=False)
    [run] = runs_in(tmp_path / "tiny.json")
    steps = math.ceil(SAMPLES / BATCH)
    x, y = data(0)
    model, expected = make_model(0), []
    for step, start_weights in enumerate(weights):  # that batch's loss and accuracy before its update
        start = (step % steps) * BATCH
        model.set_weights(start_weights)
        expected.append(model.evaluate(x[start : start + BATCH], y[start : start + BATCH], verbose=0))
    assert run["step_metrics"]["loss"] == pytest.approx([loss for loss, _ in expected], rel=1e-5)
    assert run["step_metrics"]["accuracy"] == pytest.approx([accuracy for _, accuracy in expected], abs=1e-6)
    sizes = [min(BATCH, SAMPLES - (step % steps) * BATCH) for step in range(len(weights))]
    first = np.dot(run["step_metrics"]["loss"][:steps], sizes[:steps]) / SAMPLES  # the epoch's mean of its steps
    assert first == pytest.approx(history.history["loss"][0], rel=1e-5)


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


def test_interrupted_run_is_recorded_and_the_file_stays_valid(tmp_path):
    train(tmp_path, seed=0)
    with pytest.raises(KeyboardInterrupt):
        train(tmp_path, seed=1, callbacks=[RaiseAt(KeyboardInterrupt(), 1, 1)])
    runs = runs_in(tmp_path / "tiny.json")
    assert [run["status"] for run in runs] == ["completed", "interrupted"]
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


def test_verbose_tracker_prints_the_models_summary(tmp_path, capsys):
    train(tmp_path, verbose=True)
    out = capsys.readouterr().out
    assert "runs counted" in out and "tiny" in out and str(tmp_path / "tiny.json") in out.replace("\n", "")


# ----- on disk from start to end -----
class SavedRunProbe(Callback):
    """Reads the tracker's file as it is on disk at each epoch's start and after the last step."""

    def __init__(self, path):
        super().__init__()
        self.path, self.seen = path, []

    def on_epoch_begin(self, epoch, logs=None):
        [run] = runs_in(self.path)
        self.seen.append((run["status"], run["epochs_completed"], len(run["epochs"]), run["pid"], run["host"]))


def test_run_is_saved_running_at_the_start_and_after_every_epoch(tmp_path):
    probe = SavedRunProbe(tmp_path / "tiny.json")
    tracker, _ = train(tmp_path, callbacks=[probe], epochs=3)
    me = (os.getpid(), socket.gethostname())
    assert probe.seen == [("running", 0, 0, *me), ("running", 1, 1, *me), ("running", 2, 2, *me)]
    [run] = runs_in(tmp_path / "tiny.json")
    assert run["status"] == "completed" and run["epochs_completed"] == 3 and run["id"] == tracker.run["id"]
    assert tracker.recorded == tmp_path / "tiny.json"
    assert not list(tmp_path.glob(".*.tmp"))


class Terminated(KeyboardInterrupt):
    """An interrupt carrying its reason, as the training scripts raise on SIGTERM."""


@pytest.mark.parametrize(
    "error, at, expected",
    [
        (ValueError("boom"), (1, 0), ("failed", "ValueError: boom", 1)),
        (Terminated("SIGTERM"), (0, 1), ("interrupted", "SIGTERM", 0)),
    ],
    ids=["failed", "interrupted-with-reason"],
)
def test_how_a_run_ended_is_recorded_with_its_completed_epochs(tmp_path, error, at, expected):
    with pytest.raises(type(error)):
        train(tmp_path, callbacks=[RaiseAt(error, *at)])
    [run] = runs_in(tmp_path / "tiny.json")
    assert (run["status"], run["error"], run["epochs_completed"]) == expected


class StepCounter(Callback):
    """Counts the training steps taken (none must be, when the folder is refused)."""

    steps = 0

    def on_train_batch_end(self, batch, logs=None):
        self.steps += 1


def test_a_file_in_place_of_the_folder_fails_before_the_first_step(tmp_path, recwarn):
    blocker = tmp_path / "stats"
    blocker.write_text("not a folder")
    counter = StepCounter()
    with pytest.raises(StatsWriteError) as info:
        train(blocker, callbacks=[counter])
    message = str(info.value)
    assert message == f"cannot write statistics to {blocker}: it is a file, not a folder"
    assert counter.steps == 0 and blocker.read_text() == "not a folder"
    assert not [w for w in recwarn if "minidl.stats" in str(w.message)]  # one error, not a warning as well


def test_an_unwritable_folder_fails_before_the_first_step(tmp_path, monkeypatch):
    """A read-only folder (simulated: the tests may run as root, whom permissions do not stop)."""
    out = tmp_path / "stats"
    out.mkdir()
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda path, mode: False if str(path) == str(out) else real_access(path, mode))
    counter = StepCounter()
    with pytest.raises(StatsWriteError, match=f"^cannot write statistics to {out}: the folder is not writable$"):
        train(out, callbacks=[counter])
    assert counter.steps == 0 and list(out.iterdir()) == []


def test_a_failed_update_after_an_epoch_warns_once_and_the_end_saves(tmp_path, monkeypatch, capsys):
    from minidl.stats import tracker as tracker_module

    real_save, calls = tracker_module.save_run, []

    def flaky(run, *args, **kwargs):
        calls.append(run["status"])
        if run["status"] == "running" and len(calls) > 1:
            raise StatsWriteError("cannot write somewhere: No space left on device")
        return real_save(run, *args, **kwargs)

    monkeypatch.setattr(tracker_module, "save_run", flaky)
    with pytest.warns(RuntimeWarning, match="could not update the running record after epoch 1"):
        train(tmp_path, epochs=3)
    assert calls == ["running"] * 4 + ["completed"]
    assert [run["status"] for run in runs_in(tmp_path / "tiny.json")] == ["completed"]
    assert capsys.readouterr().err.count("could not update") == 1


def test_full_disk_at_the_end_is_one_line_and_keeps_the_previous_file(tmp_path, monkeypatch, capsys):
    train(tmp_path, seed=0)
    before = (tmp_path / "tiny.json").read_bytes()
    real_fsync, state = os.fsync, {"full": False}

    def fsync(fd):
        if state["full"]:
            raise OSError(28, "No space left on device")
        real_fsync(fd)

    class FillDisk(Callback):
        def on_epoch_end(self, epoch, logs=None):
            state["full"] = epoch == EPOCHS - 1  # full once the last epoch is saved, before the end

    monkeypatch.setattr(os, "fsync", fsync)
    with pytest.warns(RuntimeWarning):
        train(tmp_path, seed=1, callbacks=[FillDisk()])
    stderr = capsys.readouterr().err.strip().splitlines()
    assert stderr == [
        f"WARNING: minidl.stats: could not save the statistics of this run: cannot write {tmp_path / 'tiny.json'}: "
        "No space left on device"
    ]
    runs = [json.loads(line.rstrip(",")) for line in before.decode().splitlines()[1:-1]]
    saved = runs_in(tmp_path / "tiny.json")
    assert saved[0] == runs[0] and saved[1]["status"] == "running" and saved[1]["epochs_completed"] == EPOCHS
    assert not list(tmp_path.glob(".*.tmp"))


# ----- what each process did, and how busy the machine was (issue 28) -----
def test_a_pool_run_records_each_steps_pieces_and_idle_time_per_process_and_the_load(tmp_path):
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(64, FEATURES)).astype("float32"), rng.integers(0, 3, 64)
    tracker = StatisticsTracker(out_dir=tmp_path, verbose=False)
    make_model().fit(x, y, batch_size=32, epochs=2, verbose=0, workers=2, callbacks=[tracker])
    [run] = runs_in(tmp_path / "tiny.json")
    timings, processes = run["timings"], run["processes"]
    steps = len(timings["step_times"])
    assert steps == 4 and len(timings["pieces"]) == steps and len(timings["idle_times"]) == steps
    pieces = len(piece_bounds(32, 2))
    assert all(len(step) == 2 and sum(step) == pieces for step in timings["pieces"]), "every piece computed once"
    assert all(0 <= idle <= step_time for step, step_time in zip(timings["idle_times"], timings["step_times"])
               for idle in step)  # fmt: skip
    assert processes["pieces"] == [sum(p[0] for p in timings["pieces"]), sum(p[1] for p in timings["pieces"])]
    assert set(processes) == {"pieces", "compute_time", "idle_time", "descheduled_time"}
    assert all(
        0 <= off <= computing for off, computing in zip(processes["descheduled_time"], processes["compute_time"])
    )
    assert len(run["load_averages"]) == 1 + 2 + 1, "when training begins, after each epoch, at the end"
    assert all(len(sample) == 3 and min(sample) >= 0 for sample in run["load_averages"])


def test_a_one_process_run_records_its_totals_but_no_per_step_lists(tmp_path):
    train(tmp_path)
    [run] = runs_in(tmp_path / "tiny.json")
    assert "pieces" not in run["timings"] and "idle_times" not in run["timings"]
    assert run["processes"]["pieces"] == [len(run["timings"]["step_times"])]
