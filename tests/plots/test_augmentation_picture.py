"""minidl.plots.augmentations: one image augmented several ways, per layer and all together."""

from __future__ import annotations

import numpy as np
import pytest
from picture_helpers import assert_picture

from minidl import Sequential, plots
from minidl.layers import Dense, Flatten, RandomContrast, RandomFlip, RandomRotation, RandomZoom

pytest.importorskip("matplotlib")


def digit():
    image = np.zeros((28, 28))
    image[6:22, 12:16] = 1.0  # a "1"
    image[6:9, 9:13] = 1.0
    return image


def test_each_layer_and_all_together(tmp_path):
    layers = [RandomFlip("horizontal"), RandomRotation(0.1), RandomZoom(0.2), RandomContrast(0.3, value_range=(0, 1))]
    path = plots.augmentations(digit(), layers, tmp_path / "augment.png", count=5, seed=3)
    width, height = assert_picture(path, min_size=(500, 500))
    assert height > width  # five rows (four layers and all together) of six small images


def test_the_augmentation_layers_of_a_model_and_rgb_images(tmp_path):
    model = Sequential([RandomFlip(input_shape=(12, 10, 3)), RandomRotation(0.2), Flatten(), Dense(2)])
    image = np.random.default_rng(0).uniform(0, 255, (12, 10, 3))
    assert_picture(plots.augmentations(image, model, tmp_path / "rgb.png", count=3), min_size=(300, 250))


def test_draws_are_those_of_training_and_the_picture_is_repeatable(tmp_path):
    first = plots.augmentations(digit(), [RandomRotation(0.2)], tmp_path / "a.png", seed=1)
    second = plots.augmentations(digit(), [RandomRotation(0.2)], tmp_path / "b.png", seed=1)
    third = plots.augmentations(digit(), [RandomRotation(0.2)], tmp_path / "c.png", seed=2)
    data = [open(p, "rb").read() for p in (first, second, third)]
    assert data[0] == data[1] and data[0] != data[2]


@pytest.mark.parametrize(
    "image, layers, match",
    [
        (np.zeros((8, 8)), [Dense(3)], "needs augmentation layers"),
        (np.zeros((8, 8, 2)), [RandomFlip()], r"one image \(height, width\)"),
        (np.zeros((8, 8)), [RandomFlip(input_shape=(9, 9, 1))], r"takes images \(9, 9, 1\)"),
    ],
)
def test_refuses_what_it_cannot_draw(image, layers, match, tmp_path):
    if layers[0].input_shape is not None and not layers[0].built:
        layers[0].build_weights(layers[0].input_shape)
    with pytest.raises(ValueError, match=match):
        plots.augmentations(image, layers, tmp_path / "x.png")
    assert not list(tmp_path.iterdir())
