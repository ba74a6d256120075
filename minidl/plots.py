"""Pictures: training curves, speed-up charts, model comparison and a look inside the network.

Everything is drawn from what the project already records: the statistics folder written by
`minidl.stats.StatisticsTracker` (loaded and summarised with `minidl.stats.load_runs` / `summarize`),
a trained `Model`, or the predictions of `trainings/classify.py`.

    python -m minidl.stats --plot [DIR]     # curves_<model>.png, speedup.png, compare.png in DIR

matplotlib is an optional extra (``pip install 'minidl[plot]'``): it is imported only inside the
drawing functions, which raise `MissingMatplotlib` (an ImportError) with that hint when it is absent;
``import minidl.plots`` itself never needs it. Figures are built with matplotlib's object-oriented
API (`matplotlib.figure.Figure`, never pyplot), so they render with the Agg backend whatever backend
an interactive session chose, leave no figure open and do not change that choice.

Conventions: every picture has a title, axis labels with units and legends; a model has the same
colour in every picture, and so has a worker count; constrained layout keeps text from
overlapping; charts are saved at `DPI`.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from . import stats

DPI = 120
INSTALL_HINT = "pictures need matplotlib: pip install 'minidl[plot]'"
MODEL_COLOURS = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
)  # matplotlib's tab10
WORKER_COLOURS = ("#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3", "#937860", "#da8bc3", "#8c8c8c")
WORKER_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
GRID_RIGHT = ((0.10, 0.85, 0.25), (0.0, 0.0, 0.0))  # classification grid: (ink, background) RGB
GRID_WRONG = ((1.00, 0.35, 0.35), (0.42, 0.0, 0.0))
GRID_PADDING = (0.18, 0.18, 0.18)  # empty tiles after the last digit


class MissingMatplotlib(ImportError):
    """matplotlib, needed for pictures only, is not installed."""


class NothingToPlot(ValueError):
    """The statistics folder holds no finished runs to draw."""


def _matplotlib():
    """The matplotlib package, or MissingMatplotlib with the install hint."""
    try:
        import matplotlib
        import matplotlib.figure
        import matplotlib.image
        import matplotlib.lines
        import matplotlib.patches
        import matplotlib.ticker
    except ImportError:
        raise MissingMatplotlib(INSTALL_HINT) from None
    return matplotlib


def _figure(width, height, **kwargs):
    """A new constrained-layout figure (not registered with pyplot: nothing to close, no GUI)."""
    mpl = _matplotlib()
    return mpl.figure.Figure(figsize=(width, height), dpi=DPI, layout="constrained", **kwargs)


def _save(fig, path) -> str:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=DPI, format="png")
    return str(path)


# ======================================================================================
# Statistics folder -> pictures
# ======================================================================================
def plot_statistics(stats_dir=stats.DEFAULT_DIR, runs=None) -> list[str]:
    """Write ``curves_<model>.png`` (one per model), ``speedup.png`` and ``compare.png`` into `stats_dir`.

    `runs` (default: every run of every statistics file in `stats_dir`, via `stats.load_runs`) may be
    given when already loaded. Only finished and stopped runs are drawn, as in the summary.
    Returns the paths written; NothingToPlot (a ValueError) when there is no such run.
    """
    _matplotlib()
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
    for run in runs:
        if run.get("status") in stats.COUNTED_STATUSES:
            grouped.setdefault(str(run.get("settings", {}).get("model") or "model"), []).append(run)
    return dict(sorted(grouped.items()))


def model_colours(by_model) -> dict[str, str]:
    """One colour per model, in name order: the same model has the same colour in every picture."""
    return {model: MODEL_COLOURS[index % len(MODEL_COLOURS)] for index, model in enumerate(sorted(by_model))}


def worker_styles(worker_counts) -> dict[int, tuple[str, str]]:
    """(colour, marker) per worker count, in increasing order."""
    return {
        count: (WORKER_COLOURS[i % len(WORKER_COLOURS)], WORKER_MARKERS[i % len(WORKER_MARKERS)])
        for i, count in enumerate(sorted(set(worker_counts)))
    }


def _all_runs(runs_by_model) -> list:
    if isinstance(runs_by_model, dict):
        return [run for runs in runs_by_model.values() for run in runs]
    return list(runs_by_model)


def _counted(runs) -> list:
    return [run for run in runs if run.get("status") in stats.COUNTED_STATUSES]


def _section_labels(keys) -> dict[tuple, str]:
    """A short label per section key, naming only what differs between the sections given."""
    keys = list(dict.fromkeys(keys))
    names = dict(zip(stats.SECTION_FIELDS, range(len(stats.SECTION_FIELDS))))
    formats = {
        "model": "{}",
        "setup": "setup {}",
        "dataset": "data {}",
        "hostname": "host {}",
        "samples": "{} samples",
        "val_samples": "{} val",
        "batch_size": "batch {}",
        "epochs": "{} epochs",
    }
    varying = [field for field in formats if len({key[names[field]] for key in keys}) > 1]
    labels = {}
    for key in keys:
        parts = [formats[field].format(key[names[field]]) for field in varying]
        labels[key] = ", ".join(parts)
    return labels


def _describe_section(key) -> str:
    values = dict(zip(stats.SECTION_FIELDS, key))
    parts = [f"batch {values['batch_size']}", f"{values['samples']} train / {values['val_samples'] or 0} val samples"]
    if values["epochs"] is not None:
        parts.append(f"{values['epochs']} epoch{'s' if values['epochs'] != 1 else ''}")
    if values["dataset"]:
        parts.insert(0, str(values["dataset"]))
    parts.append(f"host {values['hostname']}")
    return ", ".join(parts)


def _column_name(backend, workers, threads, show_threads) -> str:
    unit = "rank" if backend == "mpi" else "worker"
    text = f"{workers} {unit}{'s' if workers != 1 else ''}"
    if backend not in ("pool", "mpi"):
        text += f" ({backend})"
    if show_threads:
        text += f"\n{'?' if threads is None else threads} thread{'s' if threads != 1 else ''}"
    return text


# ----- training curves ----------------------------------------------------------------
def curves(runs, path, colour=None) -> str:
    """One model's per-epoch training and validation loss and accuracy: mean over its runs, min-max band.

    Runs of different setups (batch size, samples, ...) are drawn as separate lines, never averaged
    together. Returns the path written; NothingToPlot if no run has a finished epoch.
    """
    _matplotlib()
    runs = [run for run in _counted(runs) if run.get("epochs")]
    if not runs:
        raise NothingToPlot("nothing to draw: no finished or stopped run with a completed epoch")
    model = ", ".join(sorted({str(run.get("settings", {}).get("model") or "model") for run in runs}))
    sections = {}
    for run in runs:
        sections.setdefault(stats.section_key(run), []).append(run)
    labels = _section_labels(sections)
    base = colour or MODEL_COLOURS[0]
    colours = [base] + [c for c in MODEL_COLOURS if c != base]
    loss_name = runs[0].get("settings", {}).get("loss") or "loss"

    fig = _figure(11, 4.2)
    loss_ax, acc_ax = fig.subplots(1, 2)
    max_epoch = 1
    for (_key, section_runs), line_colour in zip(sections.items(), colours):
        for ax, metric, scale in ((loss_ax, "loss", 1), (acc_ax, "accuracy", 100)):
            for prefix, style, marker in (("", "-", "o"), ("val_", "--", "s")):
                epochs, mean, low, high = _per_epoch(section_runs, prefix + metric)
                if not len(epochs):
                    continue
                max_epoch = max(max_epoch, int(epochs[-1]))
                ax.plot(epochs, mean * scale, style, marker=marker, color=line_colour, markersize=4)
                if len(section_runs) > 1:
                    ax.fill_between(epochs, low * scale, high * scale, color=line_colour, alpha=0.18, linewidth=0)
    for ax in (loss_ax, acc_ax):
        ax.set_xlabel("epoch")
        ax.grid(True, alpha=0.3)
        ax.set_xlim(0.8, max_epoch + 0.2)
        ax.xaxis.get_major_locator().set_params(integer=True)
    loss_ax.set_ylabel(f"{loss_name.replace('_', ' ')} (mean per sample)")
    loss_ax.set_title("loss")
    acc_ax.set_ylabel("accuracy (%)")
    acc_ax.set_title("accuracy")

    mpl = _matplotlib()
    Line2D = mpl.lines.Line2D
    handles = [
        Line2D([], [], color="0.25", linestyle="-", marker="o", markersize=4, label="training"),
        Line2D([], [], color="0.25", linestyle="--", marker="s", markersize=4, label="validation"),
    ]
    if any(len(section_runs) > 1 for section_runs in sections.values()):
        handles.append(mpl.patches.Patch(color="0.25", alpha=0.18, label="min-max over runs"))
    if len(sections) > 1:
        handles += [
            Line2D([], [], color=c, linewidth=3, label=f"{labels[key]} ({_count(len(members), 'run')})")
            for (key, members), c in zip(sections.items(), colours)
        ]
    acc_ax.legend(handles=handles, loc="best", fontsize="small")
    summary = _describe_section(next(iter(sections))) if len(sections) == 1 else f"{len(sections)} setups"
    fig.suptitle(f"{model}: training curves, mean of {_count(len(runs), 'run')} ({summary})")
    return _save(fig, path)


def _count(number, noun) -> str:
    return f"{number} {noun}{'s' if number != 1 else ''}"


def _per_epoch(runs, key):
    """(epoch numbers, mean, min, max) of `key` over the runs that reached each epoch and recorded it."""
    values = {}
    for run in runs:
        for index, epoch in enumerate(run.get("epochs", [])):
            if epoch.get(key) is not None:
                values.setdefault(epoch.get("epoch", index + 1), []).append(float(epoch[key]))
    epochs = sorted(values)
    table = [values[e] for e in epochs]
    return (
        np.array(epochs, dtype=float),
        np.array([np.mean(v) for v in table]),
        np.array([min(v) for v in table]),
        np.array([max(v) for v in table]),
    )


# ----- speed-up -----------------------------------------------------------------------
def speedup(runs_by_model, path) -> str:
    """Per model (and setup): epoch time and speed-up by worker count (bars, ideal linear speed-up
    drawn for reference), and the distribution of step times per worker count (box plot).

    `runs_by_model` is {model: runs} (or a plain list of runs). Returns the path written.
    """
    _matplotlib()
    runs = _counted(_all_runs(runs_by_model))
    rows = [row for row in stats.summarize(runs) if row["epoch_time"]]
    if not rows:
        raise NothingToPlot("nothing to draw: no finished or stopped run with a timed epoch")
    steps = _step_times(runs)
    sections = stats.group_sections(rows)
    colours = worker_styles(row["workers"] for row in rows)
    fig = _figure(13, 0.5 + 3.2 * len(sections))
    subfigs = fig.subfigures(len(sections), 1, squeeze=False)[:, 0]
    for subfig, section_rows in zip(subfigs, sections):
        _speedup_row(subfig, section_rows, steps, colours)
    fig.suptitle(
        "Parallel training: epoch time, speed-up and step times by worker count", fontsize="x-large", fontweight="bold"
    )
    return _save(fig, path)


def _step_times(runs) -> dict:
    """All step times (seconds) of the runs, by (section key, column key)."""
    times = {}
    for run in runs:
        key = (stats.section_key(run), stats.column_key(run))
        times.setdefault(key, []).extend(t for t in run.get("timings", {}).get("step_times", []) if t is not None)
    return times


def _row_keys(row):
    return (tuple(row[f] for f in stats.SECTION_FIELDS), tuple(row[f] for f in stats.COLUMN_FIELDS))


def _speedup_row(subfig, rows, steps, colours):
    time_ax, speed_ax, step_ax = subfig.subplots(1, 3)
    positions = np.arange(len(rows))
    thread_counts = {}
    for row in rows:
        thread_counts.setdefault((row["backend"], row["workers"]), set()).add(row["threads"])
    show_threads = any(len(t) > 1 for t in thread_counts.values())
    names = [_column_name(row["backend"], row["workers"], row["threads"], show_threads) for row in rows]
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
        f"{first['model']}  ({_describe_section(key)}; runs per column: {counts})",
        fontsize="large",
        fontweight="bold",
        x=0.01,
        ha="left",
    )


# ----- model comparison ---------------------------------------------------------------
def compare(runs_by_model, path) -> str:
    """Final accuracy against training time for every model, setup and worker count: which variant
    is worth its cost. Points are means over runs with min-max error bars. Returns the path written."""
    _matplotlib()
    runs = _counted(_all_runs(runs_by_model))
    groups = {}
    for run in runs:
        groups.setdefault((stats.section_key(run), stats.column_key(run)), []).append(run)
    points = []
    for (section, column), members in groups.items():
        times = [r["timings"]["training_time"] for r in members if r.get("timings", {}).get("training_time")]
        val = [_final(r, "val_accuracy") for r in members]
        validation = all(v is not None for v in val)
        accuracy = val if validation else [_final(r, "accuracy") for r in members]
        accuracy = [a * 100 for a in accuracy if a is not None]
        if times and accuracy:
            points.append(
                {
                    "model": section[0],
                    "section": section,
                    "column": column,
                    "times": times,
                    "accuracy": accuracy,
                    "validation": validation,
                    "runs": len(members),
                }
            )
    if not points:
        raise NothingToPlot("nothing to draw: no finished or stopped run with a training time and an accuracy")
    colours = model_colours({p["model"] for p in points})
    styles = worker_styles(p["column"][1] for p in points)
    mpl = _matplotlib()
    Line2D = mpl.lines.Line2D

    fig = _figure(11, 6)
    ax, legend_ax = fig.subplots(1, 2, width_ratios=(4.2, 1))
    legend_ax.set_axis_off()  # legends live here, so constrained layout keeps them inside the picture
    for point in points:
        t, a = np.array(point["times"]), np.array(point["accuracy"])
        colour, marker = colours[point["model"]], styles[point["column"][1]][1]
        ax.errorbar(
            t.mean(),
            a.mean(),
            xerr=[[t.mean() - t.min()], [t.max() - t.mean()]],
            yerr=[[a.mean() - a.min()], [a.max() - a.mean()]],
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
    ax.set_ylabel(f"final {'validation' if any_validation else 'training'} accuracy (%)")
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
            label=_column_name("pool", w, None, False),
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
    return _save(fig, path)


def _final(run, key):
    """`key` of the run's last epoch that recorded it (None if none did)."""
    for epoch in reversed(run.get("epochs", [])):
        if epoch.get(key) is not None:
            return float(epoch[key])
    return None


