"""Loading matplotlib, making a figure and saving it: what every picture module shares.

matplotlib is an optional extra (``pip install 'minidl[plot]'``): it is imported only when a picture is
drawn, and `load_matplotlib` raises `MissingMatplotlib` (an ImportError) with that hint when it is absent.
Figures are `matplotlib.figure.Figure` objects (never pyplot), so they render with the Agg backend
whatever backend an interactive session chose, leave no figure open and do not change that choice.
The colour tables live here too, so a model or a worker count has the same colour in every picture.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..utils.temporaries import temporary_beside

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


class MissingMatplotlib(ImportError):
    """matplotlib, needed for pictures only, is not installed."""


class NothingToPlot(ValueError):
    """The statistics folder holds no finished runs to draw."""


def load_matplotlib():
    """The matplotlib package with the submodules the pictures use, or MissingMatplotlib with the install hint."""
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


def new_figure(width, height, **kwargs):
    """A new constrained-layout figure of `width` x `height` inches (not registered with pyplot: no GUI)."""
    mpl = load_matplotlib()
    return mpl.figure.Figure(figsize=(width, height), dpi=DPI, layout="constrained", **kwargs)


def save_figure(fig, path) -> str:
    """Write `fig` as a PNG at `DPI`, atomically (temporary file + os.replace); returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with temporary_beside(path) as (handle, temporary):  # locked while this process lives, swept after
        with open(os.dup(handle), "wb") as file:
            fig.savefig(file, dpi=DPI, format="png")
        os.replace(temporary, path)
    return str(path)


def accuracy_axis(ax, label) -> None:
    """Make `ax`'s y axis an accuracy in % that ends at 100 %, never past it (matplotlib's margin would
    take it to ~104 %). Its lower end stays matplotlib's, at least one point below 100. Draw the data with
    ``clip_on=False`` so that markers at exactly 100 % are shown whole."""
    low, _ = ax.get_ylim()
    ax.set_ylim(max(0.0, min(low, 99.0)), 100.0)
    ax.set_ylabel(label)


def model_colours(models) -> dict[str, str]:
    """One colour per model, in name order: the same model has the same colour in every picture."""
    return {model: MODEL_COLOURS[index % len(MODEL_COLOURS)] for index, model in enumerate(sorted(models))}


def worker_styles(worker_counts) -> dict[int, tuple[str, str]]:
    """(colour, marker) per worker count, in increasing order."""
    return {
        count: (WORKER_COLOURS[i % len(WORKER_COLOURS)], WORKER_MARKERS[i % len(WORKER_MARKERS)])
        for i, count in enumerate(sorted(set(worker_counts)))
    }


def plural(number, noun) -> str:
    """'1 run', '3 runs'."""
    return f"{number} {noun}{'s' if number != 1 else ''}"
