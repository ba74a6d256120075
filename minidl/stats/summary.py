"""Summary: runs -> rows, a pure function that the text, rich, JSON, report and plot outputs all format.

Runs are only compared with runs they can honestly be compared with: same model and setup
(layers, optimizer, loss, dtype), dataset, host, sample counts, batch size and epochs form a
*section*; inside it each backend / worker count / BLAS-thread count is a *column*. Times are
summarised by their median (a busy machine makes a few runs slow: the median is not dragged by
them) with min-max and count beside it; `scaling` then compares each column's median training time
with the section's one-worker column (speed-up, efficiency, Karp-Flatt, flags, Amdahl prediction).
"""

from __future__ import annotations

import collections
import math
import statistics

from .scaling import add_scaling, baseline
from .validation import PROCESS_FIELDS

COUNTED_STATUSES = ("completed", "finished", "stopped")  # "finished": what completed runs were saved as before
SECTION_FIELDS = ("model", "setup", "dataset", "hostname", "samples", "val_samples", "batch_size", "epochs")
COLUMN_FIELDS = ("backend", "workers", "threads")


def summarize(runs) -> list[dict]:
    """One row per (section, column) of the runs: counts, mean/min/max times, mean accuracy per epoch, speed-up.

    A section gathers comparable runs (SECTION_FIELDS), a column one parallel configuration in it
    (COLUMN_FIELDS; `workers` is the MPI rank count for the mpi backend). Only finished and stopped
    runs are counted; interrupted and failed runs are only tallied. Step and epoch statistics pool
    every step / epoch of the counted runs; training, validation, combined and start-up times are
    per-run totals of the runs that trained at least one epoch; compute / other per step are per-run
    means. Speed-up and the rest of the scaling figures are added by `scaling.add_scaling` (on training
    time only: validation is not parallel work).
    """
    groups = collections.defaultdict(list)
    for run in runs:
        groups[(section_key(run), column_key(run))].append(run)
    rows = [
        _group_row(section, column, members)
        for (section, column), members in sorted(groups.items(), key=lambda item: _sortable(item[0]))
    ]
    for section_rows in group_sections(rows):
        add_scaling(section_rows)
    return rows


def section_key(run: dict) -> tuple:
    """The values of SECTION_FIELDS for a run (runs are only compared within one section)."""
    settings = run.get("settings", {})
    return tuple(settings.get(field) for field in SECTION_FIELDS)


def column_key(run: dict) -> tuple:
    """The values of COLUMN_FIELDS for a run: backend, parallel processes (workers or MPI ranks), BLAS threads."""
    settings = run.get("settings", {})
    backend = settings.get("backend") or "pool"
    workers = settings.get("ranks") if backend == "mpi" else settings.get("workers")
    return backend, workers or 1, settings.get("threads_per_worker")


def _group_row(section: tuple, column: tuple, runs: list) -> dict:
    counted = [run for run in runs if run.get("status") in COUNTED_STATUSES]
    # A run that trained no epoch (a resume with nothing left to do) is counted but has no time to average.
    timed = [run for run in counted if run.get("epochs") or "epochs" not in run]
    statuses = collections.Counter(run.get("status") for run in runs)
    latest = max(runs, key=lambda run: run.get("started") or "").get("settings", {})
    return {
        **dict(zip(SECTION_FIELDS, section)),
        **dict(zip(COLUMN_FIELDS, column)),
        "params": latest.get("params"),
        "cpus_available": latest.get("cpus_available"),
        "optimizer": latest.get("optimizer"),
        "loss": latest.get("loss"),
        "dtype": latest.get("dtype"),
        "runs": len(counted),
        "stopped": statuses["stopped"],
        "interrupted": statuses["interrupted"],
        "killed": statuses["killed"],  # left `running` by a process that is gone (see liveness.mark_killed)
        "failed": len(runs) - len(counted) - statuses["interrupted"] - statuses["killed"],
        "first_started": min(run.get("started") or "" for run in runs) or None,
        "last_started": max(run.get("started") or "" for run in runs) or None,
        **_timing_stats(timed),
        "train_accuracy": _mean_per_epoch(counted, "accuracy"),
        "val_accuracy": _mean_per_epoch(counted, "val_accuracy"),
        "exchange": _exchange(counted),
        "load_average": spread(loads[0] for run in counted for loads in run.get("load_averages") or []),
        "processes": _processes(counted),
    }


