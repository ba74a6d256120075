"""Model comparison: final accuracy against training time for every model, setup and worker count."""

from __future__ import annotations

from .. import stats
from .figures import (
    NothingToPlot,
    accuracy_axis,
    load_matplotlib,
    model_colours,
    new_figure,
    save_figure,
    worker_styles,
)
from .labels import all_runs, column_name


def compare(runs_by_model, path) -> str:
    """Final accuracy against training time for every model, setup and worker count: which variant
    is worth its cost. Points are means over runs with min-max error bars. Returns the path written."""
    mpl = load_matplotlib()
    points = stats.accuracy_vs_time(all_runs(runs_by_model))
    if not points:
        raise NothingToPlot("nothing to draw: no finished or stopped run with a training time and an accuracy")
    colours = model_colours({p["model"] for p in points})
    styles = worker_styles(p["column"][1] for p in points)
    Line2D = mpl.lines.Line2D

    fig = new_figure(11, 6)
    ax, legend_ax = fig.subplots(1, 2, width_ratios=(4.2, 1))
    legend_ax.set_axis_off()  # legends live here, so constrained layout keeps them inside the picture
    for point in points:
        t, a = point["time"], {k: v * 100 for k, v in point["accuracy_spread"].items()}
        colour, marker = colours[point["model"]], styles[point["column"][1]][1]
        ax.errorbar(
            t["mean"],
            a["mean"],
            xerr=[[t["mean"] - t["min"]], [t["max"] - t["mean"]]],
            yerr=[[a["mean"] - a["min"]], [a["max"] - a["mean"]]],
            color=colour,
            ecolor=colour,
            elinewidth=1,
            capsize=3,
            alpha=0.9,
            marker=marker,
            markersize=9,
            markerfacecolor=colour if point["validation"] else "white",
            markeredgewidth=1.5,
            linestyle="none",
            clip_on=False,
        )
    all_times = [t for p in points for t in p["times"]]
    if max(all_times) > 20 * min(all_times):
        ax.set_xscale("log")
        ticks = mpl.ticker.FuncFormatter(lambda value, _: f"{value:g}")
        ax.xaxis.set_major_formatter(ticks)
        ax.xaxis.set_minor_locator(mpl.ticker.LogLocator(subs=(2.0, 5.0)))
        ax.xaxis.set_minor_formatter(ticks)
    ax.set_xlabel("training time per run (s, excluding validation)")
    any_validation = any(p["validation"] for p in points)
    accuracy_axis(ax, f"final {'validation' if any_validation else 'training'} accuracy (%)")
    ax.grid(True, alpha=0.3)

    model_handles = [
        Line2D([], [], color=colours[m], marker="o", linestyle="none", markersize=8, label=m) for m in sorted(colours)
    ]
    worker_handles = [
        Line2D(
            [],
            [],
            color="0.3",
            marker=styles[w][1],
            linestyle="none",
            markersize=8,
            label=column_name("pool", w, None, False),
        )
        for w in sorted(styles)
    ]
    if any_validation and not all(p["validation"] for p in points):
        worker_handles.append(
            Line2D(
                [],
                [],
                color="0.3",
                marker="o",
                markerfacecolor="white",
                linestyle="none",
                markersize=8,
                label="hollow: training accuracy\n(no validation data)",
            )
        )
    legend = legend_ax.legend(handles=model_handles, title="model", loc="upper left", fontsize="small", borderaxespad=0)
    legend_ax.add_artist(legend)
    legend_ax.legend(handles=worker_handles, title="workers", loc="lower left", fontsize="small", borderaxespad=0)
    ax.set_title(
        "Which variant is worth its cost: accuracy against training time\n"
        "(mean over runs, bars = min-max; up and to the left is better)",
        fontsize="medium",
    )
    fig.suptitle("Model comparison", fontsize="x-large", fontweight="bold")
    return save_figure(fig, path)
