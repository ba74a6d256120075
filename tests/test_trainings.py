"""End-to-end tests of the experiment scripts in trainings/ (issue 6).

Every script runs as a user would start it: `python trainings/<script>.py ...` in a subprocess, on
real MNIST (from $MINIDL_DATA_DIR; the tests that need it skip otherwise), with tmp_path as working
directory and statistics folder. Runs are kept short (`--limit 500 --epochs 1`); the LeNet-5 run is
shared by the tests that need a trained, saved model. Checked: exit codes (0, 2 for bad flags, 130
for Ctrl-C), what is printed, the statistics files, the saved model, the classification picture and,
for Ctrl-C, that no worker process and no shared-memory segment outlives the script.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import re
import signal
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from suite_helpers import real_mnist_dir

ROOT = Path(__file__).resolve().parents[1]
TRAININGS = ROOT / "trainings"
TRAINING_SCRIPTS = ("training_feedforward.py", "training_convolve.py", "training_full.py")
COMMON_FLAGS = (
    "--epochs",
    "--batch-size",
    "--lr",
    "--decay",
    "--activation",
    "--optimizer",
    "--momentum",
    "--val-limit",
    "--workers",
    "--backend",
    "--seed",
    "--limit",
    "--data-dir",
    "--stats-dir",
    "--tensorboard",
    "--save",
    "--plot",
    "--show-filters",
    "--quiet",
)
CLASSIFY_FLAGS = (
    "--model",
    "--count",
    "--workers",
    "--batch-size",
    "--picture",
    "--limit",
    "--data-dir",
    "--seed",
    "--quiet",
)
OWN_FLAGS = {
    "classify.py": CLASSIFY_FLAGS,
    "reproduce_original.py": (
        "--epochs",
        "--limit",
        "--workers",
        "--threads",
        "--repeat",
        "--data-dir",
        "--stats-dir",
        "--skip-tuned",
    ),
    "sweep.py": ("--script", "--workers", "--repeat", "--backend", "--threads", "--seed", "--stats-dir"),
}
QUICK = ("--limit", "500", "--epochs", "1", "--seed", "0")
ACCURACY_LINE = re.compile(
    r"^workers (\d+)\s+items (\d+)\s+time [\d.]+ s\s+[\d,]+ images/s\s+accuracy ([\d.]+)%$", re.MULTILINE
)


# ----- helpers -----
def data_dir_or_skip() -> str:
    """$MINIDL_DATA_DIR, resolved: skips when unset, fails loudly when set but incomplete (suite_helpers)."""
    return str(real_mnist_dir())


def script_env(data_dir=None, **extra) -> dict:
    """The environment of a script: ours, MNIST from `data_dir`, unbuffered output (lines arrive as printed)
    and rich output 200 columns wide, so long lines (paths in tmp_path) are not wrapped."""
    env = dict(os.environ, PYTHONUNBUFFERED="1", COLUMNS="200", **extra)
    if data_dir is not None:
        env["MINIDL_DATA_DIR"] = str(data_dir)
    return env


def run_script(script, *args, cwd, data_dir=None, env=None, timeout=180) -> subprocess.CompletedProcess:
    """Run trainings/<script> with `args` in `cwd`; returns the finished process (text output)."""
    return subprocess.run(
        [sys.executable, str(TRAININGS / script), *map(str, args)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env or script_env(data_dir),
    )


def explain(result) -> str:
    """Both outputs of a finished script, for assertion messages."""
    return f"exit code {result.returncode}\n--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"


def last_run(stats_file: Path) -> dict:
    document = json.loads(stats_file.read_text())
    assert document["format"] == "minidl-stats", document.get("format")
    return document["runs"][-1]


def check_finished_run(result, stats_dir: Path, name: str, workers: int, samples: int = 500):
    """The script exited 0, printed what the issue lists and recorded one finished run of `name`."""
    assert result.returncode == 0, explain(result)
    out = result.stdout
    assert f'Model: "{name}"' in out, out  # the model summary, as Keras prints it
    # Keras's progress lines (fit's verbose=1; only the final one per epoch when not on a terminal).
    assert re.search(r"^Epoch 1/1$", out, re.MULTILINE), out
    progress = (
        r"^\d+/\d+ ━+ \d+s \d+(ms|us|s)/step"
        r" - accuracy: [\d.]+ - loss: [\d.]+ - val_accuracy: [\d.]+ - val_loss: [\d.]+$"
    )
    assert re.search(progress, out, re.MULTILINE), out
    assert re.search(rf"^Statistics of this run saved to \S*{name}\.json$", out, re.MULTILINE), out
    assert "runs counted (finished or stopped)" in out and "epoch time with validation, s" in out, out  # its table
    assert re.search(rf"^{name}: test accuracy [\d.]+% .* with {workers} worker\(s\)$", out, re.MULTILINE), out
    assert "Traceback" not in result.stderr, result.stderr
    run = last_run(stats_dir / f"{name}.json")
    assert run["status"] == "completed"
    settings = run["settings"]
    assert (settings["model"], settings["workers"], settings["samples"], settings["epochs"]) == (
        name,
        workers,
        samples,
        1,
    )
    assert settings["dataset"] == "mnist" and settings["val_samples"] == samples  # --limit caps validation too
    assert len(run["epochs"]) == 1 and run["epochs"][0]["val_accuracy"] is not None
    assert name in (stats_dir / "averages.txt").read_text()


def png_size(path: Path) -> tuple[int, int]:
    """(width, height) from a PNG's signature and IHDR chunk; fails the test if it is not a PNG."""
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG: {head[:8]!r}"
    length, kind, width, height = struct.unpack(">I4sII", head[8:24])
    assert (length, kind) == (13, b"IHDR"), (length, kind)
    return width, height


