"""Recording a run: the `StatisticsTracker` callback and the run record it fills in.

A run record is a JSON-ready dict holding the run's settings, its step and epoch times, each
step's own loss and metrics (``step_metrics``: the batch's mean, not the epoch's running mean), its
per-epoch loss and accuracy, and how it ended. The tracker only measures and describes: saving is
`store.save_run`, and the table it prints afterwards comes from `render.print_summary`.

The record is crash-safe: it is saved when training begins (status ``running``, with the pid and
host, which also proves the folder writable before the first step), re-saved atomically after
every epoch, and at the end given its final status -- ``completed``, ``stopped`` (by a callback),
``interrupted`` (Ctrl-C, SIGTERM) or ``failed`` (with the error). A SIGKILL or power cut leaves a
``running`` record with every completed epoch, which `store.load_runs` reads as ``killed``.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import math
import os
import platform
import socket
import sys
import time
import uuid
from pathlib import Path

from ..callbacks import Callback
from ..utils import terminal
from .liveness import process_identity
from .render import print_summary, render_text
from .store import AVERAGES_FILE, DEFAULT_DIR, SaveResult, StatsWriteError, json_number, save_run, warn, warn_damaged
from .tensorboard import LiveSpeedup
from .validation import PROCESS_FIELDS

TIME_DECIMALS = 7  # 0.1 microsecond: far below timing noise, keeps the JSON small
METRIC_DIGITS = 7  # significant digits of a step's loss and metrics: float32's precision
IDLE_DECIMALS = 5  # 10 microseconds for each process's idle time per step (a list per step: kept shorter)
#: `fit`'s end status -> the status a run is saved with ("finished" is the callback protocol's name).
FINAL_STATUS = {"finished": "completed"}


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

    The run is written when training begins (a folder that cannot take it raises
    `StatsWriteError` before the first step), after every epoch, and when training ends.
    With `tensorboard_dir`, the run's speed-up so far is written there after every step (`LiveSpeedup`).
    """

    def __init__(self, model_name=None, out_dir=DEFAULT_DIR, dataset=None, verbose=True, tensorboard_dir=None):
        super().__init__()
        self.model_name = model_name
        self.out_dir = Path(out_dir)
        self.dataset = None if dataset is None else str(dataset)
        self.verbose = verbose
        self.tensorboard_dir = LiveSpeedup.check(tensorboard_dir)  # names a missing extra now, not at `fit`
        self._speedup = None  # the LiveSpeedup of the run being recorded, with tensorboard_dir
        self._epoch_sums = {}  # per metric, the epoch's running sum over samples so far ("seen": samples)
        self.run = None  # the run being recorded (a JSON-ready dict)
        self.last_saved = None  # SaveResult of the last save of the run (None until it is on disk)
        self.last_saved_status = None  # the run's status in that save ("running" until its end is saved)
        self._unwritable = None  # the StatsWriteError that stopped the run from being recorded at all
        self._update_failed = False  # an update after an epoch could not be written (warned once)
        self._epoch = None  # the open epoch's record, None between epochs
        self._clock = {}  # perf_counter() marks: train, epoch, step, test

    @property
    def label(self) -> str:
        """The name runs are filed and grouped under: `model_name`, else the model's name."""
        return self.model_name or getattr(self.model, "name", None) or "model"

    # ----- hooks -----
    def on_train_begin(self, logs=None):
        self.run, self._epoch, self._unwritable, self._update_failed = None, None, None, False
        self.last_saved = self.last_saved_status = None
        if self.params.get("rank", 0) != 0:
            return
        self.run = new_run(self.model, self.params, self.label, self.dataset)
        self._clock = {"train": time.perf_counter()}
        record_load_average(self.run)
        try:
            self._write(averages=False)
        except StatsWriteError as error:
            self._unwritable = error
            raise
        if self.tensorboard_dir is not None:
            self._speedup = LiveSpeedup.start(self.out_dir, self.run, self.tensorboard_dir, self.verbose)

    def on_epoch_begin(self, epoch, logs=None):
        if self.run is not None:
            self._epoch = {"epoch": epoch + 1, "steps": 0, "training_time": None, "validation_time": 0.0}
            self._clock["epoch"] = time.perf_counter()
            self._epoch_sums = {"seen": 0}

    def on_train_batch_begin(self, batch, logs=None):
        self._clock["step"] = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        if self.run is not None and self._epoch is not None:
            elapsed = time.perf_counter() - self._clock["step"]
            self.run["timings"]["step_times"].append(round(elapsed, TIME_DECIMALS))
            self._epoch["steps"] += 1
            self._record_step_metrics(logs or {})
            if self._speedup is not None:
                self._speedup.add(self.run["timings"]["step_times"][-1])  # as recorded, as the export replays it
            record_processes(self.run, self.params.get("timings"))

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
        self.run["epochs_completed"] = len(self.run["epochs"])
        self._epoch = None
        record_load_average(self.run)
        try:
            self._write(averages=False)
        except Exception as error:  # training goes on; the end of the run tries again
            if not self._update_failed:
                self._update_failed = True
                warn(f"minidl.stats: could not update the running record after epoch {epoch + 1}: {error}")

    def on_train_end(self, logs=None):
        if self._speedup is not None:
            self._speedup.close()
            self._speedup = None
        if self.params.get("rank", 0) != 0 or self._unwritable is not None:
            return  # not rank 0, or the folder was refused at the start (that error is the one to see)
        logs = logs or {}
        status = logs.get("status", "finished")
        try:
            if self.run is None:  # an earlier callback failed in on_train_begin
                self.run = new_run(self.model, self.params, self.label, self.dataset)
                self._clock = {"train": time.perf_counter()}
            record_load_average(self.run)
            finish_run(
                self.run,
                self._unfinished_epoch(),
                time.perf_counter() - self._clock["train"],
                FINAL_STATUS.get(status, status),
                _interrupt_reason(logs.get("error")) if status == "interrupted" else logs.get("error"),
            )
        except Exception as error:
            warn(f"minidl.stats: could not record this run: {type(error).__name__}: {error}")
            return
        self._save()

    # ----- helpers -----
    def _record_step_metrics(self, logs: dict):
        """Append the step's own batch mean of the loss and each metric to ``run["step_metrics"]``: from the
        epoch's running means in the batch logs, (running sum now - running sum before) / batch size."""
        size, sums, table = logs.get("size"), self._epoch_sums, self.run.setdefault("step_metrics", {})
        steps, seen = len(self.run["timings"]["step_times"]), self._epoch_sums.get("seen", 0) + (logs.get("size") or 0)
        for name, value in logs.items():
            if name != "size" and isinstance(value, (int, float)) and not isinstance(value, bool):
                column = table.setdefault(name, [])
                column.extend([None] * (steps - 1 - len(column)))  # a metric that first appears now
                own = (value * seen - sums.get(name, 0.0)) / size if size else math.nan
                sums[name] = value * seen
                column.append(float(f"{own:.{METRIC_DIGITS}g}") if math.isfinite(own) else None)
        sums["seen"] = seen

    def _unfinished_epoch(self):
        """The epoch cut short by Ctrl-C or an error (its times so far), or None."""
        if self._epoch is None:
            return None
        elapsed = time.perf_counter() - self._clock["epoch"]
        if "test" in self._clock:
            self._epoch["validation_time"] += time.perf_counter() - self._clock.pop("test")
        epoch, self._epoch = _close_epoch(self._epoch, elapsed, {}), None
        return epoch

    def _write(self, averages: bool):
        """Save the run as it stands (in the file it went to before, if any); warn once if that file is damaged."""
        previous = self.last_saved
        result = save_run(
            self.run,
            self.out_dir,
            self.label,
            path=previous.path if previous else None,
            render=render_text if averages else None,
        )
        if result.damaged is None and previous is not None and previous.damaged is not None:
            result.damaged, result.damaged_reason = previous.damaged, previous.damaged_reason
        elif result.damaged is not None and (previous is None or previous.damaged is None):
            warn_damaged(result)
        self.last_saved, self.last_saved_status = result, self.run["status"]
        return result

    def _save(self):
        """Save the ended run and refresh averages.txt; a failure warns in one line, never hiding how training ended."""
        try:
            self._write(averages=True)
        except StatsWriteError as error:
            warn(f"minidl.stats: could not save the statistics of this run: {error}")
            return
        except Exception as error:
            reason = f"{type(error).__name__}: {error}"
            warn(f"minidl.stats: could not save the statistics of this run to {self.out_dir}: {reason}")
            return
        if self.last_saved.averages_problem:
            warn(
                f"minidl.stats: the run was saved to {self.last_saved.path}, but {self.out_dir / AVERAGES_FILE} "
                f"could not be refreshed: {self.last_saved.averages_problem}"
            )
        elif self.verbose:
            _report_saved(self.last_saved, self.label)

    @property
    def recorded(self) -> Path | None:
        """The file holding this tracker's run (running or finished), None when nothing was written."""
        return self.last_saved.path if self.last_saved is not None else None


