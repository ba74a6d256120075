"""minidl.ops / minidl.utils: the NumPy-backed helpers a Keras MNIST program calls."""

import numpy as np
import pytest

import minidl


def test_top_k_returns_the_largest_first_with_their_indices():
    values, indices = minidl.ops.top_k([[0.1, 0.7, 0.2, 0.7]], 2)
    np.testing.assert_array_equal(indices, [[1, 3]])  # ties keep index order
    np.testing.assert_allclose(values, [[0.7, 0.7]])
    with pytest.raises(ValueError, match="top_k: k must be a positive integer"):
        minidl.ops.top_k([[1.0]], 0)


def test_normalize_gives_unit_rows_and_leaves_zero_rows_alone():
    out = minidl.utils.normalize(np.array([[3.0, 4.0], [0.0, 0.0]]))
    np.testing.assert_allclose(out, [[0.6, 0.8], [0.0, 0.0]])
    np.testing.assert_allclose(minidl.utils.normalize([[1.0, 3.0]], order=1), [[0.25, 0.75]])


def test_numpy_functions_on_a_recorded_tensor_are_refused_and_operators_stay_ops():
    import minidl as keras

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
        model.fit(x, y, verbose=0)  # before: the weight silently got no gradient
    assert model.predict(x, verbose=0).shape == (4, 2)  # outside training NumPy just computes
    tape, t = keras.ops.Tape(), keras.ops.Tensor(np.array([1.0, 2.0]))
    with keras.ops.recording(tape):
        out = np.array([3.0, 4.0]) * t + np.float64(1.0)  # an array on the left: still the ops
    assert isinstance(out, keras.ops.Tensor)
    grads = tape.backward([out], [np.ones(2)])
    np.testing.assert_array_equal(grads[id(t)], [3.0, 4.0])