def plots_importable() -> bool:
    try:
        import minidl.plots  # noqa: F401
    except ImportError:
        return False
    return True


def matplotlib_importable() -> bool:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def load_script(name, monkeypatch):
    """Import trainings/<name>.py as a module (its `import common` finds trainings/common.py)."""
    import importlib

    monkeypatch.syspath_prepend(str(TRAININGS))
    return importlib.import_module(name)


# ----- the shared LeNet-5 run -----
@pytest.fixture(scope="module")
def lenet_run(tmp_path_factory):
    """training_full.py with its defaults (classic LeNet-5), 2 workers, default stats folder, --save."""
    data_dir = data_dir_or_skip()
    folder = tmp_path_factory.mktemp("lenet")
    result = run_script(
        "training_full.py", *QUICK, "--workers", "2", "--save", "model.npz", cwd=folder, data_dir=data_dir
    )
    return folder, data_dir, result


# ----- each script end to end -----
def test_training_full_defaults_to_classic_lenet5_and_records_workers(lenet_run):
    folder, _, result = lenet_run
    check_finished_run(result, folder / "stats_out", "lenet_conv2_avg", workers=2)  # stats_out: the default
    assert "61,706" in result.stdout  # classic LeNet-5's parameter count
    assert "model saved to model.npz" in result.stdout
    assert (folder / "model.npz").is_file()


@pytest.mark.parametrize(
    "script, flags, name",
    [
        ("training_feedforward.py", (), "feedforward_tanh"),
        ("training_convolve.py", ("--conv", "2"), "convolve_conv2"),
    ],
)
def test_training_script_end_to_end(script, flags, name, tmp_path):
    data_dir = data_dir_or_skip()
    stats_dir = tmp_path / "stats"
    result = run_script(script, *QUICK, *flags, "--stats-dir", stats_dir, cwd=tmp_path, data_dir=data_dir)
    check_finished_run(result, stats_dir, name, workers=1)
    assert not (tmp_path / "stats_out").exists()  # --stats-dir was obeyed


def test_show_filters_on_a_model_without_convolution_is_a_message_not_a_crash(tmp_path):
    data_dir = data_dir_or_skip()
    result = run_script(
        "training_feedforward.py",
        "--limit",
        "200",
        "--epochs",
        "1",
        "--activation",
        "relu",
        "--quiet",
        "--show-filters",
        "--stats-dir",
        tmp_path,
        cwd=tmp_path,
        data_dir=data_dir,
    )
    assert result.returncode == 0, explain(result)
    assert "Traceback" not in result.stderr, result.stderr
    assert re.search(r"^no pictures: .*(Conv2D|matplotlib)", result.stderr, re.MULTILINE), result.stderr
    assert "Model: " not in result.stdout  # --quiet: no model summary
    assert last_run(tmp_path / "feedforward_relu.json")["status"] == "completed"