# ======================================================================================
# Inside the network
# ======================================================================================
def _conv_layers(model):
    from .layers import Conv2D

    return [layer for layer in model.layers if isinstance(layer, Conv2D)]


def filters(model, path, layer=None) -> str:
    """The learned kernels of the first Conv2D layer (or `layer`, a Conv2D of the model or its name)
    as a grid: one small image per filter, and per input channel when there are several.

    One diverging colour scale, centred on 0, is shared by all kernels so their strengths compare.
    Returns the path written; ValueError if the model has no Conv2D layer.
    """
    _matplotlib()
    convs = _conv_layers(model)
    if not convs:
        kinds = ", ".join(type(each).__name__ for each in model.layers) or "no layers"
        raise ValueError(f"model {model.name!r} has no Conv2D layer to draw the filters of ({kinds})")
    if layer is None:
        conv = convs[0]
    else:
        matches = [c for c in convs if c is layer or c.name == layer]
        if not matches:
            raise ValueError(
                f"model {model.name!r} has no Conv2D layer {layer!r}; its Conv2D layers: "
                f"{', '.join(c.name for c in convs)}"
            )
        conv = matches[0]
    if not conv.built:
        raise ValueError(f"layer {conv.name!r} of model {model.name!r} is not built yet: it has no weights")
    kernel = np.asarray(conv.params["kernel"], dtype=float)  # (kh, kw, channels, filters)
    kh, kw, channels, count = kernel.shape
    limit = float(np.abs(kernel).max()) or 1.0

    if channels == 1:
        columns = min(count, 8)
        grid_rows = math.ceil(count / columns)
        cells = [(i // columns, i % columns, i, 0, f"filter {i + 1}") for i in range(count)]
    else:
        columns, grid_rows = channels, count
        cells = [(f, c, f, c, None) for f in range(count) for c in range(channels)]
    tile = 1.1 if columns <= 8 else 0.8
    fig = _figure(max(4.5, columns * tile + 1.4), grid_rows * tile + 1.1)
    axes = np.atleast_2d(fig.subplots(grid_rows, columns, squeeze=False))
    image = None
    for row, column, f, c, title in cells:
        ax = axes[row, column]
        image = ax.imshow(kernel[:, :, c, f], cmap="RdBu_r", vmin=-limit, vmax=limit, interpolation="nearest")
        if title:
            ax.set_title(title, fontsize="small")
        if channels > 1 and row == 0:
            ax.set_title(f"channel {c + 1}", fontsize="small")
        if channels > 1 and column == 0:
            ax.set_ylabel(f"filter {f + 1}", fontsize="small")
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    for row, column in [(r, c) for r in range(grid_rows) for c in range(columns)][len(cells) :]:
        axes[row, column].set_visible(False)
    fig.colorbar(image, ax=axes, shrink=0.9, label="weight")
    activation = conv.get_config().get("activation")
    fig.suptitle(
        f"{model.name}: learned filters of {conv.name} (Conv2D, {count} filters of {kh}x{kw}"
        f"{f' x {channels} channels' if channels > 1 else ''}"
        f"{f', {activation}' if activation else ''})",
        fontsize="medium",
    )
    return _save(fig, path)


def feature_maps(model, image, path, max_columns=16) -> str:
    """One digit and its feature maps after each Conv2D and pooling layer, one row per layer.

    `image` is one input (e.g. (28, 28, 1) or (28, 28)); the layers run one by one with
    `layer.forward(x[None], training=False)` until the first one that no longer outputs images.
    Each row shares one colour scale, so strong and silent channels are told apart; a layer with
    more than `max_columns` channels wraps onto several lines. Returns the path written.
    """
    from .layers import Conv2D
    from .layers.pooling import Pooling2D

    _matplotlib()
    convs = _conv_layers(model)
    if not convs:
        raise ValueError(f"model {model.name!r} has no Conv2D layer: there are no feature maps to draw")
    x = np.asarray(image, dtype=model.dtype)
    expected = tuple(model.input_shape or ())
    if x.shape != expected:
        if expected and x.size == math.prod(expected):
            x = x.reshape(expected)
        else:
            raise ValueError(
                f"feature_maps needs one input of shape {expected} (or the same pixels "
                f"without the channel axis), got {x.shape}"
            )
    if x.ndim != 3:
        raise ValueError(
            f"feature_maps needs image inputs (height, width, channels), model {model.name!r} takes {expected}"
        )

    rows = [("input", x)]
    out, images_done = x[None], False
    for layer in model.layers:
        out = layer.forward(out, training=False)
        if out.ndim != 4:
            images_done = True
        if not images_done and isinstance(layer, (Conv2D, Pooling2D)):
            rows.append((layer, np.array(out[0], dtype=float)))
    prediction = ""
    final = np.asarray(out).reshape(-1)
    if final.size > 1 and out.ndim == 2:
        prediction = f", predicted {int(final.argmax())} (output {final.max():.2f})"

    lines = [max(1, math.ceil(maps.shape[-1] / max_columns)) if i else 1 for i, (_, maps) in enumerate(rows)]
    columns = min(max_columns, max(maps.shape[-1] for _, maps in rows[1:]))
    tile = 0.85
    fig = _figure(max(6.0, columns * tile + 0.6), sum(lines) * tile + 0.45 * len(rows) + 0.6)
    subfigs = fig.subfigures(len(rows), 1, height_ratios=[n * tile + 0.45 for n in lines], squeeze=False)[:, 0]
    for subfig, (layer, maps), n_lines in zip(subfigs, rows, lines):
        axes = subfig.subplots(n_lines, columns, squeeze=False)
        if layer == "input":
            axes[0, 0].imshow(maps[..., 0] if maps.shape[-1] == 1 else maps, cmap="gray_r", interpolation="nearest")
            subfig.suptitle(f"input: {'x'.join(map(str, maps.shape))}", x=0.01, ha="left", fontsize="medium")
            count = 1
        else:
            low, high = float(maps.min()), float(maps.max())
            count = maps.shape[-1]
            for channel in range(count):
                ax = axes[channel // columns, channel % columns]
                ax.imshow(
                    maps[..., channel],
                    cmap="viridis",
                    vmin=low,
                    vmax=high if high > low else low + 1,
                    interpolation="nearest",
                )
                ax.set_title(str(channel + 1), fontsize="x-small", pad=2)
            activation = layer.get_config().get("activation")
            kind = type(layer).__name__ + (f", {activation}" if activation else "")
            subfig.suptitle(
                f"{layer.name} ({kind}): {'x'.join(map(str, maps.shape))}, values {low:.2g} to {high:.2g}",
                x=0.01,
                ha="left",
                fontsize="medium",
            )
        for index, ax in enumerate(axes.flat):
            ax.set_xticks([])
            ax.set_yticks([])
            if index >= count:
                ax.set_visible(False)
    fig.suptitle(f"{model.name}: feature maps of one digit{prediction}", fontsize="large", fontweight="bold")
    return _save(fig, path)


# ======================================================================================
# Classification grid
# ======================================================================================
def tile_digits(images, labels, predictions):
    """All digits tiled into one RGB uint8 array, and the number wrong: ink green on black when right,
    light red on dark red when wrong.

    `images` is (N, H, W), (N, H, W, 1) or (N, H*W) for square digits; values in [0, 1] (or 0-255).
    `predictions` may be class numbers or per-class outputs (argmax taken), `labels` likewise.
    The grid is ceil(sqrt(N)) digits wide; the last row is padded with grey tiles. Vectorised: each
    pixel's colour is one lookup in a (right/wrong, 256 ink levels) colour table.
    """
    images = np.asarray(images)
    labels, predictions = _classes(labels, "labels"), _classes(predictions, "predictions")
    if images.ndim == 4 and images.shape[-1] == 1:
        images = images[..., 0]
    elif images.ndim == 2:
        side = math.isqrt(images.shape[1])
        if side * side != images.shape[1]:
            raise ValueError(f"flat images of {images.shape[1]} pixels are not square")
        images = images.reshape(len(images), side, side)
    if images.ndim != 3:
        raise ValueError(f"images must be (N, height, width) or (N, height, width, 1), got {images.shape}")
    count = len(images)
    if count == 0:
        raise ValueError("no images to draw")
    if not len(labels) == len(predictions) == count:
        raise ValueError(f"{count} images but {len(labels)} labels and {len(predictions)} predictions")
    if images.dtype == np.uint8:
        levels = images
    else:
        scale = 1.0 if np.nanmax(images) <= 1.0 else 1.0 / 255.0
        levels = np.clip(np.nan_to_num(images.astype(np.float32) * (255.0 * scale)) + 0.5, 0, 255).astype(np.uint8)

    ink = np.linspace(0.0, 1.0, 256)[:, None]
    table = np.stack(
        [
            np.asarray(background) + ink * (np.asarray(colour) - np.asarray(background))
            for colour, background in (GRID_RIGHT, GRID_WRONG)
        ]
    )  # (2, 256, 3)
    table = np.round(table * 255).astype(np.uint8)
    wrong = labels != predictions
    height, width = images.shape[1:]
    columns = math.ceil(math.sqrt(count))
    rows = math.ceil(count / columns)
    tiles = np.empty((rows * columns, height, width, 3), np.uint8)
    tiles[:count] = table[wrong.astype(np.intp)[:, None, None], levels]
    tiles[count:] = np.round(np.asarray(GRID_PADDING) * 255).astype(np.uint8)
    grid = tiles.reshape(rows, columns, height, width, 3).transpose(0, 2, 1, 3, 4)
    return grid.reshape(rows * height, columns * width, 3), int(wrong.sum())


def _classes(values, name):
    values = np.asarray(values)
    if values.ndim == 2:
        values = values.argmax(axis=1)
    if values.ndim != 1:
        raise ValueError(f"{name} must be class numbers (N,) or per-class values (N, classes), got {values.shape}")
    return values.astype(np.int64)


def classification_grid(images, labels, predictions, path, min_width=640) -> str:
    """Save every classified digit in one picture, green when right and red when wrong, under the title
    "N digits, K wrong (accuracy %)". One image pixel is one picture pixel (small grids are scaled up to
    at least `min_width` pixels wide). 10,000 digits (100 x 100 tiles) take about a second.
    Returns the path written."""
    mpl = _matplotlib()
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    grid, wrong = tile_digits(images, labels, predictions)
    count = len(_classes(labels, "labels"))
    scale = max(1, math.ceil(min_width / grid.shape[1]))
    if scale > 1:
        grid = grid.repeat(scale, axis=0).repeat(scale, axis=1)
    width = grid.shape[1]
    fontsize = max(13.0, width / 120)  # the title stays readable when a big grid is viewed shrunk to fit
    title_height = int(fontsize * 2.8)
    # Only the title strip goes through matplotlib; the grid is written as it is (fast, exact pixels).
    strip = mpl.figure.Figure(figsize=(width / DPI, title_height / DPI), dpi=DPI, facecolor="white")
    canvas = FigureCanvasAgg(strip)
    accuracy = 100.0 * (count - wrong) / count
    strip.text(
        0.5,
        0.5,
        f"{count:,} digits, {wrong:,} wrong ({accuracy:.2f}% accuracy)",
        ha="center",
        va="center",
        fontsize=fontsize,
        fontweight="bold",
    )
    canvas.draw()
    title = np.full((title_height, width, 3), 255, np.uint8)
    rendered = np.asarray(canvas.buffer_rgba())[:title_height, :width, :3]  # may be a pixel short (rounding)
    title[: rendered.shape[0], : rendered.shape[1]] = rendered
    picture = np.concatenate([title, grid])
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    mpl.image.imsave(path, picture, format="png", dpi=DPI)
    return str(path)
