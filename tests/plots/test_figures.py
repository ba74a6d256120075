"""minidl.plots.figures: importing minidl.plots without matplotlib, and the clear error every picture gives then."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from picture_helpers import make_fake_stats, tiny_conv_model

from minidl import plots
from minidl.stats import load_runs
from minidl.stats.cli import main

pytest.importorskip("matplotlib")


@pytest.fixture
def fake_stats(tmp_path):
    return make_fake_stats(tmp_path / "stats")


def test_import_works_without_matplotlib():
    code = (
        "import sys; sys.modules['matplotlib'] = None; import minidl.plots as p; "
        "assert issubclass(p.MissingMatplotlib, ImportError); print('ok')"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_every_picture_needs_matplotlib(monkeypatch, tmp_path, fake_stats):
    for name in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.setitem(sys.modules, name, None)
    model = tiny_conv_model()
    calls = [
        lambda: plots.plot_statistics(fake_stats),
        lambda: plots.curves(load_runs(fake_stats)[0], tmp_path / "c.png"),
        lambda: plots.speedup(load_runs(fake_stats)[0], tmp_path / "s.png"),
        lambda: plots.compare(load_runs(fake_stats)[0], tmp_path / "m.png"),
        lambda: plots.filters(model, tmp_path / "f.png"),
        lambda: plots.feature_maps(model, np.zeros((8, 8, 1)), tmp_path / "fm.png"),
        lambda: plots.classification_grid(np.zeros((2, 28, 28)), [1, 2], [1, 2], tmp_path / "g.png"),
    ]
    for call in calls:
        with pytest.raises(plots.MissingMatplotlib, match=r"pictures need matplotlib: pip install 'minidl\[plot\]'"):
            call()
    assert not list(tmp_path.glob("*.png"))
    assert sorted(p.name for p in fake_stats.iterdir() if p.suffix == ".png") == []


def test_stats_cli_plot_without_matplotlib(monkeypatch, fake_stats, capsys):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    assert main([str(fake_stats), "--plot"]) == 1
    assert "pip install 'minidl[plot]'" in capsys.readouterr().err
