"""minidl.plots.grid: tiling classified digits and the classification grid picture."""

from __future__ import annotations

import time

import numpy as np
import pytest
from picture_helpers import png_size

from minidl import plots

pytest.importorskip("matplotlib")


def test_tile_digits_colours_and_padding():
    images = np.zeros((5, 28, 28), np.float32)
    images[:, 10:18, 10:18] = 1.0  # a square of full ink in every digit
    labels = np.array([1, 2, 3, 4, 5])
    predictions = np.array([1, 2, 0, 4, 5])  # the third is wrong
    grid, wrong = plots.tile_digits(images, labels, predictions)
    assert wrong == 1 and grid.shape == (2 * 28, 3 * 28, 3) and grid.dtype == np.uint8
    ink_right, ink_wrong = grid[14, 14], grid[14, 2 * 28 + 14]
    assert ink_right[1] > 150 and ink_right[0] < 100  # green
    assert ink_wrong[0] > 200 and ink_wrong[1] < 120  # red
    assert tuple(grid[0, 0]) == (0, 0, 0)  # right: black background
    assert grid[0, 2 * 28][0] > 60 and grid[0, 2 * 28][1] == 0  # wrong: dark red background
    padding = grid[28 + 14, 2 * 28 + 14]  # sixth tile: padding, grey
    assert padding[0] == padding[1] == padding[2] and 0 < padding[0] < 100


def test_tile_digits_accepts_other_layouts():
    rng = np.random.default_rng(0)
    images = (rng.random((4, 28, 28, 1)) * 255).astype(np.uint8)
    one_hot = np.eye(10)[[1, 2, 3, 4]]
    grid, wrong = plots.tile_digits(images.reshape(4, 784), one_hot, np.array([1, 2, 3, 5]))
    assert grid.shape == (56, 56, 3) and wrong == 1
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
    assert width == 100 * 28 and 100 * 28 + 20 < height < 100 * 28 + 150  # 100x100 tiles under a title


@pytest.mark.parametrize("count", [1, 7, 50])
def test_classification_grid_any_count(tmp_path, count):
    rng = np.random.default_rng(count)
    labels = rng.integers(0, 10, count)
    path = plots.classification_grid(rng.random((count, 28, 28)), labels, labels, tmp_path / "grid.png")
    width, height = png_size(path)
    assert width >= 640 and height >= width * 0.5  # small grids are scaled up, never squashed