def _interrupt_reason(error):
    """What interrupted the run: the interrupt's own message (e.g. "SIGTERM") when it carries one."""
    current = sys.exc_info()[1]  # on_train_end runs in fit's `finally`, while the interrupt propagates
    if isinstance(current, KeyboardInterrupt) and str(current):
        return str(current)
    return error


def _close_epoch(epoch: dict, elapsed: float, logs: dict) -> dict:
    """Finish an epoch record: its training/validation split (seconds) and its metrics."""
    training = epoch["training_time"] if epoch["training_time"] is not None else elapsed
    record = {
        "epoch": epoch["epoch"],
        "steps": epoch["steps"],
        "training_time": round(training, TIME_DECIMALS),
        "validation_time": round(epoch["validation_time"], TIME_DECIMALS),
    }
    for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
        record[key] = json_number(logs.get(key))
    return record


def new_run(model, params: dict, label: str, dataset=None) -> dict:
    """A fresh run record (settings filled in, timings empty) for `model` trained with `params`."""
    return {
        "id": uuid.uuid4().hex,
        "started": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "status": "running",
        "error": None,
        **process_identity(),
        "epochs_completed": 0,
        "settings": run_settings(model, params, label, dataset),
        "timings": {"step_times": [], "epoch_times": []},
        "step_metrics": {},
        "epochs": [],
    }


