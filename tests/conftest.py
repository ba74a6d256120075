"""Shared fixtures for the minidl test suite.

The suite's own directory is put on `sys.path` so test modules in sub-folders can import the
shared helpers beside this file (the gradient checker is the public `minidl.gradcheck`).

Real-data tests read MNIST from ``$MINIDL_DATA_DIR``. Unset, they skip (with the reason in the
``-ra`` summary and in the header line). Set but lacking a file, the whole session stops with an
error naming the folder and the files: a CI that silently skipped every real-data test would be
green and useless.

The suite leaves the machine as it found it: when it ends, no process it started may still run and
/dev/shm may hold nothing new that its processes used (`pytest_sessionfinish` fails the session
otherwise, naming them; `suite_helpers.SessionWatch` tells its entries from other programs').
"""

from __future__ import annotations

import os
import signal
import sys
import time
import uuid
from pathlib import Path

import numpy as np
import pytest

TESTS_DIR = Path(__file__).resolve().parent
if str(TESTS_DIR) not in sys.path:
    sys.path.insert(0, str(TESTS_DIR))

from suite_helpers import (  # noqa: E402
    SESSION_VARIABLE,
    SessionWatch,
    build_lenet5,
    mnist_data_problem,
    real_mnist_dir,
)

#: How long the session's end waits for processes and shared memory that are still being cleaned up.
LEFTOVER_GRACE_SECONDS = 10.0


def pytest_configure(config):
    """Refuse to run at all when $MINIDL_DATA_DIR is set but unusable (a relative one is made absolute first,
    as minidl itself does, since tests and their subprocesses change directory)."""
    value = os.environ.get("MINIDL_DATA_DIR")
    if value and not os.path.isabs(value):
        os.environ["MINIDL_DATA_DIR"] = os.path.abspath(value)
    problem = mnist_data_problem()
    if problem:
        raise pytest.UsageError(
            f"{problem}. Fix the folder or unset MINIDL_DATA_DIR (the real-data tests then skip); "
            "they are not skipped silently when it is set."
        )
    # Every process the suite starts inherits this mark, so the end of the session can find them all.
    os.environ[SESSION_VARIABLE] = uuid.uuid4().hex
    if sys.platform == "linux":
        config.stash[_WATCH] = SessionWatch(os.environ[SESSION_VARIABLE])


_WATCH = pytest.StashKey[SessionWatch]()


def pytest_sessionfinish(session, exitstatus):
    """Fail the session when it leaves a process running or a new entry in /dev/shm (and end those processes)."""
    if _WATCH not in session.config.stash:
        return
    watch = session.config.stash[_WATCH]
    import gc
    from multiprocessing import resource_tracker

    gc.collect()  # arrays and pools the tests dropped release their shared memory now, not at exit
    tracker = resource_tracker._resource_tracker._pid  # this process's own: it ends with this process
    watch.stop()
    deadline = time.monotonic() + LEFTOVER_GRACE_SECONDS
    while True:
        processes, segments = watch.leftovers({tracker})
        if not (processes or segments) or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    if not (processes or segments):
        return
    lines = [f"the test suite left {len(processes)} process(es) running and {len(segments)} new /dev/shm entries"]
    for pid in processes:
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            os.kill(pid, signal.SIGKILL)
        except OSError:
            command = "?"
        lines.append(f"  process {pid} (killed now): {command.strip()}")
    lines += [f"  /dev/shm/{name}" for name in segments]
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is None:
        print("\n".join(lines), file=sys.stderr)
    else:
        reporter.ensure_newline()
        reporter.section("left behind", red=True)
        for line in lines:
            reporter.write_line(line, red=True)
    session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_report_header(config):
    """Say up front whether the real-data tests will run."""
    value = os.environ.get("MINIDL_DATA_DIR")
    if value:
        return f"MNIST data: MINIDL_DATA_DIR={value} (the real-data tests run)"
    return "MNIST data: MINIDL_DATA_DIR is not set, so the real-data tests skip"


@pytest.fixture
def rng():
    """A fresh, seeded generator, so every test sees the same random numbers on every run."""
    return np.random.default_rng(1234)


@pytest.fixture
def mnist_dir() -> Path:
    """The folder named by $MINIDL_DATA_DIR holding the four MNIST IDX files.

    Skips the test when the variable is unset; fails it when set but the files are missing.
    """
    return real_mnist_dir()


@pytest.fixture
def lenet5():
    """A factory for the issue's LeNet-5: `lenet5(seed=0)`."""
    return build_lenet5
