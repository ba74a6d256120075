"""Checking a loaded run's field types, so that one hand-edited run cannot break the summary of the others.

Statistics files are JSON that people may edit; valid JSON with a field of the wrong type (a batch
size as text, a step time as a list) used to crash every summary, plot and later save of the
folder. `run_problem` names the first such field; `store.load_runs` leaves the run out and reports it.
"""

from __future__ import annotations

import dataclasses
import json
import math


@dataclasses.dataclass(frozen=True)
class Kind:
    """What a field may hold: Python types (true/false never counts as a number) and, for numbers, a
    least value; numbers must also be finite (an editor may write NaN or Infinity, which JSON readers take)."""

    types: tuple
    name: str
    minimum: float | None = None
    maximum: float | None = None

    def problem(self, value) -> str | None:
        """Why `value` is not of this kind (None when it is)."""
        if not _is_a(value, self.types):
            return f"must be {self.name} or null, not {_type_name(value)} {_short(value)}"
        if isinstance(value, float) and not math.isfinite(value):
            return f"must be a finite number, not {value}"
        if self.minimum is not None and value < self.minimum:
            return f"must be at least {self.minimum:g}, not {value:g}"
        if self.maximum is not None and value > self.maximum:
            return f"must be at most {self.maximum:g}, not {value:g}"
        return None


# Numbers must also stay clear of the float range's ends, where a sum or a difference of two of them
# (an axis range, a stacked bar) overflows; whole numbers within what a float holds exactly.
_NUMBER = Kind((int, float), "a number", -1e300, 1e300)
# Times are seconds: never negative, and a billion (32 years) is beyond any run, so a larger one is an
# editing mistake.
_SECONDS = Kind((int, float), "a number", 0, 1e9)
_FRACTION = Kind((int, float), "a number", 0, 1)  # accuracy
_TEXT = Kind((str,), "text")
_COUNT = Kind((int,), "a whole number", 0, 2**53)
_PROCESSES = Kind((int,), "a whole number", 1, 2**53)  # workers, ranks, threads, CPUs: at least one
_OBJECT = Kind((dict,), "an object")
_LIST = Kind((list,), "a list")
_RUN_FIELDS = {
    "id": _TEXT,
    "started": _TEXT,
    "status": _TEXT,
    "error": _TEXT,
    "pid": _COUNT,
    "host": _TEXT,
    "process_started": _COUNT,
    "epochs_completed": _COUNT,
    "settings": _OBJECT,
    "timings": _OBJECT,
    "epochs": _LIST,
    "step_metrics": _OBJECT,
    "unfinished_epoch": _OBJECT,
    "exchange": _OBJECT,
    "processes": _OBJECT,
    "load_averages": _LIST,
}
_SETTINGS_FIELDS = {
    **dict.fromkeys(("model", "setup", "dataset", "hostname", "backend", "loss", "dtype", "model_name"), _TEXT),
    **dict.fromkeys(("samples", "val_samples", "batch_size", "epochs", "steps_per_epoch", "params", "seed"), _COUNT),
    **dict.fromkeys(("workers", "ranks", "threads_per_worker", "cpus_available"), _PROCESSES),
    "optimizer": _OBJECT,
    "input_shape": _LIST,
    "layers": _LIST,
}
_TIMING_FIELDS = {
    **dict.fromkeys(("training_time", "validation_time", "combined_time", "run_time"), _SECONDS),
    # the compute / communication split of trainings/step_split.py
    **dict.fromkeys(("compute_time", "startup_time"), _SECONDS),
    "compute_steps": _COUNT,
}
#: Per process totals of a run (``run["processes"]``, parent first): pieces computed, seconds computing,
#: idle, and off the CPU while computing (descheduled: other work held it).
PROCESS_FIELDS = ("pieces", "compute_time", "idle_time", "descheduled_time")
_EXCHANGE_FIELDS = {"gradient_bytes": _COUNT, "reduce_rate": Kind((int, float), "a number", 0, 1e300), "what": _TEXT}
_EPOCH_FIELDS = {
    "epoch": _COUNT,
    "steps": _COUNT,
    **dict.fromkeys(("training_time", "validation_time"), _SECONDS),
    **dict.fromkeys(("loss", "val_loss"), _NUMBER),
    **dict.fromkeys(("accuracy", "val_accuracy"), _FRACTION),
}


