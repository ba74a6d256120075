"""The statistics in TensorBoard: every recorded run (``python -m minidl.stats tensorboard DIR --logdir TB``)
and the speed-up of the run being recorded (`LiveSpeedup`).

Each run of the statistics folder becomes a folder of TB named by model, backend, parallel processes,
BLAS threads and start time (`run_name`), so a sweep of 1, 2 and 4 workers is compared on one page.
A run holds, on the step axis (steps of the run, from 1):

* ``minidl/step_seconds``: each step's time, as the tracker measured it;
* ``minidl/speedup``: the speed-up so far against the one-worker column of the run's section, as
  the summary picks it (`RunningSpeedup`: that column's median step time / this run's median so far);
  absent when the folder holds no finished one-worker run of the setup;
* ``step/loss``, ``step/<metric>``: each step's own batch mean (``step_metrics``; older records lack it);

on the epoch axis (from 0, as Keras counts): ``epoch_loss``, ``epoch_accuracy``, ``epoch_val_loss``,
``epoch_val_accuracy``, ``epoch_seconds``; and a text card with the settings and how the run ended.
Wall times are rebuilt from the recorded start and step and epoch times, so TensorBoard's "relative"
axis shows the run's own durations (start-up before the first epoch is left out).

A run whose folder exists was exported before and is left alone, so exporting again adds the new runs
only. Each run is written into a hidden temporary folder and renamed into place: a TensorBoard server
watching TB never reads half a run.

The speed-up while a run trains is written here, not by `minidl.callbacks.TensorBoard`, because it
needs the statistics folder, which only `minidl.stats` reads (callbacks sit below it).
"""

from __future__ import annotations

import datetime
import os
import shutil
import sys
from pathlib import Path

from ..callbacks.tensorboard import EventWriter, tensorboard_modules
from .scaling import RunningSpeedup
from .store import DEFAULT_DIR, load_runs, sanitize_name
from .summary import column_key, one_worker_step_time, section_key, summarize

SPEEDUP_RUN = "speedup"  # the TensorBoard run (folder) of `LiveSpeedup`, beside the callback's train and validation
#: The settings shown on each run's text card, in this order.
CARD_FIELDS = (
    "model", "setup", "dataset", "backend", "workers", "ranks", "threads_per_worker", "batch_size", "epochs",
    "samples", "val_samples", "params", "hostname", "cpus_available", "minidl", "numpy",
)  # fmt: skip


class NoRuns(ValueError):
    """The statistics folder holds no run to export."""


class LiveSpeedup:
    """The speed-up so far of the run being recorded, written to TensorBoard after every step.

    `StatisticsTracker(tensorboard_dir=...)` starts one when training begins: the one-worker column of
    the run's section in the statistics folder (as the summary picks it) gives the baseline median step
    time, and after each step ``minidl/speedup`` (`RunningSpeedup`) goes to the TensorBoard run
    ``<tensorboard_dir>/speedup``, at step = the step's number in this `fit` (from 1, as ``batch_*``).
    While no one-worker run of the setup is recorded nothing is written, and a note says why.
    """

    def __init__(self, folder, baseline_step_seconds):
        self.writer = EventWriter(folder)
        self.speedup = RunningSpeedup(baseline_step_seconds)
        self.steps = 0

    @staticmethod
    def check(tensorboard_dir):
        """`tensorboard_dir` as a Path (None stays None); an ImportError naming the extra when it is missing."""
        if tensorboard_dir is None:
            return None
        tensorboard_modules()
        return Path(tensorboard_dir)

    @classmethod
    def start(cls, out_dir, run: dict, tensorboard_dir, verbose=True):
        """A LiveSpeedup for `run` (a new record) against the one-worker runs of its setup in `out_dir`, or None."""
        runs, _, _ = load_runs(out_dir)
        baseline = one_worker_step_time(summarize(runs), section_key(run))
        if baseline is None:
            if verbose:
                print(
                    f"note: no finished one-worker run of this setup in {out_dir} yet, so TensorBoard shows no "
                    "speed-up for this run (train it once with one worker first)",
                    file=sys.stderr,
                )
            return None
        return cls(Path(tensorboard_dir) / SPEEDUP_RUN, baseline)

    def add(self, step_seconds):
        """Record the next step's seconds and write the speed-up so far."""
        self.steps += 1
        value = self.speedup.add(step_seconds)
        if value is not None:
            self.writer.scalars(self.steps, {"minidl/speedup": value})

    def close(self):
        """Flush and close the event file."""
        self.writer.close()


