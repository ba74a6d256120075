"""MaxPool2D / AvgPool2D: gradient checks, naive-loop references, shapes, aliases and errors."""

import numpy as np
import pytest

from minidl.errors import ShapeError
from minidl.gradcheck import build_float64 as build
from minidl.gradcheck import check_gradients, check_layer_state
from minidl.layers import (
    AveragePooling1D,
    AveragePooling2D,
    AvgPool1D,
    AvgPool2D,
    MaxPool1D,
    MaxPool2D,
    MaxPooling1D,
    MaxPooling2D,
)

POOLS = [MaxPool2D, AvgPool2D]
CONFIGS = [
    # (input (h, w, c), pool_size, strides)
    ((6, 6, 2), 2, None),
    ((7, 5, 2), 2, None),
    ((7, 7, 1), 3, None),
    ((7, 6, 2), 3, 2),
    ((7, 6, 2), 2, 1),
    ((8, 7, 1), 2, 3),
    ((7, 6, 3), (2, 3), (1, 2)),
    ((6, 9, 2), (2, 3), None),  # windows that are blocks of the input (the fast path), not square
    ((7, 10, 1), (3, 2), None),  # blocks, with a row left over
]


def _ids(config):
    shape, pool, strides = config
    return f"{shape[0]}x{shape[1]}x{shape[2]}-p{pool}-s{strides}"


def naive_pool(x, pool, strides, reduce, padding="valid"):
    """Pooling with explicit loops; "same" (Keras/TF) pads bottom/right first and reduces real pixels only."""
    n, h, w, c = x.shape
    (ph, pw), (sh, sw) = pool, strides
    if padding == "same":
        oh, ow = -(-h // sh), -(-w // sw)
        top = max((oh - 1) * sh + ph - h, 0) // 2
        left = max((ow - 1) * sw + pw - w, 0) // 2
    else:
        oh, ow, top, left = (h - ph) // sh + 1, (w - pw) // sw + 1, 0, 0
    out = np.zeros((n, oh, ow, c))
    for b in range(n):
        for i in range(oh):
            for j in range(ow):
                rows = slice(max(i * sh - top, 0), min(i * sh - top + ph, h))
                columns = slice(max(j * sw - left, 0), min(j * sw - left + pw, w))
                for k in range(c):
                    out[b, i, j, k] = reduce(x[b, rows, columns, k])
    return out


def _pair(value):
    return (value, value) if isinstance(value, int) else tuple(value)


@pytest.mark.parametrize("cls", POOLS)
@pytest.mark.parametrize("config", CONFIGS, ids=_ids)
def test_pool_gradients(cls, config, rng):
    shape, pool, strides = config
    layer = build(cls(pool, strides=strides), shape)
    check_gradients(layer, rng.standard_normal((2, *shape))).assert_ok()


@pytest.mark.parametrize("cls, reduce", [(MaxPool2D, np.max), (AvgPool2D, np.mean)])
@pytest.mark.parametrize("config", CONFIGS, ids=_ids)
def test_pool_matches_naive_loops(cls, reduce, config, rng):
    shape, pool, strides = config
    layer = build(cls(pool, strides=strides), shape)
    x = rng.standard_normal((3, *shape))
    expected = naive_pool(x, _pair(pool), _pair(strides if strides is not None else pool), reduce)
    out = layer.forward(x)
    assert out.shape == (3, *layer.output_shape)
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-15)


def test_maxpool_gradient_goes_to_the_maximum_once():
    """With ties, exactly one input of the window receives the gradient (the first maximum)."""
    layer = build(MaxPool2D(2), (2, 4, 1))
    x = np.array([[1.0, 5.0, 2.0, 2.0], [3.0, 0.0, 2.0, 2.0]]).reshape(1, 2, 4, 1)
    layer.forward(x, training=True)
    dx = layer.backward(np.array([10.0, 7.0]).reshape(1, 1, 2, 1))[0, :, :, 0]
    np.testing.assert_array_equal(dx, [[0, 10, 7, 0], [0, 0, 0, 0]])


def test_overlapping_maxpool_accumulates_gradient():
    """Stride 1 < pool 2: one input that is the maximum of two windows gets both gradients."""
    layer = build(MaxPool2D(2, strides=1), (2, 3, 1))
    x = np.array([[0.0, 9.0, 1.0], [2.0, 3.0, 4.0]]).reshape(1, 2, 3, 1)
    layer.forward(x, training=True)
    dx = layer.backward(np.array([1.0, 2.0]).reshape(1, 1, 2, 1))[0, :, :, 0]
    np.testing.assert_array_equal(dx, [[0, 3, 0], [0, 0, 0]])


def test_avgpool_known_values():
    layer = build(AvgPool2D(2), (2, 4, 1))
    x = np.arange(8, dtype=np.float64).reshape(1, 2, 4, 1)
    np.testing.assert_allclose(layer.forward(x)[0, :, :, 0], [[(0 + 1 + 4 + 5) / 4, (2 + 3 + 6 + 7) / 4]])


