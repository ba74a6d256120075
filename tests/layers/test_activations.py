"""Activation layers used standalone (not fused with a loss): gradient checks, values, stability;
Keras's `Activation(name)` layer and LeakyReLU."""

import warnings

import numpy as np
import pytest

from minidl import Model
from minidl.errors import UnknownNameError
from minidl.gradcheck import build_float64 as build
from minidl.gradcheck import check_gradients, check_layer_state
from minidl.layers import (
    Activation,
    Dense,
    ElementwiseActivation,
    LeakyReLU,
    Linear,
    ReLU,
    Sigmoid,
    Softmax,
    Tanh,
    activations,
)

ACTIVATIONS = [ReLU, LeakyReLU, Sigmoid, Tanh, Softmax, Linear]


def _inputs(rng, shape):
    """Random inputs kept away from ReLU's kink, where the derivative is not defined."""
    x = rng.standard_normal(shape)
    x[np.abs(x) < 1e-2] += 0.1
    return x


@pytest.mark.parametrize("cls", ACTIVATIONS)
@pytest.mark.parametrize("shape", [(6,), (3, 4, 2)])
def test_activation_gradients(cls, shape, rng):
    layer = build(cls(), shape)
    assert layer.needs_input_grad
    check_gradients(layer, _inputs(rng, (3, *shape))).assert_ok()


