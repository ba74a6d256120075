"""``python -m minidl.stats report [DIR]``: DIR/report.md, the statistics of a folder as a document to read.

For every section of comparable runs: the speed-up table (median training times, speed-up with its range,
efficiency, Karp-Flatt serial fraction, compute vs communication per step, warnings, the labelled
Amdahl prediction) and the full table of the section. Beside it, with the ``plot`` extra (matplotlib):
training curves per model (by epoch, and by step: one smoothed line per run), speed-up against processes
with the ideal line and the Amdahl model, and a stacked bar of where the time goes. Without matplotlib the
report holds the tables alone and says how to get the pictures. A folder with one-worker runs only says
plainly that no speed-up can be computed.

This module may import both the statistics and `minidl.plots`; the stats package does not import it.
"""

from __future__ import annotations

import datetime
from pathlib import Path

from .. import plots
from .render import markdown_section, section_view, speedup_markdown
from .store import DEFAULT_DIR, atomic_write, load_runs, sanitize_name
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
    pictures, missing = _draw(directory, usable, rows)
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
    curve_pictures = [p for p in pictures if Path(p).name.startswith(("curves_", "steps_"))]
    if curve_pictures:
        lines += ["## Training curves", ""]
        for picture in curve_pictures:
            name = Path(picture).name
            what = "loss and accuracy by step, per run" if name.startswith("steps_") else "training curves"
            lines.append(f"![{what}]({name})\n")
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
    names = {Path(p).name for p in pictures}
    if "scaling.png" in names:
        lines += ["![speed-up against processes, ideal line and Amdahl model](scaling.png)", ""]
    if "time_split.png" in names:
        lines += ["![where the time of a run goes](time_split.png)", ""]
    return lines


def _draw(directory: Path, runs, rows) -> tuple[list[str], str | None]:
    """The report's pictures; ([], reason) when matplotlib is missing."""
    try:
        plots.figures.load_matplotlib()
    except plots.MissingMatplotlib as error:
        return [], str(error)
    paths = []
    for model, model_runs in plots.runs_by_model(runs).items():
        for draw, prefix in ((plots.curves, "curves_"), (plots.step_curves, "steps_")):
            try:
                paths.append(draw(model_runs, directory / f"{prefix}{sanitize_name(model)}.png"))
            except plots.NothingToPlot:
                pass
    for draw, name in ((plots.scaling, "scaling.png"), (plots.time_split, "time_split.png")):
        try:
            paths.append(draw(rows, directory / name))
        except plots.NothingToPlot:
            pass
    return paths, None
