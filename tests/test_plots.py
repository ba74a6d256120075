"""Tests of minidl.plots: every picture renders (Agg) to a valid PNG of sensible size, from a statistics
folder made by real short runs and from hand-made statistics; clear errors without matplotlib, without
runs and without convolutions; `python -m minidl.stats --plot`."""

from __future__ import annotations

import struct
import subprocess
import sys
import time

import numpy as np
import pytest

from minidl import Model, plots
from minidl.layers import AvgPool2D, Conv2D, Dense, Flatten, MaxPool2D
from minidl.stats import StatisticsTracker, dump_document, load_runs, main, new_document

pytest.importorskip("matplotlib")

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_size(path) -> tuple[int, int]:
    """(width, height) of a PNG file, checking its signature and that IHDR is its first chunk."""
    with open(path, "rb") as file:
        head = file.read(24)
    assert head[:8] == PNG_SIGNATURE, f"{path} is not a PNG"
    length, kind = struct.unpack(">I4s", head[8:16])
    assert kind == b"IHDR" and length == 13
    return struct.unpack(">II", head[16:24])


def assert_picture(path, min_size=(300, 200), max_size=(4000, 4000)):
    width, height = png_size(path)
    assert min_size[0] <= width <= max_size[0] and min_size[1] <= height <= max_size[1], (path, width, height)
    return width, height


# ----- statistics: real short runs and hand-made runs ---------------------------------------------
def tiny_conv_model(seed=0, channels=1, name="tinyconv"):
    model = Model(
        [
            Conv2D(4, 3, activation="relu", input_shape=(8, 8, channels)),
            MaxPool2D(2),
            Flatten(),
            Dense(3, activation="softmax"),
        ],
        name=name,
        seed=seed,
    )
    return model.compile("sgd", "sparse_categorical_crossentropy")


def tiny_data(seed=0, channels=1, count=48):
    rng = np.random.default_rng(seed)
    return rng.random((count, 8, 8, channels)).astype("float32"), rng.integers(0, 3, count)


@pytest.fixture(scope="module")
def real_stats(tmp_path_factory):
    """A statistics folder from real runs: a tiny conv model, twice with 1 worker and once with 2."""
    folder = tmp_path_factory.mktemp("real_stats")
    x, y = tiny_data()
    model = None
    for seed, workers in ((0, 1), (1, 1), (2, 2)):
        model = tiny_conv_model(seed)
        model.fit(
            x,
            y,
            batch_size=16,
            epochs=3,
            verbose=0,
            workers=workers,
            validation_data=(x[:16], y[:16]),
            callbacks=[StatisticsTracker(out_dir=folder, dataset="random", verbose=False)],
        )
    return folder, model


def fake_run(model, workers, seed, epochs=3, base_step=0.02, validation=True, batch_size=128, status="finished"):
    """A hand-made run: `epochs` epochs of 10 steps, faster with more workers, accuracy rising."""
    rng = np.random.default_rng(seed)
    steps = [float(t) for t in base_step / workers**0.8 * rng.lognormal(0, 0.2, 10 * epochs)]
    records = []
    for epoch in range(epochs):
        accuracy = 0.97 - 0.4 * np.exp(-1.5 * (epoch + 1)) + rng.normal(0, 0.005)
        records.append(
            {
                "epoch": epoch + 1,
                "steps": 10,
                "training_time": sum(steps[10 * epoch : 10 * epoch + 10]),
                "validation_time": 0.05 if validation else 0.0,
                "loss": 1.5 * np.exp(-epoch) + rng.normal(0, 0.02),
                "accuracy": accuracy,
                "val_loss": 1.6 * np.exp(-epoch) if validation else None,
                "val_accuracy": accuracy - 0.01 if validation else None,
            }
        )
    training = sum(r["training_time"] for r in records)
    validation_time = sum(r["validation_time"] for r in records)
    return {
        "id": f"{model}-{workers}-{seed}",
        "started": f"2025-01-01T10:{seed % 60:02d}:00+00:00",
        "status": status,
        "error": None,
        "settings": {
            "model": model,
            "setup": "feedbeef",
            "dataset": "mnist",
            "hostname": "host",
            "samples": 60000,
            "val_samples": 10000 if validation else 0,
            "batch_size": batch_size,
            "epochs": epochs,
            "backend": "pool",
            "workers": workers,
            "ranks": 1,
            "threads_per_worker": 1,
            "params": 1000,
            "optimizer": {"name": "sgd"},
            "loss": "sparse_categorical_crossentropy",
            "dtype": "float32",
        },
        "timings": {
            "step_times": steps,
            "epoch_times": [r["training_time"] + r["validation_time"] for r in records],
            "training_time": training,
            "validation_time": validation_time,
            "combined_time": training + validation_time,
            "run_time": training + validation_time,
        },
        "epochs": records,
        "epochs_completed": epochs,
    }


def write_stats(folder, runs_by_model):
    folder.mkdir(parents=True, exist_ok=True)
    for model, runs in runs_by_model.items():
        (folder / f"{model}.json").write_text(dump_document(new_document(model, runs)))
    return folder


@pytest.fixture
def fake_stats(tmp_path):
    """Hand-made statistics: three models, 1, 2 and 4 workers, two runs each."""
    runs = {
        model: [
            fake_run(model, workers, 10 * index + workers + 5 * repeat, base_step=0.01 * (index + 1))
            for workers in (1, 2, 4)
            for repeat in range(2)
        ]
        for index, model in enumerate(["lenet_conv2_avg", "lenet_conv1_max", "feedforward"])
    }
    return write_stats(tmp_path / "stats", runs)


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


