"""``python -m minidl.stats report [DIR]``: report.md with its pictures from real short runs at 1 and 2
workers, tables alone (and how to get pictures) without matplotlib, and a plain word for a single run."""

from __future__ import annotations

import re
import struct
import sys

import numpy as np
import pytest

from minidl import Model
from minidl.layers import Dense
from minidl.stats import StatisticsTracker
from minidl.stats.cli import main


def train(folder, workers, seed):
    rng = np.random.default_rng(seed)
    x, y = rng.normal(size=(64, 8)).astype("float32"), rng.integers(0, 3, 64)
    model = Model([Dense(3, activation="softmax", input_shape=(8,))], name="tiny", seed=seed)
    model.compile("sgd", "sparse_categorical_crossentropy", metrics=["accuracy"])
    tracker = StatisticsTracker(out_dir=folder, dataset="random", verbose=False)
    model.fit(
        x, y, batch_size=16, epochs=2, verbose=0, workers=workers, validation_data=(x[:16], y[:16]), callbacks=[tracker]
    )


@pytest.fixture(scope="module")
def two_worker_counts(tmp_path_factory):
    folder = tmp_path_factory.mktemp("stats")
    for seed, workers in ((0, 1), (1, 2), (2, 1), (3, 2)):
        train(folder, workers, seed)
    return folder


def png_size(path):
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n", path
    return struct.unpack(">II", head[16:24])


def test_report_with_one_and_two_workers(two_worker_counts, capsys):
    pytest.importorskip("matplotlib")
    assert main(["report", str(two_worker_counts)]) == 0
    printed = capsys.readouterr().out.split("\n")
    report = (two_worker_counts / "report.md").read_text()
    assert printed[0] == f"wrote {two_worker_counts / 'report.md'}"
    assert "| pool, 1 worker," in report and "| pool, 2 workers," in report
    assert re.search(r"\| pool, 2 workers, [^|]+ \| 2 \| [\d.]+ \([\d.]+-[\d.]+\) \| [\d.]+x \(", report)
    assert "prediction (Amdahl's law: a model, not a measurement)" in report
    for name in ("scaling.png", "time_split.png", "curves_tiny.png", "steps_tiny.png"):
        assert f"({name})" in report
        width, height = png_size(two_worker_counts / name)
        assert width >= 600 and height >= 400
    assert "No pictures" not in report


def test_report_without_matplotlib_has_the_tables_and_says_how_to_get_pictures(tmp_path, monkeypatch, capsys):
    for name in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    train(tmp_path, 1, 0)
    train(tmp_path, 2, 1)
    assert main(["report", str(tmp_path)]) == 0
    report = (tmp_path / "report.md").read_text()
    assert "**No pictures:** pictures need matplotlib: pip install 'minidl[plot]'" in report
    assert f"python -m minidl.stats report {tmp_path}" in report
    assert "| pool, 2 workers," in report and not list(tmp_path.glob("*.png"))
    assert "no pictures: pictures need matplotlib" in capsys.readouterr().err


def test_report_of_a_single_run_says_no_speedup_is_possible(tmp_path):
    train(tmp_path, 1, 0)
    assert main(["report", str(tmp_path)]) == 0
    report = (tmp_path / "report.md").read_text()
    assert "No speed-up can be computed: all 1 run(s) here used one process." in report
    assert "only one-worker runs here" in report
    assert not (tmp_path / "scaling.png").exists()  # nothing to draw a speed-up from


def test_report_of_an_empty_folder_exits_1(tmp_path, capsys):
    assert main(["report", str(tmp_path)]) == 1
    assert "no finished or stopped runs" in capsys.readouterr().err
    assert not (tmp_path / "report.md").exists()