def run_name(model, backend, processes, threads, started) -> str:
    """A TensorBoard run's folder name: ``lenet5_pool_2workers_1thread_2025-06-01_10-00-00``.

    `processes` counts workers (MPI ranks for backend "mpi"); `threads` (BLAS threads each, None when
    unknown) and `started` (a datetime, or None) complete it.
    """
    unit = "rank" if backend == "mpi" else "worker"
    parts = [
        sanitize_name(model)[:60],
        sanitize_name(backend or "pool"),
        f"{processes}{unit}{'s' if processes != 1 else ''}",
        "unknown-threads" if threads is None else f"{threads}thread{'s' if threads != 1 else ''}",
        started.strftime("%Y-%m-%d_%H-%M-%S") if started is not None else "undated",
    ]
    return "_".join(parts)


def recorded_run_name(run: dict) -> str:
    """`run_name` of a recorded run, from its settings and its `started` time."""
    backend, processes, threads = column_key(run)
    return run_name(run.get("settings", {}).get("model") or "model", backend, processes, threads, _started(run))


def export_tensorboard(directory=DEFAULT_DIR, logdir="tb") -> tuple[list[dict], list[tuple[str, str]]]:
    """Write every run of `directory` not yet in `logdir` as a TensorBoard run there.

    Returns (exported, skipped): per exported run a dict {name, path, steps, epochs, speedup (bool)};
    skipped (name, reason) pairs for runs already there and for what `load_runs` left out. NoRuns
    when the folder holds no run; ImportError (naming the extra) without tensorboard.
    """
    tensorboard_modules()
    runs, _, left_out = load_runs(directory)
    if not runs:
        raise NoRuns(f"no runs in {directory} (train with callbacks=[StatisticsTracker()] first)")
    logdir = Path(logdir)
    logdir.mkdir(parents=True, exist_ok=True)
    rows = summarize(runs)
    baselines = {}
    names = _unique_names(runs)
    exported, skipped = [], [(name, f"not exported: {reason}") for name, reason in left_out]
    for run in runs:
        name = names[run.get("id", id(run))]
        target = logdir / name
        if target.exists():
            skipped.append((name, f"already in {logdir} (exported before)"))
            continue
        section = section_key(run)
        if section not in baselines:
            baselines[section] = one_worker_step_time(rows, section)
        temporary = logdir / f".{name}.{os.getpid()}.tmp"
        shutil.rmtree(temporary, ignore_errors=True)  # left by an earlier export of this process id that was killed
        temporary.mkdir()
        try:
            figures = write_run(run, temporary, baselines[section])
            os.rename(temporary, target)
        finally:
            if temporary.exists():
                shutil.rmtree(temporary, ignore_errors=True)
        exported.append({"name": name, "path": target, **figures})
    return exported, skipped


