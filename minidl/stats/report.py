"""``python -m minidl.stats report [DIR]``: DIR/report.md, the statistics of a folder as a document to read.

For every section of comparable runs: the speed-up table (median training times, speed-up with its range,
efficiency, Karp-Flatt serial fraction, compute vs communication per step, warnings, the labelled
Amdahl prediction) and the full table of the section. Beside it, with the ``plot`` extra (matplotlib):
the folder's pictures, the same files under the same names as ``--plot`` draws (`minidl.plots.PICTURES`).
Without matplotlib the report holds the tables alone and says how to get the pictures. A folder with
one-worker runs only says plainly that no speed-up can be computed.

This module may import both the statistics and `minidl.plots`; the stats package does not import it.
"""

from __future__ import annotations

import datetime
from pathlib import Path

from .. import plots
from .render import markdown_section, section_view, speedup_markdown
from .store import DEFAULT_DIR, atomic_write, load_runs
from .summary import counted, group_sections, summarize

REPORT_FILE = "report.md"


class NoRuns(ValueError):
    """The folder holds no finished or stopped run to report on."""


def write_report(directory=DEFAULT_DIR) -> tuple[Path, list[str], str | None]:
    """Write ``<directory>/report.md`` (and its PNGs when matplotlib is there).

    Returns (report path, picture paths, why there are no pictures or None). NoRuns when the folder
    holds no finished or stopped run.
    """
    directory = Path(directory)
    runs, files, skipped = load_runs(directory)
    usable = counted(runs)
    if not usable:
        raise NoRuns(f"no finished or stopped runs in {directory} (train with callbacks=[StatisticsTracker()] first)")
    rows = summarize(runs)
    pictures, missing = _draw(directory, usable)
    lines = [
        f"# Training statistics of {directory.name or directory}",
        "",
        f"Written by `python -m minidl.stats report` on {datetime.date.today()} from {len(runs)} run(s) in "
        f"{files} file(s). Times are medians (min-max) over finished and stopped runs; speed-up uses training "
        "time only. On a machine shared with other work the times are noisy: the tables flag runs that "
        "spread more than 20 % and settings with more busy threads than CPUs.",
        "",
    ]
    if missing:
        lines += [f"**No pictures:** {missing}. Then run `python -m minidl.stats report {directory}` again.", ""]
    lines += _speedup_part(rows, pictures)
    lines += ["## Every section in full", ""]
    for section_rows in group_sections(rows):
        lines += markdown_section(section_view(section_rows))
    lines += _pictures("## Training curves", pictures, ("curves_", "steps_"))
    lines += _pictures("## Models compared", pictures, ("compare.png",))
    if skipped:
        lines += ["## Files skipped (damaged, left untouched)", ""] + [f"- {name}: {why}" for name, why in skipped]
    atomic_write(directory / REPORT_FILE, "\n".join(lines).rstrip() + "\n")
    return directory / REPORT_FILE, pictures, missing


def _speedup_part(rows, pictures) -> list[str]:
    lines = ["## What parallelism bought", ""]
    parallel = [row for row in rows if row["workers"] > 1]
    if not parallel:
        total = sum(row["runs"] for row in rows)
        lines += [
            f"No speed-up can be computed: all {total} run(s) here used one process. Run the same experiment "
            "with `--workers 2` (or `python trainings/sweep.py --workers 1 2`) to measure one.",
            "",
        ]
    for section_rows in group_sections(rows):
        if len(section_rows) > 1 or section_rows[0]["workers"] > 1:
            first = section_rows[0]
            lines += [
                f"### {first['model']}: {first['samples']} training images, batch {first['batch_size']}, "
                f"{first['epochs']} epoch(s), setup {first['setup']}",
                "",
                *speedup_markdown(section_rows),
                "",
            ]
    return lines + _pictures(None, pictures, ("speedup.png", "scaling.png", "time_split.png"))


def _pictures(heading, pictures, names) -> list[str]:
    """Markdown showing the pictures whose file names start with one of `names` (under `heading`, if any)."""
    chosen = [Path(p).name for p in pictures if Path(p).name.startswith(names)]
    if not chosen:
        return []
    return ([heading, ""] if heading else []) + [f"![{plots.describe_picture(name)}]({name})\n" for name in chosen]


def _draw(directory: Path, runs) -> tuple[list[str], str | None]:
    """The folder's pictures, as ``--plot`` draws them; ([], reason) when matplotlib is missing."""
    try:
        return plots.plot_statistics(directory, runs=runs), None
    except plots.MissingMatplotlib as error:
        return [], str(error)
    except plots.NothingToPlot:  # runs without a completed epoch: the tables say what there is
        return [], None
