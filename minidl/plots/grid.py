"""The classification grid: every classified digit in one picture; a mistake is framed, captioned with its
true and predicted label ("7→1": a 7 read as a 1) and red, so it shows without telling red from green."""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np

from ..utils.temporaries import temporary_beside
from .figures import DPI, load_matplotlib

GRID_RIGHT = ((0.10, 0.85, 0.25), (0.0, 0.0, 0.0))  # (ink, background) RGB
GRID_WRONG = ((1.00, 0.35, 0.35), (0.42, 0.0, 0.0))
GRID_FRAME = (1.0, 0.85, 0.10)  # a mistake's frame: bright on dark, seen in grey too
GRID_PADDING = (0.18, 0.18, 0.18)  # empty tiles after the last digit
FRAME_PIXELS = 2  # in image pixels: within MNIST's empty 4-pixel margin, so no ink is covered
CAPTION_PIXELS = 13  # the strip under each digit where a mistake's "true→predicted" is written


def tile_digits(images, labels, predictions):
    """All digits tiled into one RGB uint8 array, and the number wrong: ink green on black when right,
    light red on dark red, framed in yellow, when wrong. Each tile is a digit over a caption strip of
    `CAPTION_PIXELS` rows (empty here: `classification_grid` writes a mistake's labels into it).

    `images` is (N, H, W), (N, H, W, 1) or (N, H*W) for square digits; values in [0, 1] (or 0-255).
    `predictions` may be class numbers or per-class outputs (argmax taken), `labels` likewise.
    The grid is ceil(sqrt(N)) tiles wide; the last row is padded with grey tiles. Vectorised: each
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
    columns, rows = grid_shape(count)
    tall = height + CAPTION_PIXELS
    tiles = np.empty((rows * columns, tall, width, 3), np.uint8)
    tiles[:count, :height] = table[wrong.astype(np.intp)[:, None, None], levels]
    tiles[:count, height:] = table[wrong.astype(np.intp), 0][:, None, None]  # the caption strip: background
    tiles[count:] = np.round(np.asarray(GRID_PADDING) * 255).astype(np.uint8)
    frame = np.round(np.asarray(GRID_FRAME) * 255).astype(np.uint8)
    framed = tiles[:count][wrong]
    edge = FRAME_PIXELS
    framed[:, :edge], framed[:, -edge:], framed[:, :, :edge], framed[:, :, -edge:] = frame, frame, frame, frame
    tiles[:count][wrong] = framed
    grid = tiles.reshape(rows, columns, tall, width, 3).transpose(0, 2, 1, 3, 4)
    return grid.reshape(rows * tall, columns * width, 3), int(wrong.sum())


def grid_shape(count: int) -> tuple[int, int]:
    """(columns, rows) of the grid of `count` tiles: ceil(sqrt(count)) columns."""
    columns = math.ceil(math.sqrt(count))
    return columns, math.ceil(count / columns)


def _classes(values, name):
    values = np.asarray(values)
    if values.ndim == 2:
        values = values.argmax(axis=1)
    if values.ndim != 1:
        raise ValueError(f"{name} must be class numbers (N,) or per-class values (N, classes), got {values.shape}")
    return values.astype(np.int64)


def classification_grid(images, labels, predictions, path, min_width=640) -> str:
    """Save every classified digit in one picture (see `tile_digits`), each mistake captioned with its true
    and predicted label ("7→1"), under the title "N digits, K wrong (accuracy %)" and a line saying how
    mistakes are marked. One image pixel is one picture pixel (small grids are scaled up to at least
    `min_width` pixels wide). 10,000 digits (100 x 100 tiles) take about a second. Returns the path written."""
    mpl = load_matplotlib()

    labels, predictions = _classes(labels, "labels"), _classes(predictions, "predictions")
    grid, wrong = tile_digits(images, labels, predictions)
    count = len(labels)
    scale = max(1, math.ceil(min_width / grid.shape[1]))
    if scale > 1:
        grid = grid.repeat(scale, axis=0).repeat(scale, axis=1)
    _write_captions(mpl, grid, labels, predictions, scale)
    width = grid.shape[1]
    fontsize = max(13.0, width / 120)  # the title stays readable when a big grid is viewed shrunk to fit
    accuracy = 100.0 * (count - wrong) / count
    title = _text_strip(
        mpl,
        width,
        [
            (f"{count:,} digits, {wrong:,} wrong ({accuracy:.2f}% accuracy)", fontsize, "bold"),
            ("a mistake is framed and captioned true→predicted (7→1: a 7 read as a 1)", fontsize * 0.8, "normal"),
        ],
    )
    picture = np.concatenate([title, grid])
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with temporary_beside(path) as (handle, temporary):  # locked while this process lives, swept after
        with open(os.dup(handle), "wb") as file:
            mpl.image.imsave(file, picture, format="png", dpi=DPI)
        os.replace(temporary, path)
    return str(path)


def _write_captions(mpl, grid, labels, predictions, scale):
    """Write "true→predicted" into each mistake's caption strip of the (scaled) grid, in place.

    Each distinct caption is drawn once by matplotlib and pasted wherever it occurs, so the grid itself
    stays exact pixels and a thousand mistakes cost no more than ninety drawings."""
    wrong = np.flatnonzero(labels != predictions)
    if not len(wrong):
        return
    columns, rows = grid_shape(len(labels))
    tile_height, tile_width = grid.shape[0] // rows, grid.shape[1] // columns
    strip, edge = CAPTION_PIXELS * scale, FRAME_PIXELS * scale
    room_height, room_width = strip - edge, tile_width - 2 * edge
    stamps = {}
    for index in wrong:
        text = f"{labels[index]}→{predictions[index]}"
        if text not in stamps:
            stamps[text] = _text_stamp(mpl, text, room_height, room_width)
        stamp = stamps[text]
        row, column = divmod(int(index), columns)
        top = row * tile_height + tile_height - edge - room_height + (room_height - stamp.shape[0]) // 2
        left = column * tile_width + edge + (room_width - stamp.shape[1]) // 2
        region = grid[top : top + stamp.shape[0], left : left + stamp.shape[1]]
        alpha = stamp[..., 3:] / 255.0
        region[:] = np.round(stamp[..., :3] * alpha + region * (1 - alpha)).astype(np.uint8)


def _text_stamp(mpl, text, height, width):
    """`text` in bold white, as RGBA pixels at most `height` x `width` (cropped to its ink)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    figure = mpl.figure.Figure(figsize=(width / DPI, height / DPI), dpi=DPI)
    figure.patch.set_alpha(0.0)
    canvas = FigureCanvasAgg(figure)
    # An em as tall as the room (the digits fill about 3/4 of it), narrower when "7→1" (~2.3 em) would not fit.
    size = min(height, width / 2.6) * 72 / DPI  # points
    figure.text(0.5, 0.5, text, ha="center", va="center", color="white", fontsize=size, fontweight="bold")
    canvas.draw()
    pixels = np.asarray(canvas.buffer_rgba())[:height, :width].copy()
    inked_rows, inked_columns = np.flatnonzero(pixels[..., 3].any(axis=1)), np.flatnonzero(pixels[..., 3].any(axis=0))
    if not len(inked_rows):
        return pixels[:0, :0]
    return pixels[inked_rows[0] : inked_rows[-1] + 1, inked_columns[0] : inked_columns[-1] + 1]


def _text_strip(mpl, width, lines):
    """A white strip `width` pixels wide holding `lines` of (text, font size, weight), centred, as RGB pixels."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    pixels = [size * DPI / 72 for _, size, _ in lines]  # font sizes are in points
    heights = [int(1.5 * em) for em in pixels]
    margin = int(0.3 * pixels[0])
    height = sum(heights) + 2 * margin
    figure = mpl.figure.Figure(figsize=(width / DPI, height / DPI), dpi=DPI, facecolor="white")
    canvas = FigureCanvasAgg(figure)
    middle = height - margin
    for (text, size, weight), line_height in zip(lines, heights):
        middle -= line_height / 2
        figure.text(0.5, middle / height, text, ha="center", va="center", fontsize=size, fontweight=weight)
        middle -= line_height / 2
    canvas.draw()
    strip = np.full((height, width, 3), 255, np.uint8)
    rendered = np.asarray(canvas.buffer_rgba())[:height, :width, :3]  # may be a pixel short (rounding)
    strip[: rendered.shape[0], : rendered.shape[1]] = rendered
    return strip
