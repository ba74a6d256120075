"""A statistics folder -> all its pictures: ``curves_<model>.png``, ``speedup.png`` and ``compare.png``."""

from __future__ import annotations

from pathlib import Path

from .. import stats
from .comparison import compare
from .figures import NothingToPlot, load_matplotlib, model_colours
from .speed import speedup
from .training import curves


def plot_statistics(stats_dir=stats.DEFAULT_DIR, runs=None) -> list[str]:
    """Write ``curves_<model>.png`` (one per model), ``speedup.png`` and ``compare.png`` into `stats_dir`.

    `runs` (default: every run of every statistics file in `stats_dir`, via `stats.load_runs`) may be
    given when already loaded. Only finished and stopped runs are drawn, as in the summary.
    Returns the paths written; NothingToPlot (a ValueError) when there is no such run.
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
    paths = [
        curves(model_runs, stats_dir / f"curves_{stats.sanitize_name(model)}.png", colour=colours[model])
        for model, model_runs in by_model.items()
    ]
    paths.append(speedup(by_model, stats_dir / "speedup.png"))
    paths.append(compare(by_model, stats_dir / "compare.png"))
    return paths


def runs_by_model(runs) -> dict[str, list]:
    """The finished and stopped runs, by model name (sorted by name)."""
    grouped = {}
    for run in stats.counted(runs):
        grouped.setdefault(str(run.get("settings", {}).get("model") or "model"), []).append(run)
    return dict(sorted(grouped.items()))
