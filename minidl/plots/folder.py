"""A statistics folder -> all its pictures, under one set of names (`PICTURES`).

``python -m minidl.stats DIR --plot`` and ``python -m minidl.stats report DIR`` both draw with
`plot_statistics`, so a picture has the same name and the same content whichever command made it.
docs/statistics.md lists the same table.
"""

from __future__ import annotations

from pathlib import Path

from .. import stats
from .comparison import compare
from .figures import NothingToPlot, load_matplotlib, model_colours
from .speed import scaling, speedup, time_split
from .training import curves, step_curves

#: Every picture of a statistics folder, in the order it is drawn: (file name, what it shows).
#: ``<model>`` is the model's name as its statistics file has it (`minidl.stats.sanitize_name`).
PICTURES = (
    ("curves_<model>.png", "one model's loss and accuracy per epoch, training and validation, mean of its runs"),
    ("steps_<model>.png", "one model's loss and accuracy at every training step, one smoothed line per run"),
    ("speedup.png", "training time, speed-up and step times by worker count, one row per setup"),
    ("scaling.png", "speed-up against processes: the measured medians, the ideal line and the Amdahl model"),
    ("time_split.png", "where a run's time goes: gradient computation, communication + update, validation, start-up"),
    ("compare.png", "final accuracy against training time for every model and worker count"),
)


def plot_statistics(stats_dir=stats.DEFAULT_DIR, runs=None) -> list[str]:
    """Write every picture of `PICTURES` that the folder's runs can fill into `stats_dir`.

    `runs` (default: every run of every statistics file in `stats_dir`, via `stats.load_runs`) may be
    given when already loaded. Only finished and stopped runs are drawn, as in the summary; a picture
    with nothing to show (no parallel run to scale, no step records) is left out. Returns the paths
    written, in `PICTURES` order; NothingToPlot (a ValueError) when no picture can be drawn.
    """
    load_matplotlib()
    stats_dir = Path(stats_dir)
    if runs is None:
        runs, _, _ = stats.load_runs(stats_dir)
    by_model = runs_by_model(runs)
    if not by_model:
        what = f"{len(runs)} run(s), none finished" if runs else "no runs"
        raise NothingToPlot(
            f"nothing to draw: {stats_dir} holds {what} (train with callbacks=[StatisticsTracker()] first)"
        )
    colours = model_colours(by_model)
    rows = stats.summarize([run for model_runs in by_model.values() for run in model_runs])
    names = {model: stats.sanitize_name(model) for model in by_model}
    drawings = [(curves, each, f"curves_{names[m]}.png", {"colour": colours[m]}) for m, each in by_model.items()]
    drawings += [(step_curves, each, f"steps_{names[m]}.png", {}) for m, each in by_model.items()]
    drawings += [
        (speedup, by_model, "speedup.png", {}),
        (scaling, rows, "scaling.png", {}),
        (time_split, rows, "time_split.png", {}),
        (compare, by_model, "compare.png", {}),
    ]
    paths = []
    for draw, what, name, options in drawings:
        try:
            paths.append(draw(what, stats_dir / name, **options))
        except NothingToPlot:
            continue
    if not paths:
        raise NothingToPlot(f"nothing to draw: no run in {stats_dir} has a completed epoch")
    return paths


def describe_picture(path) -> str:
    """What the picture at `path` shows, from `PICTURES` (its file name decides; '' for another file)."""
    name = Path(path).name
    for pattern, what in PICTURES:
        prefix, _, suffix = pattern.partition("<model>")
        if name == pattern or ("<model>" in pattern and name.startswith(prefix) and name.endswith(suffix)):
            return what
    return ""


def runs_by_model(runs) -> dict[str, list]:
    """The finished and stopped runs, by model name (sorted by name)."""
    grouped = {}
    for run in stats.counted(runs):
        grouped.setdefault(str(run.get("settings", {}).get("model") or "model"), []).append(run)
    return dict(sorted(grouped.items()))