@pytest.mark.parametrize(
    "cls, reference",
    [
        (ReLU, lambda x: np.maximum(x, 0)),
        (LeakyReLU, lambda x: np.where(x >= 0, x, 0.3 * x)),
        (Sigmoid, lambda x: 1 / (1 + np.exp(-x))),
        (Tanh, np.tanh),
        (Softmax, lambda x: np.exp(x) / np.exp(x).sum(axis=-1, keepdims=True)),
        (Linear, lambda x: x),
    ],
)
def test_activation_values(cls, reference, rng):
    x = rng.standard_normal((4, 5)) * 3
    layer = build(cls(), (5,))
    np.testing.assert_allclose(layer.forward(x.copy()), reference(x), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("cls", [ReLU, LeakyReLU, Sigmoid, Tanh, Softmax])
def test_standalone_activation_keeps_its_input(cls, rng):
    layer = build(cls(), (5,))
    x = rng.standard_normal((2, 5))
    before = x.copy()
    layer.forward(x, training=True)
    np.testing.assert_array_equal(x, before)


def test_softmax_is_stable_for_huge_inputs():
    layer = build(Softmax(), (3,))
    x = np.array([[1000.0, 1000.0, -1000.0], [-1e4, 0.0, 1e4]])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        out = layer.forward(x)
    np.testing.assert_allclose(out, [[0.5, 0.5, 0.0], [0.0, 0.0, 1.0]])
    np.testing.assert_allclose(out.sum(axis=-1), 1.0)


def test_sigmoid_is_stable_for_huge_inputs():
    layer = build(Sigmoid(), (3,))
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        out = layer.forward(np.array([[-1000.0, 0.0, 1000.0]]))
    np.testing.assert_allclose(out, [[0.0, 0.5, 1.0]])


def test_softmax_rows_sum_to_one_on_last_axis(rng):
    layer = build(Softmax(), (3, 4))
    out = layer.forward(rng.standard_normal((2, 3, 4)) * 5)
    np.testing.assert_allclose(out.sum(axis=-1), np.ones((2, 3)))


def test_relu_gradient_is_zero_for_negative_inputs():
    layer = build(ReLU(), (4,))
    layer.forward(np.array([[-2.0, -0.5, 0.5, 2.0]]), training=True)
    np.testing.assert_array_equal(layer.backward(np.array([[1.0, 2.0, 3.0, 4.0]])), [[0, 0, 3, 4]])


def test_gradient_checker_catches_a_wrong_derivative(rng):
    """The checker used by every layer test must be able to fail."""

    class BrokenTanh(Tanh):
        def derivative_times(self, grad, y):
            return grad * (1 - y)

    layer = build(BrokenTanh(), (5,))
    with pytest.raises(AssertionError, match="gradient is WRONG"):
        check_gradients(layer, _inputs(rng, (2, 5))).assert_ok()


def test_activation_lookup():
    assert type(activations.get("relu")) is ReLU
    assert type(activations.get("SOFTMAX")) is Softmax
    assert type(activations.get(None)) is Linear
    with pytest.raises(UnknownNameError, match=r"activation 'swishy'.*known activations.*sigmoid"):
        activations.get("swishy")


@pytest.mark.parametrize("cls", ACTIVATIONS)
def test_activation_backward_uses_last_training_forward(cls, rng):
    check_layer_state(build(cls(), (3, 4)), rng)


def test_activation_base_class_is_elementwise_activation():
    for cls in ACTIVATIONS:
        assert issubclass(cls, ElementwiseActivation)
        assert not issubclass(cls, Activation)
    assert isinstance(activations.get("tanh"), ElementwiseActivation)
    assert activations.name_of(activations.get("sigmoid")) == "sigmoid"


# ----- LeakyReLU -----
@pytest.mark.parametrize("slope", [0.0, 0.01, 0.3, 2.0])
def test_leaky_relu_gradients(slope, rng):
    check_gradients(build(LeakyReLU(negative_slope=slope), (3, 2)), _inputs(rng, (4, 3, 2))).assert_ok()


def test_leaky_relu_keras_example():
    """Keras's documented example, slope 0.5."""
    out = LeakyReLU(negative_slope=0.5)(np.array([-10, -5, 0.0, 5, 10]))
    np.testing.assert_array_equal(out, [-5.0, -2.5, 0.0, 5.0, 10.0])


def test_leaky_relu_default_slope_is_keras_3s():
    assert LeakyReLU().negative_slope == 0.3
    np.testing.assert_allclose(LeakyReLU()(np.array([[-3.0, -1.0, 0.0, 2.0]])), [[-0.9, -0.3, 0.0, 2.0]], rtol=1e-6)


def test_leaky_relu_gradient_values():
    layer = build(LeakyReLU(0.1), (4,))
    layer.forward(np.array([[-2.0, -0.5, 0.5, 2.0]]), training=True)
    np.testing.assert_allclose(layer.backward(np.array([[1.0, 2.0, 3.0, 4.0]])), [[0.1, 0.2, 3, 4]])


def test_leaky_relu_in_place_inside_dense(rng):
    dense = build(Dense(3, activation=LeakyReLU(0.2)), (4,))
    check_gradients(dense, rng.standard_normal((5, 4))).assert_ok()


def test_leaky_relu_accepts_keras_2_alpha_with_a_warning():
    with pytest.warns(UserWarning, match="alpha"):
        layer = LeakyReLU(alpha=0.1)
    assert layer.negative_slope == 0.1


@pytest.mark.parametrize("slope", [-0.1, float("nan"), "0.3", None])
def test_leaky_relu_rejects_bad_slope(slope):
    with pytest.raises(ValueError, match="LeakyReLU: negative_slope"):
        LeakyReLU(negative_slope=slope)


def test_leaky_relu_config():
    config = LeakyReLU(0.1, name="leaky").get_config()
    assert config == {"name": "leaky", "negative_slope": 0.1}
    assert LeakyReLU(**config).get_config() == config


def test_leaky_relu_by_name_has_keras_function_slope(rng):
    """activation="leaky_relu" is Keras's function, slope 0.2 (the layer's default is 0.3)."""
    dense = Dense(3, activation="leaky_relu")
    assert type(dense.activation) is LeakyReLU and dense.activation.negative_slope == 0.2
    assert dense.get_config()["activation"] == "leaky_relu"
    with pytest.raises(ValueError, match="LeakyReLU has no registered name.*0.2"):
        Dense(3, activation=LeakyReLU(0.1)).get_config()


# ----- Activation(name) -----
NAMES = ["relu", "sigmoid", "tanh", "softmax", "linear", "leaky_relu"]


@pytest.mark.parametrize("name", NAMES)
def test_activation_layer_gradients(name, rng):
    layer = build(Activation(name), (3, 4))
    check_gradients(layer, _inputs(rng, (2, 3, 4))).assert_ok()


@pytest.mark.parametrize("name", NAMES)
def test_activation_layer_matches_the_function_layer(name, rng):
    x = rng.standard_normal((3, 5)) * 2
    expected = build(activations.get(name), (5,)).forward(x.copy())
    layer = build(Activation(name), (5,))
    np.testing.assert_array_equal(layer.forward(x), expected)
    assert isinstance(layer.activation, type(activations.get(name)))


@pytest.mark.parametrize("name", ["relu", "softmax"])
def test_activation_layer_keeps_its_input(name, rng):
    x = rng.standard_normal((2, 5))
    before = x.copy()
    layer = build(Activation(name), (5,))
    layer.forward(x, training=True)
    layer.backward(np.ones((2, 5)))
    np.testing.assert_array_equal(x, before)


def test_activation_layer_config_round_trip():
    for name in NAMES:
        config = Activation(name, name="act").get_config()
        assert config == {"name": "act", "activation": name}
        assert Activation(**config).get_config() == config
    assert Activation(None).get_config()["activation"] == "linear"


def test_activation_layer_unknown_name():
    with pytest.raises(UnknownNameError, match=r"activation 'relux'"):
        Activation("relux")


def test_final_activation_softmax_fuses_with_cross_entropy():
    """A model ending in Activation("softmax") uses the fused softmax + cross-entropy gradient."""
    model = Model(seed=0)
    model.add(Dense(3, input_shape=(4,)))
    model.add(Activation("softmax"))
    model.compile(loss="sparse_categorical_crossentropy")
    assert model.layers[-1].activation.backward_done_by_loss
    x = np.random.default_rng(0).standard_normal((6, 4)).astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.fit(x, np.arange(6) % 3, batch_size=3, epochs=1, verbose=0)


def test_activation_layer_backward_uses_last_training_forward(rng):
    check_layer_state(build(Activation("tanh"), (3, 4)), rng)


def test_gelu_by_name_in_a_layer_is_keras_exact_gelu():
    """`Dense(activation="gelu")`: x Φ(x) with the exact normal CDF, as keras.activations.gelu by default."""
    from math import erf, sqrt

    from minidl.layers import Dense

    layer = Dense(3, activation="gelu")
    x = np.array([[-2.0, 0.5, 3.0]], dtype="float32")
    layer(x)  # built
    layer.set_weights([np.eye(3, dtype="float32"), np.zeros(3, dtype="float32")])
    expected = [[v * 0.5 * (1 + erf(v / sqrt(2))) for v in row] for row in x.tolist()]
    np.testing.assert_allclose(layer(x), expected, rtol=1e-5)
