"""`Model.summary()`: Keras 3's table of layers, output shapes and parameter counts, then the totals."""

from __future__ import annotations

import io


def summary_rows(model) -> list[dict]:
    """One dict per layer: name, class, output shape, parameter count (trainable and not)."""
    return [
        {
            "name": layer.name,
            "class": type(layer).__name__,
            "output_shape": list(layer.output_shape) if layer.output_shape else None,
            "params": layer.count_params(),  # a model or custom layer inside: all the weights it holds
        }
        for layer in model.layers
    ]


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


def _size(count, itemsize) -> str:
    size = float(count * itemsize)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.2f} {unit}"
        size /= 1024
    return ""  # not reached


def print_summary(model, console=None, print_fn=None):
    """Print the table, as Keras does: `Layer (type)`, `Output Shape`, `Param #` (and `Connected to` for a
    graph that is not a chain), then `Total params`, `Trainable params`, `Non-trainable params` with their
    sizes in bytes."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f'Model: "{model.name}"', title_justify="left")
    table.add_column("Layer (type)", style="cyan")
    table.add_column("Output Shape")
    table.add_column("Param #", justify="right")
    connected = connections(model)
    if connected is not None:
        table.add_column("Connected to")
    for layer, row in zip(model.layers, summary_rows(model)):
        shape = "(None, " + ", ".join(map(str, row["output_shape"] or ["?"])) + ")"
        cells = [f"{row['name']} ({row['class']})", shape, f"{row['params']:,}"]
        if connected is not None:
            cells.append(", ".join(connected.get(id(layer), [])) or "-")
        table.add_row(*cells)
    trainable = int(model.parameters.size)
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
    console = console or Console()
    console.print(table)
    for line in lines:
        console.print(line, highlight=False)