def _timing_stats(runs: list) -> dict:
    def pooled(key):
        return [t for run in runs for t in run.get("timings", {}).get(key, []) if t is not None]

    def totals(key):
        return [run["timings"][key] for run in runs if run.get("timings", {}).get(key) is not None]

    def per_run(function):
        values = [function(run) for run in runs]
        return [value for value in values if value is not None]

    return {
        "step_time": spread(pooled("step_times")),
        "epoch_time": spread(pooled("epoch_times")),
        "epoch_training_time": spread(
            e["training_time"] for run in runs for e in run.get("epochs", []) if e.get("training_time") is not None
        ),
        "training_time": spread(totals("training_time")),
        "validation_time": spread(totals("validation_time")),
        "combined_time": spread(totals("combined_time")),
        "startup_time": spread(per_run(_startup_time)),
        "compute_step": spread(per_run(_compute_per_step)),
        "other_step": spread(per_run(_other_per_step)),
        "compute_total": spread(per_run(_compute_total)),
        "other_total": spread(per_run(_other_total)),
    }


def _compute_total(run: dict):
    """Seconds of gradient computation over the whole run (the slowest process's, step by step)."""
    timings = run.get("timings", {})
    if timings.get("compute_time") is None or not timings.get("compute_steps"):
        return None
    return timings["compute_time"]


def _other_total(run: dict):
    """Training time not spent computing gradients: messages, waiting, summing, updates, bookkeeping."""
    compute = _compute_total(run)
    training = run.get("timings", {}).get("training_time")
    if compute is None or training is None:
        return None
    return max(0.0, training - compute)


def _startup_time(run: dict):
    """Seconds of the run outside its epochs (worker start-up, data sharing, saving): run - combined time,
    plus the worker pool's start when it was started before `fit` (``timings.startup_time``)."""
    timings = run.get("timings", {})
    if timings.get("run_time") is None or timings.get("combined_time") is None:
        return None
    return max(0.0, timings["run_time"] - timings["combined_time"]) + (timings.get("startup_time") or 0.0)


def _compute_per_step(run: dict):
    """Mean seconds per step of gradient computation (the slowest process's), when the run recorded it."""
    timings = run.get("timings", {})
    if timings.get("compute_time") is None or not timings.get("compute_steps"):
        return None
    return timings["compute_time"] / timings["compute_steps"]


def _other_per_step(run: dict):
    """Mean seconds per step spent outside gradient computation: messages, waiting, summing, update."""
    compute = _compute_per_step(run)
    steps = [t for t in run.get("timings", {}).get("step_times", []) if t is not None]
    if compute is None or not steps:
        return None
    return max(0.0, mean(steps) - compute)


def _exchange(runs: list) -> dict | None:
    """Median gradient size (bytes) and measured reduction rate (bytes/s) of the runs that recorded them."""
    found = [run["exchange"] for run in runs if isinstance(run.get("exchange"), dict)]
    sizes = [e["gradient_bytes"] for e in found if e.get("gradient_bytes")]
    rates = [e["reduce_rate"] for e in found if e.get("reduce_rate")]
    if not sizes or not rates:
        return None
    return {"gradient_bytes": statistics.median(sizes), "reduce_rate": statistics.median(rates)}


def _processes(runs: list) -> dict | None:
    """Per process (the parent first), medians over the runs that recorded them: its share of the pieces,
    its idle seconds per step and the share of its computing it spent off the CPU (other work ran)."""
    found = []  # (per-process totals, steps recorded)
    for run in runs:
        totals = run.get("processes")
        if isinstance(totals, dict) and all(isinstance(totals.get(key), list) for key in PROCESS_FIELDS):
            found.append((totals, len(run.get("timings", {}).get("step_times") or [])))
    if not found:
        return None
    count = min(len(totals[key]) for totals, _ in found for key in PROCESS_FIELDS)

    figures = {"pieces_share": [], "idle_per_step": [], "descheduled_share": []}
    for process in range(count):
        values = {key: [] for key in figures}
        for totals, steps in found:
            if sum(totals["pieces"]):
                values["pieces_share"].append(totals["pieces"][process] / sum(totals["pieces"]))
            if steps:
                values["idle_per_step"].append(totals["idle_time"][process] / steps)
            computing = totals["compute_time"][process]
            if computing:
                values["descheduled_share"].append(totals["descheduled_time"][process] / computing)
        for key in figures:
            figures[key].append(statistics.median(values[key]) if values[key] else None)
    return figures


def spread(values) -> dict | None:
    """Median, mean, min, max and count of some numbers (None when there are none)."""
    values = list(values)
    if not values:
        return None
    return {
        "median": statistics.median(values),
        "mean": mean(values),
        "min": min(values),
        "max": max(values),
        "count": len(values),
    }