def record_processes(run: dict, timings) -> None:
    """Add the last step's figures per process to the run (when the runner measures them: a pool does).

    With several processes, per step (aligned with ``timings.step_times``): ``timings.pieces``, how
    many pieces of the batch each process computed, and ``timings.idle_times``, the seconds each did
    not compute. Per run, ``processes`` totals each process's pieces, computing, idle and off-CPU
    seconds (computing while descheduled: other work held the CPU), the parent first.
    """
    pieces = getattr(timings, "last_pieces", ()) if timings is not None else ()
    if not pieces:
        return
    if len(pieces) > 1:
        run["timings"].setdefault("pieces", []).append(list(pieces))
        run["timings"].setdefault("idle_times", []).append([round(t, IDLE_DECIMALS) for t in timings.last_idle_seconds])
    totals = run.setdefault("processes", {key: [0] * len(pieces) for key in PROCESS_FIELDS})
    last = (pieces, timings.last_compute_seconds, timings.last_idle_seconds, timings.last_descheduled_seconds)
    for key, values in zip(PROCESS_FIELDS, last):
        totals[key] = [a + b if key == "pieces" else round(a + b, 6) for a, b in zip(totals[key], values)]


def record_load_average(run: dict) -> None:
    """Append the 1, 5 and 15-minute load averages (where the OS has them) to ``run["load_averages"]``:
    sampled when training begins, after every epoch and at the end, they tell how busy the machine was."""
    try:
        loads = os.getloadavg()
    except (AttributeError, OSError):
        return
    run.setdefault("load_averages", []).append([round(value, 2) for value in loads])


