"""Training statistics: every run's timings and accuracy, kept across runs and summarised.

`StatisticsTracker` is a callback for `fit`. It times every training step, every epoch and the
training / validation parts of each epoch with `time.perf_counter()`, records per-epoch loss and
accuracy and the run's settings (model, optimizer, batch size, workers, BLAS threads, versions,
host...), and when training ends - finished, stopped early, interrupted or failed - appends the run
to ``<out_dir>/<model>.json`` and regenerates ``<out_dir>/averages.txt`` from every JSON file there.

Why it is built this way:

* Files are written to a temporary file and `os.replace`d, and every read-append-write holds an
  `fcntl.flock` on ``<out_dir>/.stats.lock``, so Ctrl-C never leaves half a file and two runs ending
  together both land.
* A statistics file that cannot be read is never overwritten: the run goes to a new
  ``<model>.recovered-<timestamp>.json`` beside it, with a warning naming both files.
* Runs are only averaged with runs they can honestly be compared with: same model and setup
  (layers, optimizer, loss, dtype), dataset, host, sample counts, batch size and epochs form a
  *section*; inside it each backend / worker count / BLAS-thread count is a *column*. Speed-ups
  compare a column with the section's one-worker runs.
* `summarize` (runs -> rows) is a pure function; `render_text`, `print_summary` and the `--json`
  output only format its rows, so plots can reuse it.

Command line: ``python -m minidl.stats [DIR] [--json | --plot]`` (--plot draws with `minidl.plots`).
"""
from __future__ import annotations

import argparse
import collections
import contextlib
import dataclasses
import datetime
import hashlib
import json
import math
import os
import platform
import re
import socket
import sys
import tempfile
import time
import uuid
import warnings
from pathlib import Path

from .callbacks import Callback

try:  # POSIX only; elsewhere writes are still atomic but concurrent runs are not serialised.
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None

FORMAT = "minidl-stats"
VERSION = 1
SUMMARY_FORMAT = "minidl-stats-summary"
DEFAULT_DIR = "stats_out"
AVERAGES_FILE = "averages.txt"
LOCK_FILE = ".stats.lock"
COUNTED_STATUSES = ("finished", "stopped")
SECTION_FIELDS = ("model", "setup", "dataset", "hostname", "samples", "val_samples", "batch_size", "epochs")
COLUMN_FIELDS = ("backend", "workers", "threads")
TIME_DECIMALS = 7  # 0.1 microsecond: far below timing noise, keeps the JSON small