# ----- inside the network ---------------------------------------------------------------------------
def test_filters_of_a_trained_model(real_stats, tmp_path):
    _, model = real_stats
    width, height = assert_picture(plots.filters(model, tmp_path / "filters.png"), min_size=(400, 150))
    assert width > height


def test_filters_per_input_channel(tmp_path):
    model = tiny_conv_model(channels=3)
    assert_picture(plots.filters(model, tmp_path / "filters.png"), min_size=(300, 300))


def test_filters_and_feature_maps_need_a_conv_layer(tmp_path):
    model = Model([Dense(3, activation="softmax", input_shape=(8,))], name="dense_only")
    with pytest.raises(ValueError, match="no Conv2D"):
        plots.filters(model, tmp_path / "f.png")
    with pytest.raises(ValueError, match="no Conv2D"):
        plots.feature_maps(model, np.zeros(8), tmp_path / "m.png")
    assert not list(tmp_path.iterdir())


def test_feature_maps_of_one_digit(lenet5, tmp_path):
    model = lenet5(seed=0)
    digit = np.random.default_rng(0).random((28, 28, 1)).astype("float32")
    width, height = assert_picture(plots.feature_maps(model, digit, tmp_path / "maps.png"), min_size=(800, 500))
    assert height < width  # input + 4 layers, the 16-channel layers on one line each


def test_feature_maps_reject_a_wrong_image(lenet5, tmp_path):
    with pytest.raises(ValueError, match=r"\(28, 28, 1\)"):
        plots.feature_maps(lenet5(seed=0), np.zeros((32, 32)), tmp_path / "maps.png")


def test_feature_maps_of_a_digit_without_channel_axis(tmp_path):
    model = Model(
        [Conv2D(2, 3, input_shape=(8, 8, 1)), AvgPool2D(2), Flatten(), Dense(3, activation="softmax")], name="small"
    )
    assert_picture(plots.feature_maps(model, np.ones((8, 8)), tmp_path / "maps.png"), min_size=(300, 200))


# ----- classification grid ------------------------------------------------------------------------
def test_tile_digits_colours_and_padding():
    images = np.zeros((5, 28, 28), np.float32)
    images[:, 10:18, 10:18] = 1.0  # a square of full ink in every digit
    labels = np.array([1, 2, 3, 4, 5])
    predictions = np.array([1, 2, 0, 4, 5])  # the third is wrong
    grid, wrong = plots.tile_digits(images, labels, predictions)
    assert wrong == 1 and grid.shape == (2 * 28, 3 * 28, 3) and grid.dtype == np.uint8
    ink_right, ink_wrong = grid[14, 14], grid[14, 2 * 28 + 14]
    assert ink_right[1] > 150 and ink_right[0] < 100  # green
    assert ink_wrong[0] > 200 and ink_wrong[1] < 120  # red
    assert tuple(grid[0, 0]) == (0, 0, 0)  # right: black background
    assert grid[0, 2 * 28][0] > 60 and grid[0, 2 * 28][1] == 0  # wrong: dark red background
    padding = grid[28 + 14, 2 * 28 + 14]  # sixth tile: padding, grey
    assert padding[0] == padding[1] == padding[2] and 0 < padding[0] < 100


def test_tile_digits_accepts_other_layouts():
    rng = np.random.default_rng(0)
    images = (rng.random((4, 28, 28, 1)) * 255).astype(np.uint8)
    one_hot = np.eye(10)[[1, 2, 3, 4]]
    grid, wrong = plots.tile_digits(images.reshape(4, 784), one_hot, np.array([1, 2, 3, 5]))
    assert grid.shape == (56, 56, 3) and wrong == 1
    with pytest.raises(ValueError, match="3 images but 4 labels"):
        plots.tile_digits(images[:3], np.arange(4), np.arange(4))
    with pytest.raises(ValueError, match="no images"):
        plots.tile_digits(np.zeros((0, 28, 28)), [], [])


def test_classification_grid_of_10000_digits_is_quick(tmp_path):
    rng = np.random.default_rng(0)
    images = np.zeros((10_000, 28, 28, 1), np.float32)  # digit-like: mostly empty, some ink
    images[:, 6:22, 12:16] = rng.random((10_000, 16, 4, 1), dtype=np.float32)
    labels = rng.integers(0, 10, 10_000)
    predictions = np.where(rng.random(10_000) < 0.05, (labels + 1) % 10, labels)
    started = time.perf_counter()
    path = plots.classification_grid(images, labels, predictions, tmp_path / "grid.png")
    assert time.perf_counter() - started < 10
    width, height = png_size(path)
    assert width == 100 * 28 and 100 * 28 + 20 < height < 100 * 28 + 150  # 100x100 tiles under a title


@pytest.mark.parametrize("count", [1, 7, 50])
def test_classification_grid_any_count(tmp_path, count):
    rng = np.random.default_rng(count)
    labels = rng.integers(0, 10, count)
    path = plots.classification_grid(rng.random((count, 28, 28)), labels, labels, tmp_path / "grid.png")
    width, height = png_size(path)
    assert width >= 640 and height >= width * 0.5  # small grids are scaled up, never squashed


# ----- without matplotlib ---------------------------------------------------------------------------
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