def run_problem(run) -> str | None:
    """What is wrong with a loaded run's field types (None when nothing is).

    Every field the summary, the tables and the plots read is checked: a field may be missing
    or null (older files lack some), but when present it must have its type -- text, a whole
    number, a number, a list of numbers for the step and epoch times, and lists of numbers or
    nulls for each step's loss and metrics (`step_metrics`).
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
        or _table_problem(timings, "idle_times", _SECONDS, "timings.")
        or _table_problem(run, "load_averages", _SECONDS, "")
    )
    if problem:
        return problem
    processes = run.get("processes") or {}
    for key in PROCESS_FIELDS:
        values = processes.get(key)
        problem = (
            None if values is None else _numbers_problem(values, f"processes.{key}", allow_null=False, kind=_SECONDS)
        )
        if problem:
            return problem
    for key in ("step_times", "epoch_times"):
        values = timings.get(key)
        if values is None and key in timings:
            return f"timings.{key} must be a list of numbers, not null"
        if values is None:
            continue
        if not isinstance(values, list):
            return f"timings.{key} must be a list of numbers, not {_type_name(values)}"
        for index, value in enumerate(values):
            problem = _SECONDS.problem(value)
            if problem:
                return f"timings.{key}[{index}] {problem.replace(' or null', '')}"
    for name, values in (run.get("step_metrics") or {}).items():
        problem = _numbers_problem(values, f"step_metrics.{name}", allow_null=True)
        if problem:
            return problem
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


def _table_problem(record: dict, key: str, kind: Kind, prefix: str) -> str | None:
    """What is wrong with `record[key]` as a list of lists of `kind` (None when absent or right)."""
    rows = record.get(key)
    if rows is None:
        return None
    if not isinstance(rows, list):
        return f"{prefix}{key} must be a list of lists, not {_type_name(rows)}"
    for index, row in enumerate(rows):
        problem = _numbers_problem(row, f"{prefix}{key}[{index}]", allow_null=False, kind=kind)
        if problem:
            return problem
    return None


def _numbers_problem(values, where: str, allow_null: bool, kind: Kind = _NUMBER) -> str | None:
    """What is wrong with a list of numbers of `kind` (None when nothing is); `allow_null`: nulls allowed."""
    expected = "a list of numbers or nulls" if allow_null else "a list of numbers"
    if not isinstance(values, list):
        return f"{where} must be {expected}, not {_type_name(values)}"
    for index, value in enumerate(values):
        if value is None and allow_null:
            continue
        problem = kind.problem(value)
        if problem:
            return f"{where}[{index}] {problem if allow_null else problem.replace(' or null', '')}"
    return None


#: Fields read as containers (``run.get("settings", {})``...): present means an object or a list, never null.
_NOT_NULL = {"settings", "timings", "epochs", "step_times", "epoch_times"}


def _fields_problem(record: dict, fields: dict, prefix: str) -> str | None:
    for key, kind in fields.items():
        value = record.get(key)
        if value is None and key in record and key in _NOT_NULL:
            return f"{prefix}{key} must be {kind.name}, not null"
        problem = None if value is None else kind.problem(value)
        if problem:
            return f"{prefix}{key} {problem}"
    return None


def _is_a(value, types) -> bool:
    """isinstance, except that true/false are not numbers (bool is an int in Python, not in a run)."""
    return isinstance(value, types) and not isinstance(value, bool)


def _type_name(value) -> str:
    names = {bool: "true/false", int: "a whole number", float: "a number", str: "text", dict: "an object"}
    return names.get(type(value), "a list" if isinstance(value, list) else type(value).__name__)


def _short(value) -> str:
    text = json.dumps(value, default=str)
    return f"({text[:40]}...)" if len(text) > 43 else f"({text})"
