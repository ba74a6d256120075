"""Running a training script as a real process for the fault tests: start it, watch its statistics,
signal it, and afterwards find what it left behind (processes, shared-memory segments, files)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from suite_helpers import SHM, alive, children, shm_entries, shm_mappers

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "trainings" / "training_feedforward.py"
MODEL = "feedforward_tanh"  # the default variant of that script


def script_env() -> dict:
    """The environment for a script: this checkout first on the path, the test's MNIST folder."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return env


@dataclass
class ScriptRun:
    """A training script started in its own session (so that signals reach only it, or its whole group)."""

    process: subprocess.Popen
    stats_dir: Path
    shm_before: set = field(default_factory=set)
    helpers: set = field(default_factory=set)  # pids of its workers and resource tracker, seen while it ran
    stdout: str = ""
    stderr: str = ""

    @property
    def stats_file(self) -> Path:
        return self.stats_dir / f"{MODEL}.json"

    def runs(self) -> list:
        """The runs in the model's statistics file (it is replaced atomically: never half written)."""
        try:
            return json.loads(self.stats_file.read_text())["runs"]
        except FileNotFoundError:
            return []

    def wait_for_epochs(self, epochs: int, timeout: float = 30.0) -> dict:
        """Wait until the run on disk is `running` with at least `epochs` completed epochs; returns it."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.helpers |= children(self.process.pid)
            runs = self.runs()
            if runs and runs[-1]["status"] == "running" and runs[-1]["epochs_completed"] >= epochs:
                return runs[-1]
            assert self.process.poll() is None, f"the script ended early: {self.finish()}"
            time.sleep(0.05)
        raise AssertionError(f"no running record with {epochs} epoch(s) within {timeout} s: {self.runs()}")

    def signal(self, number, group=False):
        """Send `number` to the script, or to its whole process group (what `timeout` and a terminal do)."""
        self.helpers |= children(self.process.pid)
        if group:
            os.killpg(self.process.pid, number)
        else:
            self.process.send_signal(number)

    def finish(self, timeout: float = 15.0) -> int:
        """Wait for the script (killing its group if it hangs) and collect its output; returns the exit code."""
        try:
            self.stdout, self.stderr = self.process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.stdout, self.stderr = self.process.communicate()
            raise AssertionError(f"the script did not end within {timeout} s:\n{self.stderr}") from None
        return self.process.returncode

    def leftovers(self, wait: float = 5.0) -> tuple[list, list]:
        """(processes it started that are still alive, new /dev/shm segments that no process maps)."""
        deadline = time.monotonic() + wait
        while True:
            alive_helpers = sorted(pid for pid in self.helpers if alive(pid))
            orphans = sorted(_unmapped(set(segments()) - self.shm_before))
            if (not alive_helpers and not orphans) or time.monotonic() > deadline:
                return alive_helpers, orphans
            time.sleep(0.1)


def start(tmp_path: Path, *args: str, epochs: int = 200, workers: int = 2) -> ScriptRun:
    """Start training_feedforward.py on 300 images for many epochs, statistics into tmp_path/stats."""
    stats_dir = tmp_path / "stats"
    command = [sys.executable, str(SCRIPT), "--limit", "300", "--epochs", str(epochs), "--seed", "0"]
    command += ["--workers", str(workers), "--quiet", "--stats-dir", str(stats_dir), *args]
    shm_before = set(segments())
    process = subprocess.Popen(
        command,
        cwd=tmp_path,
        env=script_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    return ScriptRun(process, stats_dir, shm_before)


def run_script(tmp_path: Path, *args: str, timeout: float = 60.0) -> subprocess.CompletedProcess:
    """Run training_feedforward.py with exactly `args` to its end."""
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        cwd=tmp_path,
        env=script_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def segments() -> list:
    """The pool's shared-memory segments now in /dev/shm (anyone's)."""
    return [name for name in shm_entries() if name.startswith("psm_")]


def _unmapped(names: set) -> set:
    """Those of `names` that still exist in /dev/shm and that no process maps: leaked segments.

    Other test runs may share /dev/shm; their live segments are mapped by their live processes.
    """
    if not names:
        return set()
    mapped = shm_mappers()
    return {name for name in names if (SHM / name).exists() and name not in mapped}
