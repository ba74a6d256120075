"""Conv2D: gradient checks, a naive-loop reference for both paddings and strides, shapes and errors."""

import math

import numpy as np
import pytest

from minidl.errors import ShapeError
from minidl.gradcheck import build_float64 as build
from minidl.gradcheck import check_gradients, check_layer_state
from minidl.layers import Conv2D, conv


def naive_conv(x, kernel, bias, strides, padding):
    """Keras's Conv2D with explicit loops: 'same' puts the extra padding on the bottom/right."""
    n, h, w, c = x.shape
    kh, kw, _, f = kernel.shape
    sh, sw = strides
    if padding == "same":
        oh, ow = math.ceil(h / sh), math.ceil(w / sw)
        pad_h = max((oh - 1) * sh + kh - h, 0)
        pad_w = max((ow - 1) * sw + kw - w, 0)
        top, left = pad_h // 2, pad_w // 2
        padded = np.zeros((n, h + pad_h, w + pad_w, c))
        padded[:, top : top + h, left : left + w] = x
    else:
        oh, ow = (h - kh) // sh + 1, (w - kw) // sw + 1
        padded = x
    out = np.zeros((n, oh, ow, f))
    for b in range(n):
        for i in range(oh):
            for j in range(ow):
                patch = padded[b, i * sh : i * sh + kh, j * sw : j * sw + kw, :]
                for k in range(f):
                    out[b, i, j, k] = np.sum(patch * kernel[:, :, :, k]) + bias[k]
    return out


CONFIGS = [
    # (input (h, w, c), kernel, strides, padding)
    ((7, 6, 1), (3, 3), 1, "valid"),
    ((7, 6, 1), (3, 3), 1, "same"),
    ((7, 6, 1), (3, 3), 2, "valid"),
    ((7, 6, 1), (3, 3), 2, "same"),
    ((7, 6, 3), (3, 3), 1, "valid"),
    ((7, 6, 3), (3, 3), 2, "same"),
    ((7, 6, 3), (5, 5), 1, "same"),
    ((7, 6, 3), (5, 5), 2, "valid"),
    ((7, 6, 1), (5, 5), 2, "same"),
    ((7, 6, 3), (2, 3), 1, "same"),
    ((7, 6, 1), (2, 3), 2, "valid"),
    ((7, 6, 3), (2, 3), (2, 1), "same"),
    ((6, 6, 3), (2, 2), 2, "same"),
    ((3, 2, 2), (5, 5), 1, "same"),
    ((5, 4, 1), (4, 2), (3, 2), "same"),
    # More channels than conv._CHANNEL_LOOP_MAX: the input gradient's other way back to (N, H, W, C).
    ((6, 5, 10), (3, 3), 1, "same"),
    ((6, 6, 10), (3, 2), 2, "valid"),
]


def _ids(config):
    shape, kernel, strides, padding = config
    return f"{shape[0]}x{shape[1]}x{shape[2]}-k{kernel[0]}x{kernel[1]}-s{strides}-{padding}"


@pytest.mark.parametrize("config", CONFIGS, ids=_ids)
def test_conv_gradients(config, rng):
    shape, kernel, strides, padding = config
    layer = build(Conv2D(2, kernel, strides=strides, padding=padding), shape)
    layer.params["bias"][...] = rng.standard_normal(2) * 0.1
    check_gradients(layer, rng.standard_normal((2, *shape))).assert_ok()


@pytest.mark.parametrize("channels", [conv._CHANNEL_LOOP_MAX, conv._CHANNEL_LOOP_MAX + 1])
def test_conv_gradients_on_both_sides_of_the_channel_switch(channels, rng):
    """The input gradient goes back to (N, H, W, C) one channel at a time up to a channel count and
    in one transposing copy above it: both must give the same mathematics."""
    layer = build(Conv2D(4, 3, padding="same", activation="relu"), (5, 4, channels))
    layer.params["bias"][...] = rng.standard_normal(4) * 0.1
    check_gradients(layer, rng.standard_normal((2, 5, 4, channels))).assert_ok()


@pytest.mark.parametrize("filters", [conv._WINDOWS_MAX_FILTERS, conv._WINDOWS_MAX_FILTERS + 1])
@pytest.mark.parametrize("config", CONFIGS[4:9], ids=_ids)
def test_conv_gradients_on_both_sides_of_the_filter_switch(filters, config, rng):
    """Up to a filter count the kernel gradient comes from the input gradient's windows, above it
    from the patches: both must pass the gradient check."""
    shape, kernel, strides, padding = config
    layer = build(Conv2D(filters, kernel, strides=strides, padding=padding, activation="relu"), shape)
    layer.params["bias"][...] = rng.standard_normal(filters) * 0.1
    check_gradients(layer, rng.standard_normal((2, *shape))).assert_ok()