# ----- architectures and names (in-process, no training) -----
def test_variants_are_named_apart_and_have_the_issues_layers(monkeypatch):
    full, convolve, feedforward = (
        load_script(name, monkeypatch) for name in ("training_full", "training_convolve", "training_feedforward")
    )

    def shapes(module, **flags):
        model = module.build_model(argparse.Namespace(seed=0, **flags))
        return model.name, [(row["class"], tuple(row["output_shape"])) for row in model.summary_rows()], model

    name, layers, _ = shapes(full, conv=2, pool="avg", activation="relu")
    assert name == "lenet_conv2_avg"
    assert layers == [
        ("Conv2D", (28, 28, 6)),
        ("AveragePooling2D", (14, 14, 6)),
        ("Conv2D", (10, 10, 16)),
        ("AveragePooling2D", (5, 5, 16)),
        ("Flatten", (400,)),
        ("Dense", (120,)),
        ("Dense", (84,)),
        ("Dense", (10,)),
    ]
    name, layers, _ = shapes(full, conv=1, pool="max", activation="relu")
    assert name == "lenet_conv1_max"
    assert layers[:3] == [("Conv2D", (28, 28, 6)), ("MaxPooling2D", (14, 14, 6)), ("Flatten", (1176,))]
    name, layers, _ = shapes(convolve, conv=1, activation="relu")
    assert name == "convolve_conv1" and layers[:2] == [("Conv2D", (28, 28, 6)), ("Flatten", (4704,))]
    name, layers, _ = shapes(convolve, conv=2, activation="relu")  # 6@5x5 same, then 16@5x5 valid, no pooling
    assert name == "convolve_conv2" and layers[:3] == [
        ("Conv2D", (28, 28, 6)),
        ("Conv2D", (24, 24, 16)),
        ("Flatten", (9216,)),
    ]
    for activation in ("tanh", "relu"):
        name, layers, model = shapes(feedforward, activation=activation)
        assert name == f"feedforward_{activation}"
        assert layers == [("Flatten", (784,)), ("Dense", (120,)), ("Dense", (84,)), ("Dense", (10,))]
        assert [layer.get_config()["activation"] for layer in model.layers[1:]] == [activation, activation, "softmax"]

    import common

    parser = common.make_parser("", {})
    full.add_flags(parser)
    defaults = parser.parse_args([])
    assert (defaults.conv, defaults.pool, defaults.stats_dir, defaults.workers) == (2, "avg", "stats_out", 1)
    assert common.make_parser("", feedforward.DEFAULTS).parse_args([]).activation == "tanh"
    name, _, model = shapes(full, conv=2, pool="avg", activation="sigmoid")
    assert name == "lenet_conv2_avg_sigmoid"
    assert {layer.get_config().get("activation") for layer in model.layers[:-1]} - {None} == {"sigmoid"}
    assert shapes(convolve, conv=2, activation="tanh")[0] == "convolve_conv2_tanh"


def test_tensorboard_flag_writes_the_run_for_tensorboard_step_by_step(tmp_path):
    pytest.importorskip("tensorboard", reason="the tensorboard extra is not installed")
    from tensorboard_helpers import as_float32, scalars

    data_dir = data_dir_or_skip()
    stats_dir, board = tmp_path / "stats", tmp_path / "tb"
    result = run_script(
        "training_feedforward.py", *QUICK, "--stats-dir", stats_dir, "--tensorboard", board, cwd=tmp_path,
        data_dir=data_dir,
    )  # fmt: skip
    assert result.returncode == 0, explain(result)
    [folder] = board.iterdir()
    assert re.fullmatch(r"feedforward_tanh_pool_1worker_1thread_\d{4}-\d\d-\d\d_\d\d-\d\d-\d\d", folder.name)
    assert f"TensorBoard: writing {folder} (watch it: tensorboard --logdir {board})" in result.stdout
    # The first one-worker run of its setup: nothing to measure a speed-up against yet, and it says so.
    assert sorted(p.name for p in folder.iterdir()) == ["train", "validation"]
    assert "no finished one-worker run of this setup" in result.stderr
    run = last_run(stats_dir / "feedforward_tanh.json")
    train = scalars(folder / "train")
    assert train["epoch_loss"] == [(0, as_float32([run["epochs"][0]["loss"]])[0])]
    assert scalars(folder / "validation")["epoch_accuracy"] == [(0, as_float32([run["epochs"][0]["val_accuracy"]])[0])]
    steps = len(run["timings"]["step_times"])
    assert [step for step, _ in train["batch_loss"]] == list(range(1, steps + 1))
    assert len(train["minidl/compute_seconds"]) == steps  # the one-process runner's timings reach the callback