@pytest.mark.parametrize("cls", POOLS)
def test_pool_output_shape_and_no_weights(cls):
    layer = build(cls(2), (28, 28, 6))
    assert layer.output_shape == (14, 14, 6)
    assert layer.count_params() == 0
    assert build(cls(3, strides=2), (7, 6, 4)).output_shape == (3, 2, 4)


def test_keras_aliases_and_keras_class_names(tmp_path):
    """Keras's classes are MaxPooling2D and AveragePooling2D (MaxPool2D, AvgPool2D their aliases): the
    summary and a saved file name them so, and a file naming the alias still loads."""
    import zipfile

    from minidl import Model, saving

    assert MaxPooling2D is MaxPool2D and AveragePooling2D is AvgPool2D
    assert (MaxPool2D.__name__, AvgPool2D.__name__) == ("MaxPooling2D", "AveragePooling2D")
    model = Model([AvgPool2D(2, input_shape=(4, 4, 1)), MaxPool2D(2)], name="pools")
    assert [row["class"] for row in model.summary_rows()] == ["AveragePooling2D", "MaxPooling2D"]
    model.save(tmp_path / "pools.keras")
    with zipfile.ZipFile(tmp_path / "pools.keras") as archive:
        config = archive.read("config.json").decode()
    assert '"AveragePooling2D"' in config and '"MaxPooling2D"' in config and 'Pool2D"' not in config
    aliased = config.replace('"AveragePooling2D"', '"AvgPool2D"').replace('"MaxPooling2D"', '"MaxPool2D"')
    with zipfile.ZipFile(tmp_path / "pools.keras") as archive, zipfile.ZipFile(tmp_path / "old.keras", "w") as old:
        for item in archive.infolist():
            old.writestr(item, aliased if item.filename == "config.json" else archive.read(item))
    loaded = saving.load_model(tmp_path / "old.keras")
    assert [type(layer) for layer in loaded.layers] == [AveragePooling2D, MaxPooling2D]


@pytest.mark.parametrize("cls", POOLS)
def test_pool_larger_than_input(cls):
    with pytest.raises(ShapeError, match=r"pool_big.*\(3, 3\).*\(2, 5, 1\)"):
        build(cls(3, name="pool_big"), (2, 5, 1))


@pytest.mark.parametrize("cls", POOLS)
def test_pool_needs_images(cls):
    with pytest.raises(ShapeError, match=r"pool_flat.*\(12,\)"):
        build(cls(2, name="pool_flat"), (12,))


@pytest.mark.parametrize(
    "kwargs, match", [({"pool_size": 0}, "pool_size"), ({"strides": -1}, "strides"), ({"padding": "full"}, "padding")]
)
def test_pool_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        MaxPool2D(**kwargs)


@pytest.mark.parametrize("cls", [MaxPool2D, AvgPool2D])
@pytest.mark.parametrize("config", CONFIGS[:2] + CONFIGS[4:5], ids=_ids)
def test_pool_backward_uses_last_training_forward(cls, config, rng):
    shape, pool, strides = config
    check_layer_state(build(cls(pool, strides=strides), shape), rng)


SAME_CONFIGS = [
    # (input (h, w, c), pool_size, strides): odd sizes so "same" really pads
    ((5, 5, 2), 2, None),
    ((7, 6, 1), 3, None),
    ((7, 6, 2), 3, 2),
    ((5, 4, 2), 2, 1),
    ((6, 7, 1), (2, 3), (1, 2)),
    ((4, 4, 1), 2, None),
]


@pytest.mark.parametrize("cls", POOLS)
@pytest.mark.parametrize("config", SAME_CONFIGS, ids=_ids)
def test_same_padding_gradients(cls, config, rng):
    shape, pool, strides = config
    layer = build(cls(pool, strides=strides, padding="same"), shape)
    check_gradients(layer, rng.standard_normal((2, *shape))).assert_ok()


@pytest.mark.parametrize("cls, reduce", [(MaxPool2D, np.max), (AvgPool2D, np.mean)])
@pytest.mark.parametrize("config", SAME_CONFIGS, ids=_ids)
def test_same_padding_matches_naive_loops(cls, reduce, config, rng):
    shape, pool, strides = config
    layer = build(cls(pool, strides=strides, padding="same"), shape)
    # Negative inputs: a padded zero must never win a max.
    x = -np.abs(rng.standard_normal((3, *shape))) - 1
    pair = _pair(strides if strides is not None else pool)
    expected = naive_pool(x, _pair(pool), pair, reduce, padding="same")
    out = layer.forward(x)
    assert out.shape == expected.shape == (3, *layer.output_shape)
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize(
    "shape, pool, strides, expected",
    [((5, 5, 3), 2, None, (3, 3, 3)), ((7, 6, 1), 3, 2, (4, 3, 1)), ((28, 28, 6), 2, None, (14, 14, 6))],
)
def test_same_padding_output_shape_is_ceil_of_size_over_stride(shape, pool, strides, expected):
    assert build(MaxPool2D(pool, strides=strides, padding="same"), shape).output_shape == expected
    assert build(AvgPool2D(pool, strides=strides, padding="same"), shape).output_shape == expected