def finish_run(run: dict, unfinished_epoch, run_time: float, status: str, error=None):
    """Fill in a run's status and totals. Training + validation = combined; an epoch cut short counts in the totals."""
    epochs = run["epochs"] + ([unfinished_epoch] if unfinished_epoch else [])
    training = math.fsum(e["training_time"] for e in epochs)
    validation = math.fsum(e["validation_time"] for e in epochs)
    run["status"], run["error"] = status, None if error is None else str(error)
    run["epochs_completed"] = len(run["epochs"])
    if unfinished_epoch:
        run["unfinished_epoch"] = unfinished_epoch
    run["timings"].update(
        {
            "training_time": round(training, TIME_DECIMALS),
            "validation_time": round(validation, TIME_DECIMALS),
            "combined_time": round(training + validation, TIME_DECIMALS),
            "run_time": round(run_time, TIME_DECIMALS),
        }
    )
    return run


def run_settings(model, params: dict, label: str, dataset=None) -> dict:
    """Everything that may explain a run's timings or accuracy: model, training, parallelism, machine."""
    settings = {
        "model": label,
        **_model_settings(model),
        **_training_settings(params),
        **_parallel_settings(params),
        "dataset": dataset,
        **_machine_settings(params),
    }
    settings["setup"] = setup_fingerprint(settings)
    return settings


def _model_settings(model) -> dict:
    import numpy as np

    layers = []
    for layer, row in zip(model.layers, model.summary_rows()):
        config = {k: v for k, v in layer.get_config().items() if k != "name"}
        layers.append({**row, "config": config})
    return {
        "model_name": model.name,
        "input_shape": list(model.input_shape or []),
        "layers": layers,
        "params": model.count_params(),
        "dtype": np.dtype(model.dtype).name,
        "optimizer": model.optimizer.get_config() if model.optimizer else None,
        "loss": getattr(model.loss, "name", None),
        "seed": getattr(model, "seed", None),
    }


def _training_settings(params: dict) -> dict:
    return {
        "batch_size": params.get("batch_size"),
        "epochs": params.get("epochs"),
        "steps_per_epoch": params.get("steps"),
        "samples": params.get("samples"),
        "val_samples": params.get("val_samples", 0),
    }


def _parallel_settings(params: dict) -> dict:
    threads, source = params.get("threads_per_worker"), "params"
    blas = _blas_libraries()
    if threads is None:
        threads = max((entry["threads"] for entry in blas), default=None)
        source = "threadpoolctl in the parent process" if threads is not None else None
    return {
        "backend": params.get("backend", "pool"),
        "workers": params.get("workers", 1),
        "ranks": params.get("ranks", 1),
        "threads_per_worker": threads,
        "threads_source": source,
        "blas": blas,
    }


def _blas_libraries() -> list:
    """The BLAS libraries loaded in this process, with their thread counts (threadpoolctl)."""
    try:
        from threadpoolctl import threadpool_info

        info = threadpool_info()
    except Exception:
        return []
    return [
        {"library": entry.get("internal_api"), "version": entry.get("version"), "threads": entry.get("num_threads")}
        for entry in info
        if entry.get("user_api") == "blas"
    ]


def _machine_settings(params: dict) -> dict:
    """Versions and the machine; `cpus_available` is what the run's processes may use together (the runner's
    `cpus`: under MPI the ranks' cores, not the one core rank 0 is bound to), else this process's CPUs."""
    import numpy as np

    from ..distributed.resources import available_cpus
    from ..version import __version__

    available = params.get("cpus") or available_cpus()
    return {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "minidl": __version__,
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "cpus_available": available,
        "hostname": socket.gethostname(),
    }


def setup_fingerprint(settings: dict) -> str:
    """Short hash of what makes runs comparable: layers (not their auto-numbered names), optimizer, loss, dtype."""
    layers = [[layer["class"], layer.get("config"), layer.get("output_shape")] for layer in settings.get("layers", [])]
    key = [settings.get("input_shape"), layers, settings.get("optimizer"), settings.get("loss"), settings.get("dtype")]
    return hashlib.sha1(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()[:8]


def _report_saved(result: SaveResult, model: str):
    """Tell where the run was saved and show its model's refreshed summary (verbose trackers)."""
    console = terminal.console(soft_wrap=True)
    console.print(f"Statistics of this run saved to [bold]{result.path}[/]", highlight=False)
    print_summary(result.rows, console, model=model)
