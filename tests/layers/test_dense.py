"""Dense: gradient checks for every activation, known values, shapes and errors."""

import numpy as np
import pytest

from minidl.errors import ShapeError, UnknownNameError
from minidl.gradcheck import build_float64 as build
from minidl.gradcheck import check_gradients, check_layer_state
from minidl.layers import Dense


@pytest.mark.parametrize("activation", [None, "linear", "relu", "sigmoid", "tanh", "softmax"])
def test_dense_gradients(activation, rng):
    layer = build(Dense(4, activation=activation), (5,))
    layer.params["bias"][...] = rng.standard_normal(4) * 0.1
    check_gradients(layer, rng.standard_normal((3, 5))).assert_ok()


def test_dense_forward_matches_formula(rng):
    layer = build(Dense(3, activation="tanh"), (4,))
    layer.params["bias"][...] = [0.1, -0.2, 0.3]
    x = rng.standard_normal((2, 4))
    expected = np.tanh(x @ layer.params["kernel"] + layer.params["bias"])
    np.testing.assert_allclose(layer.forward(x), expected, rtol=1e-12)


def test_dense_shapes_and_param_count():
    layer = build(Dense(7), (3,))
    assert layer.output_shape == (7,)
    assert layer.params["kernel"].shape == (3, 7)
    assert layer.params["bias"].shape == (7,)
    assert layer.count_params() == 3 * 7 + 7
    assert layer.params["kernel"].dtype == np.float64
    assert not np.any(layer.params["bias"])


def test_dense_input_is_not_modified(rng):
    layer = build(Dense(3, activation="relu"), (4,))
    x = rng.standard_normal((5, 4))
    before = x.copy()
    layer.forward(x, training=True)
    layer.backward(np.ones((5, 3)))
    np.testing.assert_array_equal(x, before)


def test_dense_acts_on_the_last_axis_of_any_rank(rng):
    """As Keras's Dense: (N, ..., in) -> (N, ..., units), every vector along the last axis alike."""
    layer = build(Dense(3, activation="tanh", name="dense_x"), (4, 5, 2))
    assert layer.output_shape == (4, 5, 3)
    x = rng.standard_normal((2, 4, 5, 2))
    flat = build(Dense(3, activation="tanh"), (2,))
    flat.set_weights(layer.get_weights())
    np.testing.assert_allclose(layer.forward(x), flat.forward(x.reshape(-1, 2)).reshape(2, 4, 5, 3), rtol=1e-12)
    check_gradients(layer, rng.standard_normal((2, 4, 5, 2))).assert_ok()


def test_dense_takes_an_unknown_time_axis(rng):
    layer = build(Dense(3, name="dense_t"), (None, 2))
    assert layer.output_shape == (None, 3)
    assert layer.forward(rng.standard_normal((2, 7, 2))).shape == (2, 7, 3)
    assert layer.forward(rng.standard_normal((2, 3, 2))).shape == (2, 3, 3)
    with pytest.raises(ShapeError, match=r"dense_u.*last input axis"):
        build(Dense(3, name="dense_u"), (2, None))


def test_dense_rejects_wrong_batch_shape(rng):
    layer = build(Dense(3, name="dense_y"), (4,))
    with pytest.raises(ShapeError, match=r"dense_y.*\(2, 5\)"):
        layer.forward(rng.standard_normal((2, 5)))


@pytest.mark.parametrize("units", [0, -1, 2.5, "3"])
def test_dense_rejects_bad_units(units):
    with pytest.raises(ValueError, match="units"):
        Dense(units)


def test_dense_unknown_activation():
    with pytest.raises(UnknownNameError, match=r"activation 'relux'.*relu"):
        Dense(3, activation="relux")


@pytest.mark.parametrize("activation", [None, "relu", "softmax"])
def test_dense_backward_uses_last_training_forward(activation, rng):
    check_layer_state(build(Dense(4, activation=activation), (6,)), rng)


def test_kernel_and_bias_are_variables_following_the_models_storage():
    from minidl import Input, Sequential, ops

    layer = Dense(3)
    model = Sequential([Input(shape=(4,)), layer])
    assert layer.kernel.shape == (4, 3) and layer.bias.shape == (3,)
    model.set_weights([np.full((4, 3), 2.0), np.ones(3)])  # writes the model's flat vector
    np.testing.assert_array_equal(ops.convert_to_numpy(layer.kernel), np.full((4, 3), 2.0))
    layer.bias.assign(np.zeros(3))
    np.testing.assert_array_equal(model.get_weights()[1], np.zeros(3))
