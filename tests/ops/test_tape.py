"""minidl/ops/tape.py: what a tape records, how `backward` walks it, and what it refuses."""

import numpy as np
import pytest

import minidl as keras
from minidl import ops
from minidl.ops.tape import Tape, Tensor, paused, recording


def test_a_tensor_used_twice_gets_the_sum_of_both_gradients():
    """y = x·x + x: dy/dx = 2x + 1, the two uses of x added up (fan-out)."""
    tape, x = Tape(), Tensor(np.array([1.0, -2.0, 3.0]))
    with recording(tape):
        y = x * x + x
    grads = tape.backward([y], [np.ones(3)])
    np.testing.assert_array_equal(grads[id(x)], [3.0, -3.0, 7.0])


def test_the_same_array_to_both_inputs_is_not_aliased():
    """x + x hands one gradient array to both inputs: each must get its own, or the sum doubles twice."""
    tape, x = Tape(), Tensor(np.array([1.0, 2.0]))
    with recording(tape):
        y = ops.add(x, x)
    np.testing.assert_array_equal(tape.backward([y], [np.array([1.0, 10.0])])[id(x)], [2.0, 20.0])


def test_nothing_is_recorded_on_arrays_outside_a_tape_or_while_paused():
    tape, x = Tape(), Tensor(np.ones(3))
    assert isinstance(ops.exp(np.ones(3)), np.ndarray)  # plain NumPy: no tape at all
    with recording(tape):
        ops.exp(np.ones(3))  # arrays, not tensors: nothing to follow
        with paused():
            ops.exp(x)
        assert tape.records == []
        ops.exp(x)
    assert len(tape.records) == 1


def test_a_tensor_that_needs_no_gradient_gets_none_and_is_not_followed():
    tape, x, c = Tape(), Tensor(np.array([2.0, 3.0])), Tensor(np.array([5.0, 7.0]), requires_grad=False)
    with recording(tape):
        y = x * c
    grads = tape.backward([y], [np.ones(2)])
    np.testing.assert_array_equal(grads[id(x)], [5.0, 7.0])
    assert id(c) not in grads


def test_a_broadcast_input_gets_its_gradient_summed_back_to_its_shape():
    tape, bias, x = Tape(), Tensor(np.zeros(3)), Tensor(np.ones((4, 3)), requires_grad=False)
    with recording(tape):
        y = x + bias
    np.testing.assert_array_equal(tape.backward([y], [np.ones((4, 3))])[id(bias)], [4.0, 4.0, 4.0])


def test_numpy_functions_on_a_recorded_tensor_are_refused_and_operators_stay_ops():
    class NumpyTanh(keras.layers.Layer):
        def build(self, input_shape):
            self.w = self.add_weight(shape=(input_shape[-1], 2))

        def call(self, inputs):
            return np.tanh(keras.ops.matmul(inputs, self.w))  # keras.ops.tanh is the recorded one

    inputs = keras.Input(shape=(3,))
    model = keras.Model(inputs, NumpyTanh()(inputs))
    model.compile(optimizer="sgd", loss="mse")
    x, y = np.ones((4, 3), "float32"), np.zeros((4, 2), "float32")
    with pytest.raises(NotImplementedError, match=r"np.tanh on a tensor being differentiated .* use minidl.ops"):
        model.fit(x, y, verbose=0)  # otherwise the weight would silently get no gradient
    assert model.predict(x, verbose=0).shape == (4, 2)  # outside training NumPy just computes
    tape, t = Tape(), Tensor(np.array([1.0, 2.0]))
    with recording(tape):
        out = np.array([3.0, 4.0]) * t + np.float64(1.0)  # an array on the left: still the ops
    assert isinstance(out, Tensor)
    np.testing.assert_array_equal(tape.backward([out], [np.ones(2)])[id(t)], [3.0, 4.0])