# ======================================================================================
# Recording a run
# ======================================================================================
class StatisticsTracker(Callback):
    """Callback that records one run per `fit` call and saves it under `out_dir`.

    `model_name` (default: the model's name) names the JSON file and groups runs in the summary;
    `dataset` is a free-form label stored with each run; with `verbose`, the model's summary table
    is printed after each run. Under MPI only rank 0 records and writes anything.

    What is timed (wall clock in the parent process): a *step* from its `on_train_batch_begin` to
    its `on_train_batch_end` (gradient, in all workers, plus the optimizer update); an *epoch* from
    `on_epoch_begin` to `on_epoch_end`; an epoch's *training* part from `on_epoch_begin` to
    `on_test_begin` (or to `on_epoch_end` without validation) and its *validation* part from
    `on_test_begin` to `on_test_end`. Run totals: training, validation, combined = their sum.
    """

    def __init__(self, model_name=None, out_dir=DEFAULT_DIR, dataset=None, verbose=True):
        super().__init__()
        self.model_name = model_name
        self.out_dir = Path(out_dir)
        self.dataset = None if dataset is None else str(dataset)
        self.verbose = verbose
        self.run = None           # the run being recorded (a JSON-ready dict)
        self.last_saved = None    # SaveResult of the last saved run
        self._epoch = None        # the open epoch's record, None between epochs
        self._clock = {}          # perf_counter() marks: train, epoch, step, test

    @property
    def label(self) -> str:
        """The name runs are filed and grouped under: `model_name`, else the model's name."""
        return self.model_name or getattr(self.model, "name", None) or "model"

    # ----- hooks -----
    def on_train_begin(self, logs=None):
        self.run, self._epoch = None, None
        if self.params.get("rank", 0) != 0:
            return
        self.run = new_run(self.model, self.params, self.label, self.dataset)
        self._clock = {"train": time.perf_counter()}

    def on_epoch_begin(self, epoch, logs=None):
        if self.run is not None:
            self._epoch = {"epoch": epoch + 1, "steps": 0, "training_time": None, "validation_time": 0.0}
            self._clock["epoch"] = time.perf_counter()

    def on_train_batch_begin(self, batch, logs=None):
        self._clock["step"] = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        if self.run is not None and self._epoch is not None:
            elapsed = time.perf_counter() - self._clock["step"]
            self.run["timings"]["step_times"].append(round(elapsed, TIME_DECIMALS))
            self._epoch["steps"] += 1

    def on_test_begin(self, logs=None):
        if self.run is not None and self._epoch is not None:
            now = self._clock["test"] = time.perf_counter()
            if self._epoch["training_time"] is None:
                self._epoch["training_time"] = now - self._clock["epoch"]

    def on_test_end(self, logs=None):
        if self.run is not None and self._epoch is not None and "test" in self._clock:
            self._epoch["validation_time"] += time.perf_counter() - self._clock.pop("test")

    def on_epoch_end(self, epoch, logs=None):
        if self.run is None or self._epoch is None:
            return
        elapsed = time.perf_counter() - self._clock["epoch"]
        record = _close_epoch(self._epoch, elapsed, logs or {})
        self.run["epochs"].append(record)
        self.run["timings"]["epoch_times"].append(round(elapsed, TIME_DECIMALS))
        self._epoch = None

    def on_train_end(self, logs=None):
        if self.params.get("rank", 0) != 0:
            return
        logs = logs or {}
        try:
            if self.run is None:  # an earlier callback failed in on_train_begin
                self.on_train_begin()
            finish_run(self.run, self._unfinished_epoch(), time.perf_counter() - self._clock["train"],
                       logs.get("status", "finished"), logs.get("error"))
        except Exception as error:  # noqa: BLE001 - runs inside fit's `finally`: must not mask its error
            _warn(f"minidl.stats: could not record this run: {type(error).__name__}: {error}")
            return
        self._save()

    # ----- helpers -----
    def _unfinished_epoch(self):
        """The epoch cut short by Ctrl-C or an error (its times so far), or None."""
        if self._epoch is None:
            return None
        elapsed = time.perf_counter() - self._clock["epoch"]
        if "test" in self._clock:
            self._epoch["validation_time"] += time.perf_counter() - self._clock.pop("test")
        epoch, self._epoch = _close_epoch(self._epoch, elapsed, {}), None
        return epoch

    def _save(self):
        """Append the run and refresh averages.txt; a failure to save warns but never hides training's outcome."""
        try:
            self.last_saved = append_run(self.run, self.out_dir, self.label)
        except Exception as error:  # noqa: BLE001 - statistics must not break training
            _warn(f"minidl.stats: could not save the statistics of this run to {self.out_dir}: "
                  f"{type(error).__name__}: {error}")
            return
        if self.verbose:
            _report_saved(self.last_saved, self.label)


def _close_epoch(epoch: dict, elapsed: float, logs: dict) -> dict:
    """Finish an epoch record: its training/validation split (seconds) and its metrics."""
    training = epoch["training_time"] if epoch["training_time"] is not None else elapsed
    record = {"epoch": epoch["epoch"], "steps": epoch["steps"],
              "training_time": round(training, TIME_DECIMALS),
              "validation_time": round(epoch["validation_time"], TIME_DECIMALS)}
    for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
        record[key] = _number(logs.get(key))
    return record


def new_run(model, params: dict, label: str, dataset=None) -> dict:
    """A fresh run record (settings filled in, timings empty) for `model` trained with `params`."""
    return {"id": uuid.uuid4().hex,
            "started": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
            "status": "running", "error": None,
            "settings": run_settings(model, params, label, dataset),
            "timings": {"step_times": [], "epoch_times": []},
            "epochs": []}


