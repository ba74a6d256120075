"""Rendering summary rows: the plain-text averages.txt, the rich tables printed on the console and the
Markdown tables of the report.

All go through `section_view`, which turns a section's rows into strings once, so the renderers
cannot disagree about what a cell says. Every line's label says what it shows; notes under a table
say what the speed-up is measured against, which columns are flagged and why, and the prediction.
"""

from __future__ import annotations

import dataclasses
import math

from ..utils import terminal
from .summary import column_label, group_sections


@dataclasses.dataclass
class SectionView:
    """One section as strings, shared by the plain-text and the rich renderers."""

    title: str
    subtitle: str
    headers: list  # one header per column (may contain newlines)
    body: list  # (label, [cell per column])
    notes: list


def section_view(rows: list) -> SectionView:
    """Format one section's rows: metrics as lines (each label says what it is), parallel configurations
    as columns; the notes say what the speed-up is measured against and what the prediction is."""
    first = rows[0]
    body = [
        ("runs counted (finished or stopped)", [_runs_cell(row) for row in rows]),
        ("training time per run, s: median (min-max)", [_time_cell(row["training_time"]) for row in rows]),
        ("speed-up of training time vs 1 worker (range)", [_speedup_cell(row) for row in rows]),
        ("efficiency = speed-up / processes", [_percent(row["efficiency"]) for row in rows]),
        (
            "Karp-Flatt serial fraction (1/S-1/p)/(1-1/p)",
            ["-" if row["karp_flatt"] is None else f"{row['karp_flatt']:.3f}" for row in rows],
        ),
        ("warnings", [", ".join(_short_flag(flag) for flag in row["flags"]) or "none" for row in rows]),
        ("step time, ms: median (min-max) of all steps", [_time_cell(row["step_time"], 1000) for row in rows]),
        ("  gradient computation per step (run mean), ms", [_time_cell(row["compute_step"], 1000) for row in rows]),
        ("  communication + update per step (run mean), ms", [_time_cell(row["other_step"], 1000) for row in rows]),
        ("epoch time without validation, s", [_time_cell(row["epoch_training_time"]) for row in rows]),
        ("load average (1 min) during the runs", [_load_cell(row) for row in rows]),
        ("pieces of each step computed, by process", [_by_process(row, "pieces_share", "{:.0%}") for row in rows]),
        ("idle per step, by process, ms", [_by_process(row, "idle_per_step", "{:.2f}", 1000) for row in rows]),
        (
            "off the CPU while computing, by process",
            [_by_process(row, "descheduled_share", "{:.0%}") for row in rows],
        ),
    ]
    if first["val_samples"]:
        body.append(("epoch time with validation, s", [_time_cell(row["epoch_time"]) for row in rows]))
        body.append(("validation time per run, s", [_time_cell(row["validation_time"]) for row in rows]))
    body.append(("start-up per run (outside epochs), s", [_time_cell(row["startup_time"]) for row in rows]))
    body += _accuracy_lines(rows, "train_accuracy", "train accuracy during epoch {} (running), mean")
    body += _accuracy_lines(rows, "val_accuracy", "val accuracy after epoch {}, mean")
    return SectionView(
        _section_title(first), _section_subtitle(rows), [column_label(row) for row in rows], body, _section_notes(rows)
    )


def _load_cell(row: dict) -> str:
    """The 1-minute load average sampled during the column's runs: median (min-max)."""
    stats = row.get("load_average")
    if not stats:
        return "-"
    if stats["count"] == 1 or stats["min"] == stats["max"]:
        return f"{stats['median']:.2f}"
    return f"{stats['median']:.2f} ({stats['min']:.2f}-{stats['max']:.2f})"


def _by_process(row: dict, key: str, form: str, scale=1.0) -> str:
    """One figure per process of the column (the parent first), "a / b / ..."; "-" when not recorded."""
    values = (row.get("processes") or {}).get(key)
    if not values:
        return "-"
    return " / ".join("-" if value is None else form.format(value * scale) for value in values)


def _short_flag(flag: str) -> str:
    return flag.split(":")[0]


def _speedup_cell(row: dict) -> str:
    if row["speedup"] is None:
        return "-"
    low, high = row["speedup_range"]
    return f"{row['speedup']:.2f}x ({low:.2f}-{high:.2f})"


def _percent(value) -> str:
    return "-" if value is None else f"{value:.0%}"


def _section_title(row: dict) -> str:
    samples = f"{row['samples']} train / {row['val_samples'] or 0} val samples"
    epochs = f"{row['epochs']} epoch{'s' if row['epochs'] != 1 else ''}"
    return (
        f"{row['model']}: dataset {row['dataset'] or '-'}, {samples}, batch {row['batch_size']}, "
        f"{epochs}, host {row['hostname']}"
    )


