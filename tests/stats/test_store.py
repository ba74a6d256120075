"""Tests of minidl.stats.store: atomic files, the folder lock, damaged files and runs, killed runs, full disks."""

from __future__ import annotations

import copy
import json
import multiprocessing
import os
import re
import signal
import socket
import subprocess
import sys

import pytest
from stats_helpers import runs_in, text_row, train

from minidl.stats import (
    AVERAGES_FILE,
    StatsWriteError,
    append_run,
    atomic_write,
    load_runs,
    process_gone,
    render_text,
    run_problem,
    save_run,
    summarize,
)
from minidl.stats.cli import main


# ----- file safety -----
def test_model_name_is_sanitised_for_the_file_name(tmp_path):
    train(tmp_path, model_name="../my model/v2")
    [run] = runs_in(tmp_path / "my_model_v2.json")
    assert run["settings"]["model"] == "../my model/v2"
    assert sorted(p.name for p in tmp_path.iterdir()) == [".stats.lock", AVERAGES_FILE, "my_model_v2.json"]


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


def _append_copies(out_dir, template, worker, count, barrier):
    """Record `count` runs as a tracker does: saved running, updated after each epoch, then saved ended."""
    barrier.wait()
    for index in range(count):
        run = copy.deepcopy(template)
        run["id"] = f"worker{worker}-run{index}"
        for epochs in range(len(template["epochs"])):
            save_run(dict(run, status="running", epochs=run["epochs"][:epochs]), out_dir, "tiny")
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
    saved = runs_in(out_dir / "tiny.json")
    assert sorted(run["id"] for run in saved) == sorted(
        f"worker{w}-run{i}" for w in range(processes) for i in range(count)
    )
    assert {run["status"] for run in saved} == {"completed"}
    counted = text_row((out_dir / AVERAGES_FILE).read_text(), "runs counted (finished or stopped)")
    assert counted == str(processes * count)
    assert not list(out_dir.glob(".*.tmp"))


def test_load_runs_skips_damaged_files(tmp_path):
    train(tmp_path)
    (tmp_path / "broken.json").write_text("{nope")
    runs, files, skipped = load_runs(tmp_path)
    assert len(runs) == 1 and files == 1 and [name for name, _ in skipped] == ["broken.json"]


def test_save_run_replaces_the_run_with_the_same_id(tmp_path):
    train(tmp_path / "template")
    [run] = runs_in(tmp_path / "template" / "tiny.json")
    other = dict(copy.deepcopy(run), id="other")
    save_run(other, tmp_path, "tiny")
    save_run(dict(run, status="running"), tmp_path, "tiny")
    save_run(run, tmp_path, "tiny", render=render_text)
    assert [(saved["id"], saved["status"]) for saved in runs_in(tmp_path / "tiny.json")] == [
        ("other", "completed"),
        (run["id"], "completed"),
    ]
    assert text_row((tmp_path / AVERAGES_FILE).read_text(), "runs counted (finished or stopped)") == "2"


def test_runs_saved_as_finished_by_older_versions_still_count(tmp_path):
    train(tmp_path / "template")
    [run] = runs_in(tmp_path / "template" / "tiny.json")
    append_run(dict(run, status="finished"), tmp_path, "tiny")
    [row] = summarize(load_runs(tmp_path)[0])
    assert (row["runs"], row["failed"]) == (1, 0)