def finish_run(run: dict, unfinished_epoch, run_time: float, status: str, error=None):
    """Fill in a run's status and totals. Training + validation = combined; an epoch cut short counts in the totals."""
    epochs = run["epochs"] + ([unfinished_epoch] if unfinished_epoch else [])
    training = math.fsum(e["training_time"] for e in epochs)
    validation = math.fsum(e["validation_time"] for e in epochs)
    run["status"], run["error"] = status, None if error is None else str(error)
    run["epochs_completed"] = len(run["epochs"])
    if unfinished_epoch:
        run["unfinished_epoch"] = unfinished_epoch
    run["timings"].update({"training_time": round(training, TIME_DECIMALS),
                           "validation_time": round(validation, TIME_DECIMALS),
                           "combined_time": round(training + validation, TIME_DECIMALS),
                           "run_time": round(run_time, TIME_DECIMALS)})
    return run


def run_settings(model, params: dict, label: str, dataset=None) -> dict:
    """Everything that may explain a run's timings or accuracy: model, training, parallelism, machine."""
    settings = {"model": label, **_model_settings(model), **_training_settings(params),
                **_parallel_settings(params), "dataset": dataset, **_machine_settings()}
    settings["setup"] = setup_fingerprint(settings)
    return settings


def _model_settings(model) -> dict:
    import numpy as np
    layers = []
    for layer, row in zip(model.layers, model.summary_rows()):
        config = {k: v for k, v in layer.get_config().items() if k != "name"}
        layers.append({**row, "config": config})
    return {"model_name": model.name, "input_shape": list(model.input_shape or []), "layers": layers,
            "params": model.count_params(), "dtype": np.dtype(model.dtype).name,
            "optimizer": model.optimizer.get_config() if model.optimizer else None,
            "loss": getattr(model.loss, "name", None), "seed": getattr(model, "seed", None)}


def _training_settings(params: dict) -> dict:
    return {"batch_size": params.get("batch_size"), "epochs": params.get("epochs"),
            "steps_per_epoch": params.get("steps"), "samples": params.get("samples"),
            "val_samples": params.get("val_samples", 0)}


def _parallel_settings(params: dict) -> dict:
    threads, source = params.get("threads_per_worker"), "params"
    blas = _blas_libraries()
    if threads is None:
        threads = max((entry["threads"] for entry in blas), default=None)
        source = "threadpoolctl in the parent process" if threads is not None else None
    return {"backend": params.get("backend", "pool"), "workers": params.get("workers", 1),
            "ranks": params.get("ranks", 1), "threads_per_worker": threads, "threads_source": source,
            "blas": blas}


def _blas_libraries() -> list:
    """The BLAS libraries loaded in this process, with their thread counts (threadpoolctl)."""
    try:
        from threadpoolctl import threadpool_info
        info = threadpool_info()
    except Exception:  # noqa: BLE001 - an odd BLAS must not stop training
        return []
    return [{"library": entry.get("internal_api"), "version": entry.get("version"),
             "threads": entry.get("num_threads")} for entry in info if entry.get("user_api") == "blas"]


def _machine_settings() -> dict:
    import numpy as np
    from . import __version__
    try:
        available = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        available = os.cpu_count()
    return {"python": platform.python_version(), "numpy": np.__version__, "minidl": __version__,
            "platform": platform.platform(), "cpu_count": os.cpu_count(), "cpus_available": available,
            "hostname": socket.gethostname()}


