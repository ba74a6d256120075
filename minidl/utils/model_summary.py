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
            "params": sum(w.size for w in [*layer.params.values(), *getattr(layer, "states", {}).values()]),
        }
        for layer in model.layers
    ]


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
    for row in summary_rows(model):
        shape = "(None, " + ", ".join(map(str, row["output_shape"] or ["?"])) + ")"
        table.add_row(f"{row['name']} ({row['class']})", shape, f"{row['params']:,}")
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