@pytest.mark.parametrize("config", CONFIGS, ids=_ids)
def test_conv_kernel_gradient_by_windows_equals_by_patches(config, rng):
    """A first layer (no input gradient) takes the kernel gradient from the patches; any other layer
    with few filters from the input gradient's windows. Same inputs, same gradients."""
    shape, kernel, strides, padding = config
    layer = build(Conv2D(3, kernel, strides=strides, padding=padding, activation="tanh"), shape)
    x, grad = rng.standard_normal((3, *shape)), rng.standard_normal((3, *layer.output_shape))
    gradients = []
    for needs_input_grad in (True, False):
        layer.needs_input_grad = needs_input_grad
        layer.forward(x, training=True)
        layer.backward(grad.copy())
        gradients.append({name: g.copy() for name, g in layer.grads.items()})
    for name in ("kernel", "bias"):
        np.testing.assert_allclose(gradients[0][name], gradients[1][name], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("activation", ["relu", "sigmoid", "tanh", "softmax"])
def test_conv_gradients_with_activation(activation, rng):
    layer = build(Conv2D(3, 3, padding="same", activation=activation), (5, 4, 2))
    layer.params["bias"][...] = rng.standard_normal(3) * 0.1
    check_gradients(layer, rng.standard_normal((2, 5, 4, 2))).assert_ok()


@pytest.mark.parametrize("config", CONFIGS, ids=_ids)
def test_conv_matches_naive_loops(config, rng):
    shape, kernel, strides, padding = config
    layer = build(Conv2D(3, kernel, strides=strides, padding=padding), shape)
    layer.params["bias"][...] = rng.standard_normal(3)
    x = rng.standard_normal((2, *shape))
    pair = (strides, strides) if isinstance(strides, int) else strides
    expected = naive_conv(x, layer.params["kernel"], layer.params["bias"], pair, padding)
    out = layer.forward(x)
    assert out.shape == expected.shape == (2, *layer.output_shape)
    np.testing.assert_allclose(out, expected, rtol=1e-10, atol=1e-12)


def test_same_padding_extra_goes_bottom_right():
    """3x3 input, 2x2 kernel, 'same', stride 1: the one pad row/column goes bottom/right (as in Keras/TF)."""
    layer = build(Conv2D(1, 2, padding="same"), (3, 3, 1))
    layer.params["kernel"][...] = 1.0
    x = np.arange(9, dtype=np.float64).reshape(1, 3, 3, 1)
    out = layer.forward(x)[0, :, :, 0]
    # Each output sums the 2x2 window starting at its own pixel; past the bottom/right edge is zero.
    expected = np.array(
        [[0 + 1 + 3 + 4, 1 + 2 + 4 + 5, 2 + 5], [3 + 4 + 6 + 7, 4 + 5 + 7 + 8, 5 + 8], [6 + 7, 7 + 8, 8]],
        dtype=np.float64,
    )
    np.testing.assert_array_equal(out, expected)


def test_conv_known_values():
    """A 3x3 averaging kernel on a ramp: every valid output is the centre value."""
    layer = build(Conv2D(1, 3), (4, 5, 1))
    layer.params["kernel"][...] = 1.0 / 9
    layer.params["bias"][...] = 0.5
    x = np.arange(20, dtype=np.float64).reshape(1, 4, 5, 1)
    out = layer.forward(x)[0, :, :, 0]
    np.testing.assert_allclose(out, x[0, 1:3, 1:4, 0] + 0.5)


@pytest.mark.parametrize(
    "shape, kernel, strides, padding, expected",
    [
        ((28, 28, 1), 5, 1, "same", (28, 28, 6)),
        ((14, 14, 6), 5, 1, "valid", (10, 10, 6)),
        ((7, 6, 1), 3, 2, "same", (4, 3, 6)),
        ((7, 6, 1), 3, 2, "valid", (3, 2, 6)),
        ((7, 6, 1), (2, 3), 1, "valid", (6, 4, 6)),
    ],
)
def test_conv_output_shapes(shape, kernel, strides, padding, expected):
    layer = build(Conv2D(6, kernel, strides=strides, padding=padding), shape)
    assert layer.output_shape == expected
    kh, kw = (kernel, kernel) if isinstance(kernel, int) else kernel
    assert layer.params["kernel"].shape == (kh, kw, shape[2], 6)
    assert layer.params["bias"].shape == (6,)


def test_conv_kernel_larger_than_input():
    with pytest.raises(ShapeError, match=r"conv_big.*\(5, 5\).*\(3, 3, 1\)"):
        build(Conv2D(2, 5, name="conv_big"), (3, 3, 1))


def test_conv_needs_images():
    with pytest.raises(ShapeError, match=r"conv_flat.*\(10,\)"):
        build(Conv2D(2, 3, name="conv_flat"), (10,))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"filters": 0, "kernel_size": 3}, "filters"),
        ({"filters": 2, "kernel_size": 0}, "kernel_size"),
        ({"filters": 2, "kernel_size": (3, 3, 3)}, "kernel_size"),
        ({"filters": 2, "kernel_size": 3, "strides": 0}, "strides"),
        ({"filters": 2, "kernel_size": 3, "padding": "full"}, "padding"),
    ],
)
def test_conv_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Conv2D(**kwargs)


