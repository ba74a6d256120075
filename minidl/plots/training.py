"""Training curves: one model's per-epoch loss and accuracy over its runs (`curves`), and its loss and
accuracy step by step, one line per run (`step_curves`)."""

from __future__ import annotations

import numpy as np

from .. import stats
from .figures import MODEL_COLOURS, NothingToPlot, accuracy_axis, load_matplotlib, new_figure, plural, save_figure
from .labels import column_name, describe_section, section_labels


def curves(runs, path, colour=None) -> str:
    """One model's per-epoch training and validation loss and accuracy: mean over its runs, min-max band.

    Runs of different setups (batch size, samples, ...) are drawn as separate lines, never averaged
    together. Returns the path written; NothingToPlot if no run has a finished epoch.
    """
    mpl = load_matplotlib()
    runs = [run for run in stats.counted(runs) if run.get("epochs")]
    if not runs:
        raise NothingToPlot("nothing to draw: no finished or stopped run with a completed epoch")
    model = ", ".join(sorted({str(run.get("settings", {}).get("model") or "model") for run in runs}))
    sections = {}
    for run in runs:
        sections.setdefault(stats.section_key(run), []).append(run)
    labels = section_labels(sections)
    base = colour or MODEL_COLOURS[0]
    colours = [base] + [c for c in MODEL_COLOURS if c != base]
    loss_name = runs[0].get("settings", {}).get("loss") or "loss"

    fig = new_figure(11, 4.2)
    loss_ax, acc_ax = fig.subplots(1, 2)
    max_epoch = 1
    for (_key, section_runs), line_colour in zip(sections.items(), colours):
        for ax, metric, scale in ((loss_ax, "loss", 1), (acc_ax, "accuracy", 100)):
            for prefix, style, marker in (("", "-", "o"), ("val_", "--", "s")):
                epochs, mean, low, high = _per_epoch(section_runs, prefix + metric)
                if not len(epochs):
                    continue
                max_epoch = max(max_epoch, int(epochs[-1]))
                ax.plot(epochs, mean * scale, style, marker=marker, color=line_colour, markersize=4, clip_on=False)
                if len(section_runs) > 1 and len(epochs) > 1:
                    ax.fill_between(epochs, low * scale, high * scale, color=line_colour, alpha=0.18, linewidth=0)
                elif len(section_runs) > 1:  # one epoch: a band has no width, so a min-max bar instead
                    ax.errorbar(
                        epochs,
                        mean * scale,
                        yerr=[(mean - low) * scale, (high - mean) * scale],
                        color=line_colour,
                        alpha=0.5,
                        capsize=4,
                        linestyle="none",
                    )
    for ax in (loss_ax, acc_ax):
        ax.set_xlabel("epoch")
        ax.grid(True, alpha=0.3)
        ax.set_xlim(0.8, max_epoch + 0.2)
        ax.set_xticks(range(1, max_epoch + 1) if max_epoch <= 12 else range(1, max_epoch + 1, -(-max_epoch // 12)))
    loss_ax.set_ylabel(f"{loss_name.replace('_', ' ')} (mean per sample)")
    loss_ax.set_title("loss")
    accuracy_axis(acc_ax, "accuracy (%)")
    acc_ax.set_title("accuracy")

    Line2D = mpl.lines.Line2D
    handles = [
        Line2D([], [], color="0.25", linestyle="-", marker="o", markersize=4, label="training"),
        Line2D([], [], color="0.25", linestyle="--", marker="s", markersize=4, label="validation"),
    ]
    if any(len(section_runs) > 1 for section_runs in sections.values()):
        handles.append(mpl.patches.Patch(color="0.25", alpha=0.18, label="min-max over runs"))
    if len(sections) > 1:
        handles += [
            Line2D([], [], color=c, linewidth=3, label=f"{labels[key]} ({plural(len(members), 'run')})")
            for (key, members), c in zip(sections.items(), colours)
        ]
    acc_ax.legend(handles=handles, loc="best", fontsize="small")
    summary = describe_section(next(iter(sections))) if len(sections) == 1 else f"{len(sections)} setups"
    fig.suptitle(f"{model}: training curves, mean of {plural(len(runs), 'run')} ({summary})")
    return save_figure(fig, path)


def _per_epoch(runs, key):
    """(epoch numbers, mean, min, max) arrays of `key`, from `stats.per_epoch_spread`."""
    table = stats.per_epoch_spread(runs, key)
    return (
        np.array([epoch for epoch, _ in table], dtype=float),
        np.array([s["mean"] for _, s in table]),
        np.array([s["min"] for _, s in table]),
        np.array([s["max"] for _, s in table]),
    )


#: The smoothing of `step_curves`: an exponential moving average over about this share of a run's steps.
SMOOTHING_SHARE = 1 / 25
MAX_LABELLED_RUNS = 12


def step_curves(runs, path) -> str:
    """One model's loss and accuracy by training step, one smoothed line per run over its raw steps.

    Each step's value is that batch's own mean (``step_metrics`` of the run record, which runs
    recorded before it existed lack). The line is an exponential moving average over about
    `SMOOTHING_SHARE` of the run's steps, debiased at the start as TensorBoard's is; the raw values
    are drawn faintly beneath it. Dotted verticals mark the first run's epoch ends. Returns the path
    written; NothingToPlot when no finished or stopped run recorded its steps' losses.
    """
    mpl = load_matplotlib()
    runs = [run for run in stats.counted(runs) if (run.get("step_metrics") or {}).get("loss")]
    if not runs:
        raise NothingToPlot("nothing to draw: no finished or stopped run recorded its steps' losses")
    runs.sort(key=lambda run: (stats.column_key(run)[1] or 0, run.get("started") or ""))
    model = ", ".join(sorted({str(run.get("settings", {}).get("model") or "model") for run in runs}))
    fig = new_figure(11, 4.2)
    loss_ax, acc_ax = fig.subplots(1, 2)
    handles = []
    for index, run in enumerate(runs):
        colour = MODEL_COLOURS[index % len(MODEL_COLOURS)]
        for ax, metric, scale in ((loss_ax, "loss", 1), (acc_ax, "accuracy", 100)):
            values = np.array([np.nan if v is None else v for v in run["step_metrics"].get(metric, [])], float)
            if not len(values):
                continue
            steps = np.arange(1, len(values) + 1)
            ax.plot(steps, values * scale, color=colour, alpha=0.15, linewidth=0.8, clip_on=False)
            smoothed = smooth(values, len(values) * SMOOTHING_SHARE) * scale
            ax.plot(steps, smoothed, color=colour, linewidth=1.6, clip_on=False)
        if index < MAX_LABELLED_RUNS:
            handles.append(mpl.lines.Line2D([], [], color=colour, linewidth=2, label=_run_label(run)))
    ends = np.cumsum([epoch.get("steps") or 0 for epoch in runs[0].get("epochs", [])])[:-1]
    for ax in (loss_ax, acc_ax):
        for end in ends:
            ax.axvline(end + 0.5, color="0.6", linestyle=":", linewidth=0.8)
        ax.set_xlabel(f"training step (batches of {runs[0].get('settings', {}).get('batch_size')})")
        ax.grid(True, alpha=0.3)
    loss_name = (runs[0].get("settings", {}).get("loss") or "loss").replace("_", " ")
    loss_ax.set_ylabel("loss (the batch's mean per sample)")
    loss_ax.set_title(f"loss by step ({loss_name})")
    accuracy_axis(acc_ax, "accuracy on the batch (%)")
    acc_ax.set_title("accuracy by step")
    if len(runs) > MAX_LABELLED_RUNS:
        handles.append(mpl.patches.Patch(color="0.7", label=f"... and {len(runs) - MAX_LABELLED_RUNS} more runs"))
    acc_ax.legend(handles=handles, loc="best", fontsize="small")
    fig.suptitle(f"{model}: loss and accuracy by training step, {plural(len(runs), 'run')} (smoothed; raw beneath)")
    return save_figure(fig, path)


def smooth(values, span) -> np.ndarray:
    """Exponential moving average of `values` with weight 1 - 1/span, debiased (TensorBoard's smoothing).

    NaN entries (steps without a value) are skipped: the average carries over them and they stay NaN.
    """
    decay = 1 - 1 / max(1.0, float(span))
    out = np.full(len(values), np.nan)
    average, weight = 0.0, 0.0
    for index, value in enumerate(values):
        if np.isnan(value):
            continue
        average = decay * average + (1 - decay) * value
        weight = decay * weight + (1 - decay)
        out[index] = average / weight
    return out


def _run_label(run) -> str:
    backend, workers, threads = stats.column_key(run)
    started = (run.get("started") or "")[:16].replace("T", " ")
    return f"{column_name(backend, workers, threads)}, {started}".rstrip(", ")