def write_run(run: dict, folder, baseline_step_seconds=None) -> dict:
    """Write one recorded run's events into `folder`; returns {steps, epochs, speedup (bool)}."""
    writer = EventWriter(folder)
    start = _started(run)
    start = start.timestamp() if start is not None else 0.0
    step_times = [float(t) for t in run.get("timings", {}).get("step_times", [])]
    step_walls, epoch_walls = _wall_times(run, step_times, start)
    metrics = run.get("step_metrics") or {}
    speedup = RunningSpeedup(baseline_step_seconds) if baseline_step_seconds else None
    for index, (seconds, wall) in enumerate(zip(step_times, step_walls)):
        values = {"minidl/step_seconds": seconds}
        if speedup is not None:
            value = speedup.add(seconds)
            if value is not None:
                values["minidl/speedup"] = value
        for metric, column in metrics.items():
            if index < len(column) and column[index] is not None:
                values[f"step/{metric}"] = column[index]
        writer.scalars(index + 1, values, wall_time=wall)
    epochs = run.get("epochs", [])
    epoch_times = run.get("timings", {}).get("epoch_times", [])
    for index, (epoch, wall) in enumerate(zip(epochs, epoch_walls)):
        values = {f"epoch_{key}": epoch[key] for key in ("loss", "accuracy", "val_loss", "val_accuracy")}
        if index < len(epoch_times):
            values["epoch_seconds"] = epoch_times[index]
        values = {tag: value for tag, value in values.items() if value is not None}
        writer.scalars(epoch.get("epoch", index + 1) - 1, values, wall_time=wall)
    writer.text(0, "run", _card(run, baseline_step_seconds), wall_time=start)
    writer.close()
    if writer.failed:
        raise OSError(f"could not write the TensorBoard run {folder}")
    return {"steps": len(step_times), "epochs": len(epochs), "speedup": speedup is not None}


def _wall_times(run, step_times, start):
    """Wall-clock times of each step's end and each epoch's end, rebuilt from the recorded durations.

    Steps follow one another inside an epoch; an epoch ends `epoch_time` after it began (its
    validation included), and the next one begins then.
    """
    epochs = run.get("epochs", [])
    epoch_times = run.get("timings", {}).get("epoch_times", [])
    step_walls, epoch_walls, clock, index = [], [], start, 0
    for number, epoch in enumerate(epochs):
        began = clock
        for seconds in step_times[index : index + (epoch.get("steps") or 0)]:
            clock += seconds
            step_walls.append(clock)
        index += epoch.get("steps") or 0
        clock = max(clock, began + epoch_times[number]) if number < len(epoch_times) else clock
        epoch_walls.append(clock)
    for seconds in step_times[index:]:  # an epoch cut short, or a record without per-epoch step counts
        clock += seconds
        step_walls.append(clock)
    return step_walls, epoch_walls


def _card(run: dict, baseline_step_seconds) -> str:
    """The run's text card: how it ended and its settings, as a Markdown table."""
    settings = run.get("settings", {})
    rows = [("status", run.get("status")), ("started", run.get("started")), ("error", run.get("error"))]
    rows += [(field, settings.get(field)) for field in CARD_FIELDS]
    optimizer = settings.get("optimizer") or {}
    rows.append(("optimizer", ", ".join(f"{k}={v}" for k, v in optimizer.items()) or None))
    rows.append(("training seconds", run.get("timings", {}).get("training_time")))
    speedup = (
        f"against the one-worker median step time of this setup, {baseline_step_seconds * 1000:.3f} ms"
        if baseline_step_seconds
        else "none: no finished one-worker run of this setup in the folder"
    )
    rows.append(("minidl/speedup", speedup))
    lines = ["| setting | value |", "|---|---|"]
    lines += [f"| {key} | {str(value).replace('|', '/')} |" for key, value in rows if value is not None]
    return "\n".join(lines)


def _started(run: dict):
    try:
        return datetime.datetime.fromisoformat(run["started"])
    except (KeyError, TypeError, ValueError):
        return None


def _unique_names(runs) -> dict:
    """{run id: folder name}; runs that would share a name (same setup, same second) get ``-2``, ``-3``..."""
    names, taken = {}, {}
    for run in sorted(runs, key=lambda r: (r.get("started") or "", r.get("id") or "")):
        name = recorded_run_name(run)
        taken[name] = taken.get(name, 0) + 1
        names[run.get("id", id(run))] = name if taken[name] == 1 else f"{name}-{taken[name]}"
    return names
