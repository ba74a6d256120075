"""ZeroPadding2D and Cropping2D: gradient checks, Keras's padding forms, values, the loops, errors, saving."""

import numpy as np
import pytest

from minidl import reference
from minidl.errors import ShapeError
from minidl.gradcheck import build_float64 as build
from minidl.gradcheck import check_gradients, check_layer_state
from minidl.layers import Cropping2D, ZeroPadding2D


@pytest.mark.parametrize("padding", [1, (2, 0), ((0, 1), (2, 3))])
def test_zero_padding_gradients(padding, rng):
    check_gradients(build(ZeroPadding2D(padding), (3, 4, 2)), rng.standard_normal((2, 3, 4, 2))).assert_ok()


@pytest.mark.parametrize(
    "padding, pairs",
    [
        (1, ((1, 1), (1, 1))),
        ((2, 3), ((2, 2), (3, 3))),
        (((0, 1), (2, 3)), ((0, 1), (2, 3))),
        ([[1, 0], [0, 2]], ((1, 0), (0, 2))),
    ],
)
def test_zero_padding_forms(padding, pairs):
    layer = build(ZeroPadding2D(padding), (5, 6, 3))
    assert layer.padding == pairs
    (top, bottom), (left, right) = pairs
    assert layer.output_shape == (5 + top + bottom, 6 + left + right, 3)
    assert ZeroPadding2D().padding == ((1, 1), (1, 1))


def test_zero_padding_values_as_in_keras_example():
    """Keras's documented example: a (1, 1, 2, 2) input padded by 1 on every side."""
    x = np.arange(4).reshape(1, 1, 2, 2)
    out = ZeroPadding2D(padding=1)(x)
    assert out.shape == (1, 3, 4, 2)
    expected = np.zeros((1, 3, 4, 2))
    expected[0, 1, 1:3] = [[0, 1], [2, 3]]
    np.testing.assert_array_equal(out, expected)


def test_zero_padding_asymmetric_matches_np_pad(rng):
    x = rng.standard_normal((2, 3, 3, 2))
    out = build(ZeroPadding2D(((0, 2), (1, 0))), (3, 3, 2)).forward(x)
    np.testing.assert_array_equal(out, np.pad(x, ((0, 0), (0, 2), (1, 0), (0, 0))))


@pytest.mark.parametrize("padding", [-1, 1.5, "same", (1, 2, 3), ((1, 2), (3,)), ((1, -2), (0, 0)), True])
def test_zero_padding_rejects_bad_padding(padding):
    with pytest.raises(ValueError, match="ZeroPadding2D: padding"):
        ZeroPadding2D(padding)


def test_zero_padding_needs_images():
    with pytest.raises(ShapeError, match=r"pad_flat.*\(10,\)"):
        build(ZeroPadding2D(name="pad_flat"), (10,))


def test_zero_padding_channels_first_is_not_supported():
    with pytest.raises(NotImplementedError, match="channels_first"):
        ZeroPadding2D(data_format="channels_first")


def test_zero_padding_config():
    config = ZeroPadding2D((1, 2), name="pad").get_config()
    assert config == {"name": "pad", "padding": [[1, 1], [2, 2]], "data_format": "channels_last"}
    assert ZeroPadding2D(**config).padding == ((1, 1), (2, 2))


def test_zero_padding_backward_uses_last_training_forward(rng):
    check_layer_state(build(ZeroPadding2D(((1, 0), (0, 2))), (3, 2, 2)), rng)


# ----- Cropping2D -----
@pytest.mark.parametrize("cropping", [1, (2, 0), ((0, 1), (2, 1))])
def test_cropping_gradients_and_loops(cropping, rng):
    layer = build(Cropping2D(cropping), (5, 6, 2))
    x = rng.standard_normal((2, 5, 6, 2))
    check_gradients(layer, x).assert_ok()
    y = layer.forward(x, training=True)
    np.testing.assert_array_equal(y, reference.crop_forward(x, layer.cropping))
    g = rng.standard_normal(y.shape)
    np.testing.assert_array_equal(layer.backward(g), reference.crop_backward(x, g, layer.cropping))


def test_cropping_undoes_padding(rng):
    x = rng.standard_normal((2, 4, 3, 2))
    padded = build(ZeroPadding2D(((1, 2), (0, 3))), (4, 3, 2)).forward(x)
    cropped = build(Cropping2D(((1, 2), (0, 3))), padded.shape[1:]).forward(padded)
    np.testing.assert_array_equal(cropped, x)


@pytest.mark.parametrize(
    "make, error, match",
    [
        (lambda: Cropping2D(-1), ValueError, "Cropping2D: cropping"),
        (lambda: Cropping2D((1, 2, 3)), ValueError, "Cropping2D: cropping"),
        (lambda: build(Cropping2D(((2, 2), (0, 0))), (4, 5, 1)), ShapeError, "leaves nothing"),
        (lambda: build(Cropping2D(1), (4, 5)), ShapeError, "needs images"),
    ],
)
def test_cropping_refuses_bad_arguments(make, error, match):
    with pytest.raises(error, match=match):
        make()


@pytest.mark.parametrize("cropping", [1, ((1, 2), (0, 1))])
def test_cropping_equals_real_keras(cropping):
    from keras_twins import twin_outputs

    theirs, ours = twin_outputs("Cropping2D", (cropping,), {}, np.random.default_rng(0).standard_normal((2, 5, 6, 3)))
    np.testing.assert_array_equal(ours, theirs)


def test_cropping_saves_and_loads(rng, tmp_path):
    from suite_helpers import assert_round_trip

    from minidl import Sequential

    model = Sequential([Cropping2D(((1, 0), (2, 1)), input_shape=(5, 6, 2)), ZeroPadding2D(1)])
    assert_round_trip(model, rng.standard_normal((2, 5, 6, 2)).astype(np.float32), tmp_path)