def test_tensorboard_flag_on_a_file_is_refused_before_training(tmp_path):
    pytest.importorskip("tensorboard", reason="the tensorboard extra is not installed")
    (tmp_path / "taken").write_text("a file")
    result = run_script("training_full.py", "--tensorboard", tmp_path / "taken", cwd=tmp_path, timeout=60)
    assert result.returncode == 2, explain(result)
    assert (
        result.stderr.strip()
        == f"training_full.py: error: --tensorboard {str(tmp_path / 'taken')!r}: is a file, not a folder"
    )


# ----- flags -----
@pytest.mark.parametrize(
    "script, args, expected",
    [
        ("training_full.py", ("--conv", "3"), "--conv"),
        ("training_convolve.py", ("--conv", "3"), "--conv"),
        ("training_full.py", ("--pool", "min"), "--pool"),
        ("training_full.py", ("--workers", "0"), "--workers"),
        ("training_full.py", ("--workers", "100000", "--batch-size", "64"), "--workers: 100000 workers for batches"),
        ("training_feedforward.py", ("--batch-size", "-1"), "--batch-size"),
        ("training_convolve.py", ("--epochs", "two"), "--epochs"),
        ("training_full.py", ("--lr", "0"), "--lr"),
        ("training_full.py", ("--decay", "-1"), "--decay"),
        ("training_full.py", ("--decay", "nan"), "--decay"),
        ("training_full.py", ("--activation", "softplus"), "--activation"),
        ("training_convolve.py", ("--optimizer", "rmsprop"), "--optimizer"),
        ("training_feedforward.py", ("--optimizer", "sgd", "--momentum", "0.9"), "--momentum"),
        ("training_full.py", ("--optimizer", "momentum", "--momentum", "1.5"), "--momentum"),
        ("training_full.py", ("--optimizer", "adam", "--decay", "0.01"), "--decay"),
        ("training_full.py", ("--val-limit", "0"), "--val-limit"),
        ("training_full.py", ("--data-dir", "{missing}"), "--data-dir"),
        ("training_feedforward.py", ("--save", "{missing}/model.npz"), "--save"),  # before training, not after
        ("classify.py", ("--workers", "0"), "--workers"),
        ("classify.py", ("--model", "{missing}"), "--model"),
    ],
)
def test_bad_flags_give_one_line_and_exit_code_2(script, args, expected, tmp_path):
    args = [arg.format(missing=tmp_path / "missing") for arg in args]
    result = run_script(script, *args, cwd=tmp_path, timeout=60)
    assert result.returncode == 2, explain(result)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, explain(result)
    assert lines[0].startswith(f"{script}: error: ") and expected in lines[0], lines[0]
    assert result.stdout == ""
    assert not (tmp_path / "stats_out").exists()


@pytest.mark.parametrize("script", [*TRAINING_SCRIPTS, "classify.py", "reproduce_original.py", "sweep.py"])
def test_help_explains_every_flag_with_its_default(script, tmp_path):
    result = run_script(script, "--help", cwd=tmp_path, timeout=60)
    assert result.returncode == 0, explain(result)
    options = result.stdout.split("options:", 1)[1]
    # One block per option: its line(s) starting "  -" and the indented help below them.
    blocks = {}
    for block in filter(str.strip, re.split(r"\n(?=  -)", options)):
        invocation = re.split(r"\s{2,}", block.strip().splitlines()[0])[0]  # e.g. "--batch-size BATCH_SIZE"
        for flag in re.findall(r"--[a-z][a-z-]*", invocation):
            blocks[flag] = " ".join(block.split())
    for flag in OWN_FLAGS.get(script, COMMON_FLAGS):
        assert flag in blocks, f"{script} --help does not mention {flag}:\n{result.stdout}"
        assert "(default:" in blocks[flag], f"{script} --help gives no default for {flag}: {blocks[flag]}"
        assert blocks[flag].count("(default:") == 1, f"{flag}: the default is given twice: {blocks[flag]}"


