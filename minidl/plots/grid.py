"""The classification grid: every classified digit in one picture, green when right and red when wrong."""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np

from ..utils.temporaries import temporary_beside
from .figures import DPI, load_matplotlib

GRID_RIGHT = ((0.10, 0.85, 0.25), (0.0, 0.0, 0.0))  # (ink, background) RGB
GRID_WRONG = ((1.00, 0.35, 0.35), (0.42, 0.0, 0.0))
GRID_PADDING = (0.18, 0.18, 0.18)  # empty tiles after the last digit


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
    mpl = load_matplotlib()
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
    with temporary_beside(path) as (handle, temporary):  # locked while this process lives, swept after
        with open(os.dup(handle), "wb") as file:
            mpl.image.imsave(file, picture, format="png", dpi=DPI)
        os.replace(temporary, path)
    return str(path)