def _section_subtitle(rows: list) -> str:
    row = rows[0]
    optimizer = row["optimizer"] or {}
    settings = ", ".join(f"{k}={v}" for k, v in optimizer.items() if k != "name")
    first = min(r["first_started"] or "" for r in rows)[:10]
    last = max(r["last_started"] or "" for r in rows)[:10]
    dates = first if first == last else f"{first} to {last}"
    cpus = row.get("cpus_available")
    return (
        f"{row['params']} params, {optimizer.get('name', '?')}({settings}), {row['loss']}, {row['dtype']}; "
        f"setup {row['setup']} (fingerprint of layers, optimizer, loss and dtype: same value, same network "
        f"trained the same way); {cpus or '?'} CPUs available; runs {dates}"
    )


def _section_notes(rows: list) -> list:
    notes = [f"{column_label(row, sep=', ')}: {flag}" for row in rows for flag in row["flags"]]
    baselines = {row["speedup_baseline"] for row in rows if row["speedup_baseline"]}
    if not baselines:
        notes.append("speed-up: no one-worker run in this section, so no speed-up can be computed")
        return notes
    if all(row["workers"] == 1 for row in rows):
        notes.append("speed-up: only one-worker runs here; run with --workers 2 or more to measure one")
        return notes
    notes.append(
        f"speed-up: median training time of the one-worker runs ({baselines.pop()}) / the column's median; "
        "range: against the column's slowest and fastest run. Validation is not included."
    )
    notes += prediction_lines(rows[0]["prediction"])
    return notes


def prediction_lines(prediction) -> list:
    """The Amdahl prediction in words, labelled as a model (empty without a one-worker baseline)."""
    if not prediction:
        return []
    if prediction["fitted_workers"] is None:
        return [f"prediction: none ({prediction['reason']})"]
    caveats = ["flagged noisy: treat with care"] if prediction["fitted_noisy"] else []
    if prediction["measured_serial_fraction"] > 1:
        caveats.append("the parallel runs were slower than one worker, so e is capped at 1")
    elif prediction["measured_serial_fraction"] < 0:
        caveats.append("the speed-up was above ideal, so e is raised to 0")
    fitted = f"fitted to the {prediction['fitted_workers']}-process median"
    if caveats:
        fitted += f" ({'; '.join(caveats)})"
    exchange = prediction["exchange"]
    if exchange:
        cost = (
            f"plus adding p-1 gradient rows of {exchange['gradient_bytes'] / 1e6:.3g} MB at "
            f"{exchange['reduce_rate'] / 1e9:.3g} GB/s measured here ({prediction['exchange_share']:.2%} of a "
            "one-worker step each)"
        )
    else:
        cost = "gradient exchange cost not recorded with these runs, so left out"
    speedups = ", ".join(f"{n} processes {s:.2f}x" for n, s in prediction["speedups"].items())
    return [
        "prediction (Amdahl's law: a model, not a measurement): serial fraction "
        f"e = {prediction['serial_fraction']:.3f} {fitted}, {cost}: {speedups}."
    ]


def _runs_cell(row: dict) -> str:
    text = str(row["runs"])
    if row["stopped"]:
        text += f" ({row['stopped']} stopped)"
    if row["interrupted"]:
        text += f" +{row['interrupted']} interrupted"
    if row["killed"]:
        text += f" +{row['killed']} killed"
    if row["failed"]:
        text += f" +{row['failed']} failed"
    return text


def _time_cell(stats, scale=1.0) -> str:
    if not stats:
        return "-"
    middle, low, high = (stats[key] * scale for key in ("median", "min", "max"))
    if stats["count"] == 1:
        return format_number(middle)
    return f"{format_number(middle)} ({format_number(low)}-{format_number(high)})"


def format_number(value: float) -> str:
    """Three significant digits without exponent notation: 0.00213, 2.13, 213, 2130."""
    if value == 0 or not math.isfinite(value):  # a huge time in ms can overflow to infinity
        return "0" if value == 0 else str(value)
    decimals = max(0, 2 - math.floor(math.log10(abs(value))))
    return f"{value:.{decimals}f}"


def _accuracy_lines(rows: list, key: str, label: str) -> list:
    epochs = max(len(row[key]) for row in rows)
    lines = []
    for index in range(epochs):
        cells = [row[key][index] if index < len(row[key]) else None for row in rows]
        lines.append((label.format(index + 1), ["-" if value is None else f"{value:.4f}" for value in cells]))
    return lines