def setup_fingerprint(settings: dict) -> str:
    """Short hash of what makes runs comparable: layers (not their auto-numbered names), optimizer, loss, dtype."""
    layers = [[layer["class"], layer.get("config"), layer.get("output_shape")] for layer in settings.get("layers", [])]
    key = [settings.get("input_shape"), layers, settings.get("optimizer"), settings.get("loss"), settings.get("dtype")]
    return hashlib.sha1(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()[:8]


def _number(value):
    """A JSON-safe float: None for missing, NaN or infinite values."""
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


# ======================================================================================
# Files: reading, atomic writing, locking, recovery
# ======================================================================================
class DamagedStatsFile(ValueError):
    """A statistics file exists but is not valid JSON or not a minidl statistics document."""


@dataclasses.dataclass
class SaveResult:
    """Where `append_run` put a run, what it had to work around, and the refreshed summary rows."""

    path: Path
    damaged: Path | None = None
    damaged_reason: str | None = None
    rows: list = dataclasses.field(default_factory=list)
    skipped: list = dataclasses.field(default_factory=list)


def sanitize_name(name) -> str:
    """A safe file name from a model name: letters, digits, '.', '_' and '-' only, no leading dot."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "_", str(name)).strip("._")[:100]
    return cleaned or "model"


def stats_path(out_dir, model_name) -> Path:
    """The JSON file holding `model_name`'s runs in `out_dir`."""
    return Path(out_dir) / f"{sanitize_name(model_name)}.json"


def append_run(run: dict, out_dir=DEFAULT_DIR, model_name=None) -> SaveResult:
    """Append `run` to its model's JSON file and regenerate averages.txt, all under the folder lock.

    Safe against concurrent writers (flock) and crashes (temporary file + os.replace). If the
    model's file is damaged it is left byte-for-byte untouched and the run goes to a new
    ``<model>.recovered-<timestamp>.json``; a warning names both files.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    model_name = model_name or run.get("settings", {}).get("model") or "model"
    path = stats_path(out_dir, model_name)
    with folder_lock(out_dir):
        result = _append_locked(run, path, model_name)
        result.rows, result.skipped = write_averages(out_dir)
    if result.damaged:
        _warn(f"minidl.stats: {result.damaged} is damaged ({result.damaged_reason}); it was left untouched "
              f"and this run was saved to {result.path} instead. Repair or move {result.damaged.name} "
              "so later runs are appended to it again.")
    return result


def _append_locked(run: dict, path: Path, model_name: str) -> SaveResult:
    try:
        document = read_document(path)
    except DamagedStatsFile as error:
        recovered = write_new_file(_recovery_names(path), dump_document(new_document(model_name, [run])))
        return SaveResult(recovered, damaged=path, damaged_reason=str(error))
    document = document or new_document(model_name, [])
    document["runs"].append(run)
    atomic_write(path, dump_document(document))
    return SaveResult(path)


def new_document(model_name: str, runs: list) -> dict:
    """A statistics document: format name, format version, model name and its list of runs."""
    return {"format": FORMAT, "version": VERSION, "model": model_name, "runs": list(runs)}


def dump_document(document: dict) -> str:
    """Strict JSON text of a document, one run per line (appending a run adds one line to a git diff)."""
    head = {key: value for key, value in document.items() if key != "runs"}
    runs = ",\n".join(json.dumps(json_safe(run), allow_nan=False) for run in document["runs"])
    head_text = json.dumps(json_safe(head), allow_nan=False)[:-1]
    return f'{head_text}, "runs": [\n{runs}\n]}}\n' if runs else f'{head_text}, "runs": []}}\n'


def json_safe(value):
    """`value` with numpy scalars/arrays and tuples made plain, and NaN/infinity made None (strict JSON)."""
    if isinstance(value, dict):
        return {str(key): json_safe(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(item) for item in value]
    if hasattr(value, "tolist") and not isinstance(value, (str, bytes)):
        return json_safe(value.tolist())
    if isinstance(value, float):
        return _number(value)
    return value


def read_document(path) -> dict | None:
    """The statistics document in `path`, None if there is no file; DamagedStatsFile if unreadable."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as error:
        raise DamagedStatsFile(f"cannot be read: {error}") from None
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise DamagedStatsFile(f"not valid JSON: {error}") from None
    _check_document(document)
    return document


def _check_document(document):
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise DamagedStatsFile(f"not a {FORMAT} document")
    version = document.get("version")
    if not isinstance(version, int) or not 1 <= version <= VERSION:
        raise DamagedStatsFile(f"format version {version!r} is not supported (this minidl reads 1 to {VERSION})")
    runs = document.get("runs")
    if not isinstance(runs, list) or not all(isinstance(run, dict) for run in runs):
        raise DamagedStatsFile("'runs' is not a list of runs")


@contextlib.contextmanager
def folder_lock(out_dir):
    """Hold an exclusive flock on ``<out_dir>/.stats.lock`` (the lock file is never deleted: that would race)."""
    with open(Path(out_dir) / LOCK_FILE, "a") as handle:
        if fcntl is not None:
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            if fcntl is not None:
                fcntl.flock(handle, fcntl.LOCK_UN)


def atomic_write(path, text: str):
    """Replace `path` with `text` all at once: readers and crashes see the old or the new file, never half."""
    path = Path(path)
    temporary = _write_temporary(path, text)
    try:
        os.replace(temporary, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)


def write_new_file(candidates, text: str) -> Path:
    """Write `text` to the first of `candidates` that does not exist yet; never overwrites a file."""
    temporary = None
    try:
        for path in candidates:
            temporary = temporary or _write_temporary(path, text)
            try:
                os.link(temporary, path)  # atomic, and fails if `path` exists
                return path
            except FileExistsError:
                continue
            except OSError:  # no hard links on this file system: exclusive create (still never clobbers)
                try:
                    with open(path, "x", encoding="utf-8") as file:
                        file.write(text)
                    return path
                except FileExistsError:
                    continue
    finally:
        if temporary:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temporary)
    raise FileExistsError("no free file name for the recovered statistics")