# ----- classify.py -----
def test_classify_saved_model_with_workers(lenet_run):
    folder, data_dir, trained = lenet_run
    assert trained.returncode == 0, explain(trained)
    result = run_script(
        "classify.py", "--model", "model.npz", "--count", "300", "--workers", "2", cwd=folder, data_dir=data_dir
    )
    assert result.returncode == 0, explain(result)
    match = ACCURACY_LINE.search(result.stdout)
    assert match, result.stdout
    assert (match[1], match[2]) == ("2", "300")
    assert 0 <= float(match[3]) <= 100
    assert "Traceback" not in result.stderr, result.stderr


@pytest.mark.skipif(not plots_importable(), reason="minidl.plots is not importable (not written yet?)")
@pytest.mark.skipif(not matplotlib_importable(), reason="matplotlib (the plot extra) is not installed")
def test_classify_picture_is_a_png_of_the_grid_size(lenet_run):
    folder, data_dir, trained = lenet_run
    assert trained.returncode == 0, explain(trained)
    result = run_script(
        "classify.py",
        "--model",
        "model.npz",
        "--count",
        "300",
        "--picture",
        "grid.png",
        "--quiet",
        cwd=folder,
        data_dir=data_dir,
    )
    assert result.returncode == 0, explain(result)
    assert "picture saved to grid.png" in result.stdout
    width, height = png_size(folder / "grid.png")
    # 300 digits: ceil(sqrt(300)) = 18 columns x 17 rows of 28-pixel digits over their caption strips, one
    # image pixel per picture pixel, scaled x2 to reach at least 640 pixels across, plus a title band above.
    from minidl.plots.grid import CAPTION_PIXELS

    tall = 28 + CAPTION_PIXELS
    assert width == 18 * 28 * 2
    assert 17 * tall * 2 < height <= 17 * tall * 2 + 100
    assert result.stdout.splitlines()[0].startswith("workers 1  items 300"), result.stdout  # --quiet: no progress


@pytest.mark.skipif(not plots_importable(), reason="minidl.plots is not importable (not written yet?)")
def test_classify_picture_without_matplotlib_is_a_clear_message(lenet_run, tmp_path):
    folder, data_dir, trained = lenet_run
    assert trained.returncode == 0, explain(trained)
    blocker = tmp_path / "no_matplotlib" / "matplotlib"
    blocker.mkdir(parents=True)
    (blocker / "__init__.py").write_text("raise ImportError('matplotlib is hidden by the test')\n")
    env = script_env(
        data_dir, PYTHONPATH=os.pathsep.join(filter(None, [str(blocker.parent), os.environ.get("PYTHONPATH")]))
    )
    result = run_script(
        "classify.py", "--model", folder / "model.npz", "--count", "50", "--picture", "grid.png", cwd=tmp_path, env=env
    )
    assert result.returncode == 1, explain(result)
    assert ACCURACY_LINE.search(result.stdout), result.stdout  # the classification itself still ran
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "matplotlib" in lines[0] and "minidl[plot]" in lines[0], result.stderr
    assert not (tmp_path / "grid.png").exists()


def test_classify_without_model_trains_a_quick_one(tmp_path):
    data_dir = data_dir_or_skip()
    result = run_script("classify.py", "--limit", "500", "--count", "200", "--quiet", cwd=tmp_path, data_dir=data_dir)
    assert result.returncode == 0, explain(result)
    match = ACCURACY_LINE.search(result.stdout)
    assert match and (match[1], match[2]) == ("1", "200"), result.stdout


# ----- Ctrl-C -----
def _restore_default_sigint():
    """In the child before exec: Ctrl-C must raise KeyboardInterrupt even when pytest was started with SIGINT
    ignored (e.g. as a background job of a non-interactive shell), which the script would inherit."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _pump(stream, lines: queue.Queue):
    for line in stream:
        lines.put(line)
    lines.put(None)


def _drain(lines: queue.Queue):
    """What is in the queue now, without waiting."""
    while True:
        try:
            yield lines.get_nowait()
        except queue.Empty:
            return


def _process_identity(pid):
    """(start time, state) of a process from /proc, or None when there is no such process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    fields = stat.rsplit(")", 1)[1].split()
    return fields[19], fields[0]  # starttime (field 22), state (field 3)


