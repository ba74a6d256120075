"""DepthwiseConv2D and SeparableConv2D: gradients, the loop reference, real Keras, arguments, saving."""

import numpy as np
import pytest

from minidl import Sequential, constraints, reference
from minidl.errors import ShapeError
from minidl.gradcheck import build_float64 as build
from minidl.gradcheck import check_gradients, check_layer_state
from minidl.layers import DepthwiseConv2D, Flatten, SeparableConv2D

DEPTHWISE = [
    # (input (h, w, c), keyword arguments)
    ((6, 5, 3), {"kernel_size": 3}),
    ((6, 5, 3), {"kernel_size": 3, "padding": "same", "depth_multiplier": 2, "activation": "tanh"}),
    ((7, 6, 2), {"kernel_size": (2, 3), "strides": 2, "padding": "same"}),
    ((7, 6, 2), {"kernel_size": 3, "dilation_rate": 2, "padding": "same", "use_bias": False}),
    ((7, 7, 1), {"kernel_size": 3, "strides": (2, 1), "depth_multiplier": 3}),
]


@pytest.mark.parametrize("shape, kwargs", DEPTHWISE)
def test_depthwise_gradients(shape, kwargs, rng):
    layer = build(DepthwiseConv2D(**kwargs), shape)
    if "bias" in layer.params:
        layer.params["bias"][...] = rng.standard_normal(layer.params["bias"].shape) * 0.1
    check_gradients(layer, rng.standard_normal((2, *shape))).assert_ok()


@pytest.mark.parametrize("shape, kwargs", DEPTHWISE)
def test_separable_gradients(shape, kwargs, rng):
    layer = build(SeparableConv2D(4, **kwargs), shape)
    if "bias" in layer.params:
        layer.params["bias"][...] = rng.standard_normal(4) * 0.1
    check_gradients(layer, rng.standard_normal((2, *shape))).assert_ok()


@pytest.mark.parametrize("shape, kwargs", DEPTHWISE[:3])
def test_backward_uses_last_training_forward(shape, kwargs, rng):
    check_layer_state(build(DepthwiseConv2D(**kwargs), shape), rng)
    check_layer_state(build(SeparableConv2D(3, **kwargs), shape), rng)


@pytest.mark.parametrize("shape, kwargs", [entry for entry in DEPTHWISE if "activation" not in entry[1]])
def test_depthwise_and_separable_equal_the_loops(shape, kwargs, rng):
    x = rng.standard_normal((2, *shape))
    layer = build(DepthwiseConv2D(**kwargs), shape)
    arguments = (layer.strides, layer.padding, layer.dilation_rate)
    K = layer.params["kernel"]
    b = layer.params["bias"] if "bias" in layer.params else np.zeros(K.shape[2] * K.shape[3])
    y = layer.forward(x.copy(), training=True)
    np.testing.assert_allclose(y, reference.depthwise_conv2d_forward(x, K, b, *arguments), atol=1e-12)
    g = rng.standard_normal(y.shape)
    dx = layer.backward(g.copy())
    ref_dx, ref_dK, _ = reference.depthwise_conv2d_backward(x, K, g, *arguments)
    np.testing.assert_allclose(dx, ref_dx, atol=1e-12)
    np.testing.assert_allclose(layer.grads["kernel"], ref_dK, atol=1e-12)

    layer = build(SeparableConv2D(3, **kwargs), shape)
    K, P = layer.params["depthwise_kernel"], layer.params["pointwise_kernel"]
    b = layer.params["bias"] if "bias" in layer.params else np.zeros(3)
    y = layer.forward(x.copy(), training=True)
    np.testing.assert_allclose(y, reference.separable_conv2d_forward(x, K, P, b, *arguments), atol=1e-12)
    g = rng.standard_normal(y.shape)
    dx = layer.backward(g.copy())
    ref_dx, ref_dK, ref_dP, _ = reference.separable_conv2d_backward(x, K, P, g, *arguments)
    for got, want in (
        (dx, ref_dx),
        (layer.grads["depthwise_kernel"], ref_dK),
        (layer.grads["pointwise_kernel"], ref_dP),
    ):
        np.testing.assert_allclose(got, want, atol=1e-11)


