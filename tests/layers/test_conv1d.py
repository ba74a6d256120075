"""Conv1D: the reference loops, gradient checks, causal and dilated windows, groups, shapes, errors, Keras."""

import os

import numpy as np
import pytest

from minidl.errors import ShapeError
from minidl.gradcheck import build_float64 as build
from minidl.gradcheck import check_gradients, check_layer_state
from minidl.layers import Conv1D, Convolution1D
from minidl.reference import conv1d_backward, conv1d_forward

CONFIGS = [
    # (steps, channels, filters, kernel, options)
    (9, 3, 4, 3, {}),
    (9, 3, 4, 3, {"padding": "same", "strides": 2}),
    (8, 2, 3, 2, {"padding": "same"}),
    (9, 2, 3, 3, {"padding": "causal", "dilation_rate": 2}),
    (7, 4, 6, 3, {"groups": 2, "activation": "relu"}),
    (10, 6, 6, 2, {"groups": 3, "strides": 3, "padding": "same", "activation": "tanh"}),
    (5, 1, 2, 5, {}),
]


@pytest.mark.parametrize("steps, channels, filters, kernel, options", CONFIGS)
def test_matches_the_reference_loops(steps, channels, filters, kernel, options, rng):
    layer = build(Conv1D(filters, kernel, **options), (steps, channels))
    layer.params["bias"][...] = rng.standard_normal(filters)
    x = rng.standard_normal((2, steps, channels))
    plain = {k: v for k, v in options.items() if k != "activation"}
    args = (
        plain.get("strides", 1),
        plain.get("padding", "valid"),
        plain.get("dilation_rate", 1),
        plain.get("groups", 1),
    )
    z = conv1d_forward(x, layer.params["kernel"], layer.params["bias"], *args)
    activation = {"relu": lambda v: np.maximum(v, 0), "tanh": np.tanh}.get(options.get("activation"), lambda v: v)
    np.testing.assert_allclose(layer.forward(x, training=True), activation(z), rtol=1e-10, atol=1e-12)
    if "activation" not in options:
        grad = rng.standard_normal(z.shape)
        dx = layer.backward(grad.copy())
        expected = conv1d_backward(x, layer.params["kernel"], grad, *args)
        for ours, theirs in zip((dx, layer.grads["kernel"], layer.grads["bias"]), expected):
            np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("steps, channels, filters, kernel, options", CONFIGS)
def test_gradients(steps, channels, filters, kernel, options, rng):
    layer = build(Conv1D(filters, kernel, **options), (steps, channels))
    layer.params["bias"][...] = rng.standard_normal(filters) * 0.1
    check_gradients(layer, rng.standard_normal((2, steps, channels))).assert_ok()
    check_layer_state(layer, rng)


def test_reference_is_numpy_convolve():
    """One channel, one filter: Keras's convolution is NumPy's correlation (the kernel not flipped)."""
    x, w = np.arange(7.0), np.array([1.0, -2.0, 0.5])
    y = conv1d_forward(x.reshape(1, 7, 1), w.reshape(3, 1, 1), np.zeros(1))
    np.testing.assert_allclose(y[0, :, 0], np.correlate(x, w, mode="valid"))


def test_causal_outputs_do_not_see_the_future(rng):
    layer = build(Conv1D(2, 3, padding="causal", dilation_rate=2), (8, 1))
    x = rng.standard_normal((1, 8, 1))
    changed = x.copy()
    changed[0, 5:] += 10
    np.testing.assert_array_equal(layer.forward(x)[0, :5], layer.forward(changed)[0, :5])
    assert layer.output_shape == (8, 2)


def test_unknown_length_and_batches_of_other_lengths(rng):
    layer = build(Conv1D(3, 4, padding="same", strides=2), (None, 2))
    assert layer.output_shape == (None, 3)
    assert layer.forward(rng.standard_normal((2, 9, 2))).shape == (2, 5, 3)
    assert layer.forward(rng.standard_normal((2, 4, 2))).shape == (2, 2, 3)
    valid = build(Conv1D(3, 4, name="c_short"), (None, 2))
    with pytest.raises(ShapeError, match=r"c_short.*kernel 4.*3 steps"):
        valid.forward(rng.standard_normal((1, 3, 2)))


def test_weights_and_aliases():
    layer = build(Conv1D(8, 5, groups=2, use_bias=False), (10, 4))
    assert [w.shape for w in layer.get_weights()] == [(5, 2, 8)]
    assert Convolution1D is Conv1D
    assert Conv1D(2, (3,), strides=(2,)).kernel_size == 3


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"filters": 0, "kernel_size": 3}, ValueError, "Conv1D: filters"),
        ({"filters": 2, "kernel_size": (3, 3)}, ValueError, "Conv1D: kernel_size"),
        ({"filters": 2, "kernel_size": 3, "padding": "full"}, ValueError, "Conv1D: padding"),
        ({"filters": 2, "kernel_size": 3, "strides": 2, "dilation_rate": 2}, ValueError, "dilation_rate"),
        ({"filters": 3, "kernel_size": 3, "groups": 2}, ValueError, "groups"),
        ({"filters": 2, "kernel_size": 3, "data_format": "channels_first"}, NotImplementedError, "channels_first"),
        ({"filters": 2, "kernel_size": 3, "kernel_constraint": "max_norm"}, NotImplementedError, "kernel_constraint"),
    ],
)
def test_bad_arguments_are_named(kwargs, error, match):
    with pytest.raises(error, match=match):
        Conv1D(**kwargs)


def test_shape_errors_name_the_layer():
    with pytest.raises(ShapeError, match=r"c_img.*\(steps, channels\)"):
        build(Conv1D(2, 3, name="c_img"), (8, 8, 1))
    with pytest.raises(ShapeError, match=r"c_groups.*groups=2"):
        build(Conv1D(2, 3, groups=2, name="c_groups"), (8, 3))
    with pytest.raises(ShapeError, match=r"c_big.*kernel 5"):
        build(Conv1D(2, 5, name="c_big"), (4, 1))


def test_config_rebuilds_the_layer():
    layer = Conv1D(4, 3, strides=1, padding="causal", dilation_rate=2, groups=2, activation="relu", use_bias=False)
    assert Conv1D(**layer.get_config()).get_config() == layer.get_config()


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.parametrize(
    "options", [{"padding": "same", "strides": 2}, {"padding": "causal", "dilation_rate": 2}, {"groups": 2}]
)
def test_keras_weights_give_keras_outputs(options, rng):
    os.environ.setdefault("KERAS_BACKEND", "torch")
    keras = pytest.importorskip("keras")
    x = rng.standard_normal((2, 9, 4)).astype(np.float32)
    theirs = keras.layers.Conv1D(6, 3, **options)
    out = keras.ops.convert_to_numpy(theirs(x))
    ours = Conv1D(6, 3, **options)
    ours.build_weights((9, 4))
    ours.set_weights(theirs.get_weights())
    np.testing.assert_allclose(ours.forward(x), out, atol=2e-6)