def _shared_segments(pids) -> set[str]:
    """The /dev/shm/psm_* segments (multiprocessing.shared_memory) mapped by these processes."""
    segments = set()
    for pid in pids:
        try:
            maps = Path(f"/proc/{pid}/maps").read_text()
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
        segments.update(line.split()[-1] for line in maps.splitlines() if "/dev/shm/psm_" in line)
    return segments


@pytest.mark.skipif(
    not Path("/proc/self/maps").exists() or sys.platform != "linux",
    reason="needs Linux /proc to find the worker processes and their shared memory",
)
def test_ctrl_c_stops_workers_records_interrupted_and_exits_130(tmp_path):
    data_dir = data_dir_or_skip()
    stats_dir = tmp_path / "stats"
    process = subprocess.Popen(
        [
            sys.executable,
            str(TRAININGS / "training_full.py"),
            "--workers",
            "2",
            "--limit",
            "6000",
            "--epochs",
            "100",
            "--seed",
            "0",
            "--stats-dir",
            str(stats_dir),
        ],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=script_env(data_dir),
        start_new_session=False,
        preexec_fn=_restore_default_sigint,
    )
    out_lines, err_lines = queue.Queue(), queue.Queue()
    pumps = [
        threading.Thread(target=_pump, args=(stream, lines), daemon=True)
        for stream, lines in ((process.stdout, out_lines), (process.stderr, err_lines))
    ]
    for pump in pumps:
        pump.start()
    try:
        printed, deadline = [], time.monotonic() + 90
        while not any(line.startswith("Epoch 1/") for line in printed):
            assert time.monotonic() < deadline, "training did not start:\n" + "".join(printed)
            try:
                line = out_lines.get(timeout=1)
            except queue.Empty:
                continue
            assert line is not None, f"the script ended before training (exit {process.wait()}):\n" + "".join(printed)
            printed.append(line)
        time.sleep(1.5)  # well inside the first epoch's steps
        children = subprocess.run(["pgrep", "-P", str(process.pid)], capture_output=True, text=True).stdout.split()
        identities = {pid: identity for pid in children if (identity := _process_identity(pid)) is not None}
        assert len(children) >= 2, f"expected the 2 workers among the children, got {children}"
        segments = _shared_segments([process.pid, *children])
        assert segments, "the running script maps no shared memory: is --workers 2 honoured?"
        process.send_signal(signal.SIGINT)
        code = process.wait(timeout=15)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    for pump in pumps:
        pump.join(timeout=15)  # stderr ends when the resource tracker, which shares it, has exited too
    stderr = "".join(line for line in _drain(err_lines) if line is not None)

    assert code == 130, f"exit code {code}\n{stderr}"
    assert "Traceback" not in stderr and "leaked" not in stderr, stderr
    assert "Interrupted" in stderr, stderr

    run = last_run(stats_dir / "lenet_conv2_avg.json")
    assert run["status"] == "interrupted", run["status"]
    assert run["settings"]["workers"] == 2
    assert run["epochs_completed"] < 100 and run["timings"]["step_times"]  # cut short, after some steps

    deadline = time.monotonic() + 10
    while True:
        survivors = [
            pid
            for pid, identity in identities.items()
            if (now := _process_identity(pid)) is not None and now[0] == identity[0] and now[1] != "Z"
        ]
        if not survivors or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert not survivors, f"child processes {survivors} of the interrupted script are still running"
    left = sorted(segment for segment in segments if os.path.exists(segment))
    assert not left, f"shared memory left behind: {left}"


# ----- experiments: optimizers, --quiet, reproduce_original.py, sweep.py -----
@pytest.mark.parametrize(
    "flags, expected",
    [
        (("--optimizer", "sgd"), {"name": "sgd", "momentum": 0.0, "nesterov": False}),
        (("--optimizer", "momentum"), {"name": "sgd", "momentum": 0.9, "nesterov": False}),
        (("--optimizer", "nesterov", "--momentum", "0.5"), {"name": "sgd", "momentum": 0.5, "nesterov": True}),
        ((), {"name": "sgd", "momentum": 0.9, "nesterov": True, "decay": 0.001}),  # LeNet's measured defaults
        (("--optimizer", "adam"), {"name": "adam"}),
    ],
)
def test_optimizer_flags_build_the_optimizer_they_name(flags, expected, monkeypatch):
    full = load_script("training_full", monkeypatch)
    import common

    parser = common.make_parser("", full.DEFAULTS)
    full.add_flags(parser)
    args = parser.parse_args(list(flags))
    common.check_args(parser, args)
    config = common.make_optimizer(args).get_config()
    assert {key: config[key] for key in expected} == expected


