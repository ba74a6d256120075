"""Runs of one training script side by side in one statistics folder: none loses anything, none touches
another's backup.

Round after round, groups of two and of three `training_feedforward.py` runs (each its own seed and
number of epochs) start together, a random fraction of a second apart, into one `--stats-dir`. Before
the rounds, a run is killed (SIGKILL) after its first epoch's backup; it must lie untouched through every
round, and `--resume` must then continue exactly that run. Checked after every round:

* every run exits 0 as completed, with its own figures: the test accuracy and loss it prints, and the
  last epoch it records, equal those of the same seed and epochs trained alone (training is
  deterministic: a run that restored another's backup or seed would differ);
* averages.txt counts every run recorded so far;
* no run says it resumed, and no backup is left but the killed run's (byte for byte).

    python tests/faults/concurrent_runs.py --rounds 20        # prints one line per round and the totals

`tests/faults/test_concurrent_runs.py` runs two rounds of it in the suite.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
SCRIPT = ROOT / "trainings" / "training_feedforward.py"
MODEL = "feedforward_tanh"
FLAGS = ["--limit", "600", "--batch-size", "64", "--quiet"]
EPOCHS = (1, 2, 3)
RESULT = re.compile(r"test accuracy ([\d.]+)% \(loss ([\d.]+)\)")


def environment() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


def command(stats_dir, seed, epochs, *extra) -> list[str]:
    """The script's command line (`seed` None: no --seed)."""
    seeded = [] if seed is None else ["--seed", str(seed)]
    return [
        sys.executable,
        str(SCRIPT),
        *FLAGS,
        *seeded,
        "--epochs",
        str(epochs),
        "--stats-dir",
        str(stats_dir),
        *extra,
    ]


def figures(stdout: str) -> tuple[str, str]:
    """(accuracy, loss) as the run printed them."""
    match = RESULT.search(stdout)
    if not match:
        raise AssertionError(f"no result line in {stdout!r}")
    return match.group(1), match.group(2)


class Reference:
    """The figures of each (seed, epochs) trained alone, computed once when first asked for."""

    def __init__(self, folder: Path):
        self.folder, self.known = folder, {}

    def __call__(self, seed: int, epochs: int) -> tuple[str, str]:
        if (seed, epochs) not in self.known:
            result = subprocess.run(
                command(self.folder / f"alone-{seed}-{epochs}", seed, epochs),
                env=environment(),
                capture_output=True,
                text=True,
                timeout=600,
            )
            if result.returncode != 0:
                raise AssertionError(f"the reference run failed: {result.stderr}")
            self.known[(seed, epochs)] = figures(result.stdout)
        return self.known[(seed, epochs)]


