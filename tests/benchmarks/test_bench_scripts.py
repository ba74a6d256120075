"""The benchmark scripts run, compare like with like, and print the tables they promise.

They are not timed here (timings belong to the scripts' own tables); these tests only make sure a
refactoring of minidl cannot silently break an option, and that minidl and PyTorch are built with
the same activations.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def bench_layers():
    spec = importlib.util.spec_from_file_location("bench_layers", BENCHMARKS / "bench_layers.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_script(*args):
    result = subprocess.run(
        [sys.executable, str(BENCHMARKS / args[0]), *args[1:]],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout + result.stderr


@pytest.mark.parametrize("name", ["feedforward", "conv1", "conv2", "lenet", "keras"])
def test_minidl_models_use_the_activation_the_torch_models_are_built_with(name):
    from minidl.layers import Conv2D, Dense

    module = bench_layers()
    model = module.build_minidl(name)
    hidden = [layer for layer in model.layers if isinstance(layer, (Conv2D, Dense))][:-1]
    assert hidden
    names = {type(layer.activation).__name__.lower() for layer in hidden}
    assert names == {module.ACTIVATIONS[name]}, (name, names)


def test_epoch_table_runs_without_torch():
    options = ["--no-torch", "--samples", "256", "--rounds", "1", "--models", "feedforward,lenet"]
    out = run_script("bench_layers.py", *options)
    assert "load average before" in out and "load average after" in out
    assert "FeedForward 784-120-84-10 tanh" in out and "LeNet-5 (two conv + avg pool), ReLU" in out
    assert "threads while timing: 1" in out


def test_per_layer_table_runs_without_torch():
    out = run_script("bench_layers.py", "--no-torch", "--per-layer", "--layer-repeat", "1", "--models", "lenet,keras")
    for layer in (
        "Conv2D (28, 28, 6)",
        "AveragePooling2D (14, 14, 6)",
        "Conv2D (26, 26, 32)",
        "MaxPooling2D (5, 5, 64)",
    ):
        assert layer in out, out
    assert "fwd GFLOP/s" in out


@pytest.mark.parametrize("threads", [1, 2])
def test_the_minidl_trainer_runs_with_the_threads_it_is_given(threads):
    """fit sets its own BLAS thread count, so the benchmark must pass it on, not limit around fit."""
    import numpy as np

    module = bench_layers()
    rng = np.random.default_rng(0)
    x, y = rng.random((64, 28, 28, 1), dtype=np.float32), rng.integers(0, 10, 64)
    epoch = module.minidl_trainer("feedforward", x, y, 16, threads=threads)
    epoch()
    assert epoch.model.history.params["threads_per_worker"] == threads


def bench_floor():
    spec = importlib.util.spec_from_file_location("bench_floor", BENCHMARKS / "bench_floor.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_bare_numpy_step_is_the_same_training_as_minidls():
    """The floor is only a floor if it computes what minidl computes: same weights after 3 steps."""
    import numpy as np

    module = bench_floor()
    rng = np.random.default_rng(0)
    x, y = rng.random((96, 28, 28, 1), dtype=np.float32), rng.integers(0, 10, 96)
    model, weights = module.initial_weights()
    model.compile(__import__("minidl").optimizers.SGD(0.05, momentum=0.9), "sparse_categorical_crossentropy")
    model.fit(x, y, batch_size=32, epochs=1, shuffle=False, verbose=0)
    bare = module.BareFeedForward(weights, np.float32, 32)
    losses = [bare.step(x[i : i + 32].reshape(32, -1), y[i : i + 32]) for i in range(0, 96, 32)]
    assert all(np.isfinite(losses))
    np.testing.assert_allclose(bare.theta, model.parameters, rtol=1e-4, atol=1e-6)
    assert not np.allclose(bare.theta, np.concatenate([w.ravel() for w in weights])), "it trained"


def test_floor_tables_run_without_torch():
    out = run_script("bench_floor.py", "--no-torch", "--samples", "512", "--rounds", "1")
    for text in (
        "bare NumPy",
        "Dense 784->120 forward",
        "Conv2D 28x28x1->28x28x6 kernel gradient",
        "sum: a floor",
        "whole bare",
    ):
        assert text in out, text


def test_scenario_table_runs_and_shows_the_communication_free_bound():
    out = run_script("bench_parallel.py", "--scenarios", "--workers", "2", "--samples", "512", "--no-torch")
    for text in ("epoch+val", "60 steps", "speed-up, comm. free", "first step s", "Load average"):
        assert text in out, text


def test_recurrent_step_and_layer_tables():
    pytest.importorskip("torch")
    out = run_script("bench_recurrent.py", "--sizes", "4x5x3x4", "--rounds", "1", "--steps", "2", "--cells", "lstm,gru")
    assert "LSTM(4) on 4x5x3" in out and "GRU(4) on 4x5x3" in out and "ratio CPU" in out
    assert "load average before" in out and "load average after" in out
    out = run_script("bench_recurrent.py", "--sizes", "4x5x3x4", "--rounds", "1", "--layer")
    assert "minidl bwd" in out and "torch bwd" in out


def test_lstm_task_runs_without_keras():
    out = run_script("bench_lstm_keras.py", "--no-keras", "--seeds", "0", "--samples", "200", "--epochs", "1")
    assert "minidl test accuracy" in out and "median" in out


def test_naive_vs_fast_checks_and_prints_both_tables():
    """Every fast layer is checked against its loop twin before timing (tiny batch: the loops are slow)."""
    out = run_script("bench_naive_vs_fast.py", "--batch", "2", "--repeat", "1")
    for row in (
        "LeNet-5 training step",
        "Conv2D 16×3×3 dilation 2",
        "DepthwiseConv2D",
        "SeparableConv2D",
        "Conv2DTranspose",
        "UpSampling2D 2 bilinear",
        "Cropping2D",
        "Reshape",
        "Permute",
        "RepeatVector",
        "GlobalMaxPooling2D",
    ):
        assert f"| {row}" in out or f"| **{row}" in out, (row, out[-2000:])
    assert "Load average" in out


def test_tensorboard_cost_table_runs():
    pytest.importorskip("tensorboard", reason="the tensorboard extra is not installed")
    out = run_script("bench_tensorboard.py", "--samples", "256", "--rounds", "1")
    assert "load average before" in out and "load average after" in out
    assert "one epoch of 256 samples (2 steps of 128)" in out
    for row in ("no callback", "TensorBoard()", 'TensorBoard(update_freq="batch")', "tracker"):
        assert row in out, out
    assert "< 2 %" in out and "< 5 %" in out and "tracker + trainings' --tensorboard" in out


def test_contended_table_runs_and_stops_its_competitor():
    out = run_script(
        "bench_parallel.py", "--contended", "--rounds", "1", "--samples", "512", "--workers", "2",
        "--batch-sizes", "64", "--variants", "equal",
    )  # fmt: skip
    for text in ("none started", "1 busy process", "speed-up by round", "pieces by process", "off CPU", "Load average"):
        assert text in out, text
    assert "equal" in out
    pids = [int(pid) for pid in out.rsplit("Competitor pids (stopped): [", 1)[1].split("]")[0].split(",")]
    assert len(pids) == 1
    assert not os.path.exists(f"/proc/{pids[0]}") or "Z" in open(f"/proc/{pids[0]}/stat").read().rpartition(")")[2][:3]


def test_wake_table_runs():
    out = run_script("bench_parallel.py", "--wake", "--rounds", "1", "--spins", "0,0.0002", "--wake-steps", "20")
    for text in ("sleep at once", "200 µs", "worker wake-up µs", "parent wake-up µs", "1 busy process", "Load average"):
        assert text in out, text


def test_piece_cost_table_runs():
    out = run_script("bench_parallel.py", "--piece-cost", "--rounds", "1", "--batch-sizes", "16")
    for text in ("CPU ms a batch", "fixed cost a piece, ms", "Load average"):
        assert text in out, text