def render_text(rows: list, skipped=(), files: int = 0) -> str:
    """The plain-text summary written to averages.txt: aligned columns, no colour, stable for git diffs."""
    models = {row["model"] for row in rows}
    total = sum(row["runs"] + row["interrupted"] + row["killed"] + row["failed"] for row in rows)
    lines = [
        f"minidl training statistics: {total} run{'s' if total != 1 else ''} of {len(models)} "
        f"model{'s' if len(models) != 1 else ''} from {files} file{'s' if files != 1 else ''}.",
        "Each section holds runs that can be compared (same model, setup, data, host, batch, epochs);",
        "each column one parallel configuration: backend, parallel processes, BLAS threads each.",
        "Times: median (min-max) over the finished and stopped runs that trained an epoch (one value: one run).",
        "Interrupted, killed and failed runs are shown as +N and not used. Speed-up, efficiency and",
        "Karp-Flatt use training time only (validation excluded) and the medians.",
        "",
    ]
    for section_rows in group_sections(rows):
        lines += _text_section(section_view(section_rows)) + [""]
    if skipped:
        lines.append("Skipped (damaged, left untouched):")
        lines += [f"  {name}: {reason}" for name, reason in skipped]
    if not rows:
        lines.append("No runs recorded yet.")
    return "\n".join(lines).rstrip() + "\n"


def _text_section(view: SectionView) -> list:
    header_lines = _stack_headers([""] + view.headers)
    table = [[f"{label}:"] + cells for label, cells in view.body]
    widths = [max(len(cell) for cell in column) for column in zip(*header_lines, *table)]

    def line(cells):
        parts = [cells[0].ljust(widths[0])] + [cell.rjust(width) for cell, width in zip(cells[1:], widths[1:])]
        return ("  " + "   ".join(parts)).rstrip()

    rule = "  " + "   ".join("-" * width for width in widths)
    return (
        [f"== {view.title}", f"   {view.subtitle}"]
        + [line(h) for h in header_lines]
        + [rule]
        + [line(cells) for cells in table]
        + [f"  {note}" for note in view.notes]
    )


def _stack_headers(headers: list) -> list:
    """Multi-line headers as rows of cells, bottom-aligned."""
    split = [header.split("\n") for header in headers]
    height = max(len(parts) for parts in split)
    padded = [[""] * (height - len(parts)) + parts for parts in split]
    return [list(row) for row in zip(*padded)]


def print_summary(rows: list, console=None, model=None, skipped=()):
    """Print the summary as rich tables (only `model`'s sections if given), then any skipped files."""
    from rich.markup import escape

    console = console or terminal.console()
    for section_rows in group_sections(rows):
        if model is None or section_rows[0]["model"] == model:
            view = section_view(section_rows)
            console.print(f"[bold]{escape(view.title)}[/]", highlight=False)
            console.print(_rich_table(view))
            for line in [view.subtitle, *view.notes]:
                console.print(f"[dim]{escape(line)}[/]", highlight=False)
            console.print()
    for name, reason in skipped:
        console.print(f"[yellow]skipped {escape(name)}[/]: {escape(reason)}", highlight=False)


def _rich_table(view: SectionView):
    from rich import box
    from rich.markup import escape
    from rich.table import Table

    table = Table(box=box.SIMPLE_HEAD)
    # Labels are never cut (each says what its line is); on a narrow console the cells fold instead.
    table.add_column("", style="cyan", no_wrap=True, min_width=max(len(label) for label, _ in view.body))
    for header in view.headers:
        table.add_column(escape(header), justify="right", overflow="fold")
    for label, cells in view.body:
        table.add_row(escape(label), *map(escape, cells), style="bold" if label.startswith("speed-up") else None)
    return table


SPEEDUP_HEADER = (
    "processes",
    "runs",
    "training time, s: median (min-max)",
    "speed-up (range)",
    "efficiency",
    "Karp-Flatt e",
    "compute / step, ms",
    "communication + update / step, ms",
    "validation per run, s",
    "load average (1 min) during the runs",
    "warnings",
)


def speedup_markdown(rows: list) -> list[str]:
    """One section's scaling as a compact Markdown table (one line per column of the section), followed by
    its notes (baseline, flags in full, the labelled prediction)."""
    lines = ["| " + " | ".join(SPEEDUP_HEADER) + " |", "|" + "---|" * len(SPEEDUP_HEADER)]
    for row in rows:
        cells = [
            column_label(row, sep=", "),
            str(row["runs"]),
            _time_cell(row["training_time"]),
            _speedup_cell(row),
            _percent(row["efficiency"]),
            "-" if row["karp_flatt"] is None else f"{row['karp_flatt']:.3f}",
            _time_cell(row["compute_step"], 1000),
            _time_cell(row["other_step"], 1000),
            _time_cell(row["validation_time"]),
            _load_cell(row),
            ", ".join(f"**{_short_flag(flag)}**" for flag in row["flags"]) or "none",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return lines + [""] + [f"- {note}" for note in _section_notes(rows)]


def markdown_section(view: SectionView) -> list[str]:
    """A section view as a Markdown table (its title, subtitle and notes as text around it)."""
    headers = [header.replace("\n", ", ") for header in view.headers]
    lines = [f"### {view.title}", "", view.subtitle, "", "| | " + " | ".join(headers) + " |"]
    lines.append("|---|" + "---|" * len(headers))
    lines += ["| " + label + " | " + " | ".join(cells) + " |" for label, cells in view.body]
    return lines + [""] + [f"- {note}" for note in view.notes] + [""]
