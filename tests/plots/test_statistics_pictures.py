"""Pictures of a statistics folder (training curves, speed-up, comparison) and `python -m minidl.stats --plot`."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from picture_helpers import assert_picture, fake_run, make_fake_stats, make_real_stats, png_size, write_stats

from minidl import plots
from minidl.stats.cli import main

DOC = Path(__file__).resolve().parents[2] / "docs" / "statistics.md"

pytest.importorskip("matplotlib")


@pytest.fixture(scope="module")
def real_stats(tmp_path_factory):
    return make_real_stats(tmp_path_factory.mktemp("real_stats"))


@pytest.fixture
def fake_stats(tmp_path):
    return make_fake_stats(tmp_path / "stats")


def test_plot_statistics_from_real_runs(real_stats):
    folder, _ = real_stats
    paths = plots.plot_statistics(folder)
    assert [p.rsplit("/", 1)[1] for p in paths] == [
        "curves_tinyconv.png",
        "steps_tinyconv.png",
        "speedup.png",
        "scaling.png",
        "time_split.png",
        "compare.png",
    ]
    for path in paths:
        assert_picture(path)


def test_plot_statistics_from_hand_made_runs(fake_stats):
    paths = plots.plot_statistics(fake_stats)
    names = sorted(p.rsplit("/", 1)[1] for p in paths)
    assert names == [
        "compare.png",
        "curves_feedforward.png",
        "curves_lenet_conv1_max.png",
        "curves_lenet_conv2_avg.png",
        "scaling.png",
        "speedup.png",
        "time_split.png",
    ]  # hand-made runs record no steps' losses: no steps_<model>.png
    for path in paths:
        assert_picture(path)
    # one row of charts per model: the speed-up picture grows with the models
    assert png_size(fake_stats / "speedup.png")[1] > 2 * png_size(fake_stats / "curves_feedforward.png")[1]


def test_building_blocks_take_runs_and_mixed_setups(tmp_path):
    runs = [
        fake_run("m", 1, 1),
        fake_run("m", 1, 2),
        fake_run("m", 2, 3, batch_size=64),  # two setups
        fake_run("m", 2, 4, validation=False),
        fake_run("m", 1, 5, status="failed"),
        fake_run("other", 2, 6, validation=False),
        fake_run("other", 4, 7, validation=False),
    ]  # no 1-worker run
    assert_picture(plots.curves(runs[:4], tmp_path / "curves.png"))
    assert_picture(plots.speedup({"m": runs[:5], "other": runs[5:]}, tmp_path / "speedup.png"))
    assert_picture(plots.compare(runs, tmp_path / "compare.png"))


def test_nothing_to_plot(tmp_path):
    with pytest.raises(plots.NothingToPlot, match="nothing to draw"):
        plots.plot_statistics(tmp_path)
    write_stats(tmp_path, {"m": [fake_run("m", 1, 1, status="failed"), fake_run("m", 1, 2, status="interrupted")]})
    with pytest.raises(ValueError, match="2 run.*none finished"):
        plots.plot_statistics(tmp_path)


def test_stats_cli_plot(tmp_path, capsys):
    folder = write_stats(tmp_path, {"m": [fake_run("m", 1, 1), fake_run("m", 2, 2)]})
    assert main([str(folder), "--plot"]) == 0
    printed = capsys.readouterr().out.split()
    names = ("curves_m.png", "speedup.png", "scaling.png", "time_split.png", "compare.png")
    assert printed == [str(folder / name) for name in names]
    for path in printed:
        assert_picture(path)


def test_plot_and_report_draw_the_same_pictures_under_the_same_names(real_stats, tmp_path, capsys):
    """One folder, copied twice: `--plot` and `report` write the same PNG files, every kind of `PICTURES`,
    and the report shows each of them."""
    folder, _ = real_stats
    plotted, reported = shutil.copytree(folder, tmp_path / "plot"), shutil.copytree(folder, tmp_path / "report")
    for stale in [*plotted.glob("*.png"), *reported.glob("*.png")]:  # from other tests of the module's folder
        stale.unlink()
    assert main([str(plotted), "--plot"]) == 0
    assert main(["report", str(reported)]) == 0
    capsys.readouterr()
    names = sorted(path.name for path in plotted.glob("*.png"))
    assert names == sorted(path.name for path in reported.glob("*.png"))
    patterns = [pattern.replace("<model>", "tinyconv") for pattern, _ in plots.PICTURES]
    assert names == sorted(patterns)  # the real runs (1 and 2 workers, every step recorded) fill every picture
    report = (reported / "report.md").read_text()
    for name in names:
        assert f"![{plots.describe_picture(name)}]({name})" in report


def test_the_statistics_pictures_page_lists_every_picture_as_plots_names_it():
    """docs/statistics.md: one line per picture, `name` — what it shows, as `plots.PICTURES` says."""
    listed = re.findall(r"^- `([^`]+)` — (.+)$", DOC.read_text(encoding="utf-8"), flags=re.MULTILINE)
    assert listed == [(name, what) for name, what in plots.PICTURES]


def test_stats_cli_plot_on_empty_folder_exits_1(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "minidl.stats", "--plot", str(tmp_path)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 1
    assert "nothing to draw" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_step_curves_draw_each_runs_loss_and_accuracy_by_step(real_stats, tmp_path):
    from minidl.stats import load_runs

    folder, _ = real_stats
    runs, _, _ = load_runs(folder)
    assert all(len(run["step_metrics"]["loss"]) == len(run["timings"]["step_times"]) for run in runs)
    assert_picture(plots.step_curves(runs, tmp_path / "steps.png"))


def test_step_curves_need_runs_that_recorded_their_steps(tmp_path):
    with pytest.raises(plots.NothingToPlot, match="recorded its steps' losses"):
        plots.step_curves([fake_run("m", 1, 1)], tmp_path / "steps.png")  # older records have no step_metrics
    assert not (tmp_path / "steps.png").exists()


def test_smoothing_is_a_debiased_moving_average_that_skips_missing_steps():
    nan = float("nan")
    assert plots.smooth([3.0, 3.0, 3.0], 10).tolist() == pytest.approx([3.0, 3.0, 3.0])  # no pull toward 0
    smoothed = plots.smooth([0.0, nan, 10.0], 2)  # weight 1/2 per new value: (0.5 * 10) / (1 - 0.25)
    assert smoothed[0] == 0.0 and smoothed[1] != smoothed[1] and smoothed[2] == pytest.approx(20 / 3)
    assert plots.smooth([1.0, 5.0], 0.5).tolist() == [1.0, 5.0]  # a span under one step: the values themselves


def test_every_accuracy_axis_ends_at_100_percent(monkeypatch, tmp_path):
    """curves, step_curves and compare, with accuracies reaching exactly 100 %: the axis stops there
    (matplotlib's margin would take it to ~104 %), and nothing reaches beyond."""
    import minidl.plots.comparison
    import minidl.plots.training

    drawn = []
    for module in (minidl.plots.training, minidl.plots.comparison):
        monkeypatch.setattr(module, "save_figure", lambda fig, path: drawn.append(fig) or str(path))
    runs = [fake_run("m", workers, seed) for seed, workers in enumerate((1, 1, 2))]
    for run in runs:
        for epoch in run["epochs"]:
            epoch["accuracy"] = epoch["val_accuracy"] = 1.0
        run["step_metrics"] = {"loss": [0.1] * 30, "accuracy": [0.9, 1.0, 1.0] * 10}
    plots.curves(runs, tmp_path / "curves.png")
    plots.step_curves(runs, tmp_path / "steps.png")
    plots.compare({"m": runs}, tmp_path / "compare.png")
    accuracy_axes = [ax for fig in drawn for ax in fig.axes if "accuracy" in ax.get_ylabel()]
    assert len(accuracy_axes) == 3
    for ax in accuracy_axes:
        bottom, top = ax.get_ylim()
        assert top == 100 and 0 <= bottom < 100, (ax.get_ylabel(), bottom, top)