def test_depthwise_channels_stay_apart(rng):
    """Output channel c*M + m depends on input channel c only."""
    layer = build(DepthwiseConv2D(3, padding="same", depth_multiplier=2), (5, 5, 3))
    x = rng.standard_normal((1, 5, 5, 3))
    changed = x.copy()
    changed[..., 1] += 1.0
    before, after = layer.forward(x), layer.forward(changed)
    np.testing.assert_array_equal(before[..., [0, 1, 4, 5]], after[..., [0, 1, 4, 5]])
    assert not np.allclose(before[..., 2:4], after[..., 2:4])


def test_weights_have_keras_shapes():
    layer = build(SeparableConv2D(5, (3, 2), depth_multiplier=2), (6, 6, 3))
    assert [(name, w.shape) for name, w in layer.params.items()] == [
        ("depthwise_kernel", (3, 2, 3, 2)),
        ("pointwise_kernel", (1, 1, 6, 5)),
        ("bias", (5,)),
    ]
    assert layer.output_shape == (4, 5, 5)
    layer = build(DepthwiseConv2D(3, depth_multiplier=2, padding="same", strides=2), (7, 6, 3))
    assert layer.params["kernel"].shape == (3, 3, 3, 2) and layer.params["bias"].shape == (6,)
    assert layer.output_shape == (4, 3, 6)


@pytest.mark.parametrize(
    "make, error, match",
    [
        (lambda: DepthwiseConv2D(0), ValueError, "DepthwiseConv2D: kernel_size"),
        (lambda: DepthwiseConv2D(3, depth_multiplier=0), ValueError, "DepthwiseConv2D: depth_multiplier"),
        (lambda: DepthwiseConv2D(3, padding="causal"), ValueError, "DepthwiseConv2D: padding"),
        (lambda: DepthwiseConv2D(3, depthwise_regularizer="l2"), NotImplementedError, "depthwise_regularizer"),
        (lambda: SeparableConv2D(0, 3), ValueError, "SeparableConv2D: filters"),
        (lambda: SeparableConv2D(2, 3, use_bias="yes"), ValueError, "SeparableConv2D: use_bias"),
        (lambda: SeparableConv2D(2, 3, pointwise_constraint=3), ValueError, "pointwise_constraint"),
        (lambda: build(SeparableConv2D(2, 5), (4, 4, 1)), ShapeError, "does not fit"),
        (lambda: build(DepthwiseConv2D(3), (10,)), ShapeError, "needs images"),
    ],
)
def test_bad_arguments_and_shapes(make, error, match):
    with pytest.raises(error, match=match):
        make()


@pytest.mark.parametrize(
    "name, args, kwargs",
    [
        ("DepthwiseConv2D", (3,), {}),
        ("DepthwiseConv2D", (3,), {"padding": "same", "depth_multiplier": 2, "strides": 2}),
        ("DepthwiseConv2D", (3,), {"dilation_rate": 2, "padding": "same", "activation": "relu"}),
        ("SeparableConv2D", (5, 3), {"padding": "same", "depth_multiplier": 2}),
        ("SeparableConv2D", (5, 3), {"strides": 2, "padding": "same", "use_bias": False}),
    ],
)
def test_equal_real_keras(name, args, kwargs):
    from keras_twins import twin_outputs

    theirs, ours = twin_outputs(name, args, kwargs, np.random.default_rng(0).standard_normal((2, 10, 9, 4)))
    assert theirs.shape == ours.shape
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-5)


def test_save_load_round_trip(rng, tmp_path):
    from suite_helpers import assert_round_trip

    model = Sequential(
        [
            DepthwiseConv2D(
                3, depth_multiplier=2, padding="same", depthwise_constraint="non_neg", input_shape=(8, 8, 2)
            ),
            SeparableConv2D(3, 3, strides=2, dilation_rate=1, pointwise_constraint=constraints.MaxNorm(1.5)),
            Flatten(),
        ],
        seed=0,
    )
    assert_round_trip(model, rng.standard_normal((3, 8, 8, 2)).astype(np.float32), tmp_path)