def mean(values: list) -> float:
    """The exact mean (math.fsum), also of numbers whose sum would overflow a float."""
    try:
        return math.fsum(values) / len(values)
    except OverflowError:
        return math.fsum(value / len(values) for value in values)


def _mean_per_epoch(runs: list, key: str) -> list:
    """For epoch 1, 2, ...: the mean of `key` over the runs that reached that epoch (None if no value)."""
    per_epoch = collections.defaultdict(list)
    for run in runs:
        for index, epoch in enumerate(run.get("epochs", [])):
            if epoch.get(key) is not None:
                per_epoch[index].append(epoch[key])
    length = max(per_epoch, default=-1) + 1
    return [mean(per_epoch[i]) if per_epoch[i] else None for i in range(length)]


def one_worker_step_time(rows: list, section: tuple):
    """The median step time (seconds) of `section`'s one-worker column in the summary `rows`: the column
    `scaling.baseline` measures speed-up against. None when the section has no such column."""
    base = baseline([row for row in rows if tuple(row[field] for field in SECTION_FIELDS) == tuple(section)])
    return base["step_time"]["median"] if base is not None and base.get("step_time") else None


def group_sections(rows: list) -> list[list[dict]]:
    """Rows split into their sections, in order (rows of one section are adjacent after `summarize`)."""
    sections = collections.OrderedDict()
    for row in rows:
        sections.setdefault(tuple(row[field] for field in SECTION_FIELDS), []).append(row)
    return list(sections.values())


def _sortable(key):
    """A sort key for nested tuples that may hold None (None sorts last)."""
    if isinstance(key, tuple):
        return tuple(_sortable(part) for part in key)
    return (key is None, key if key is not None else 0) if not isinstance(key, str) else (False, key)


def column_label(row: dict, sep="\n") -> str:
    """'pool' / '4 workers' / '2 threads' (or 'mpi' / '4 ranks'), joined by `sep`."""
    unit = "rank" if row["backend"] == "mpi" else "worker"
    parts = [row["backend"], f"{row['workers']} {unit}{'s' if row['workers'] != 1 else ''}"]
    threads = row["threads"]
    parts.append("? threads" if threads is None else f"{threads} thread{'s' if threads != 1 else ''}")
    return sep.join(parts)


def counted(runs) -> list:
    """The runs that are averaged: finished and stopped ones (COUNTED_STATUSES)."""
    return [run for run in runs if run.get("status") in COUNTED_STATUSES]


def per_epoch_spread(runs, key: str) -> list[tuple[int, dict]]:
    """[(epoch number, spread of `key`)] over the runs that reached each epoch and recorded `key`."""
    values = collections.defaultdict(list)
    for run in runs:
        for index, epoch in enumerate(run.get("epochs", [])):
            if epoch.get(key) is not None:
                number = epoch.get("epoch")
                values[index + 1 if number is None else number].append(float(epoch[key]))
    return [(epoch, spread(values[epoch])) for epoch in sorted(values)]


def final_value(run: dict, key: str):
    """`key` of the run's last epoch that recorded it (None if none did)."""
    for epoch in reversed(run.get("epochs", [])):
        if epoch.get(key) is not None:
            return float(epoch[key])
    return None


def step_times_by_column(runs) -> dict:
    """All step times (seconds) of the runs, by (section key, column key)."""
    times = collections.defaultdict(list)
    for run in runs:
        steps = run.get("timings", {}).get("step_times", [])
        times[(section_key(run), column_key(run))].extend(t for t in steps if t is not None)
    return dict(times)


def accuracy_vs_time(runs) -> list[dict]:
    """Per (section, column) of the counted runs: the spread of the per-run training time and of the final
    accuracy (validation when every run has one, else training), with the raw values.

    Each point: model, section, column, times, accuracy (fractions), time / accuracy spreads,
    validation (bool), runs. Groups without a training time or an accuracy are left out.
    """
    groups = collections.defaultdict(list)
    for run in counted(runs):
        groups[(section_key(run), column_key(run))].append(run)
    points = []
    for (section, column), members in groups.items():
        times = [r["timings"]["training_time"] for r in members if r.get("timings", {}).get("training_time")]
        val = [final_value(r, "val_accuracy") for r in members]
        validation = all(v is not None for v in val)
        accuracy = val if validation else [final_value(r, "accuracy") for r in members]
        accuracy = [a for a in accuracy if a is not None]
        if times and accuracy:
            points.append(
                {
                    "model": section[0],
                    "section": section,
                    "column": column,
                    "times": times,
                    "accuracy": accuracy,
                    "time": spread(times),
                    "accuracy_spread": spread(accuracy),
                    "validation": validation,
                    "runs": len(members),
                }
            )
    return points