# ----- a malformed run (valid JSON, a field of the wrong type) -----
MALFORMED = {
    "batch size as text": (("settings", "batch_size"), "64", "settings.batch_size must be a whole number"),
    "step times as text": (("timings", "step_times"), "fast", "timings.step_times must be a list of numbers"),
    "a step time as text": (("timings", "step_times"), [0.1, "x"], r"timings.step_times\[1\] must be a number"),
    "accuracy as text": (("epochs", 0, "accuracy"), "high", r"epochs\[0\].accuracy must be a number"),
    "settings null": (("settings",), None, "settings must be an object, not null"),
    "started as a number": (("started",), 5, "started must be text"),
    "workers as true": (("settings", "workers"), True, "settings.workers must be a whole number .*not true/false"),
    "epochs an object": (("epochs",), {}, "epochs must be a list"),
    "optimizer a list": (("settings", "optimizer"), ["sgd"], "settings.optimizer must be an object"),
    "compute time as text": (("timings", "compute_time"), "1s", "timings.compute_time must be a number"),
    "compute steps a number": (("timings", "compute_steps"), 2.5, "timings.compute_steps must be a whole number"),
    "exchange a list": (("exchange",), [1], "exchange must be an object"),
    "exchange rate as text": (("exchange",), {"reduce_rate": "fast"}, "exchange.reduce_rate must be a number"),
    "step metrics a list": (("step_metrics",), [1.0], "step_metrics must be an object"),
    "step losses as text": (("step_metrics", "loss"), "low", "step_metrics.loss must be a list of numbers or nulls"),
    "a step loss as text": (("step_metrics", "loss", 1), "x", r"step_metrics.loss\[1\] must be a number or null"),
    "pieces as text": (("timings", "pieces"), "many", "timings.pieces must be a list of lists"),
    "a piece count as text": (("timings", "pieces"), [[1, "x"]], r"timings.pieces\[0\]\[1\] must be a whole number"),
    "idle times flat": (("timings", "idle_times"), [0.1], r"timings.idle_times\[0\] must be a list"),
    "processes a list": (("processes",), [1], "processes must be an object"),
    "process pieces as text": (("processes",), {"pieces": "x"}, "processes.pieces must be a list of numbers"),
    "load averages as text": (("load_averages",), "high", "load_averages must be a list"),
}


def _set(record, keys, value):
    for key in keys[:-1]:
        record = record[key]
    record[keys[-1]] = value


@pytest.mark.parametrize("keys, value, reason", MALFORMED.values(), ids=MALFORMED.keys())
def test_a_malformed_run_is_reported_and_the_folder_keeps_working(tmp_path, keys, value, reason, capsys):
    train(tmp_path, seed=0)
    document = json.loads((tmp_path / "tiny.json").read_text())
    _set(document["runs"][0], keys, value)
    (tmp_path / "tiny.json").write_text(json.dumps(document))  # hand-edited, still valid JSON
    assert re.search(reason, run_problem(document["runs"][0]))

    tracker, _ = train(tmp_path, seed=1)  # a later run still saves...
    assert tracker.last_saved.path == tmp_path / "tiny.json" and not tracker.last_saved.damaged
    assert "could not" not in capsys.readouterr().err
    runs, files, skipped = load_runs(tmp_path)
    assert [run["id"] for run in runs] == [tracker.run["id"]] and files == 1
    [(what, why)] = skipped
    assert what == f"tiny.json run 1 (id {document['runs'][0]['id']})" and re.search(f"malformed run: {reason}", why)
    averages = (tmp_path / AVERAGES_FILE).read_text()  # ...averages.txt is rewritten...
    assert text_row(averages, "runs counted (finished or stopped)") == "1" and "tiny.json run 1" in averages
    assert runs_in(tmp_path / "tiny.json")[0] == document["runs"][0]  # ...and the bad run is kept as it was
    for extra in ([], ["--json"]):  # the command line reports it instead of crashing
        assert main([str(tmp_path), *extra]) == 0
        printed = capsys.readouterr()
        assert "tiny.json run 1" in printed.out + printed.err


def test_well_formed_runs_have_no_problem(tmp_path):
    train(tmp_path)
    [run] = runs_in(tmp_path / "tiny.json")
    assert run_problem(run) is None and run_problem([]) == "a run must be an object, not a list"


# ----- runs whose process is gone -----
def _running_run(tmp_path, **identity):
    train(tmp_path / "template")
    [run] = runs_in(tmp_path / "template" / "tiny.json")
    run = dict(run, status="running", **identity)
    del run["timings"]["training_time"]
    return run