def _write_temporary(path: Path, text: str) -> str:
    """Write `text` to a hidden temporary file beside `path` (same file system, so replace/link are atomic)."""
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        os.chmod(temporary, 0o644)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
    return temporary


def _recovery_names(path: Path):
    """``<model>.recovered-<timestamp>.json``, then ``...-2.json``, ``...-3.json``..."""
    stamp = datetime.datetime.now().strftime("%Y%m%dT%H%M%S")
    stem = f"{path.stem}.recovered-{stamp}"
    yield path.with_name(f"{stem}.json")
    for number in range(2, 10_000):
        yield path.with_name(f"{stem}-{number}.json")


def load_runs(out_dir=DEFAULT_DIR):
    """All runs of all statistics files in `out_dir`: (runs, number of files read, [(file name, reason skipped)])."""
    out_dir = Path(out_dir)
    runs, files, skipped = [], 0, []
    paths = sorted(out_dir.glob("*.json")) if out_dir.is_dir() else []
    for path in paths:
        if path.name.startswith("."):
            continue
        try:
            document = read_document(path)
        except DamagedStatsFile as error:
            skipped.append((path.name, str(error)))
            continue
        if document is not None:
            runs.extend(document["runs"])
            files += 1
    return runs, files, skipped


def write_averages(out_dir):
    """Regenerate ``<out_dir>/averages.txt`` from every JSON file there; returns (rows, skipped). Call under the lock."""
    runs, files, skipped = load_runs(out_dir)
    rows = summarize(runs)
    atomic_write(Path(out_dir) / AVERAGES_FILE, render_text(rows, skipped, files))
    return rows, skipped


# ======================================================================================
# Summary: runs -> rows (pure)
# ======================================================================================
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
    rows = [_group_row(section, column, members)
            for (section, column), members in sorted(groups.items(), key=lambda item: _sortable(item[0]))]
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
    return {**dict(zip(SECTION_FIELDS, section)), **dict(zip(COLUMN_FIELDS, column)),
            "params": latest.get("params"), "optimizer": latest.get("optimizer"), "loss": latest.get("loss"),
            "dtype": latest.get("dtype"),
            "runs": len(counted), "stopped": statuses["stopped"], "interrupted": statuses["interrupted"],
            "failed": len(runs) - len(counted) - statuses["interrupted"],
            "first_started": min(run.get("started") or "" for run in runs) or None,
            "last_started": max(run.get("started") or "" for run in runs) or None,
            **_timing_stats(counted),
            "train_accuracy": _mean_per_epoch(counted, "accuracy"),
            "val_accuracy": _mean_per_epoch(counted, "val_accuracy"),
            "speedup": None, "speedup_baseline": None}