def test_quiet_prints_only_the_result_line(tmp_path):
    data_dir = data_dir_or_skip()
    result = run_script(
        "training_full.py", *QUICK, "--quiet", "--stats-dir", tmp_path / "s", cwd=tmp_path, data_dir=data_dir
    )
    assert result.returncode == 0, explain(result)
    assert re.fullmatch(
        r"lenet_conv2_avg: test accuracy [\d.]+% \(loss [\d.]+\) on 500 test images after 1 epoch\(s\) "
        r"in [\d.]+ s \(\d+ BLAS thread\(s\) per process\) with 1 worker\(s\)\n",
        result.stdout,
    ), result.stdout
    run = last_run(tmp_path / "s" / "lenet_conv2_avg.json")
    assert run["settings"]["val_samples"] == 500  # --limit capped the validation too
    assert run["timings"]["compute_steps"] == run["settings"]["steps_per_epoch"]  # the step split was recorded
    assert 0 < run["timings"]["compute_time"] <= run["timings"]["training_time"]


def test_val_limit_overrides_limit_for_validation(tmp_path):
    data_dir = data_dir_or_skip()
    result = run_script(
        "training_feedforward.py",
        *QUICK,
        "--val-limit",
        "200",
        "--activation",
        "sigmoid",
        "--optimizer",
        "sgd",
        "--quiet",
        "--stats-dir",
        tmp_path,
        cwd=tmp_path,
        data_dir=data_dir,
    )
    assert result.returncode == 0, explain(result)
    assert "on 200 test images" in result.stdout
    run = last_run(tmp_path / "feedforward_sigmoid.json")
    assert run["settings"]["val_samples"] == 200 and run["settings"]["optimizer"]["momentum"] == 0.0


def test_reproduce_original_writes_both_tables(tmp_path):
    data_dir = data_dir_or_skip()
    quick = "--limit 64 --epochs 1".split()
    result = run_script(
        "reproduce_original.py", *quick, "--stats-dir", tmp_path, cwd=tmp_path, data_dir=data_dir, timeout=300
    )
    assert result.returncode == 0, explain(result)
    table = (tmp_path / "original_table.md").read_text()
    original, tuned = table.split("## The same networks at minidl's tuned defaults")
    labels = ["FeedForward", "one conv, no pool", "two conv, no pool", "one conv + avg pool", "LeNet-5"]
    for part in (original, tuned):
        rows = [line for line in part.splitlines() if line.startswith("| ") and "configuration" not in line]
        assert [row.split(" | ")[0].lstrip("| ") for row in rows if not row.startswith("|  |")] == [
            label + (" (two conv + avg pool)" if label == "LeNet-5" else "") for label in labels
        ]
    # deep sigmoid nets: three seeds each, their break-out count and the reason; the original figures beside
    assert len([line for line in original.splitlines() if line.startswith("|  | ")]) == 4
    assert re.search(r"two conv, no pool: \d of 3 seeds broke out of chance", original)
    assert "18 → 77 → 85 %" in original and "Why the deep nets may sit at chance" in original
    assert "relu, nesterov lr 0.05 decay 0.001, batch 64" in tuned
    assert (tmp_path / "lenet_conv2_avg_sigmoid.json").is_file() and (tmp_path / "feedforward_tanh.json").is_file()


def test_sweep_prints_the_speedup_table(tmp_path):
    data_dir = data_dir_or_skip()
    sweep = "--workers 1 2 --repeat 1 --limit 128 --epochs 1".split()
    result = run_script("sweep.py", *sweep, "--stats-dir", tmp_path, cwd=tmp_path, data_dir=data_dir, timeout=300)
    assert result.returncode == 0, explain(result)
    assert (
        len(
            re.findall(
                r"^run 1/1, [12] worker\(s\), load average [\d.]+: lenet_conv2_avg: test accuracy",
                result.stdout,
                re.MULTILINE,
            )
        )
        == 2
    )
    assert "| pool, 1 worker, 1 thread | 1 |" in result.stdout and "| pool, 2 workers, 1 thread | 1 |" in result.stdout
    assert "prediction (Amdahl's law: a model, not a measurement)" in result.stdout
