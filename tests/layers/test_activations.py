"""Activation layers used standalone (not fused with a loss): gradient checks, values, stability."""

import numpy as np
import pytest

from minidl.errors import UnknownNameError
from minidl.gradcheck import build_float64 as build
from minidl.gradcheck import check_gradients, check_layer_state
from minidl.layers import Linear, ReLU, Sigmoid, Softmax, Tanh, activations

ACTIVATIONS = [ReLU, Sigmoid, Tanh, Softmax, Linear]


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


@pytest.mark.parametrize("cls", [ReLU, Sigmoid, Tanh, Softmax])
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
