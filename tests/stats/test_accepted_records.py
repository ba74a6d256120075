"""Any run the statistics store accepts is summarised without error: by the summary, averages.txt, the
console tables, ``--json``, the report and the pictures.

A run either is refused when it is read (`run_problem`: it is then listed as skipped, with the reason)
or it is summarised; nothing in between may raise. Two sources of runs: real `fit` calls at the edges
(a run that trained no epoch, whose training time is 0) and hand-edited files, generated at random from
the fields the summary reads with values at the edges of their types (0, negative, NaN, infinity, huge).
"""

from __future__ import annotations

import io
import json
import random

import pytest
from rich.console import Console
from stats_helpers import runs_in, text_row, train

from minidl.stats import cli, load_runs, render_text, summarize
from minidl.stats.render import markdown_section, print_summary, section_view, speedup_markdown
from minidl.stats.store import AVERAGES_FILE, stats_path
from minidl.stats.summary import group_sections
from minidl.stats.validation import run_problem


def summarise_everything(folder) -> list:
    """Every reading of a statistics folder a user can ask for; returns the summary rows."""
    runs, files, skipped = load_runs(folder)
    rows = summarize(runs)
    render_text(rows, skipped, files)
    print_summary(rows, Console(file=io.StringIO(), width=200), skipped=skipped)
    json.dumps(cli.summary_document(rows, folder, files, skipped))
    for section_rows in group_sections(rows):
        speedup_markdown(section_rows)
        markdown_section(section_view(section_rows))
    return rows


def test_a_run_that_trained_no_epoch_is_summarised(tmp_path, recwarn, capsys):
    """`fit(epochs=1, initial_epoch=1)` (a resume with nothing left to train) beside a 1-epoch run: both
    are recorded, averages.txt counts both, the folder reads and reports without error."""
    train(tmp_path, epochs=1)
    tracker, _ = train(tmp_path, epochs=1, initial_epoch=1)
    assert not [w for w in recwarn if "minidl.stats" in str(w.message)], [str(w.message) for w in recwarn]
    _, empty = runs_in(stats_path(tmp_path, "tiny"))
    assert (empty["status"], empty["epochs"], empty["timings"]["training_time"]) == ("completed", [], 0.0)
    assert tracker.last_saved_status == "completed"
    averages = (tmp_path / AVERAGES_FILE).read_text()
    assert averages.startswith("minidl training statistics: 2 runs of 1 model")
    # The run that trained nothing is counted, but has no training time to average in: one value, not 0-x.
    assert text_row(averages, "runs counted (finished or stopped)") == "2"
    assert float(text_row(averages, "training time per run, s: median (min-max)")) > 0
    summarise_everything(tmp_path)
    capsys.readouterr()
    assert cli.main([str(tmp_path)]) == 0
    assert cli.main([str(tmp_path), "--json"]) == 0
    assert cli.main(["report", str(tmp_path)]) == 0
    assert "Traceback" not in capsys.readouterr().err


# ----- hand-edited records, generated -----
# Values at the edges of what each field may hold, and (drawn one time in 50) values it may not.
NUMBERS = ([0, -0.0, 5e-324, 0.25, 1, 3.5, -2.5, 1e300, -1e300], [float("nan"), float("inf"), -float("inf"), 1.7e308])
SECONDS = ([0, 0.0, 5e-324, 1e-300, 0.25, 1, 3.5, 1e9], [-1, float("nan"), float("inf"), 1e300])
COUNTS = ([0, 1, 2, 3, 8, 2**53], [-1, -7, 2**70])
PROCESSES = ([1, 1, 2, 4, 2**53], [0, -2, 2**64])
FRACTIONS = ([0, 5e-324, 0.25, 0.5, 1], [1.5, -0.1, float("nan")])
TEXTS = (["", "x", "pool", "mpi", "tiny", "a/b c", "é"], [])


def pick(rng, palette):
    good, bad = palette
    return rng.choice(bad if bad and rng.random() < 0.02 else good)


def optional(rng, value_maker, record, key):
    """Set record[key] from `value_maker`, or to null, or leave it out."""
    roll = rng.random()
    if roll < 0.1:
        record[key] = None
    elif roll < 0.85:
        record[key] = value_maker()
    # else: missing


def random_epoch(rng, number):
    epoch = {}
    optional(rng, lambda: number if rng.random() < 0.8 else pick(rng, COUNTS), epoch, "epoch")
    optional(rng, lambda: pick(rng, COUNTS), epoch, "steps")
    for key in ("training_time", "validation_time"):
        optional(rng, lambda: pick(rng, SECONDS), epoch, key)
    for key in ("loss", "val_loss"):
        optional(rng, lambda: pick(rng, NUMBERS), epoch, key)
    for key in ("accuracy", "val_accuracy"):
        optional(rng, lambda: pick(rng, FRACTIONS), epoch, key)
    return epoch


