"""`Model.summary()`: Keras 3's table of layers, output shapes and parameter counts, then the totals.

A functional model that is not a plain chain gets Keras's fourth column, "Connected to": where each
layer's inputs come from, as `layer[call][output]` (the call of that layer, and which of its outputs).
"""

from __future__ import annotations

import io

from . import terminal


def summary_rows(model) -> list[dict]:
    """One dict per layer: name, class, output shape, parameter count (trainable and not), and for a
    functional model that is not a chain the layers it is connected to."""
    connected = connections(model)
    rows = []
    for layer in model.layers:
        shape = layer.output_shape
        row = {
            "name": layer.name,
            "class": type(layer).__name__,
            "output_shape": list(shape) if isinstance(shape, tuple) else [list(s) for s in shape] if shape else None,
            "params": layer.count_params(),  # a model or custom layer inside: all the weights it holds
        }
        if connected is not None:
            row["connected_to"] = connected.get(id(layer), [])
        rows.append(row)
    return rows


def connections(model) -> dict[int, list[str]] | None:
    """Keras's "Connected to" entries by layer id, for a graph that is not a plain chain; else None.

    Keras shows the column unless the model is "sequential-like": one input, one output, every node
    taking one tensor and no layer called twice.
    """
    nodes = getattr(model, "nodes", None)
    if nodes is None:
        return None
    calls = [id(node.operation) for node in nodes]
    chain = (
        len(model.inputs) == 1
        and len(model.outputs) == 1
        and all(len(node.inputs) == 1 for node in nodes)
        and len(set(calls)) == len(calls)
    )
    return None if chain else model.connections()


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


def print_summary(model, console=None, print_fn=None, show_trainable=False, line_length=None):
    """Print the table, as Keras does: `Layer (type)`, `Output Shape`, `Param #` (and with
    `show_trainable` a `Trainable` column: Y, N, or - for a layer without weights), then `Total params`,
    `Trainable params`, `Non-trainable params` with their sizes in bytes; `line_length` is the table's width."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f'Model: "{model.name}"', title_justify="left", width=line_length)
    table.add_column("Layer (type)", style="cyan")
    table.add_column("Output Shape")
    table.add_column("Param #", justify="right")
    rows = summary_rows(model)
    functional = any("connected_to" in row for row in rows)
    if functional:
        table.add_column("Connected to")
    if show_trainable:
        table.add_column("Trainable", justify="center")
    for layer, row in zip(model.layers, rows):
        cells = [f"{row['name']} ({row['class']})", _shape_text(row["output_shape"]), f"{row['params']:,}"]
        if functional:
            cells.append(", ".join(row["connected_to"]) or "-")
        if show_trainable:
            cells.append("-" if not row["params"] else "Y" if layer.trainable else "N")
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
