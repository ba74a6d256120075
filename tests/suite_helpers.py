"""Helpers shared by test modules in several folders (imported by name: conftest files cannot be).

`real_mnist_dir()` gives the MNIST folder of $MINIDL_DATA_DIR, skipping when it is unset and failing
loudly when it is set but incomplete; `build_lenet5()` is the classic 61,706-parameter LeNet-5.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest

MNIST_FILES = (
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
)


def mnist_data_problem() -> str | None:
    """Why $MINIDL_DATA_DIR, when set, cannot serve the real-data tests (None when it can or is unset)."""
    value = os.environ.get("MINIDL_DATA_DIR")
    if not value:
        return None
    folder = Path(value)
    if not folder.is_dir():
        return f"MINIDL_DATA_DIR={value} is not a folder"
    missing = [name for name in MNIST_FILES if not (folder / name).is_file()]
    if missing:
        return f"MINIDL_DATA_DIR={value} lacks the MNIST file(s) {', '.join(missing)}"
    return None


def real_mnist_dir() -> Path:
    """$MINIDL_DATA_DIR as a resolved folder: skip when unset, fail loudly when set but incomplete."""
    value = os.environ.get("MINIDL_DATA_DIR")
    if not value:
        pytest.skip(
            "MINIDL_DATA_DIR is not set: point it at a folder holding the MNIST .gz files "
            "(e.g. MINIDL_DATA_DIR=../shared/mnist)"
        )
    problem = mnist_data_problem()
    if problem:
        pytest.fail(problem, pytrace=False)
    return Path(value).resolve()


def build_lenet5(seed=0, dtype="float32"):
    """The issue's LeNet-5 for 28x28x1 digits: 61,706 parameters."""
    from minidl import Model
    from minidl.layers import AvgPool2D, Conv2D, Dense, Flatten

    model = Model(name="lenet5", seed=seed, dtype=dtype)
    model.add(Conv2D(6, 5, padding="same", activation="relu", input_shape=(28, 28, 1)))
    model.add(AvgPool2D(2))
    model.add(Conv2D(16, 5, activation="relu"))
    model.add(AvgPool2D(2))
    model.add(Flatten())
    model.add(Dense(120, activation="relu"))
    model.add(Dense(84, activation="relu"))
    model.add(Dense(10, activation="softmax"))
    return model


def still_in_dev_shm(names) -> list[str]:
    """Which of the shared-memory segment `names` are still listed in /dev/shm (skips where there is none)."""
    if not os.path.isdir("/dev/shm"):
        pytest.skip("no /dev/shm on this system")
    listing = set(os.listdir("/dev/shm"))
    return [name for name in names if name in listing]


def saved_and_loaded(model, folder: Path):
    """`model` written with `save` to `folder` and read back with `load_model` (through the untrusted-file checks)."""
    import minidl

    path = Path(folder) / f"{model.name}.keras"
    model.save(path)
    return minidl.models.load_model(path)


def assert_round_trip(model, x, folder: Path):
    """Saving and loading keeps the architecture (configs), the weights and the predictions of `model`."""
    import numpy as np

    loaded = saved_and_loaded(model, folder)
    assert [layer.get_config() for layer in loaded.layers] == [layer.get_config() for layer in model.layers]
    for ours, theirs in zip(model.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(ours, theirs)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    return loaded


# ----- real file systems that refuse writes -----
@contextlib.contextmanager
def tmpfs(folder: Path, options: str):
    """A small tmpfs mounted on `folder` (root only): a real read-only or really full file system."""
    folder.mkdir()
    try:
        subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)], check=True, capture_output=True)
    except (OSError, subprocess.CalledProcessError) as error:
        pytest.skip(f"cannot mount a tmpfs here ({error}); the simulated cases are in tests/stats")
    try:
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=False, capture_output=True)


@contextlib.contextmanager
def read_only_folder(tmp_path: Path):
    """A folder nobody can write in: chmod for ordinary users; root ignores that, so a read-only tmpfs."""
    if os.geteuid() != 0:
        folder = tmp_path / "read-only"
        folder.mkdir()
        folder.chmod(0o555)
        try:
            yield folder
        finally:
            folder.chmod(0o755)
    else:
        with tmpfs(tmp_path / "read-only", "ro,size=64k") as folder:
            yield folder