def random_run(rng, index):
    """A run as a hand-edited file may hold it: the fields the summary reads, each possibly odd."""
    settings = {"model": rng.choice(["tiny", "tiny", "other"]), "setup": "abc", "dataset": "random"}
    for key in ("hostname", "backend", "loss", "dtype", "model_name"):
        optional(rng, lambda: pick(rng, TEXTS), settings, key)
    for key in ("samples", "val_samples", "batch_size", "epochs", "steps_per_epoch", "params", "seed"):
        optional(rng, lambda: pick(rng, COUNTS), settings, key)
    for key in ("workers", "ranks", "threads_per_worker"):
        optional(rng, lambda: pick(rng, PROCESSES), settings, key)
    optional(rng, lambda: {"name": "sgd", "learning_rate": pick(rng, NUMBERS)}, settings, "optimizer")
    optional(rng, lambda: pick(rng, PROCESSES), settings, "cpus_available")
    timings = {}
    for key in ("step_times", "epoch_times"):
        optional(rng, lambda: [pick(rng, SECONDS) for _ in range(rng.randrange(4))], timings, key)
    for key in ("training_time", "validation_time", "combined_time", "run_time", "compute_time", "startup_time"):
        optional(rng, lambda: pick(rng, SECONDS), timings, key)
    optional(rng, lambda: pick(rng, COUNTS), timings, "compute_steps")
    run = {
        "id": f"run{index}",
        "started": f"2026-12-0{1 + index % 9}T10:00:00+00:00",
        "status": rng.choice(["completed", "completed", "stopped", "interrupted", "failed", "killed", "odd"]),
        "settings": settings,
        "timings": timings,
        "epochs": [random_epoch(rng, n) for n in range(1, rng.randrange(4) + 1)],
    }
    optional(rng, lambda: pick(rng, COUNTS), run, "epochs_completed")
    if rng.random() < 0.3:
        exchange = {}
        optional(rng, lambda: pick(rng, COUNTS), exchange, "gradient_bytes")
        optional(rng, lambda: pick(rng, SECONDS), exchange, "reduce_rate")
        run["exchange"] = exchange
    return run


def write_folder(folder, runs):
    """One statistics file holding `runs` as raw JSON (NaN and Infinity literals included, as an editor may)."""
    folder.mkdir()
    document = {"format": "minidl-stats", "version": 1, "model": "tiny", "runs": runs}
    (folder / "tiny.json").write_text(json.dumps(document, allow_nan=True))


@pytest.mark.parametrize("seed", range(60))
def test_every_run_the_store_accepts_is_summarised(tmp_path, seed):
    rng = random.Random(seed)
    runs = [random_run(rng, index) for index in range(rng.randrange(1, 9))]
    write_folder(tmp_path / "stats", runs)
    accepted, _, skipped = load_runs(tmp_path / "stats")
    refused = [run for run in runs if run_problem(run)]
    assert (len(accepted), len(skipped)) == (len(runs) - len(refused), len(refused))
    assert all(reason.startswith("malformed run: ") for _, reason in skipped)
    summarise_everything(tmp_path / "stats")


def test_the_generated_runs_are_mostly_accepted():
    """The generator is no strawman: most of its runs pass the checks, so the summary really sees them."""
    rng = random.Random(0)
    runs = [random_run(rng, index) for index in range(400)]
    accepted = [run for run in runs if run_problem(run) is None]
    assert len(accepted) > 0.3 * len(runs)


def test_a_report_and_pictures_of_generated_runs(tmp_path):
    pytest.importorskip("matplotlib")
    from minidl import plots
    from minidl.stats import report

    rng = random.Random(7)
    for number in range(3):
        folder = tmp_path / f"stats{number}"
        runs = [random_run(rng, index) for index in range(12)]
        write_folder(folder, runs)
        try:
            report.write_report(folder)
        except report.NoRuns:
            continue
        try:
            plots.plot_statistics(folder)
        except plots.NothingToPlot:
            pass


def test_a_summary_that_fails_never_says_the_run_was_lost(tmp_path, monkeypatch, capsys):
    """The run's record is written before averages.txt is refreshed: when only the refresh fails, the
    warning says so, and the run counts as saved (the scripts exit 0)."""
    import minidl.stats.store as store

    def broken(runs):
        raise ZeroDivisionError("float division by zero")

    monkeypatch.setattr(store, "summarize", broken)
    with pytest.warns(RuntimeWarning, match="could not be refreshed"):
        tracker, _ = train(tmp_path, epochs=1)
    assert tracker.last_saved_status == "completed"
    [run] = runs_in(stats_path(tmp_path, "tiny"))
    assert run["status"] == "completed"
    [line] = capsys.readouterr().err.strip().splitlines()
    assert line == (
        f"WARNING: minidl.stats: the run was saved to {stats_path(tmp_path, 'tiny')}, but "
        f"{tmp_path / AVERAGES_FILE} could not be refreshed: ZeroDivisionError: float division by zero"
    )
