"""Fault tests on real files: a really full disk, writers really killed mid-write, a really read-only folder.

Each case uses a small tmpfs (root only; skipped with the reason otherwise) or real processes killed
with SIGKILL, and checks what is left: the previous files intact, one line naming the folder, no
temporary file for good.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys

import pytest
from script_runs import script_env
from suite_helpers import tmpfs

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