def _timing_stats(runs: list) -> dict:
    def pooled(key):
        return [t for run in runs for t in run.get("timings", {}).get(key, []) if t is not None]

    def totals(key):
        return [run["timings"][key] for run in runs if run.get("timings", {}).get(key) is not None]

    return {"step_time": spread(pooled("step_times")), "epoch_time": spread(pooled("epoch_times")),
            "training_time": spread(totals("training_time")), "validation_time": spread(totals("validation_time")),
            "combined_time": spread(totals("combined_time"))}


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


# ======================================================================================
# Rendering: rows -> text (averages.txt) and rich tables
# ======================================================================================
@dataclasses.dataclass
class SectionView:
    """One section as strings, shared by the plain-text and the rich renderers."""

    title: str
    subtitle: str
    headers: list          # one header per column (may contain newlines)
    body: list             # (label, [cell per column])
    notes: list


def section_view(rows: list) -> SectionView:
    """Format one section's rows: metrics as lines, parallel configurations as columns."""
    first = rows[0]
    body = [("times ran", [_runs_cell(row) for row in rows]),
            ("step time (ms)", [_time_cell(row["step_time"], 1000) for row in rows]),
            ("epoch time (s)", [_time_cell(row["epoch_time"]) for row in rows]),
            ("training time, run (s)", [_time_cell(row["training_time"]) for row in rows])]
    if first["val_samples"]:
        body.append(("validation time, run (s)", [_time_cell(row["validation_time"]) for row in rows]))
    body.append(("combined time, run (s)", [_time_cell(row["combined_time"]) for row in rows]))
    body.append(("speed-up", [f"{row['speedup']:.2f}x" if row["speedup"] else "-" for row in rows]))
    body += _accuracy_lines(rows, "train_accuracy", "train accuracy, epoch")
    body += _accuracy_lines(rows, "val_accuracy", "val accuracy, epoch")
    return SectionView(_section_title(first), _section_subtitle(rows), [column_label(row) for row in rows],
                       body, _section_notes(rows))


def column_label(row: dict, sep="\n") -> str:
    """'pool' / '4 workers' / '2 threads' (or 'mpi' / '4 ranks'), joined by `sep`."""
    unit = "rank" if row["backend"] == "mpi" else "worker"
    parts = [row["backend"], f"{row['workers']} {unit}{'s' if row['workers'] != 1 else ''}"]
    threads = row["threads"]
    parts.append("? threads" if threads is None else f"{threads} thread{'s' if threads != 1 else ''}")
    return sep.join(parts)


def _section_title(row: dict) -> str:
    samples = f"{row['samples']} train / {row['val_samples'] or 0} val samples"
    epochs = f"{row['epochs']} epoch{'s' if row['epochs'] != 1 else ''}"
    return (f"{row['model']}: dataset {row['dataset'] or '-'}, {samples}, batch {row['batch_size']}, "
            f"{epochs}, host {row['hostname']}")


def _section_subtitle(rows: list) -> str:
    row = rows[0]
    optimizer = row["optimizer"] or {}
    settings = ", ".join(f"{k}={v}" for k, v in optimizer.items() if k != "name")
    first = min(r["first_started"] or "" for r in rows)[:10]
    last = max(r["last_started"] or "" for r in rows)[:10]
    dates = first if first == last else f"{first} to {last}"
    return (f"{row['params']} params, {optimizer.get('name', '?')}({settings}), {row['loss']}, {row['dtype']}; "
            f"setup {row['setup']}; runs {dates}")


def _section_notes(rows: list) -> list:
    baselines = {row["speedup_baseline"] for row in rows if row["speedup_baseline"]}
    if not baselines:
        return ["speed-up: no one-worker runs to compare with"]
    return [f"speed-up: mean epoch time of the one-worker runs ({baselines.pop()}) / the column's"]


