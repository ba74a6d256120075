"""minidl.plots.grid: tiling classified digits and the classification grid picture."""

from __future__ import annotations

import time

import numpy as np
import pytest
from picture_helpers import png_size

from minidl import plots
from minidl.plots.grid import CAPTION_PIXELS, FRAME_PIXELS

pytest.importorskip("matplotlib")


def test_tile_digits_colours_frame_and_padding():
    images = np.zeros((5, 28, 28), np.float32)
    images[:, 10:18, 10:18] = 1.0  # a square of full ink in every digit
    labels = np.array([1, 2, 3, 4, 5])
    predictions = np.array([1, 2, 0, 4, 5])  # the third is wrong
    grid, wrong = plots.tile_digits(images, labels, predictions)
    tall = 28 + CAPTION_PIXELS  # a digit over its caption strip
    assert wrong == 1 and grid.shape == (2 * tall, 3 * 28, 3) and grid.dtype == np.uint8
    ink_right, ink_wrong = grid[14, 14], grid[14, 2 * 28 + 14]
    assert ink_right[1] > 150 and ink_right[0] < 100  # green
    assert ink_wrong[0] > 200 and ink_wrong[1] < 120  # red
    assert tuple(grid[0, 0]) == tuple(grid[tall - 1, 0]) == (0, 0, 0)  # right: black, no frame, empty caption
    frame = tuple(np.round(np.asarray(plots.GRID_FRAME) * 255).astype(int))
    edge = FRAME_PIXELS
    for y, x in ((0, 2 * 28), (tall - 1, 3 * 28 - 1), (14, 2 * 28 + edge - 1), (tall - edge, 2 * 28 + 14)):
        assert tuple(grid[y, x]) == frame, (y, x)  # wrong: framed all round
    inside = grid[edge + 1, 2 * 28 + edge + 1]
    assert inside[0] > 60 and inside[1] == 0  # and dark red within the frame
    padding = grid[tall + 14, 2 * 28 + 14]  # sixth tile: padding, grey
    assert padding[0] == padding[1] == padding[2] and 0 < padding[0] < 100


def test_a_mistake_is_marked_without_colour():
    """In grey levels alone a wrong tile still differs: its frame is bright where a right tile's edge is black."""
    images = np.zeros((4, 28, 28), np.float32)
    grid, _ = plots.tile_digits(images, [1, 2, 3, 4], [1, 9, 3, 4])
    grey = grid @ np.array([0.299, 0.587, 0.114])  # luminance
    tall = 28 + CAPTION_PIXELS
    right_edge, wrong_edge = grey[:tall, 0], grey[:tall, 28]
    assert right_edge.max() == 0 and wrong_edge.min() > 180


def test_tile_digits_accepts_other_layouts():
    rng = np.random.default_rng(0)
    images = (rng.random((4, 28, 28, 1)) * 255).astype(np.uint8)
    one_hot = np.eye(10)[[1, 2, 3, 4]]
    grid, wrong = plots.tile_digits(images.reshape(4, 784), one_hot, np.array([1, 2, 3, 5]))
    assert grid.shape == (2 * (28 + CAPTION_PIXELS), 56, 3) and wrong == 1
    with pytest.raises(ValueError, match="3 images but 4 labels"):
        plots.tile_digits(images[:3], np.arange(4), np.arange(4))
    with pytest.raises(ValueError, match="no images"):
        plots.tile_digits(np.zeros((0, 28, 28)), [], [])


def test_classification_grid_of_10000_digits_is_quick(tmp_path):
    rng = np.random.default_rng(0)
    images = np.zeros((10_000, 28, 28, 1), np.float32)  # digit-like: mostly empty, some ink
    images[:, 6:22, 12:16] = rng.random((10_000, 16, 4, 1), dtype=np.float32)
    labels = rng.integers(0, 10, 10_000)
    predictions = np.where(rng.random(10_000) < 0.05, (labels + 1) % 10, labels)
    started = time.perf_counter()
    path = plots.classification_grid(images, labels, predictions, tmp_path / "grid.png")
    assert time.perf_counter() - started < 10
    width, height = png_size(path)
    tall = 28 + CAPTION_PIXELS
    assert width == 100 * 28 and 100 * tall + 20 < height < 100 * tall + 150  # 100x100 tiles under a title


@pytest.mark.parametrize("count", [1, 7, 50])
def test_classification_grid_any_count(tmp_path, count):
    rng = np.random.default_rng(count)
    labels = rng.integers(0, 10, count)
    path = plots.classification_grid(rng.random((count, 28, 28)), labels, labels, tmp_path / "grid.png")
    width, height = png_size(path)
    assert width >= 640 and height >= width * 0.5  # small grids are scaled up, never squashed


def test_every_mistake_is_captioned_true_then_predicted(tmp_path):
    """The caption strip of a mistake holds white text, the same for the same pair of labels and a
    different one for another pair; a right digit's strip stays empty."""
    mpl = pytest.importorskip("matplotlib")
    images = np.zeros((9, 28, 28), np.float32)
    labels = np.array([7, 7, 1, 3, 3, 3, 3, 3, 3])
    predictions = np.array([1, 1, 7, 3, 3, 3, 3, 3, 3])  # 7→1 twice, then 1→7
    path = plots.classification_grid(images, labels, predictions, tmp_path / "grid.png")
    picture = (mpl.image.imread(path)[..., :3] * 255).round().astype(np.uint8)
    scale = -(-640 // (3 * 28))
    tall, side, edge = (28 + CAPTION_PIXELS) * scale, 28 * scale, FRAME_PIXELS * scale
    top = picture.shape[0] - 3 * tall  # the grid is under the title

    def caption(index):
        row, column = divmod(index, 3)
        y = top + row * tall + 28 * scale
        return picture[y : y + CAPTION_PIXELS * scale - edge, column * side + edge : (column + 1) * side - edge]

    white = [int((caption(i).min(axis=2) > 200).sum()) for i in range(4)]
    assert white[0] > 20 and white[1] == white[0] and white[2] > 20 and white[3] == 0
    assert np.array_equal(caption(0), caption(1)) and not np.array_equal(caption(0), caption(2))
