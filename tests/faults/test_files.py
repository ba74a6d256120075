"""Fault tests on real files: a really full disk, writers really killed mid-write, a really read-only folder.

Each case uses a small tmpfs (root only; skipped with the reason otherwise) or real processes killed
with SIGKILL, and checks what is left: the previous files intact, one line naming the folder, no
temporary file for good.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time

import pytest
from script_runs import run_script, script_env
from suite_helpers import read_only_folder, stop, tmpfs

pytestmark = [
    pytest.mark.faults,
    pytest.mark.skipif(sys.platform != "linux", reason="mounts a tmpfs and signals real processes"),
]


def fill(folder):
    """Fill the file system holding `folder` to the last byte."""
    with contextlib.suppress(OSError), open(folder / "filler", "wb") as filler:
        while True:
            filler.write(b"\0" * 4096)
            filler.flush()


def stats_command(*args) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "minidl.stats", *args], env=script_env(), capture_output=True, text=True, timeout=120
    )


@pytest.mark.parametrize("command", ["report", "--plot"])
def test_stats_outputs_on_a_full_disk_are_one_line_naming_the_folder(tmp_path, command):
    """`python -m minidl.stats report` / `--plot` on a full disk: exit 1, one line, the statistics intact."""
    pytest.importorskip("matplotlib")
    from stats_helpers import train

    with tmpfs(tmp_path / "disk", "size=1m") as disk:
        stats = disk / "stats"
        train(stats, epochs=1)
        before = {path.name: path.read_bytes() for path in stats.iterdir()}
        fill(disk)
        result = stats_command(*(["report", str(stats)] if command == "report" else [str(stats), "--plot"]))
        assert result.returncode == 1, result.stderr
        assert result.stderr.splitlines() == [
            f"python -m minidl.stats {command}: error: cannot write in {stats}: No space left on device "
            "(the statistics files are unchanged)"
        ]
        assert {path.name: path.read_bytes() for path in stats.iterdir()} == before  # nothing half-written


# ----- the loader's memory bound -----
PEAK_PROBE = """
import json, sys
from minidl import saving

def status(key):
    for line in open("/proc/self/status"):
        if line.startswith(key + ":"):
            return int(line.split()[1]) * 1024

open("/proc/self/clear_refs", "w").write("5")  # restart the peak (VmHWM) from the present size
before = status("VmRSS")
model = saving.load_model(sys.argv[1])
peak = status("VmHWM")
arrays = [v for v in model.optimizer.get_state().values() if hasattr(v, "nbytes")] if model.optimizer else []
print(json.dumps({"growth": peak - before, "weights": sum(w.nbytes for w in model.weights),
                  "optimizer": sum(a.nbytes for a in arrays)}))
