"""Training statistics: every run's timings and accuracy, kept across runs and summarised.

`StatisticsTracker` is a callback for `fit`. It times every training step, every epoch and the
training / validation parts of each epoch with `time.perf_counter()`, records per-epoch loss and
accuracy and the run's settings (model, optimizer, batch size, workers, BLAS threads, versions,
host...). The run is saved to ``<out_dir>/<model>.json`` when training starts (``running``), after
every epoch, and when it ends - completed, stopped early, interrupted or failed - when
``<out_dir>/averages.txt`` is regenerated from every JSON file there.

One job per module (each one's docstring says why it is built the way it is):

* `tracker` - the callback and the run record it fills in (`new_run`, `finish_run`, `run_settings`).
* `store` - the JSON files: atomic writes, the folder lock, recovery files, `load_runs`, `save_run`, `append_run`.
* `validation` - `run_problem`: a loaded run's field types, so one bad run cannot break the others.
* `liveness` - whether a `running` run's process still runs (`mark_killed`, `process_gone`).
* `summary` - the pure `summarize` (runs -> rows): comparable runs form a *section*, each parallel
  configuration in it a *column*.
* `scaling` - per section: speed-up of the median training time, efficiency, Karp-Flatt, warning flags,
  and the Amdahl prediction (a model, labelled so).
* `render` - rows -> the plain-text averages.txt (`render_text`), rich tables (`print_summary`) and
  Markdown tables.
* `report` - ``python -m minidl.stats report [DIR]``: DIR/report.md with its pictures.
* `tensorboard` - the statistics in TensorBoard: every recorded run (``python -m minidl.stats tensorboard``)
  and the running speed-up of the run being recorded (`LiveSpeedup`); needs the ``tensorboard`` extra.
* `cli` - ``python -m minidl.stats [DIR] [--json | --plot]``, ``... report [DIR]`` and ``... tensorboard``.

Everything but the command line is re-exported here, so ``from minidl.stats import ...`` needs no
submodule name. `cli` and `report` are not imported here: they draw with `minidl.plots`, which reads
this package, so importing them here would make the two packages import each other
(``minidl.stats.cli.main``, ``minidl.stats.report.write_report``).
"""

from .liveness import mark_killed, process_gone, process_identity
from .render import SectionView, format_number, print_summary, render_text, section_view
from .scaling import NOISY_SPREAD, PREDICT_AT, RunningSpeedup, add_scaling, amdahl, karp_flatt
from .store import (
    AVERAGES_FILE,
    DEFAULT_DIR,
    FORMAT,
    LOCK_FILE,
    VERSION,
    DamagedStatsFile,
    SaveResult,
    StatsWriteError,
    append_run,
    atomic_write,
    dump_document,
    folder_lock,
    json_safe,
    load_runs,
    new_document,
    read_document,
    sanitize_name,
    save_run,
    stats_path,
    write_averages,
    write_new_file,
)
from .summary import (
    COLUMN_FIELDS,
    COUNTED_STATUSES,
    SECTION_FIELDS,
    accuracy_vs_time,
    column_key,
    column_label,
    counted,
    final_value,
    group_sections,
    one_worker_step_time,
    per_epoch_spread,
    section_key,
    spread,
    step_times_by_column,
    summarize,
)
from .tensorboard import LiveSpeedup, export_tensorboard, recorded_run_name, run_name
from .tracker import TIME_DECIMALS, StatisticsTracker, finish_run, new_run, run_settings, setup_fingerprint
from .validation import run_problem

__all__ = [
    "NOISY_SPREAD",
    "PREDICT_AT",
    "LiveSpeedup",
    "RunningSpeedup",
    "export_tensorboard",
    "one_worker_step_time",
    "recorded_run_name",
    "run_name",
    "add_scaling",
    "amdahl",
    "karp_flatt",
    "accuracy_vs_time",
    "counted",
    "final_value",
    "per_epoch_spread",
    "step_times_by_column",
    "AVERAGES_FILE",
    "COLUMN_FIELDS",
    "COUNTED_STATUSES",
    "DEFAULT_DIR",
    "FORMAT",
    "LOCK_FILE",
    "SECTION_FIELDS",
    "TIME_DECIMALS",
    "VERSION",
    "DamagedStatsFile",
    "SaveResult",
    "SectionView",
    "StatisticsTracker",
    "StatsWriteError",
    "append_run",
    "atomic_write",
    "column_key",
    "column_label",
    "dump_document",
    "finish_run",
    "folder_lock",
    "format_number",
    "group_sections",
    "json_safe",
    "load_runs",
    "mark_killed",
    "new_document",
    "new_run",
    "print_summary",
    "process_gone",
    "process_identity",
    "read_document",
    "render_text",
    "run_problem",
    "run_settings",
    "sanitize_name",
    "save_run",
    "section_key",
    "section_view",
    "setup_fingerprint",
    "spread",
    "stats_path",
    "summarize",
    "write_averages",
    "write_new_file",
]
