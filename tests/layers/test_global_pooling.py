"""GlobalAveragePooling2D and GlobalMaxPooling2D: gradient checks, naive references, shapes, errors."""

import numpy as np
import pytest

from minidl.errors import ShapeError
from minidl.gradcheck import build_float64 as build
from minidl.gradcheck import check_gradients, check_layer_state
from minidl.layers import GlobalAveragePooling2D, GlobalAvgPool2D, GlobalMaxPool2D, GlobalMaxPooling2D

POOLS = [GlobalAveragePooling2D, GlobalMaxPooling2D]


def naive_global_pool(x, reduce):
    n, h, w, c = x.shape
    return np.array(
        [[reduce([x[k, i, j, ch] for i in range(h) for j in range(w)]) for ch in range(c)] for k in range(n)]
    )


@pytest.mark.parametrize("cls", POOLS)
@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("shape", [(3, 4, 2), (1, 1, 3), (5, 2, 1)])
def test_global_pool_gradients(cls, keepdims, shape, rng):
    # Distinct values keep the maximum away from ties, where max is not differentiable.
    x = rng.permutation(3 * int(np.prod(shape))).reshape(3, *shape) * 0.1
    check_gradients(build(cls(keepdims=keepdims), shape), x.astype(np.float64)).assert_ok()


@pytest.mark.parametrize("cls, reduce", [(GlobalAveragePooling2D, np.mean), (GlobalMaxPooling2D, max)])
def test_global_pool_matches_naive(cls, reduce, rng):
    x = rng.standard_normal((3, 5, 4, 6))
    out = build(cls(), (5, 4, 6)).forward(x)
    assert out.shape == (3, 6)
    np.testing.assert_allclose(out, naive_global_pool(x, reduce), rtol=1e-12)
    kept = build(cls(keepdims=True), (5, 4, 6)).forward(x)
    assert kept.shape == (3, 1, 1, 6)
    np.testing.assert_allclose(kept[:, 0, 0], out, rtol=1e-12)


def test_global_max_gradient_goes_to_one_maximum():
    layer = build(GlobalMaxPooling2D(), (2, 2, 1))
    layer.forward(np.array([[[[1.0], [4.0]], [[4.0], [2.0]]]]), training=True)
    dx = layer.backward(np.array([[5.0]]))
    np.testing.assert_array_equal(dx[0, :, :, 0], [[0, 5], [0, 0]])


def test_global_average_gradient_is_shared():
    layer = build(GlobalAveragePooling2D(), (2, 2, 1))
    layer.forward(np.ones((1, 2, 2, 1)), training=True)
    np.testing.assert_array_equal(layer.backward(np.array([[8.0]]))[0, :, :, 0], [[2, 2], [2, 2]])


@pytest.mark.parametrize("cls", POOLS)
def test_global_pool_shapes_and_no_weights(cls):
    layer = build(cls(), (7, 7, 16))
    assert layer.output_shape == (16,)
    assert layer.count_params() == 0 and layer.get_weights() == []
    assert build(cls(keepdims=True), (7, 7, 16)).output_shape == (1, 1, 16)


def test_keras_aliases():
    assert GlobalAvgPool2D is GlobalAveragePooling2D
    assert GlobalMaxPool2D is GlobalMaxPooling2D


@pytest.mark.parametrize("cls", POOLS)
def test_global_pool_needs_images(cls):
    with pytest.raises(ShapeError, match=r"gp_flat.*\(12,\)"):
        build(cls(name="gp_flat"), (12,))


@pytest.mark.parametrize("cls", POOLS)
@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"data_format": "channels_first"}, NotImplementedError, "channels_first"),
        ({"data_format": "nhwc"}, ValueError, "data_format"),
        ({"keepdims": 1}, ValueError, "keepdims"),
    ],
)
def test_global_pool_rejects_bad_arguments(cls, kwargs, error, match):
    with pytest.raises(error, match=match):
        cls(**kwargs)


@pytest.mark.parametrize("cls", POOLS)
def test_global_pool_config(cls):
    config = cls(keepdims=True, name="gp").get_config()
    assert config == {"name": "gp", "data_format": "channels_last", "keepdims": True}
    assert cls(**config).get_config() == config


@pytest.mark.parametrize("cls", POOLS)
def test_global_pool_backward_uses_last_training_forward(cls, rng):
    check_layer_state(build(cls(), (3, 4, 2)), rng)