@pytest.mark.parametrize("config", CONFIGS[:4] + CONFIGS[5:6], ids=_ids)
def test_conv_backward_uses_last_training_forward(config, rng):
    shape, kernel, strides, padding = config
    check_layer_state(build(Conv2D(3, kernel, strides=strides, padding=padding, activation="relu"), shape), rng)


# ----- chunking, layouts, buffers -----
CHUNKED = [
    # (input (h, w, c), kernel, strides, padding, activation): one channel takes the columns layout
    ((6, 5, 1), (3, 3), 1, "same", "relu"),
    ((6, 5, 2), (3, 2), (2, 1), "valid", "tanh"),
    ((5, 5, 2), (3, 3), 1, "same", "softmax"),
]


@pytest.mark.parametrize("shape, kernel, strides, padding, activation", CHUNKED)
def test_conv_batches_larger_than_a_chunk(shape, kernel, strides, padding, activation, rng, monkeypatch):
    """Chunks of 4 images: 19 images cross chunk boundaries and end in a partial chunk."""
    monkeypatch.setattr(conv, "_MIN_CHUNK", 1)
    monkeypatch.setattr(conv, "_MAX_CHUNK", 4)
    layer = build(Conv2D(3, kernel, strides=strides, padding=padding, activation=activation), shape)
    assert layer.chunk_size() == 4
    layer.params["bias"][...] = rng.standard_normal(3) * 0.1
    x = rng.standard_normal((19, *shape))
    pair = (strides, strides) if isinstance(strides, int) else strides
    z = naive_conv(x, layer.params["kernel"], layer.params["bias"], pair, padding)
    if activation == "softmax":
        expected = np.exp(z - z.max(axis=-1, keepdims=True))
        expected /= expected.sum(axis=-1, keepdims=True)
    else:
        expected = np.maximum(z, 0) if activation == "relu" else np.tanh(z)
    np.testing.assert_allclose(layer.forward(x.copy()), expected, rtol=1e-10, atol=1e-12)
    check_gradients(layer, x).assert_ok()


def test_conv_float32_matches_float64(rng):
    x = rng.standard_normal((11, 9, 8, 3))
    grad = rng.standard_normal((11, 9, 8, 4))
    results = []
    for dtype in (np.float32, np.float64):
        layer = Conv2D(4, 3, padding="same", activation="relu")
        layer.build_weights((9, 8, 3), rng=np.random.default_rng(0), dtype=dtype)
        out = layer.forward(x.astype(dtype), training=True)
        dx = layer.backward(grad.astype(dtype))
        assert out.dtype == dx.dtype == layer.grads["kernel"].dtype == dtype
        results.append((out, dx, layer.grads["kernel"].copy(), layer.grads["bias"].copy()))
    for single, double in zip(*results):
        np.testing.assert_allclose(single, double, rtol=1e-4, atol=1e-5)


def test_conv_pickles_without_its_buffers_and_works_after(rng):
    """Scratch buffers are ndarray attributes: not pickled, recreated on the next call."""
    import pickle

    layer = build(Conv2D(2, 3, activation="relu"), (5, 5, 2))
    x, grad = rng.standard_normal((9, 5, 5, 2)), rng.standard_normal((9, 3, 3, 2))
    layer.forward(x.copy(), training=True)
    expected = layer.backward(grad.copy())
    state = pickle.dumps(layer)
    assert len(state) < 4000, "buffers or activations travelled with the layer"
    copy = pickle.loads(state)
    copy.forward(x.copy(), training=True)
    np.testing.assert_array_equal(copy.backward(grad.copy()), expected)


# ----- dilation, groups, use_bias, constraints (Keras 3's arguments) -----
MODERN = [
    # (input (h, w, c), filters, keyword arguments)
    ((7, 6, 3), 4, {"dilation_rate": 2, "padding": "same"}),
    ((8, 7, 2), 3, {"dilation_rate": (2, 3)}),
    ((7, 6, 4), 6, {"groups": 2, "strides": 2, "padding": "same"}),
    ((7, 6, 6), 3, {"groups": 3, "dilation_rate": 2, "padding": "same", "activation": "tanh"}),
    ((6, 6, 4), 8, {"groups": 4, "kernel_size": 2}),
    ((7, 6, 1), 3, {"dilation_rate": 2, "use_bias": False}),
    ((6, 5, 4), 4, {"groups": 2, "use_bias": False, "activation": "relu"}),
]


