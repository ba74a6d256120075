"""GlobalAveragePooling2D and GlobalMaxPooling2D: gradient checks, naive references, shapes, errors."""

import numpy as np
import pytest

from minidl.errors import ShapeError
from minidl.gradcheck import build_float64 as build
from minidl.gradcheck import check_gradients, check_layer_state
from minidl.layers import (
    GlobalAveragePooling1D,
    GlobalAveragePooling2D,
    GlobalAvgPool1D,
    GlobalAvgPool2D,
    GlobalMaxPool1D,
    GlobalMaxPool2D,
    GlobalMaxPooling1D,
    GlobalMaxPooling2D,
)

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


# ----- over the steps of sequences -----
@pytest.mark.parametrize("cls, reduce", [(GlobalAveragePooling1D, np.mean), (GlobalMaxPooling1D, np.max)])
@pytest.mark.parametrize("keepdims", [False, True])
def test_global_pool1d_matches_naive_and_gradients(cls, reduce, keepdims, rng):
    layer = build(cls(keepdims=keepdims), (None, 3))
    x = rng.permutation(2 * 5 * 3).reshape(2, 5, 3) * 0.1
    out = layer.forward(x)
    np.testing.assert_allclose(out.reshape(2, 3), reduce(x, axis=1), rtol=1e-12)
    assert out.shape == ((2, 1, 3) if keepdims else (2, 3))
    check_gradients(build(cls(keepdims=keepdims), (5, 3)), x).assert_ok()
    check_layer_state(build(cls(), (5, 3)), rng)


def test_global_average_pool1d_averages_the_real_steps_only(rng):
    layer = build(GlobalAveragePooling1D(), (4, 2))
    x = rng.standard_normal((3, 4, 2))
    mask = np.array([[1, 1, 0, 0], [0, 1, 1, 1], [0, 0, 0, 0]], dtype=bool)
    out = layer.forward(x, training=True, mask=mask)
    np.testing.assert_allclose(out[0], x[0, :2].mean(axis=0))
    np.testing.assert_allclose(out[1], x[1, 1:].mean(axis=0))
    np.testing.assert_array_equal(out[2], 0)  # nothing real to average
    dx = layer.backward(np.ones((3, 2)))
    np.testing.assert_allclose(dx[:, :, 0], [[0.5, 0.5, 0, 0], [0, 1 / 3, 1 / 3, 1 / 3], [0, 0, 0, 0]])
    assert layer.compute_mask(x, mask) is None and layer.supports_masking


def test_global_pool1d_aliases_and_errors():
    assert GlobalAvgPool1D is GlobalAveragePooling1D and GlobalMaxPool1D is GlobalMaxPooling1D
    with pytest.raises(ShapeError, match=r"gp_img.*\(steps, channels\)"):
        build(GlobalMaxPooling1D(name="gp_img"), (4, 4, 1))
    with pytest.raises(ValueError, match="keepdims"):
        GlobalAveragePooling1D(keepdims="no")
    for cls in (GlobalAveragePooling1D, GlobalMaxPooling1D):
        with pytest.raises(ShapeError, match="at least one step"):
            build(cls(), (None, 2)).forward(np.zeros((3, 0, 2)))
    with pytest.raises(NotImplementedError, match="channels_first"):
        GlobalMaxPooling1D(data_format="channels_first")
