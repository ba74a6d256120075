"""Speed-up pictures: what worker processes buy, drawn from `minidl.stats.summarize` rows."""

from __future__ import annotations

import numpy as np

from .. import stats
from .figures import NothingToPlot, load_matplotlib, new_figure, plural, save_figure, worker_styles
from .labels import all_runs, column_name, describe_section


def speedup(runs_by_model, path) -> str:
    """Per model (and setup): training time and speed-up by worker count (bars, ideal linear speed-up
    drawn for reference), and the distribution of step times per worker count (box plot).

    `runs_by_model` is {model: runs} (or a plain list of runs). Returns the path written.
    """
    load_matplotlib()
    runs = stats.counted(all_runs(runs_by_model))
    rows = [row for row in stats.summarize(runs) if row["training_time"]]
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
        "Parallel training: training time, speed-up and step times by worker count",
        fontsize="x-large",
        fontweight="bold",
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

    means = np.array([row["training_time"]["median"] for row in rows])
    errors = np.array(
        [
            [
                row["training_time"]["median"] - row["training_time"]["min"],
                row["training_time"]["max"] - row["training_time"]["median"],
            ]
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
    time_ax.set_ylabel("training time per run (s)")
    time_ax.set_title("training time (median, min-max)", fontsize="medium")

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
    speed_ax.set_title("speed-up of the training time (medians)", fontsize="medium")

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


def scaling(rows, path) -> str:
    """Speed-up against parallel processes, one panel per section that has a one-worker baseline and a
    parallel column: measured medians with their range, the ideal line, and the Amdahl model fitted by
    `minidl.stats` (dashed, labelled as a prediction, with its values at `stats.PREDICT_AT`), on log-log
    axes up to the largest of those. Oversubscribed columns are drawn hollow; each point says the load
    average (1 min, median) the machine had during its runs.

    `rows` are `minidl.stats.summarize` rows. Returns the path written; NothingToPlot without such a section.
    """
    load_matplotlib()
    sections = [
        section
        for section in stats.group_sections(rows)
        if any(row["speedup"] is not None and row["workers"] > 1 for row in section)
    ]
    if not sections:
        raise NothingToPlot("nothing to draw: no section with one-worker and parallel runs to compare")
    fig = new_figure(max(8.5, 6.5 * len(sections)), 5.6)
    axes = fig.subplots(1, len(sections), squeeze=False)[0]
    for ax, section in zip(axes, sections):
        _scaling_panel(ax, section)
    fig.suptitle("Speed-up against processes: measured, ideal, and the Amdahl model", fontweight="bold")
    return save_figure(fig, path)


def _scaling_panel(ax, section):
    measured = [row for row in section if row["speedup"] is not None]
    top = max([*stats.PREDICT_AT, *(row["workers"] for row in measured)])
    grid = np.geomspace(1, top, 200)
    ax.plot(grid, grid, color="0.55", linestyle=":", label="ideal: speed-up = processes")
    prediction = section[0]["prediction"]
    if prediction and prediction.get("fitted_workers"):
        e, x = prediction["serial_fraction"], prediction["exchange_share"]
        ax.plot(
            grid,
            [stats.amdahl(e, x, p) for p in grid],
            "--",
            color="#c44e52",
            label=f"Amdahl model, a prediction (e = {e:.3f}, fitted at {prediction['fitted_workers']})",
        )
        for count, value in prediction["speedups"].items():
            ax.plot(int(count), value, "x", color="#c44e52", markersize=7)
            ax.annotate(
                f"{value:.2f}x",
                (int(count), value),
                textcoords="offset points",
                xytext=(0, 7),
                ha="center",
                fontsize="small",
                color="#c44e52",
            )
    for row in measured:
        low, high = row["speedup_range"]
        ax.errorbar(
            row["workers"],
            row["speedup"],
            yerr=[[row["speedup"] - low], [high - row["speedup"]]],
            fmt="o",
            color="#4c72b0",
            markerfacecolor="white" if row["oversubscribed"] else "#4c72b0",
            markersize=8,
            capsize=4,
        )
        flags = [flag.split(":")[0] for flag in row["flags"] if not flag.startswith("a single")]
        load = row.get("load_average")
        note = f"{row['speedup']:.2f}x, {plural(row['runs'], 'run')}"
        note += f"\nload average {load['median']:.1f}" if load else ""
        note += f"\n{', '.join(flags)}" if flags else ""
        ax.annotate(
            note,
            (row["workers"], row["speedup"]),
            textcoords="offset points",
            xytext=(12, -2),
            fontsize="small",
            va="top",
        )
    ax.plot([], [], "o", color="#4c72b0", label="measured median (bar: min-max)")
    if any(row["oversubscribed"] for row in measured):
        ax.plot([], [], "o", color="#4c72b0", markerfacecolor="white", label="oversubscribed: threads > CPUs")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log", base=2)
    ticks = [2**k for k in range(int(np.log2(top)) + 1)]
    ax.set_xticks(ticks, [str(t) for t in ticks])
    ax.set_yticks(ticks, [str(t) for t in ticks])
    ax.set_xlim(0.8, top * 1.25)
    ax.set_ylim(0.5, top * 1.25)
    ax.set_xlabel("parallel processes (workers or MPI ranks)")
    ax.set_ylabel("speed-up of the training time (x)")
    ax.grid(True, alpha=0.3)
    ax.legend(loc="upper left", fontsize="small")
    first = section[0]
    ax.set_title(
        f"{first['model']}\n{describe_section(tuple(first[f] for f in stats.SECTION_FIELDS))}", fontsize="small"
    )


TIME_PARTS = (
    ("compute_total", "gradient computation", "#4c72b0"),
    ("other_total", "communication + update", "#dd8452"),
    ("training_time", "training (not split: no compute record)", "#8c8c8c"),
    ("validation_time", "validation", "#55a868"),
    ("startup_time", "start-up (outside the epochs)", "#8172b3"),
)


def time_split(rows, path) -> str:
    """Where a run's time goes, per model and worker count: stacked bars of the median seconds of
    gradient computation, communication + update, validation and start-up (from `minidl.stats` rows).
    Returns the path written; NothingToPlot without a timed run."""
    load_matplotlib()
    rows = [row for row in rows if row.get("training_time")]
    if not rows:
        raise NothingToPlot("nothing to draw: no finished or stopped run with a training time")
    labels = [f"{row['model']}\n{column_name(row['backend'], row['workers'])}" for row in rows]
    fig = new_figure(max(6.0, 1.3 * len(rows) + 3.5), 5.2)
    ax = fig.subplots()
    bottoms = np.zeros(len(rows))
    for key, name, colour in TIME_PARTS:
        if key == "training_time":
            values = [row["training_time"]["median"] if not row.get("compute_total") else 0.0 for row in rows]
        else:
            values = [row[key]["median"] if row.get(key) else 0.0 for row in rows]
        values = np.array(values)
        if values.any():
            ax.bar(np.arange(len(rows)), values, bottom=bottoms, color=colour, label=name, width=0.6)
            bottoms += values
    tilted = len(rows) > 4  # long model names side by side would overlap
    ax.set_xticks(
        np.arange(len(rows)),
        labels,
        fontsize="small",
        rotation=30 if tilted else 0,
        ha="right" if tilted else "center",
        rotation_mode="anchor",
    )
    ax.set_ylabel("seconds per run (median of each part)")
    ax.grid(True, axis="y", alpha=0.3)
    ax.set_axisbelow(True)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small")
    ax.set_title("Where the time of a run goes", fontweight="bold")
    return save_figure(fig, path)