def _runs_cell(row: dict) -> str:
    text = str(row["runs"])
    if row["stopped"]:
        text += f" ({row['stopped']} stopped)"
    if row["interrupted"]:
        text += f" +{row['interrupted']} interrupted"
    if row["failed"]:
        text += f" +{row['failed']} failed"
    return text


def _time_cell(stats, scale=1.0) -> str:
    if not stats:
        return "-"
    mean, low, high = (stats[key] * scale for key in ("mean", "min", "max"))
    return f"{format_number(mean)} ({format_number(low)}-{format_number(high)})"


def format_number(value: float) -> str:
    """Three significant digits without exponent notation: 0.00213, 2.13, 213, 2130."""
    if value == 0:
        return "0"
    decimals = max(0, 2 - math.floor(math.log10(abs(value))))
    return f"{value:.{decimals}f}"


def _accuracy_lines(rows: list, key: str, label: str) -> list:
    epochs = max(len(row[key]) for row in rows)
    lines = []
    for index in range(epochs):
        cells = [row[key][index] if index < len(row[key]) else None for row in rows]
        lines.append((f"{label} {index + 1}", ["-" if value is None else f"{value:.4f}" for value in cells]))
    return lines


def render_text(rows: list, skipped=(), files: int = 0) -> str:
    """The plain-text summary written to averages.txt: aligned columns, no colour, stable for git diffs."""
    models = {row["model"] for row in rows}
    total = sum(row["runs"] + row["interrupted"] + row["failed"] for row in rows)
    lines = [f"minidl training statistics: {total} run{'s' if total != 1 else ''} of {len(models)} "
             f"model{'s' if len(models) != 1 else ''} from {files} file{'s' if files != 1 else ''}.",
             "Times: mean (min-max) over finished and stopped runs; step and epoch times pool every step",
             "and epoch; training/validation/combined are per-run totals. Interrupted and failed runs",
             "are counted (+N) but not averaged. Columns: backend, parallel processes, BLAS threads each.", ""]
    for section_rows in group_sections(rows):
        lines += _text_section(section_view(section_rows)) + [""]
    if skipped:
        lines.append("Skipped (damaged, left untouched):")
        lines += [f"  {name}: {reason}" for name, reason in skipped]
    if not rows:
        lines.append("No runs recorded yet.")
    return "\n".join(lines).rstrip() + "\n"


def _text_section(view: SectionView) -> list:
    header_lines = _stack_headers([""] + view.headers)
    table = [[f"{label}:"] + cells for label, cells in view.body]
    widths = [max(len(cell) for cell in column) for column in zip(*header_lines, *table)]

    def line(cells):
        parts = [cells[0].ljust(widths[0])] + [cell.rjust(width) for cell, width in zip(cells[1:], widths[1:])]
        return ("  " + "   ".join(parts)).rstrip()

    rule = "  " + "   ".join("-" * width for width in widths)
    return ([f"== {view.title}", f"   {view.subtitle}"] + [line(h) for h in header_lines] + [rule]
            + [line(cells) for cells in table] + [f"  {note}" for note in view.notes])


def _stack_headers(headers: list) -> list:
    """Multi-line headers as rows of cells, bottom-aligned."""
    split = [header.split("\n") for header in headers]
    height = max(len(parts) for parts in split)
    padded = [[""] * (height - len(parts)) + parts for parts in split]
    return [list(row) for row in zip(*padded)]


def print_summary(rows: list, console=None, model=None, skipped=()):
    """Print the summary as rich tables (only `model`'s sections if given), then any skipped files."""
    from rich.console import Console
    from rich.markup import escape
    console = console or Console()
    for section_rows in group_sections(rows):
        if model is None or section_rows[0]["model"] == model:
            view = section_view(section_rows)
            console.print(f"[bold]{escape(view.title)}[/]", highlight=False)
            console.print(_rich_table(view))
            for line in [view.subtitle, *view.notes]:
                console.print(f"[dim]{escape(line)}[/]", highlight=False)
            console.print()
    for name, reason in skipped:
        console.print(f"[yellow]skipped {escape(name)}[/]: {escape(reason)}", highlight=False)


