"""UpSampling2D: gradients, the loop reference, Keras's values, arguments, saving."""

import numpy as np
import pytest

from minidl import Sequential, reference
from minidl.errors import ShapeError
from minidl.gradcheck import build_float64 as build
from minidl.gradcheck import check_gradients
from minidl.layers import Flatten, UpSampling2D

CASES = [((2, 2), "nearest"), ((2, 3), "nearest"), ((2, 2), "bilinear"), ((3, 2), "bilinear"), ((1, 4), "bilinear")]


@pytest.mark.parametrize("size, interpolation", CASES)
def test_gradients_and_the_loops(size, interpolation, rng):
    layer = build(UpSampling2D(size, interpolation=interpolation), (3, 4, 2))
    x = rng.standard_normal((2, 3, 4, 2))
    check_gradients(layer, x).assert_ok()
    y = layer.forward(x, training=True)
    assert y.shape == (2, 3 * size[0], 4 * size[1], 2)
    np.testing.assert_allclose(y, reference.upsampling_forward(x, size, interpolation), atol=1e-12)
    g = rng.standard_normal(y.shape)
    np.testing.assert_allclose(layer.backward(g), reference.upsampling_backward(x, g, size, interpolation), atol=1e-12)


def test_nearest_repeats_pixels():
    layer = build(UpSampling2D((2, 3)), (2, 2, 1))
    x = np.array([[1.0, 2.0], [3.0, 4.0]]).reshape(1, 2, 2, 1)
    expected = np.array([[1, 1, 1, 2, 2, 2]] * 2 + [[3, 3, 3, 4, 4, 4]] * 2, dtype=float)
    np.testing.assert_array_equal(layer.forward(x)[0, :, :, 0], expected)


def test_bilinear_keeps_a_constant_image_and_interpolates_in_between():
    layer = build(UpSampling2D(2, interpolation="bilinear"), (1, 2, 1))
    y = layer.forward(np.array([0.0, 4.0]).reshape(1, 1, 2, 1))
    np.testing.assert_allclose(y[0, 0, :, 0], [0.0, 1.0, 3.0, 4.0])  # sources clip(-0.25), 0.25, 0.75, clip(1.25)
    flat = build(UpSampling2D(3, interpolation="bilinear"), (3, 3, 2))
    np.testing.assert_allclose(flat.forward(np.full((1, 3, 3, 2), 7.0)), 7.0)


@pytest.mark.parametrize(
    "make, error, match",
    [
        (lambda: UpSampling2D(0), ValueError, "UpSampling2D: size"),
        (lambda: UpSampling2D(interpolation="bicubic"), NotImplementedError, "bicubic"),
        (lambda: UpSampling2D(interpolation="cubic"), ValueError, "UpSampling2D: interpolation"),
        (lambda: UpSampling2D(data_format="channels_first"), NotImplementedError, "channels_first"),
        (lambda: build(UpSampling2D(), (4, 4)), ShapeError, "needs images"),
    ],
)
def test_bad_arguments_and_shapes(make, error, match):
    with pytest.raises(error, match=match):
        make()


@pytest.mark.parametrize("size, interpolation", CASES)
def test_equals_real_keras(size, interpolation):
    from keras_twins import twin_outputs

    x = np.random.default_rng(0).standard_normal((2, 5, 4, 3))
    theirs, ours = twin_outputs("UpSampling2D", (size,), {"interpolation": interpolation}, x)
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-5)


def test_save_load_round_trip(rng, tmp_path):
    from suite_helpers import assert_round_trip

    model = Sequential([UpSampling2D((2, 3), input_shape=(3, 2, 2)), UpSampling2D(interpolation="bilinear"), Flatten()])
    loaded = assert_round_trip(model, rng.standard_normal((2, 3, 2, 2)).astype(np.float32), tmp_path)
    assert loaded.layers[1].interpolation == "bilinear"