"""


def sparse_deflated_model(path, optimizer):
    """A Dense(1000 -> 10000) model (40 MB of float32 weights) whose kernel is 59 zeros in 60: deflated,
    the file is ~1 MB (a ratio near 36:1, inside the 50:1 rule). Written with zipfile, not minidl's writer."""
    import io
    import zipfile

    import numpy as np

    from minidl import Model
    from minidl.layers import Dense

    model = Model(name="sparse", seed=0)
    model.add(Dense(10000, input_shape=(1000,)))
    model.compile(optimizer=optimizer, loss="mse")
    model.train_on_batch(np.zeros((1, 1000), np.float32), np.zeros((1, 10000), np.float32))  # optimizer arrays
    template = path.with_name("template.keras")
    model.save(template)
    rng = np.random.default_rng(0)
    with zipfile.ZipFile(template) as source, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for info in source.infolist():
            data = source.read(info)
            if info.filename.endswith(".npy") and info.file_size > 1 << 20:
                array = np.zeros_like(np.load(io.BytesIO(data)))
                flat = array.reshape(-1)
                places = rng.integers(0, flat.size, flat.size // 60)
                flat[places] = rng.normal(size=places.size)
                buffer = io.BytesIO()
                np.lib.format.write_array(buffer, array)
                data = buffer.getvalue()
            archive.writestr(info.filename, data)
    return path


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_loading_holds_each_weight_once(tmp_path, optimizer):
    """load_model's bound: its peak memory grows by the weights once (read straight into their places in
    the flat vector), the optimizer's arrays twice (the optimizer keeps its own copy), and a few MiB."""
    path = sparse_deflated_model(tmp_path / "sparse.keras", optimizer)
    result = subprocess.run(
        [sys.executable, "-c", PEAK_PROBE, str(path)], env=script_env(), capture_output=True, text=True, timeout=120
    )
    if "clear_refs" in result.stderr:
        pytest.skip("this kernel cannot restart a process's peak memory (/proc/self/clear_refs)")
    assert result.returncode == 0, result.stderr
    measured = json.loads(result.stdout)
    assert measured["weights"] == 40_040_000
    # The 50:1 rule lets such a file through: it inflates more than 30 times.
    assert path.stat().st_size < (measured["weights"] + measured["optimizer"]) / 30
    bound = measured["weights"] + 2 * measured["optimizer"] + (8 << 20)
    assert measured["growth"] <= bound, measured


# ----- temporaries of writers killed mid-write -----
SAVE_FOREVER = """
import sys
import numpy as np
from minidl import Model
from minidl.layers import Dense

model = Model(name="big", seed=0)
model.add(Dense(4000, input_shape=(2000,)))  # 32 MB of weights: each save takes a while
model.compile(optimizer="sgd", loss="mse")
print("ready", flush=True)
while True:
    model.save(sys.argv[1])
"""

STATS_WRITE_THEN_HANG = """
import os, sys, time
from minidl.stats import store

def hang(fd):  # the record is written to the temporary; the writer dies before renaming it
    print("writing", flush=True)
    time.sleep(600)

os.fsync = hang
store.save_run({"id": "dead-writer", "status": "running", "settings": {"model": "tiny"}}, sys.argv[1], "tiny")
"""


def temporaries(folder) -> list:
    return sorted(path.name for path in folder.iterdir() if path.name.startswith(".") and path.name.endswith(".tmp"))


def start_python(code, *args):
    return subprocess.Popen(
        [sys.executable, "-c", code, *map(str, args)], env=script_env(), stdout=subprocess.PIPE, text=True
    )


def wait_for_a_temporary(folder, process, timeout=60.0, size=1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [folder / name for name in temporaries(folder)]
        if any(path.exists() and path.stat().st_size >= size for path in found):
            return found
        assert process.poll() is None, "the writer ended"
        time.sleep(0.01)
    raise AssertionError("no temporary appeared")


def age(paths, seconds=120):
    """Make files look `seconds` old (what waiting that long would do)."""
    old = time.time() - seconds
    for path in paths:
        os.utime(path, (old, old))


def end(process):
    process.kill()
    process.wait(timeout=30)
    process.stdout.close()


def test_a_save_killed_mid_write_leaves_its_temporary_only_until_the_next_save(tmp_path):
    from minidl import Model, saving
    from minidl.layers import Dense

    target = tmp_path / "model.keras"
    writer = start_python(SAVE_FOREVER, target)
    try:
        assert writer.stdout.readline() == "ready\n"
        while not target.exists():  # one whole save first, so there is a target to keep intact
            time.sleep(0.01)
        left = wait_for_a_temporary(tmp_path, writer, size=1 << 20)
        writer.send_signal(signal.SIGKILL)  # mid-write: the temporary holds part of the next save
    finally:
        end(writer)
    assert temporaries(tmp_path) == [path.name for path in left]
    assert saving.load_model(target).count_params() == 8_004_000  # the previous file is whole

    other = Model(name="small", seed=0)
    other.add(Dense(2, input_shape=(3,)))
    other.save(tmp_path / "other.keras")  # a minute has not passed: a writer may still be starting up
    assert temporaries(tmp_path) == [path.name for path in left]
    age(left)
    other.save(tmp_path / "other.keras")  # the next save into the folder sweeps the dead writer's temporary
    assert temporaries(tmp_path) == []
    assert saving.load_model(target).count_params() == 8_004_000


def test_a_live_writers_temporary_is_never_swept(tmp_path):
    """A writer stopped (SIGSTOP) mid-write still holds its temporary's lock: old as it gets, it stays."""
    from minidl import Model, saving
    from minidl.layers import Dense

    target = tmp_path / "model.keras"
    writer = start_python(SAVE_FOREVER, target)
    try:
        assert writer.stdout.readline() == "ready\n"
        while not target.exists():
            time.sleep(0.01)
        stop(writer)  # stopped for sure before looking: a writer still running could rename what we list
        left = [tmp_path / name for name in temporaries(tmp_path)]
        while not left:  # stopped between two saves: let it start the next one
            writer.send_signal(signal.SIGCONT)
            time.sleep(0.002)
            stop(writer)
            left = [tmp_path / name for name in temporaries(tmp_path)]
        age(left)
        other = Model(name="small", seed=0)
        other.add(Dense(2, input_shape=(3,)))
        other.save(tmp_path / "other.keras")
        assert all(path.exists() for path in left)  # locked by its (stopped) writer: not swept
        writer.send_signal(signal.SIGCONT)
        deadline = time.monotonic() + 60
        while any(path.exists() for path in left) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert not any(path.exists() for path in left)  # the writer went on and renamed it
    finally:
        writer.send_signal(signal.SIGCONT)
        end(writer)
    assert saving.load_model(target).count_params() == 8_004_000


def test_a_statistics_write_killed_mid_write_is_swept_by_the_next_run(tmp_path):
    from stats_helpers import train

    stats = tmp_path / "stats"
    train(stats, epochs=1)
    before = (stats / "tiny.json").read_bytes()
    writer = start_python(STATS_WRITE_THEN_HANG, stats)
    try:
        assert writer.stdout.readline() == "writing\n"
        left = [stats / name for name in temporaries(stats)]
        assert left
        writer.send_signal(signal.SIGKILL)
    finally:
        end(writer)
    assert (stats / "tiny.json").read_bytes() == before
    age(left)
    train(stats, epochs=1)  # the next run's first save sweeps it
    assert temporaries(stats) == []


# ----- a backup folder that cannot be written -----
def test_backup_and_restore_refuses_an_unwritable_folder_before_the_first_step(tmp_path):
    import numpy as np

    from minidl import Model
    from minidl.callbacks import BackupAndRestore, LambdaCallback
    from minidl.layers import Dense

    model = Model(name="tiny", seed=0)
    model.add(Dense(2, input_shape=(3,)))
    model.compile(optimizer="sgd", loss="mse")
    steps = []
    with read_only_folder(tmp_path) as folder:
        with pytest.raises(OSError) as raised:
            model.fit(
                np.ones((8, 3), np.float32),
                np.ones((8, 2), np.float32),
                epochs=2,
                verbose=0,
                callbacks=[BackupAndRestore(folder), LambdaCallback(on_train_batch_end=lambda *a: steps.append(a))],
            )
    assert steps == []  # refused when training began, not after an epoch of work
    message = str(raised.value)
    assert message.startswith(f"BackupAndRestore: cannot write backups in {folder}: ") and "\n" not in message
    assert "Read-only file system" in message or "Permission denied" in message


def test_a_script_whose_backups_folder_is_read_only_stops_before_training(tmp_path, mnist_dir):
    stats = tmp_path / "stats"
    stats.mkdir()
    with tmpfs(stats / "backups", "ro,size=64k"):
        result = run_script(tmp_path, "--limit", "100", "--epochs", "1", "--quiet", "--stats-dir", str(stats))
    assert result.returncode == 1 and result.stdout == "", result.stderr
    assert result.stderr.splitlines() == [
        f"training_feedforward.py: error: cannot make this run's backup folder in "
        f"{stats / 'backups' / 'feedforward_tanh'}: Read-only file system"
    ]
