"""Rescaling: gradient check, values, errors, config."""

import numpy as np
import pytest

from minidl.gradcheck import build_float64 as build
from minidl.gradcheck import check_gradients, check_layer_state
from minidl.layers import Rescaling


@pytest.mark.parametrize("scale, offset", [(1 / 255, 0.0), (1 / 127.5, -1.0), (-3.0, 0.5)])
@pytest.mark.parametrize("shape", [(4,), (3, 3, 2)])
def test_rescaling_gradients(scale, offset, shape, rng):
    check_gradients(build(Rescaling(scale, offset), shape), rng.standard_normal((3, *shape))).assert_ok()


def test_rescaling_values():
    pixels = np.array([[0.0, 127.5, 255.0]])
    np.testing.assert_allclose(build(Rescaling(1 / 255), (3,)).forward(pixels), [[0.0, 0.5, 1.0]])
    np.testing.assert_allclose(build(Rescaling(1 / 127.5, offset=-1), (3,)).forward(pixels), [[-1.0, 0.0, 1.0]])


def test_rescaling_called_on_uint8_images_gives_float32():
    images = np.full((2, 28, 28, 1), 255, dtype=np.uint8)
    out = Rescaling(1.0 / 255)(images)
    assert out.dtype == np.float32 and out.shape == (2, 28, 28, 1)
    np.testing.assert_allclose(out, 1.0, rtol=1e-6)


def test_rescaling_keeps_its_input(rng):
    x = rng.standard_normal((2, 3))
    before = x.copy()
    build(Rescaling(2.0, 1.0), (3,)).forward(x, training=True)
    np.testing.assert_array_equal(x, before)


@pytest.mark.parametrize("kwargs", [{"scale": float("nan")}, {"scale": "1/255"}, {"scale": 1.0, "offset": np.inf}])
def test_rescaling_rejects_bad_numbers(kwargs):
    with pytest.raises(ValueError, match="Rescaling: (scale|offset)"):
        Rescaling(**kwargs)


def test_rescaling_config():
    config = Rescaling(1 / 255, name="rescale").get_config()
    assert config == {"name": "rescale", "scale": 1 / 255, "offset": 0.0}
    assert Rescaling(**config).get_config() == config


def test_rescaling_backward_uses_last_training_forward(rng):
    check_layer_state(build(Rescaling(0.5, 2.0), (3, 2)), rng)