def test_same_avgpool_counts_only_real_pixels():
    """3x3 input, 2x2 pool, "same": the bottom-right window holds one real pixel, its average is that pixel."""
    layer = build(AvgPool2D(2, padding="same"), (3, 3, 1))
    x = np.arange(9, dtype=np.float64).reshape(1, 3, 3, 1)
    np.testing.assert_allclose(layer.forward(x)[0, :, :, 0], [[(0 + 1 + 3 + 4) / 4, (2 + 5) / 2], [(6 + 7) / 2, 8]])


@pytest.mark.parametrize("cls", POOLS)
def test_same_padding_survives_config_round_trip(cls):
    layer = cls(3, strides=2, padding="same")
    assert layer.get_config()["padding"] == "same"
    rebuilt = cls(**{k: v for k, v in layer.get_config().items() if k != "name"})
    assert build(rebuilt, (7, 6, 1)).output_shape == (4, 3, 1)


@pytest.mark.parametrize("cls", POOLS)
def test_same_padding_backward_uses_last_training_forward(cls, rng):
    check_layer_state(build(cls(2, padding="same"), (5, 5, 2)), rng)


def test_maxpool_float32_matches_float64(rng):
    x = rng.standard_normal((4, 9, 9, 3))
    grad = rng.standard_normal((4, 5, 5, 3))
    results = []
    for dtype in (np.float32, np.float64):
        layer = MaxPool2D(2, padding="same")
        layer.build_weights((9, 9, 3), dtype=dtype)
        out = layer.forward(x.astype(dtype), training=True)
        results.append((out, layer.backward(grad.astype(dtype))))
    np.testing.assert_allclose(results[0][0], results[1][0], rtol=1e-6)
    np.testing.assert_allclose(results[0][1], results[1][1], rtol=1e-6)


def test_maxpool_rejects_pools_of_more_than_255_cells():
    with pytest.raises(ValueError, match="255"):
        MaxPool2D(16)


# ----- 1-D pooling over (steps, features) -----
def naive_pool1d(x, size, stride, reduce, padding="valid"):
    """Windows of `size` steps moved by `stride`; "same" pads as Keras and leaves padded steps out."""
    n, steps, c = x.shape
    if padding == "same":
        out = -(-steps // stride)
        left = max((out - 1) * stride + size - steps, 0) // 2
    else:
        out, left = (steps - size) // stride + 1, 0
    y = np.zeros((n, out, c))
    for t in range(out):
        start = t * stride - left
        window = x[:, max(start, 0) : start + size]
        y[:, t] = reduce(window, axis=1)
    return y


POOLS_1D = [(MaxPooling1D, np.max), (AveragePooling1D, np.mean)]


@pytest.mark.parametrize("cls, reduce", POOLS_1D)
@pytest.mark.parametrize("size, stride, padding", [(2, None, "valid"), (3, 1, "valid"), (3, 2, "same"), (2, 2, "same")])
def test_pool1d_matches_naive_and_gradients(cls, reduce, size, stride, padding, rng):
    layer = build(cls(size, strides=stride, padding=padding), (7, 3))
    x = rng.permutation(2 * 7 * 3).reshape(2, 7, 3) * 0.1  # distinct values: no ties in a max
    np.testing.assert_allclose(layer.forward(x), naive_pool1d(x, size, stride or size, reduce, padding), rtol=1e-12)
    check_gradients(layer, x).assert_ok()


@pytest.mark.parametrize("cls, reduce", POOLS_1D)
def test_pool1d_unknown_length(cls, reduce, rng):
    layer = build(cls(2), (None, 3))
    assert layer.output_shape == (None, 3)
    for steps in (6, 9):
        x = rng.standard_normal((2, steps, 3))
        np.testing.assert_allclose(layer.forward(x, training=True), naive_pool1d(x, 2, 2, reduce), rtol=1e-12)
        assert layer.backward(np.ones((2, steps // 2, 3))).shape == x.shape
    with pytest.raises(ShapeError, match="pool_size 2 is larger than 1 steps"):
        layer.forward(rng.standard_normal((2, 1, 3)))


def test_pool1d_defaults_aliases_and_errors():
    assert MaxPooling1D().pool_size == 2 and MaxPool1D is MaxPooling1D and AvgPool1D is AveragePooling1D
    with pytest.raises(TypeError):
        AveragePooling1D()  # Keras's AveragePooling1D has no default pool_size
    with pytest.raises(ValueError, match="MaxPooling1D: pool_size"):
        MaxPooling1D(0)
    with pytest.raises(ShapeError, match=r"p_img.*\(steps, features\)"):
        build(MaxPooling1D(name="p_img"), (4, 4, 1))
    layer = AveragePooling1D(3, strides=2, padding="same")
    assert AveragePooling1D(**layer.get_config()).get_config() == layer.get_config()
    check_layer_state(build(MaxPooling1D(2), (6, 2)), np.random.default_rng(0))
