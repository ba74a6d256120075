"""minidl.stats.tensorboard: recorded runs exported as TensorBoard runs, and the speed-up of a run while it trains."""

from __future__ import annotations

import json
import re
import statistics
import warnings

import pytest
from stats_helpers import runs_in, train
from tensorboard_helpers import as_float32, read_events, scalars, tensorboard_or_skip, tensorboard_server, wait_for

from minidl.stats import RunningSpeedup, export_tensorboard, load_runs, recorded_run_name
from minidl.stats.cli import main

tensorboard_or_skip()

NAME = re.compile(r"^tiny_pool_(\d)workers?_(1thread|unknown-threads)_\d{4}-\d\d-\d\d_\d\d-\d\d-\d\d$")


def running_speedups(baseline, step_times):
    """The expected minidl/speedup values, computed here from their definition."""
    return [baseline / statistics.median(step_times[: k + 1]) for k in range(len(step_times))]


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    """A statistics folder holding a sweep of 1, 2 and 4 workers (one run each)."""
    folder = tmp_path_factory.mktemp("sweep")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # 4 workers on 2 CPUs: a warning of oversubscription
        for workers in (1, 2, 4):
            train(folder, workers=workers)
    return folder


def test_a_sweep_of_three_runs_gives_three_tensorboard_runs_with_step_time_and_speedup(sweep, tmp_path):
    exported, skipped = export_tensorboard(sweep, tmp_path / "tb")
    assert skipped == []
    folders = sorted(p for p in (tmp_path / "tb").iterdir())
    assert len(folders) == 3 and all(NAME.match(p.name) for p in folders), [p.name for p in folders]
    runs = {recorded_run_name(run): run for run in runs_in(sweep / "tiny.json")}
    [baseline_run] = [run for run in runs.values() if run["settings"]["workers"] == 1]
    baseline = statistics.median(baseline_run["timings"]["step_times"])
    for folder in folders:
        run, values = runs[folder.name], scalars(folder)
        step_times = run["timings"]["step_times"]
        steps = list(range(1, len(step_times) + 1))
        assert values["minidl/step_seconds"] == list(zip(steps, as_float32(step_times)))
        assert [step for step, _ in values["minidl/speedup"]] == steps
        speedups = [value for _, value in values["minidl/speedup"]]
        assert speedups == pytest.approx(running_speedups(baseline, step_times), rel=1e-6)
        assert values["step/loss"] == list(zip(steps, as_float32(run["step_metrics"]["loss"])))
        assert values["epoch_loss"] == list(enumerate(as_float32([e["loss"] for e in run["epochs"]])))
        card = read_events(folder)["run"][0][1].item().decode()
        assert f"| workers | {run['settings']['workers']} |" in card and "| status | completed |" in card
    assert {entry["name"] for entry in exported} == {p.name for p in folders}


def test_wall_times_follow_the_recorded_step_times(sweep, tmp_path):
    export_tensorboard(sweep, tmp_path)
    [run] = [r for r in runs_in(sweep / "tiny.json") if r["settings"]["workers"] == 2]
    events = read_events(tmp_path / recorded_run_name(run))["minidl/step_seconds"]
    walls = [wall for _, _, wall in events]
    first_epoch = run["epochs"][0]["steps"]
    gaps = [b - a for a, b in zip(walls, walls[1:])]
    # inside an epoch each step ends one step time after the previous one
    assert gaps[: first_epoch - 1] == pytest.approx(run["timings"]["step_times"][1:first_epoch], abs=1e-5)
    assert walls[-1] - walls[0] <= sum(run["timings"]["epoch_times"])


def test_exporting_again_leaves_what_was_exported_alone(sweep, tmp_path, capsys):
    assert main(["tensorboard", str(sweep), "--logdir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert out.count("wrote ") == 3 and f"tensorboard --logdir {tmp_path}" in out
    files = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("events.out.tfevents.*")}
    assert main(["tensorboard", str(sweep), "--logdir", str(tmp_path)]) == 0
    printed = capsys.readouterr()
    assert "wrote " not in printed.out and printed.err.count("(exported before)") == 3
    assert {p: p.stat().st_mtime_ns for p in tmp_path.rglob("events.out.tfevents.*")} == files
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary folder left


def test_an_empty_folder_is_an_error_in_one_line(tmp_path, capsys):
    assert main(["tensorboard", str(tmp_path / "none"), "--logdir", str(tmp_path / "tb")]) == 1
    assert capsys.readouterr().err.strip().count("\n") == 0


def test_runs_without_a_one_worker_run_of_their_setup_have_no_speedup(tmp_path):
    train(tmp_path / "stats", workers=2)
    [entry], _ = export_tensorboard(tmp_path / "stats", tmp_path / "tb")
    assert entry["speedup"] is False
    assert "minidl/speedup" not in scalars(entry["path"]) and "minidl/step_seconds" in scalars(entry["path"])


def test_runs_recorded_before_step_metrics_still_export(sweep, tmp_path):
    document = json.loads((sweep / "tiny.json").read_text())
    for run in document["runs"]:
        run.pop("step_metrics")
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "tiny.json").write_text(json.dumps(document))
    exported, _ = export_tensorboard(tmp_path / "old", tmp_path / "tb")
    assert len(exported) == 3 and all("step/loss" not in scalars(entry["path"]) for entry in exported)


def test_the_tracker_writes_the_speedup_while_the_run_trains(sweep, tmp_path):
    stats = tmp_path / "stats"
    stats.mkdir()
    (stats / "tiny.json").write_bytes((sweep / "tiny.json").read_bytes())
    tracker, _ = train(stats, workers=2, tensorboard_dir=tmp_path / "board")
    runs, _, _ = load_runs(stats)
    baseline = statistics.median(next(r for r in runs if r["settings"]["workers"] == 1)["timings"]["step_times"])
    step_times = tracker.run["timings"]["step_times"]
    values = scalars(tmp_path / "board" / "speedup")["minidl/speedup"]
    assert [step for step, _ in values] == list(range(1, len(step_times) + 1))
    assert [value for _, value in values] == pytest.approx(running_speedups(baseline, step_times), rel=1e-6)


def test_without_a_one_worker_run_the_tracker_says_so_and_writes_nothing(tmp_path, capsys):
    train(tmp_path / "stats", workers=2, tensorboard_dir=tmp_path / "board", verbose=True)
    assert "no finished one-worker run of this setup" in capsys.readouterr().err
    assert not (tmp_path / "board").exists()


def test_running_speedup_is_the_baseline_over_the_running_median():
    speedup = RunningSpeedup(0.2)
    assert [speedup.add(t) for t in (0.1, 0.3, 0.05, 0.0)] == pytest.approx([2.0, 1.0, 2.0, 0.2 / 0.075])
    assert RunningSpeedup(1.0).add(0.0) is None


def test_the_tensorboard_server_lists_the_three_runs_with_their_speedup(sweep, tmp_path):
    export_tensorboard(sweep, tmp_path / "tb")
    with tensorboard_server(tmp_path / "tb") as get:
        tags = wait_for(get, "/data/plugin/scalars/tags", lambda answer: len(answer) == 3)
        for run, run_tags in tags.items():
            assert NAME.match(run) and {"minidl/speedup", "minidl/step_seconds", "epoch_loss"} <= set(run_tags)
            served = get("/data/plugin/scalars/scalars", run=run, tag="minidl/speedup")
            assert len(served) == len(scalars(tmp_path / "tb" / run)["minidl/speedup"])