def test_a_running_run_whose_process_is_gone_reads_as_killed(tmp_path):
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    run = _running_run(tmp_path, pid=child.pid, host=socket.gethostname())
    save_run(run, tmp_path / "out", "tiny")
    [loaded], _, skipped = load_runs(tmp_path / "out")
    assert skipped == [] and loaded["status"] == "killed" and loaded["epochs_completed"] == len(run["epochs"]) == 2
    assert f"pid {child.pid}" in loaded["error"]
    assert runs_in(tmp_path / "out" / "tiny.json")[0]["status"] == "running"  # the file is not rewritten
    [row] = summarize([loaded])
    assert (row["runs"], row["interrupted"], row["killed"], row["failed"]) == (0, 0, 1, 0)  # killed, not failed
    assert text_row(render_text([row], (), 1), "runs counted (finished or stopped)") == "0 +1 killed"


def test_a_zombie_or_reused_pid_counts_as_gone_but_a_live_or_foreign_process_does_not(tmp_path):
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    try:
        os.waitid(os.P_PID, child.pid, os.WEXITED | os.WNOWAIT)  # exited, not yet reaped: a zombie
        assert process_gone({"pid": child.pid, "host": socket.gethostname()})
    finally:
        child.wait()
    here = socket.gethostname()
    from minidl.stats import process_identity

    me = process_identity()
    assert not process_gone(me)
    if me["process_started"] is not None:
        assert process_gone(dict(me, process_started=me["process_started"] + 1))  # same pid, another process
    assert not process_gone({"pid": child.pid, "host": here + "-elsewhere"})  # cannot be checked from here


# ----- write failures -----
def test_full_disk_leaves_the_previous_file_and_no_temporary(tmp_path, monkeypatch):
    path = tmp_path / "tiny.json"
    atomic_write(path, "old\n")

    class FullFile:
        """A file object whose write fails like a full disk does."""

        def __init__(self, file):
            self.file = file

        def write(self, text):
            raise OSError(28, "No space left on device")

        def __getattr__(self, name):
            return getattr(self.file, name)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return self.file.__exit__(*exc)

    real_fdopen = os.fdopen
    monkeypatch.setattr(os, "fdopen", lambda *a, **k: FullFile(real_fdopen(*a, **k)))
    with pytest.raises(StatsWriteError) as info:
        atomic_write(path, "new\n")
    assert str(info.value) == f"cannot write {path}: No space left on device" and "\n" not in str(info.value)
    assert path.read_text() == "old\n" and sorted(p.name for p in tmp_path.iterdir()) == ["tiny.json"]


def test_unwritable_folder_is_one_line_naming_it(tmp_path, monkeypatch):
    import tempfile

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(tempfile, "mkstemp", refuse)
    with pytest.raises(StatsWriteError, match=f"^cannot write {tmp_path / 'x.json'}: Permission denied$"):
        atomic_write(tmp_path / "x.json", "{}")


def test_a_run_still_in_progress_is_listed_not_summarised(tmp_path):
    from minidl.stats import process_identity

    run = _running_run(tmp_path, **process_identity())  # this very process: alive
    save_run(run, tmp_path / "out", "tiny")
    runs, files, [(what, why)] = load_runs(tmp_path / "out")
    assert runs == [] and files == 1 and what == f"tiny.json run 1 (id {run['id']})"
    assert why.startswith(f"in progress: recorded as running by pid {os.getpid()} on {socket.gethostname()}, 2 epoch")


def test_an_interrupt_during_a_write_is_delivered_after_the_file_is_complete(tmp_path, monkeypatch):
    """Ctrl-C (and SIGTERM) are held back while the file is rewritten, then raised: never a lost run."""
    from minidl.stats import store

    train(tmp_path / "template")
    [run] = runs_in(tmp_path / "template" / "tiny.json")
    real_write = store._temporary_with

    def interrupted_write(path, text):
        os.kill(os.getpid(), signal.SIGINT)  # without the hold, KeyboardInterrupt is raised right here
        return real_write(path, text)

    monkeypatch.setattr(store, "_temporary_with", interrupted_write)
    with pytest.raises(KeyboardInterrupt):
        save_run(run, tmp_path / "out", "tiny")
    assert runs_in(tmp_path / "out" / "tiny.json") == [run]
    assert not list((tmp_path / "out").glob(".*.tmp"))
