"""Pictures of a statistics folder (training curves, speed-up, comparison) and `python -m minidl.stats --plot`."""

from __future__ import annotations

import subprocess
import sys

import pytest
from picture_helpers import assert_picture, fake_run, make_fake_stats, make_real_stats, png_size, write_stats

from minidl import plots
from minidl.stats.cli import main

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
    assert [p.rsplit("/", 1)[1] for p in paths] == ["curves_tinyconv.png", "speedup.png", "compare.png"]
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
        "speedup.png",
    ]
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
    assert printed == [str(folder / name) for name in ("curves_m.png", "speedup.png", "compare.png")]
    for path in printed:
        assert_picture(path)


def test_stats_cli_plot_on_empty_folder_exits_1(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "minidl.stats", "--plot", str(tmp_path)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 1
    assert "nothing to draw" in result.stderr
    assert list(tmp_path.iterdir()) == []