# ----- what the suite leaves behind: processes and /dev/shm entries -----
SHM = Path("/dev/shm")
#: Set in the suite's environment (and so inherited by every process it starts): its processes carry it.
SESSION_VARIABLE = "MINIDL_TEST_SESSION"


def shm_entries() -> set[str]:
    """The names in /dev/shm (empty where there is none): pool segments, Open MPI's, anyone's."""
    return set(os.listdir(SHM)) if SHM.is_dir() else set()


def shm_mappers() -> dict[str, set[int]]:
    """Which live processes map each /dev/shm entry (Linux /proc/<pid>/maps)."""
    mappers: dict[str, set[int]] = {}
    for maps in Path("/proc").glob("[0-9]*/maps"):
        try:
            text = maps.read_text()
        except OSError:
            continue
        pid = int(maps.parent.name)
        for line in text.splitlines():
            if " /dev/shm/" in line:
                mappers.setdefault(line.rsplit("/dev/shm/", 1)[1].split(" ")[0], set()).add(pid)
    return mappers


def _state(pid: int) -> str | None:
    """The process's state letter in /proc (R, S, T, Z, ...), None when it is gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return None


def alive(pid: int) -> bool:
    """True while `pid` runs (a zombie, ended but not yet reaped, does not)."""
    return _state(pid) not in (None, "Z", "X")


def stop(process, timeout: float = 10.0):
    """SIGSTOP `process` and wait until it is stopped: the signal is delivered asynchronously, and until
    then the process goes on (finishing a write, renaming a file)."""
    process.send_signal(signal.SIGSTOP)
    deadline = time.monotonic() + timeout
    while _state(process.pid) not in ("T", "t") and time.monotonic() < deadline:
        time.sleep(0.001)


def children(pid: int) -> set[int]:
    """The pids of `pid`'s child processes (Linux /proc)."""
    found = set()
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found.update(int(child) for child in (task / "children").read_text().split())
        except OSError:
            pass
    return found


def session_processes(token: str) -> set[int]:
    """Live processes other than this one whose environment says they belong to the test session `token`.

    Found through the environment rather than the process tree: a process whose parent died is
    adopted by init and no longer looks like the suite's child, but still carries the variable.
    """
    marker = f"{SESSION_VARIABLE}={token}".encode()
    found = set()
    for environ in Path("/proc").glob("[0-9]*/environ"):
        try:
            pid = int(environ.parent.name)
            if pid != os.getpid() and marker in environ.read_bytes().split(b"\0") and alive(pid):
                found.add(pid)
        except (OSError, ValueError):
            continue
    return found


def mapped_shm(pid: int) -> set[str]:
    """The /dev/shm entries process `pid` maps now (empty when it is gone)."""
    try:
        text = Path(f"/proc/{pid}/maps").read_text()
    except OSError:
        return set()
    return {line.rsplit("/dev/shm/", 1)[1].split(" ")[0] for line in text.splitlines() if " /dev/shm/" in line}


class SessionWatch:
    """What one test session starts and uses, so that its end can tell what it leaves behind.

    Its processes carry the environment variable SESSION_VARIABLE=`token`. A /dev/shm entry left behind
    is the session's only if one of its processes mapped it: every `INTERVAL` seconds a thread reads
    their memory maps and remembers the entries. Other programs on the machine (another suite running
    at the same time) leave theirs out of the count. A segment created and left within one interval,
    by a process that died within it, escapes the watch.
    """

    INTERVAL = 0.25

    def __init__(self, token: str):
        self.token, self.before, self.used = token, shm_entries(), set()
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="session-watch", daemon=True)
        self._thread.start()

    def _watch(self):
        while not self._stopped.wait(self.INTERVAL):
            self.sample()

    def sample(self):
        for pid in session_processes(self.token) | {os.getpid()}:
            self.used |= mapped_shm(pid)

    def stop(self):
        self._stopped.set()
        self._thread.join()
        self.sample()

    def leftovers(self, ignore_pids=()) -> tuple[list[int], list[str]]:
        """(live processes of the session, /dev/shm entries new since it began that one of its processes
        mapped and no process of anyone else maps now): what the session leaves if it ends now."""
        processes = session_processes(self.token) - set(ignore_pids)
        new = (shm_entries() - self.before) & self.used
        if not new:
            return sorted(processes), []
        ours = processes | {os.getpid()}
        mappers = shm_mappers()
        left = [name for name in sorted(new) if mappers.get(name, set()) <= ours and (SHM / name).exists()]
        return sorted(processes), left
