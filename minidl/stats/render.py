"""Rendering summary rows: the plain-text averages.txt and the rich tables printed on the console.

Both go through `section_view`, which turns a section's rows into strings once, so the two
renderers cannot disagree about what a cell says.
"""

from __future__ import annotations

import dataclasses
import math

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
    """Format one section's rows: metrics as lines, parallel configurations as columns."""
    first = rows[0]
    body = [
        ("times ran", [_runs_cell(row) for row in rows]),
        ("step time (ms)", [_time_cell(row["step_time"], 1000) for row in rows]),
        ("epoch time (s)", [_time_cell(row["epoch_time"]) for row in rows]),
        ("training time, run (s)", [_time_cell(row["training_time"]) for row in rows]),
    ]
    if first["val_samples"]:
        body.append(("validation time, run (s)", [_time_cell(row["validation_time"]) for row in rows]))
    body.append(("combined time, run (s)", [_time_cell(row["combined_time"]) for row in rows]))
    body.append(("speed-up", [f"{row['speedup']:.2f}x" if row["speedup"] else "-" for row in rows]))
    body += _accuracy_lines(rows, "train_accuracy", "train accuracy, epoch")
    body += _accuracy_lines(rows, "val_accuracy", "val accuracy, epoch")
    return SectionView(
        _section_title(first), _section_subtitle(rows), [column_label(row) for row in rows], body, _section_notes(rows)
    )


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
    return (
        f"{row['params']} params, {optimizer.get('name', '?')}({settings}), {row['loss']}, {row['dtype']}; "
        f"setup {row['setup']}; runs {dates}"
    )


def _section_notes(rows: list) -> list:
    baselines = {row["speedup_baseline"] for row in rows if row["speedup_baseline"]}
    if not baselines:
        return ["speed-up: no one-worker runs to compare with"]
    return [f"speed-up: mean epoch time of the one-worker runs ({baselines.pop()}) / the column's"]


def _runs_cell(row: dict) -> str:
    text = str(row["runs"])
    if row["stopped"]:
        text += f" ({row['stopped']} stopped)"
    if row["interrupted"]:
        text += f" +{row['interrupted']} interrupted"
    if row["failed"]:
        text += f" +{row['failed']} failed"
    return text


def _time_cell(stats, scale=1.0) -> str:
    if not stats:
        return "-"
    mean, low, high = (stats[key] * scale for key in ("mean", "min", "max"))
    return f"{format_number(mean)} ({format_number(low)}-{format_number(high)})"


def format_number(value: float) -> str:
    """Three significant digits without exponent notation: 0.00213, 2.13, 213, 2130."""
    if value == 0:
        return "0"
    decimals = max(0, 2 - math.floor(math.log10(abs(value))))
    return f"{value:.{decimals}f}"


def _accuracy_lines(rows: list, key: str, label: str) -> list:
    epochs = max(len(row[key]) for row in rows)
    lines = []
    for index in range(epochs):
        cells = [row[key][index] if index < len(row[key]) else None for row in rows]
        lines.append((f"{label} {index + 1}", ["-" if value is None else f"{value:.4f}" for value in cells]))
    return lines


def render_text(rows: list, skipped=(), files: int = 0) -> str:
    """The plain-text summary written to averages.txt: aligned columns, no colour, stable for git diffs."""
    models = {row["model"] for row in rows}
    total = sum(row["runs"] + row["interrupted"] + row["failed"] for row in rows)
    lines = [
        f"minidl training statistics: {total} run{'s' if total != 1 else ''} of {len(models)} "
        f"model{'s' if len(models) != 1 else ''} from {files} file{'s' if files != 1 else ''}.",
        "Times: mean (min-max) over finished and stopped runs; step and epoch times pool every step",
        "and epoch; training/validation/combined are per-run totals. Interrupted and failed runs",
        "are counted (+N) but not averaged. Columns: backend, parallel processes, BLAS threads each.",
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
    from rich.console import Console
    from rich.markup import escape

    console = console or Console()
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
    table.add_column("", style="cyan", no_wrap=True)
    for header in view.headers:
        table.add_column(escape(header), justify="right", no_wrap=True)
    for label, cells in view.body:
        table.add_row(escape(label), *map(escape, cells), style="bold" if label == "speed-up" else None)
    return table
