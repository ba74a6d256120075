"""Speed-up pictures: what worker processes buy, drawn from `minidl.stats.summarize` rows."""

from __future__ import annotations

import numpy as np

from .. import stats
from .figures import NothingToPlot, load_matplotlib, new_figure, save_figure, worker_styles
from .labels import all_runs, column_name, describe_section


def speedup(runs_by_model, path) -> str:
    """Per model (and setup): epoch time and speed-up by worker count (bars, ideal linear speed-up
    drawn for reference), and the distribution of step times per worker count (box plot).

    `runs_by_model` is {model: runs} (or a plain list of runs). Returns the path written.
    """
    load_matplotlib()
    runs = stats.counted(all_runs(runs_by_model))
    rows = [row for row in stats.summarize(runs) if row["epoch_time"]]
    if not rows:
        raise NothingToPlot("nothing to draw: no finished or stopped run with a timed epoch")
    steps = stats.step_times_by_column(runs)
    sections = stats.group_sections(rows)
    colours = worker_styles(row["workers"] for row in rows)
    fig = new_figure(13, 0.5 + 3.2 * len(sections))
    subfigs = fig.subfigures(len(sections), 1, squeeze=False)[:, 0]
    for subfig, section_rows in zip(subfigs, sections):
        _speedup_row(subfig, section_rows, steps, colours)
    fig.suptitle(
        "Parallel training: epoch time, speed-up and step times by worker count", fontsize="x-large", fontweight="bold"
    )
    return save_figure(fig, path)


def _row_keys(row):
    return (tuple(row[f] for f in stats.SECTION_FIELDS), tuple(row[f] for f in stats.COLUMN_FIELDS))


def _speedup_row(subfig, rows, steps, colours):
    time_ax, speed_ax, step_ax = subfig.subplots(1, 3)
    positions = np.arange(len(rows))
    thread_counts = {}
    for row in rows:
        thread_counts.setdefault((row["backend"], row["workers"]), set()).add(row["threads"])
    show_threads = any(len(t) > 1 for t in thread_counts.values())
    names = [column_name(row["backend"], row["workers"], row["threads"], show_threads) for row in rows]
    bar_colours = [colours[row["workers"]][0] for row in rows]

    means = np.array([row["epoch_time"]["mean"] for row in rows])
    errors = np.array(
        [
            [row["epoch_time"]["mean"] - row["epoch_time"]["min"], row["epoch_time"]["max"] - row["epoch_time"]["mean"]]
            for row in rows
        ]
    ).T
    bars = time_ax.bar(positions, means, color=bar_colours, yerr=errors, capsize=4, ecolor="0.3")
    time_ax.bar_label(
        bars,
        labels=[stats.format_number(m) for m in means],
        padding=2,
        fontsize="small",
        label_type="center",
        color="white",
        fontweight="bold",
    )
    time_ax.set_ylabel("epoch time (s)")
    time_ax.set_title("epoch time (mean, min-max)", fontsize="medium")

    speeds = [row["speedup"] for row in rows]
    if any(s is not None for s in speeds):
        values = np.array([s if s is not None else 0.0 for s in speeds])
        bars = speed_ax.bar(positions, values, color=bar_colours)
        speed_ax.bar_label(
            bars, labels=[f"{s:.2f}x" if s is not None else "" for s in speeds], padding=2, fontsize="small"
        )
        ideal = np.array([row["workers"] for row in rows], dtype=float)
        speed_ax.plot(positions, ideal, "k--", marker="_", markersize=18, linewidth=1, label="ideal (linear)")
        speed_ax.axhline(1.0, color="0.6", linewidth=0.8)
        speed_ax.set_ylim(0, max(values.max(), ideal.max()) * 1.22)
        speed_ax.legend(loc="upper left", fontsize="small")
    else:
        speed_ax.text(
            0.5,
            0.5,
            "no one-worker runs\nto compare with",
            ha="center",
            va="center",
            transform=speed_ax.transAxes,
            color="0.4",
        )
    speed_ax.set_ylabel("speed-up (x, vs 1 worker)")
    speed_ax.set_title("speed-up of the epoch time", fontsize="medium")

    data = [np.asarray(steps.get(_row_keys(row), []), dtype=float) * 1000 for row in rows]
    filled = [i for i, d in enumerate(data) if len(d)]
    if filled:
        boxes = step_ax.boxplot(
            [data[i] for i in filled],
            positions=positions[filled],
            widths=0.55,
            patch_artist=True,
            flierprops={"markersize": 3, "alpha": 0.5},
            medianprops={"color": "black"},
        )
        for patch, index in zip(boxes["boxes"], filled):
            patch.set_facecolor(bar_colours[index])
            patch.set_alpha(0.75)
        if max(np.max(d) for d in data if len(d)) > 20 * min(np.median(d) for d in data if len(d)):
            step_ax.set_yscale("log")
    step_ax.set_ylabel("step time (ms)")
    step_ax.set_title("step time distribution", fontsize="medium")

    for ax in (time_ax, speed_ax, step_ax):
        ax.set_xticks(positions, names)
        ax.set_xlim(-0.6, len(rows) - 0.4)
        ax.grid(True, axis="y", alpha=0.3)
        ax.set_axisbelow(True)
    first = rows[0]
    key = tuple(first[f] for f in stats.SECTION_FIELDS)
    counts = ", ".join(f"{row['runs']}" for row in rows)
    subfig.suptitle(
        f"{first['model']}  ({describe_section(key)}; runs per column: {counts})",
        fontsize="large",
        fontweight="bold",
        x=0.01,
        ha="left",
    )
