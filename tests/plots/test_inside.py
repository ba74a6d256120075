"""minidl.plots.inside: the filters of a Conv2D layer and one digit's feature maps."""

from __future__ import annotations

import numpy as np
import pytest
from picture_helpers import assert_picture, make_real_stats, tiny_conv_model

from minidl import Model, plots
from minidl.layers import AvgPool2D, Conv2D, Dense, Flatten

pytest.importorskip("matplotlib")


@pytest.fixture(scope="module")
def real_stats(tmp_path_factory):
    return make_real_stats(tmp_path_factory.mktemp("real_stats"))


def test_filters_of_a_trained_model(real_stats, tmp_path):
    _, model = real_stats
    width, height = assert_picture(plots.filters(model, tmp_path / "filters.png"), min_size=(400, 150))
    assert width > height


def test_filters_per_input_channel(tmp_path):
    model = tiny_conv_model(channels=3)
    assert_picture(plots.filters(model, tmp_path / "filters.png"), min_size=(300, 300))


def test_filters_and_feature_maps_need_a_conv_layer(tmp_path):
    model = Model([Dense(3, activation="softmax", input_shape=(8,))], name="dense_only")
    with pytest.raises(ValueError, match="no Conv2D"):
        plots.filters(model, tmp_path / "f.png")
    with pytest.raises(ValueError, match="no Conv2D"):
        plots.feature_maps(model, np.zeros(8), tmp_path / "m.png")
    assert not list(tmp_path.iterdir())


def test_feature_maps_of_one_digit(lenet5, tmp_path):
    model = lenet5(seed=0)
    digit = np.random.default_rng(0).random((28, 28, 1)).astype("float32")
    width, height = assert_picture(plots.feature_maps(model, digit, tmp_path / "maps.png"), min_size=(800, 500))
    assert height < width  # input + 4 layers, the 16-channel layers on one line each


def test_feature_maps_reject_a_wrong_image(lenet5, tmp_path):
    with pytest.raises(ValueError, match=r"\(28, 28, 1\)"):
        plots.feature_maps(lenet5(seed=0), np.zeros((32, 32)), tmp_path / "maps.png")


def test_feature_maps_of_a_digit_without_channel_axis(tmp_path):
    model = Model(
        [Conv2D(2, 3, input_shape=(8, 8, 1)), AvgPool2D(2), Flatten(), Dense(3, activation="softmax")], name="small"
    )
    assert_picture(plots.feature_maps(model, np.ones((8, 8)), tmp_path / "maps.png"), min_size=(300, 200))
