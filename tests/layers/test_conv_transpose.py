"""Conv2DTranspose: gradients, the loop reference, Keras's output sizes and numbers, arguments, saving."""

import numpy as np
import pytest

from minidl import Sequential, reference
from minidl.errors import ShapeError
from minidl.gradcheck import build_float64 as build
from minidl.gradcheck import check_gradients, check_layer_state
from minidl.layers import Conv2D, Conv2DTranspose, Flatten, conv_transpose

CONFIGS = [
    # (kernel, keyword arguments)
    (3, {}),
    (3, {"padding": "same", "activation": "tanh"}),
    (3, {"strides": 2}),
    (3, {"strides": 2, "output_padding": 1}),
    ((2, 3), {"strides": (2, 3), "padding": "same"}),
    (4, {"strides": 2, "padding": "same"}),
    (3, {"dilation_rate": 2, "use_bias": False}),
    (3, {"strides": 2, "padding": "same", "output_padding": 1}),
]


@pytest.mark.parametrize("kernel, kwargs", CONFIGS)
def test_gradients(kernel, kwargs, rng):
    layer = build(Conv2DTranspose(3, kernel, **kwargs), (4, 3, 2))
    if "bias" in layer.params:
        layer.params["bias"][...] = rng.standard_normal(3) * 0.1
    check_gradients(layer, rng.standard_normal((2, 4, 3, 2))).assert_ok()


@pytest.mark.parametrize("kernel, kwargs", CONFIGS[:4])
def test_backward_uses_last_training_forward(kernel, kwargs, rng):
    check_layer_state(build(Conv2DTranspose(3, kernel, **kwargs), (4, 3, 2)), rng)


@pytest.mark.parametrize("kernel, kwargs", [c for c in CONFIGS if "activation" not in c[1]])
def test_equals_the_loops(kernel, kwargs, rng):
    layer = build(Conv2DTranspose(3, kernel, **kwargs), (4, 3, 2))
    K = layer.params["kernel"]
    b = layer.params["bias"] if "bias" in layer.params else np.zeros(3)
    x = rng.standard_normal((2, 4, 3, 2))
    crop = (layer.top, layer.left)
    y = layer.forward(x.copy(), training=True)
    expected = reference.conv2d_transpose_forward(
        x, K, b, layer.strides, layer.dilation_rate, layer.output_shape[:2], crop
    )
    np.testing.assert_allclose(y, expected, atol=1e-12)
    g = rng.standard_normal(y.shape)
    dx = layer.backward(g.copy())
    ref_dx, ref_dK, _ = reference.conv2d_transpose_backward(x, K, g, layer.strides, layer.dilation_rate, crop)
    np.testing.assert_allclose(dx, ref_dx, atol=1e-12)
    np.testing.assert_allclose(layer.grads["kernel"], ref_dK, atol=1e-12)


def test_is_the_input_gradient_of_the_matching_convolution(rng):
    """<conv(x), y> = <x, conv_transpose(y)> for the same kernel: the two are each other's transpose."""
    conv = build(Conv2D(3, 3, strides=2, padding="same", use_bias=False), (8, 6, 2))
    transpose = build(Conv2DTranspose(2, 3, strides=2, padding="same", use_bias=False), (4, 3, 3))
    # Conv2D's kernel (kh, kw, 2 in, 3 out) is the kernel (kh, kw, 2 filters, 3 in) of the transpose.
    transpose.params["kernel"][...] = conv.params["kernel"]
    x, y = rng.standard_normal((2, 8, 6, 2)), rng.standard_normal((2, 4, 3, 3))
    assert transpose.output_shape == (8, 6, 2)
    np.testing.assert_allclose(np.sum(conv.forward(x) * y), np.sum(x * transpose.forward(y)), rtol=1e-12)


@pytest.mark.parametrize(
    "size, kernel, stride, padding, output_padding, dilation, expected",
    [
        (5, 3, 1, "valid", None, 1, 7),
        (5, 3, 2, "valid", None, 1, 11),
        (5, 2, 3, "valid", None, 1, 15),  # max(kernel, stride)
        (5, 3, 2, "same", None, 1, 10),
        (5, 4, 2, "same", None, 1, 10),
        (5, 3, 2, "valid", 1, 1, 12),
        (5, 3, 2, "same", 1, 1, 10),
        (5, 3, 1, "valid", None, 2, 9),
    ],
)
def test_output_sizes_are_keras(size, kernel, stride, padding, output_padding, dilation, expected):
    out, crop = conv_transpose.transpose_output_size(size, kernel, stride, padding, output_padding, dilation)
    assert out == expected and crop >= 0


@pytest.mark.parametrize(
    "make, error, match",
    [
        (lambda: Conv2DTranspose(0, 3), ValueError, "Conv2DTranspose: filters"),
        (lambda: Conv2DTranspose(2, 3, strides=2, output_padding=2), ValueError, "output_padding"),
        (lambda: Conv2DTranspose(2, 3, output_padding=-1), ValueError, "output_padding"),
        (lambda: Conv2DTranspose(2, 3, strides=2, dilation_rate=2), ValueError, "strides > 1 cannot"),
        (lambda: Conv2DTranspose(2, 3, bias_regularizer="l2"), NotImplementedError, "bias_regularizer"),
        (lambda: build(Conv2DTranspose(2, 3), (5, 5)), ShapeError, "needs images"),
    ],
)
def test_bad_arguments_and_shapes(make, error, match):
    with pytest.raises(error, match=match):
        make()


@pytest.mark.parametrize(
    "kernel, kwargs",
    [c for c in CONFIGS if "dilation_rate" not in c[1]] + [(3, {"dilation_rate": (2, 3), "padding": "same"})],
)
def test_equals_real_keras(kernel, kwargs):
    from keras_twins import twin_outputs

    theirs, ours = twin_outputs(
        "Conv2DTranspose", (4, kernel), kwargs, np.random.default_rng(0).standard_normal((2, 5, 4, 3))
    )
    assert theirs.shape == ours.shape
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-5)


def test_save_load_round_trip(rng, tmp_path):
    from suite_helpers import assert_round_trip

    model = Sequential(
        [
            Conv2DTranspose(3, 3, strides=2, padding="same", output_padding=1, input_shape=(4, 4, 2)),
            Conv2DTranspose(2, (2, 3), dilation_rate=(1, 2), kernel_constraint="unit_norm", use_bias=False),
            Flatten(),
        ],
        seed=0,
    )
    assert_round_trip(model, rng.standard_normal((3, 4, 4, 2)).astype(np.float32), tmp_path)
