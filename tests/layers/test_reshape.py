"""Flatten: gradient check, channels-last order, shapes and errors."""

import numpy as np
import pytest

from minidl.errors import ShapeError
from minidl.gradcheck import build_float64 as build
from minidl.gradcheck import check_gradients, check_layer_state
from minidl.layers import Flatten


@pytest.mark.parametrize("shape", [(3, 4, 2), (5,), (2, 3)])
def test_flatten_gradients(shape, rng):
    layer = build(Flatten(), shape)
    check_gradients(layer, rng.standard_normal((2, *shape))).assert_ok()


def test_flatten_keeps_channels_last_order():
    layer = build(Flatten(), (2, 2, 3))
    x = np.arange(24, dtype=np.float64).reshape(2, 2, 2, 3)
    out = layer.forward(x)
    assert layer.output_shape == (12,)
    np.testing.assert_array_equal(out[1], np.arange(12, 24))
    np.testing.assert_array_equal(out.reshape(2, 2, 2, 3), x)


def test_flatten_backward_restores_shape(rng):
    layer = build(Flatten(), (4, 5, 1))
    layer.forward(rng.standard_normal((3, 4, 5, 1)), training=True)
    grad = rng.standard_normal((3, 20))
    dx = layer.backward(grad.copy())
    assert dx.shape == (3, 4, 5, 1)
    np.testing.assert_array_equal(dx.reshape(3, 20), grad)


def test_flatten_rejects_wrong_input(rng):
    layer = build(Flatten(name="flat_z"), (4, 4, 1))
    with pytest.raises(ShapeError, match=r"flat_z.*\(2, 4, 4\)"):
        layer.forward(rng.standard_normal((2, 4, 4)))


def test_flatten_backward_uses_last_training_forward(rng):
    check_layer_state(build(Flatten(), (3, 2, 2)), rng)
