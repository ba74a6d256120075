"""`Model.summary()`: a table of the layers, their output shapes and parameter counts."""

from __future__ import annotations


def summary_rows(model) -> list[dict]:
    """One dict per layer: name, class, output shape, parameter count."""
    return [
        {
            "name": layer.name,
            "class": type(layer).__name__,
            "output_shape": list(layer.output_shape) if layer.output_shape else None,
            "params": layer.count_params(),
        }
        for layer in model.layers
    ]


def print_summary(model, console=None):
    """Print a rich table: each layer, its output shape and parameters, and the total."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"Model: {model.name}", show_footer=True)
    table.add_column("Layer (type)", footer="Total", style="cyan")
    table.add_column("Output shape")
    table.add_column("Param #", justify="right", footer=f"{model.count_params():,}")
    for row in summary_rows(model):
        shape = "(None, " + ", ".join(map(str, row["output_shape"] or ["?"])) + ")"
        table.add_row(f"{row['name']} ({row['class']})", shape, f"{row['params']:,}")
    (console or Console()).print(table)