def _modern(shape, filters, kwargs):
    kwargs = dict(kwargs)
    return build(Conv2D(filters, kwargs.pop("kernel_size", 3), **kwargs), shape)


@pytest.mark.parametrize("shape, filters, kwargs", MODERN)
def test_dilated_grouped_conv_gradients(shape, filters, kwargs, rng):
    layer = _modern(shape, filters, kwargs)
    if layer.use_bias:
        layer.params["bias"][...] = rng.standard_normal(filters) * 0.1
    check_gradients(layer, rng.standard_normal((2, *shape))).assert_ok()
    assert ("bias" in layer.params) == layer.use_bias


@pytest.mark.parametrize("shape, filters, kwargs", MODERN[:4])
def test_dilated_grouped_conv_backward_uses_last_training_forward(shape, filters, kwargs, rng):
    check_layer_state(_modern(shape, filters, kwargs), rng)


def test_dilated_conv_batches_larger_than_a_chunk(rng, monkeypatch):
    monkeypatch.setattr(conv, "_MIN_CHUNK", 1)
    monkeypatch.setattr(conv, "_MAX_CHUNK", 4)
    layer = build(Conv2D(3, 3, dilation_rate=2, padding="same", groups=1), (6, 5, 2))
    assert layer.chunk_size() == 4 and layer.general
    check_gradients(layer, rng.standard_normal((9, 6, 5, 2))).assert_ok()


def test_grouped_kernel_is_kept_block_diagonal(rng):
    """Filters of group g see only the channels of group g: the others do not change their output."""
    layer = build(Conv2D(4, 3, groups=2, padding="same"), (5, 5, 4))
    assert layer.params["kernel"].shape == (3, 3, 2, 4)
    x = rng.standard_normal((2, 5, 5, 4))
    changed = x.copy()
    changed[..., 2:] += 1.0  # the second group's channels
    before, after = layer.forward(x), layer.forward(changed)
    np.testing.assert_array_equal(before[..., :2], after[..., :2])
    assert not np.allclose(before[..., 2:], after[..., 2:])
    dense = layer.dense_kernel()
    np.testing.assert_array_equal(layer.diagonal_blocks(dense), layer.params["kernel"])
    assert not dense[:, :, :2, 2:].any() and not dense[:, :, 2:, :2].any()


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"filters": 3, "kernel_size": 3, "groups": 2}, ValueError, r"filters \(3\) must be divisible by groups"),
        ({"filters": 2, "kernel_size": 3, "groups": 0}, ValueError, "groups"),
        ({"filters": 2, "kernel_size": 3, "dilation_rate": 0}, ValueError, "dilation_rate"),
        ({"filters": 2, "kernel_size": 3, "strides": 2, "dilation_rate": 2}, ValueError, "strides > 1 cannot"),
        ({"filters": 2, "kernel_size": 3, "use_bias": 1}, ValueError, "use_bias"),
        ({"filters": 2, "kernel_size": 3, "activity_regularizer": "l2"}, NotImplementedError, "activity_regularizer"),
        ({"filters": 2, "kernel_size": 3, "data_format": "channels_first"}, NotImplementedError, "channels_first"),
        ({"filters": 2, "kernel_size": 3, "kernel_constraint": "max_size"}, ValueError, "kernel_constraint"),
    ],
)
def test_conv_rejects_bad_keras_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        Conv2D(**kwargs)


def test_grouped_conv_needs_channels_divisible_by_groups():
    with pytest.raises(ShapeError, match=r"input channels \(3\) must be divisible by groups \(2\)"):
        build(Conv2D(4, 3, groups=2), (5, 5, 3))


def test_dilated_kernel_must_fit():
    with pytest.raises(ShapeError, match="dilation"):
        build(Conv2D(2, 3, dilation_rate=3), (6, 6, 1))  # spans 7 pixels


@pytest.mark.parametrize(
    "kwargs",
    [
        {"dilation_rate": 2, "padding": "same"},
        {"dilation_rate": (2, 3)},
        {"groups": 2, "strides": 2, "padding": "same"},
        {"groups": 3, "dilation_rate": 2, "padding": "same", "activation": "relu"},
        {"use_bias": False},
    ],
)
def test_conv_equals_real_keras(kwargs):
    from keras_twins import twin_outputs

    x = np.random.default_rng(0).standard_normal((2, 10, 9, 6))
    theirs, ours = twin_outputs("Conv2D", (6, 3), kwargs, x)
    assert theirs.shape == ours.shape
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-5)


def test_kernel_and_bias_are_variables():
    layer = build(Conv2D(2, 3), (5, 5, 1))
    assert layer.kernel.shape == (3, 3, 1, 2) and layer.bias.shape == (2,)
    assert np.shares_memory(np.asarray(layer.kernel), layer.params["kernel"])
