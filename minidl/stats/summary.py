"""Summary: runs -> rows, a pure function that the text, rich, JSON and plot outputs all format.

Runs are only averaged with runs they can honestly be compared with: same model and setup
(layers, optimizer, loss, dtype), dataset, host, sample counts, batch size and epochs form a
*section*; inside it each backend / worker count / BLAS-thread count is a *column*. Speed-ups
compare a column with the section's one-worker runs.
"""

from __future__ import annotations

import collections
import math

COUNTED_STATUSES = ("completed", "finished", "stopped")  # "finished": what completed runs were saved as before
SECTION_FIELDS = ("model", "setup", "dataset", "hostname", "samples", "val_samples", "batch_size", "epochs")
COLUMN_FIELDS = ("backend", "workers", "threads")


def summarize(runs) -> list[dict]:
    """One row per (section, column) of the runs: counts, mean/min/max times, mean accuracy per epoch, speed-up.

    A section gathers comparable runs (SECTION_FIELDS), a column one parallel configuration in it
    (COLUMN_FIELDS; `workers` is the MPI rank count for the mpi backend). Only finished and stopped
    runs are averaged; interrupted and failed runs are only counted. Step and epoch statistics pool
    every step / epoch of the averaged runs; training, validation and combined times are per-run
    totals. `speedup` is the section's one-worker mean epoch time divided by this row's.
    """
    groups = collections.defaultdict(list)
    for run in runs:
        groups[(section_key(run), column_key(run))].append(run)
    rows = [
        _group_row(section, column, members)
        for (section, column), members in sorted(groups.items(), key=lambda item: _sortable(item[0]))
    ]
    _add_speedups(rows)
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
    statuses = collections.Counter(run.get("status") for run in runs)
    latest = max(runs, key=lambda run: run.get("started") or "").get("settings", {})
    return {
        **dict(zip(SECTION_FIELDS, section)),
        **dict(zip(COLUMN_FIELDS, column)),
        "params": latest.get("params"),
        "optimizer": latest.get("optimizer"),
        "loss": latest.get("loss"),
        "dtype": latest.get("dtype"),
        "runs": len(counted),
        "stopped": statuses["stopped"],
        "interrupted": statuses["interrupted"],
        "failed": len(runs) - len(counted) - statuses["interrupted"],
        "first_started": min(run.get("started") or "" for run in runs) or None,
        "last_started": max(run.get("started") or "" for run in runs) or None,
        **_timing_stats(counted),
        "train_accuracy": _mean_per_epoch(counted, "accuracy"),
        "val_accuracy": _mean_per_epoch(counted, "val_accuracy"),
        "speedup": None,
        "speedup_baseline": None,
    }


def _timing_stats(runs: list) -> dict:
    def pooled(key):
        return [t for run in runs for t in run.get("timings", {}).get(key, []) if t is not None]

    def totals(key):
        return [run["timings"][key] for run in runs if run.get("timings", {}).get(key) is not None]

    return {
        "step_time": spread(pooled("step_times")),
        "epoch_time": spread(pooled("epoch_times")),
        "training_time": spread(totals("training_time")),
        "validation_time": spread(totals("validation_time")),
        "combined_time": spread(totals("combined_time")),
    }


def spread(values) -> dict | None:
    """Mean, min, max and count of some numbers (None when there are none)."""
    values = list(values)
    if not values:
        return None
    return {"mean": math.fsum(values) / len(values), "min": min(values), "max": max(values), "count": len(values)}


def _mean_per_epoch(runs: list, key: str) -> list:
    """For epoch 1, 2, ...: the mean of `key` over the runs that reached that epoch (None if no value)."""
    per_epoch = collections.defaultdict(list)
    for run in runs:
        for index, epoch in enumerate(run.get("epochs", [])):
            if epoch.get(key) is not None:
                per_epoch[index].append(epoch[key])
    length = max(per_epoch, default=-1) + 1
    return [math.fsum(per_epoch[i]) / len(per_epoch[i]) if per_epoch[i] else None for i in range(length)]


def _add_speedups(rows: list):
    """Set `speedup` of each row against its section's one-worker column (most runs; then fewest threads)."""
    for section_rows in group_sections(rows):
        single = [row for row in section_rows if row["workers"] == 1 and row["epoch_time"]]
        if not single:
            continue
        base = min(single, key=lambda row: (-row["runs"], row["threads"] is None, row["threads"] or 0))
        for row in section_rows:
            if row["epoch_time"]:
                row["speedup"] = base["epoch_time"]["mean"] / row["epoch_time"]["mean"]
                row["speedup_baseline"] = column_label(base, sep=", ")


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