def kill_after_first_backup(stats_dir: Path, seed: int) -> Path:
    """Start a long run and SIGKILL it once its first backup is written; returns that backup."""
    process = subprocess.Popen(
        command(stats_dir, seed, 500), env=environment(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    runs = stats_dir / "backups" / MODEL
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and process.poll() is None:
            found = [path for path in runs.glob(f"*-{process.pid}/backup.keras")]
            if found:
                break
            time.sleep(0.02)
        process.send_signal(signal.SIGKILL)
    finally:
        process.wait(timeout=60)
    [backup] = runs.glob(f"*-{process.pid}/backup.keras")
    return backup


def recorded(stats_dir: Path) -> list:
    try:
        return json.loads((stats_dir / f"{MODEL}.json").read_text())["runs"]
    except FileNotFoundError:
        return []


def counted_in_averages(stats_dir: Path) -> int:
    first = (stats_dir / "averages.txt").read_text().splitlines()[0]
    return int(re.match(r"minidl training statistics: (\d+) runs?", first).group(1))


def one_round(stats_dir: Path, size: int, rng: random.Random, reference: Reference, first_seed: int) -> list:
    """`size` runs started together (random delays under 0.3 s); returns a list of problems (empty: all good)."""
    plan = [(first_seed + index, rng.choice(EPOCHS)) for index in range(size)]
    processes = []
    for seed, epochs in plan:
        time.sleep(rng.uniform(0, 0.3))
        processes.append(
            subprocess.Popen(
                command(stats_dir, seed, epochs),
                env=environment(),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    problems = []
    for (seed, epochs), process in zip(plan, processes):
        stdout, stderr = process.communicate(timeout=600)
        what = f"seed {seed}, {epochs} epoch(s)"
        if process.returncode != 0:
            problems.append(f"{what}: exit code {process.returncode}: {stderr.strip()}")
            continue
        if "resuming" in stdout + stderr:
            problems.append(f"{what}: restored a backup: {stdout.strip()}")
        got, expected = figures(stdout), reference(seed, epochs)
        if got != expected:
            problems.append(f"{what}: figures {got}, alone {expected}")
        pid_runs = [run for run in recorded(stats_dir) if run.get("pid") == process.pid]
        if len(pid_runs) != 1 or pid_runs[0]["status"] != "completed":
            problems.append(f"{what}: recorded as {[run.get('status') for run in pid_runs]}")
        elif (pid_runs[0]["settings"]["seed"], pid_runs[0]["epochs_completed"]) != (seed, epochs):
            run = pid_runs[0]
            problems.append(f"{what}: recorded seed {run['settings']['seed']}, {run['epochs_completed']} epoch(s)")
        elif f"{pid_runs[0]['epochs'][-1]['val_accuracy']:.2%}" != f"{float(expected[0]) / 100:.2%}":
            problems.append(f"{what}: recorded accuracy {pid_runs[0]['epochs'][-1]['val_accuracy']}, alone {expected}")
    return problems


def run_rounds(folder: Path, rounds: int, sizes=(2, 3), seed: int = 0, log=print) -> dict:
    """The experiment of the module's docstring in `folder`; returns its figures (problems listed)."""
    rng = random.Random(seed)
    stats_dir, reference = folder / "stats", Reference(folder)
    killed = kill_after_first_backup(stats_dir, seed=99)
    killed_bytes = killed.read_bytes()
    from minidl import saving

    done_before = saving.read_state(killed)["epoch"]
    totals = {"rounds": 0, "runs": 0, "problems": []}
    started = time.perf_counter()
    for number in range(1, rounds + 1):
        for size in sizes:
            round_started = time.perf_counter()
            problems = one_round(stats_dir, size, rng, reference, first_seed=10 * size)
            totals["runs"] += size
            expected = totals["runs"] + 1  # and the killed run, recorded as running (read as killed)
            if counted_in_averages(stats_dir) != expected:
                problems.append(f"averages.txt counts {counted_in_averages(stats_dir)} runs, {expected} were recorded")
            if not killed.exists() or killed.read_bytes() != killed_bytes:
                problems.append(f"the killed run's backup {killed} was touched")
            others = [path for path in (stats_dir / "backups" / MODEL).iterdir() if path != killed.parent]
            if others:
                problems.append(f"backups left: {[path.name for path in others]}")
            totals["problems"] += [f"round {number}, {size} runs: {problem}" for problem in problems]
            log(
                f"round {number:2d}, {size} runs together: {'ok' if not problems else '; '.join(problems)} "
                f"({time.perf_counter() - round_started:.1f} s, load average {os.getloadavg()[0]:.2f})"
            )
        totals["rounds"] = number
    # Last, the killed run is resumed (no --seed: it adopts the backup's): it must be that run, continued
    # to the figures of the same seed and epochs trained alone.
    epochs = done_before + 1
    resumed = subprocess.run(
        command(stats_dir, None, epochs, "--resume"),
        env=environment(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    said = f"resuming run {killed.parent.name} of {MODEL}: {done_before} epoch(s) done, seed 99"
    if resumed.returncode != 0 or said not in resumed.stdout:
        totals["problems"].append(f"--resume did not continue the killed run: {resumed.stdout} {resumed.stderr}")
    elif figures(resumed.stdout) != reference(99, epochs):
        totals["problems"].append(f"the resumed run ended at {figures(resumed.stdout)}, alone {reference(99, epochs)}")
    totals["resume"] = resumed.stdout.strip().splitlines()[0] if resumed.stdout.strip() else resumed.stderr.strip()
    totals["seconds"] = time.perf_counter() - started
    return totals


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0, help="seed of the random delays and epoch counts")
    args = parser.parse_args(argv)
    print(f"load average at the start: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    with tempfile.TemporaryDirectory() as folder:
        totals = run_rounds(Path(folder), args.rounds, seed=args.seed)
    print(
        f"{totals['rounds']} rounds, {totals['runs']} runs side by side in {totals['seconds']:.0f} s: "
        f"{len(totals['problems'])} problem(s); {totals['resume']}"
    )
    print(f"load average at the end: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    return 1 if totals["problems"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
