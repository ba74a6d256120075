"""Checking a loaded run's field types, so that one hand-edited run cannot break the summary of the others.

Statistics files are JSON that people may edit; valid JSON with a field of the wrong type (a batch
size as text, a step time as a list) used to crash every summary, plot and later save of the
folder. `run_problem` names the first such field; `store.load_runs` leaves the run out and reports it.
"""

from __future__ import annotations

import json

_NUMBER = (int, float)
_TEXT = (str,)
_COUNT = (int,)
_RUN_FIELDS = {
    "id": _TEXT,
    "started": _TEXT,
    "status": _TEXT,
    "error": _TEXT,
    "pid": _COUNT,
    "host": _TEXT,
    "process_started": _COUNT,
    "epochs_completed": _COUNT,
    "settings": (dict,),
    "timings": (dict,),
    "epochs": (list,),
    "unfinished_epoch": (dict,),
    "exchange": (dict,),
    "processes": (dict,),
    "load_averages": (list,),
}
_SETTINGS_FIELDS = {
    **dict.fromkeys(("model", "setup", "dataset", "hostname", "backend", "loss", "dtype", "model_name"), _TEXT),
    **dict.fromkeys(
        ("samples", "val_samples", "batch_size", "epochs", "steps_per_epoch", "params", "workers", "ranks"), _COUNT
    ),
    "threads_per_worker": _COUNT,
    "seed": _COUNT,
    "optimizer": (dict,),
    "input_shape": (list,),
    "layers": (list,),
}
_TIMING_FIELDS = {
    **dict.fromkeys(("training_time", "validation_time", "combined_time", "run_time"), _NUMBER),
    # the compute / communication split of trainings/step_split.py
    **dict.fromkeys(("compute_time", "startup_time"), _NUMBER),
    "compute_steps": _COUNT,
}
#: Per process totals of a run (``run["processes"]``, parent first): pieces computed, seconds computing,
#: idle, and off the CPU while computing (descheduled: other work held it).
PROCESS_FIELDS = ("pieces", "compute_time", "idle_time", "descheduled_time")
_EXCHANGE_FIELDS = {"gradient_bytes": _COUNT, "reduce_rate": _NUMBER, "what": _TEXT}
_EPOCH_FIELDS = {
    "epoch": _COUNT,
    "steps": _COUNT,
    **dict.fromkeys(("training_time", "validation_time", "loss", "accuracy", "val_loss", "val_accuracy"), _NUMBER),
}


def run_problem(run) -> str | None:
    """What is wrong with a loaded run's field types (None when nothing is).

    Every field the summary, the tables and the plots read is checked: a field may be missing
    or null (older files lack some), but when present it must have its type -- text, a whole
    number, a number, or a list of numbers for the step and epoch times.
    """
    if not isinstance(run, dict):
        return f"a run must be an object, not {_type_name(run)}"
    problem = _fields_problem(run, _RUN_FIELDS, "")
    if problem:
        return problem
    settings, timings = run.get("settings") or {}, run.get("timings") or {}
    problem = _fields_problem(settings, _SETTINGS_FIELDS, "settings.")
    if problem:
        return problem
    problem = (
        _table_problem(timings, "pieces", _COUNT, "timings.")
        or _table_problem(timings, "idle_times", _NUMBER, "timings.")
        or _table_problem(run, "load_averages", _NUMBER, "")
    )
    if problem:
        return problem
    processes = run.get("processes") or {}
    for key in PROCESS_FIELDS:
        values = processes.get(key)
        if values is not None and (not isinstance(values, list) or not all(_is_a(v, _NUMBER) for v in values)):
            return f"processes.{key} must be a list of numbers, not {_short(values)}"
    for key in ("step_times", "epoch_times"):
        values = timings.get(key)
        if values is None and key in timings:
            return f"timings.{key} must be a list of numbers, not null"
        if values is None:
            continue
        if not isinstance(values, list):
            return f"timings.{key} must be a list of numbers, not {_type_name(values)}"
        bad = next((i for i, value in enumerate(values) if not _is_a(value, _NUMBER)), None)
        if bad is not None:
            return f"timings.{key}[{bad}] must be a number, not {_type_name(values[bad])}"
    problem = _fields_problem(timings, _TIMING_FIELDS, "timings.") or _fields_problem(
        run.get("exchange") or {}, _EXCHANGE_FIELDS, "exchange."
    )
    if problem:
        return problem
    epochs = run.get("epochs") or []
    if run.get("unfinished_epoch"):
        epochs = [*epochs, run["unfinished_epoch"]]
    for index, epoch in enumerate(epochs):
        if not isinstance(epoch, dict):
            return f"epochs[{index}] must be an object, not {_type_name(epoch)}"
        problem = _fields_problem(epoch, _EPOCH_FIELDS, f"epochs[{index}].")
        if problem:
            return problem
    return None


def _table_problem(record: dict, key: str, types, prefix: str) -> str | None:
    """What is wrong with `record[key]` as a list of lists of `types` (None when absent or right)."""
    rows = record.get(key)
    if rows is None:
        return None
    if not isinstance(rows, list):
        return f"{prefix}{key} must be a list of lists, not {_type_name(rows)}"
    for index, row in enumerate(rows):
        if not isinstance(row, list):
            return f"{prefix}{key}[{index}] must be a list, not {_type_name(row)}"
        bad = next((i for i, value in enumerate(row) if not _is_a(value, types)), None)
        if bad is not None:
            expected = "a number" if types == _NUMBER else "a whole number"
            return f"{prefix}{key}[{index}][{bad}] must be {expected}, not {_type_name(row[bad])}"
    return None


#: Fields read as containers (``run.get("settings", {})``...): present means an object or a list, never null.
_NOT_NULL = {"settings", "timings", "epochs", "step_times", "epoch_times"}


def _fields_problem(record: dict, fields: dict, prefix: str) -> str | None:
    for key, types in fields.items():
        value = record.get(key)
        if value is None and key in record and key in _NOT_NULL:
            return f"{prefix}{key} must be {_TYPE_NAMES[types[0]]}, not null"
        if value is not None and not _is_a(value, types):
            expected = "a number" if types == _NUMBER else " or ".join(_TYPE_NAMES[t] for t in types)
            return f"{prefix}{key} must be {expected} or null, not {_type_name(value)} {_short(value)}"
    return None


_TYPE_NAMES = {int: "a whole number", float: "a number", str: "text", dict: "an object", list: "a list"}


def _is_a(value, types) -> bool:
    """isinstance, except that true/false are not numbers (bool is an int in Python, not in a run)."""
    return isinstance(value, types) and not isinstance(value, bool)


def _type_name(value) -> str:
    names = {bool: "true/false", int: "a whole number", float: "a number", str: "text", dict: "an object"}
    return names.get(type(value), "a list" if isinstance(value, list) else type(value).__name__)


def _short(value) -> str:
    text = json.dumps(value, default=str)
    return f"({text[:40]}...)" if len(text) > 43 else f"({text})"