def _rich_table(view: SectionView):
    from rich import box
    from rich.markup import escape
    from rich.table import Table
    table = Table(box=box.SIMPLE_HEAD)
    table.add_column("", style="cyan", no_wrap=True)
    for header in view.headers:
        table.add_column(escape(header), justify="right", no_wrap=True)
    for label, cells in view.body:
        table.add_row(escape(label), *map(escape, cells), style="bold" if label == "speed-up" else None)
    return table


def summary_document(rows: list, directory, files: int, skipped=()) -> dict:
    """The machine-readable summary printed by ``--json``."""
    return {"format": SUMMARY_FORMAT, "version": VERSION, "directory": str(directory), "files": files,
            "runs": sum(row["runs"] + row["interrupted"] + row["failed"] for row in rows), "rows": rows,
            "skipped": [{"file": name, "reason": reason} for name, reason in skipped]}


def _report_saved(result: SaveResult, model: str):
    from rich.console import Console
    console = Console(soft_wrap=True)
    console.print(f"Statistics of this run saved to [bold]{result.path}[/]", highlight=False)
    print_summary(result.rows, console, model=model)


def _warn(message: str):
    """Warn through `warnings` (for code and tests) and print it (the warnings filter may hide repeats)."""
    warnings.warn(message, RuntimeWarning, stacklevel=3)
    print(f"WARNING: {message}", file=sys.stderr, flush=True)


# ======================================================================================
# Command line
# ======================================================================================
def build_parser() -> argparse.ArgumentParser:
    """The command-line options of ``python -m minidl.stats``."""
    parser = argparse.ArgumentParser(prog="python -m minidl.stats",
                                     description="Summarise the training statistics saved by StatisticsTracker.")
    parser.add_argument("directory", nargs="?", default=DEFAULT_DIR,
                        help=f"folder holding the statistics files (default: {DEFAULT_DIR})")
    parser.add_argument("--json", action="store_true", help="print the summary rows as JSON instead of tables")
    parser.add_argument("--plot", action="store_true",
                        help="draw curves_<model>.png, speedup.png and compare.png into the folder instead "
                             "(needs the plot extra: pip install 'minidl[plot]')")
    return parser


def main(argv=None) -> int:
    """Print the summary of a statistics folder (or, with --plot, draw it); exit status 1 when it holds no runs."""
    args = build_parser().parse_args(argv)
    runs, files, skipped = load_runs(args.directory)
    if not runs:
        for name, reason in skipped:
            print(f"skipped {name}: {reason}", file=sys.stderr)
        nothing = "nothing to draw: no" if args.plot else "no"
        print(f"{nothing} statistics in {args.directory} (train with callbacks=[StatisticsTracker()] first)",
              file=sys.stderr)
        return 1
    if args.plot:
        return _plot(args.directory, runs, skipped)
    rows = summarize(runs)
    try:
        if args.json:
            print(json.dumps(summary_document(rows, args.directory, files, skipped), indent=2))
        else:
            print_summary(rows, _cli_console(), skipped=skipped)
    except BrokenPipeError:  # output piped into e.g. `head`: not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0


def _plot(directory, runs, skipped) -> int:
    """``--plot``: draw the folder's pictures (minidl.plots) and print their paths; 1 when nothing can be drawn."""
    from . import plots
    for name, reason in skipped:
        print(f"skipped {name}: {reason}", file=sys.stderr)
    try:
        paths = plots.plot_statistics(directory, runs=runs)
    except (ImportError, ValueError) as error:  # no matplotlib; no finished run to draw
        print(error, file=sys.stderr)
        return 1
    for path in paths:
        print(path)
    return 0


def _cli_console():
    """A rich console; when piped, wide enough that tables are not wrapped."""
    from rich.console import Console
    console = Console()
    return console if console.is_terminal else Console(width=250)


if __name__ == "__main__":
    sys.exit(main())
