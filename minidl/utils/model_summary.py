"""`Model.summary()`: Keras 3's table of layers, output shapes and parameter counts, then the totals.

A functional model's table has Keras's fourth column, "Connected to": where each layer's inputs come
from, as `layer[call][output]` (the call of that layer, and which of its outputs).
"""

from __future__ import annotations

import io

from . import terminal


def summary_rows(model) -> list[dict]:
    """One dict per layer: name, class, output shape, parameter count (trainable and not), and for a
    functional model the layers it is connected to."""
    connections = model.connections() if hasattr(model, "connections") else None
    rows = []
    for layer in model.layers:
        shape = layer.output_shape
        row = {
            "name": layer.name,
            "class": type(layer).__name__,
            "output_shape": list(shape) if isinstance(shape, tuple) else [list(s) for s in shape] if shape else None,
            "params": int(sum(w.size for w in layer.weights)),
        }
        if connections is not None:
            row["connected_to"] = connections.get(id(layer), [])
        rows.append(row)
    return rows


def _shape_text(shape) -> str:
    if shape and isinstance(shape[0], list):
        return ", ".join(_shape_text(s) for s in shape)
    return "(None, " + ", ".join("None" if d is None else str(d) for d in (shape or ["?"])) + ")"


def _size(count, itemsize) -> str:
    size = float(count * itemsize)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.2f} {unit}"
        size /= 1024
    return ""  # not reached


def print_summary(model, console=None, print_fn=None):
    """Print the table, as Keras does: `Layer (type)`, `Output Shape`, `Param #`, then
    `Total params`, `Trainable params`, `Non-trainable params` with their sizes in bytes."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f'Model: "{model.name}"', title_justify="left")
    table.add_column("Layer (type)", style="cyan")
    table.add_column("Output Shape")
    table.add_column("Param #", justify="right")
    rows = summary_rows(model)
    functional = any("connected_to" in row for row in rows)
    if functional:
        table.add_column("Connected to")
    for row in rows:
        cells = [f"{row['name']} ({row['class']})", _shape_text(row["output_shape"]), f"{row['params']:,}"]
        if functional:
            cells.append(", ".join(row["connected_to"]) or "-")
        table.add_row(*cells)
    trainable = int(sum(w.size for w in model.trainable_weights))
    total = model.count_params()
    itemsize = model.parameters.dtype.itemsize
    lines = [
        f" Total params: {total:,} ({_size(total, itemsize)})",
        f" Trainable params: {trainable:,} ({_size(trainable, itemsize)})",
        f" Non-trainable params: {total - trainable:,} ({_size(total - trainable, itemsize)})",
    ]
    if print_fn is not None:
        buffer = io.StringIO()
        Console(file=buffer, width=100).print(table)
        for line in buffer.getvalue().splitlines() + lines:
            print_fn(line)
        return
    console = console or terminal.console()
    console.print(table)
    for line in lines:
        console.print(line, highlight=False)
