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
* `render` - rows -> the plain-text averages.txt (`render_text`) and rich tables (`print_summary`).
* `cli` - ``python -m minidl.stats [DIR] [--json | --plot]`` (--plot draws with `minidl.plots`).

Everything is re-exported here, so ``from minidl.stats import ...`` needs no submodule name.
"""

from .cli import SUMMARY_FORMAT, build_parser, main, summary_document
from .liveness import mark_killed, process_gone, process_identity
from .render import SectionView, format_number, print_summary, render_text, section_view
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
    column_key,
    column_label,
    group_sections,
    section_key,
    spread,
    summarize,
)
from .tracker import TIME_DECIMALS, StatisticsTracker, finish_run, new_run, run_settings, setup_fingerprint
from .validation import run_problem

__all__ = [
    "AVERAGES_FILE",
    "COLUMN_FIELDS",
    "COUNTED_STATUSES",
    "DEFAULT_DIR",
    "FORMAT",
    "LOCK_FILE",
    "SECTION_FIELDS",
    "SUMMARY_FORMAT",
    "TIME_DECIMALS",
    "VERSION",
    "DamagedStatsFile",
    "SaveResult",
    "SectionView",
    "StatisticsTracker",
    "StatsWriteError",
    "append_run",
    "atomic_write",
    "build_parser",
    "column_key",
    "column_label",
    "dump_document",
    "finish_run",
    "folder_lock",
    "format_number",
    "group_sections",
    "json_safe",
    "load_runs",
    "main",
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
    "summary_document",
    "write_averages",
    "write_new_file",
]
