"""The fast MaxPool2D and AvgPool2D equal the loop reference: output and dL/dx, in float64."""

import numpy as np
import pytest

from minidl import reference
from minidl.gradcheck import build_float64
from minidl.layers import AvgPool2D, MaxPool2D

POOLS = {
    "max": (MaxPool2D, reference.max_pool_forward, reference.max_pool_backward),
    "avg": (AvgPool2D, reference.avg_pool_forward, reference.avg_pool_backward),
}
# (pool, strides): non-overlapping and overlapping windows, square and not.
SETTINGS = [(2, None), (3, None), (2, 1), (3, 2), ((2, 3), (1, 2))]


@pytest.mark.parametrize("kind", sorted(POOLS))
@pytest.mark.parametrize("setting", SETTINGS, ids=str)
def test_pool_equals_reference(kind, setting):
    cls, forward, backward = POOLS[kind]
    pool, strides = setting
    rng = np.random.default_rng(SETTINGS.index(setting))
    pair = (pool, pool) if isinstance(pool, int) else pool
    stride_pair = pair if strides is None else ((strides, strides) if isinstance(strides, int) else strides)
    h, w, channels = int(rng.integers(pair[0], pair[0] + 5)), int(rng.integers(pair[1], pair[1] + 5)), 2
    layer = build_float64(cls(pool, strides=strides), (h, w, channels))
    x = rng.standard_normal((2, h, w, channels))

    y = layer.forward(x.copy(), training=True)
    expected = forward(x, pair, stride_pair)
    assert y.shape == expected.shape
    np.testing.assert_allclose(y, expected, rtol=1e-12, atol=1e-12)
    g = rng.standard_normal(y.shape)
    np.testing.assert_allclose(layer.backward(g.copy()), backward(x, g, pair, stride_pair), rtol=1e-12, atol=1e-12)


def test_max_pool_ties_go_to_the_first_maximum_in_both():
    x = np.zeros((1, 2, 2, 1))
    layer = build_float64(MaxPool2D(2), (2, 2, 1))
    layer.forward(x, training=True)
    g = np.ones((1, 1, 1, 1))
    expected = np.array([[1.0, 0.0], [0.0, 0.0]])
    np.testing.assert_array_equal(reference.max_pool_backward(x, g, (2, 2))[0, :, :, 0], expected)
    np.testing.assert_array_equal(layer.backward(g.copy())[0, :, :, 0], expected)


def test_global_max_pool_equals_reference():
    from minidl.layers import GlobalMaxPooling2D

    rng = np.random.default_rng(7)
    layer = build_float64(GlobalMaxPooling2D(), (4, 5, 3))
    x = rng.standard_normal((2, 4, 5, 3))
    x[0, 1, 2, 0] = x[0, 3, 1, 0] = 9.0  # a tie: both send the gradient to the first maximum
    y = layer.forward(x.copy(), training=True)
    np.testing.assert_array_equal(y, reference.global_max_pool_forward(x))
    g = rng.standard_normal(y.shape)
    np.testing.assert_array_equal(layer.backward(g.copy()), reference.global_max_pool_backward(x, g))
