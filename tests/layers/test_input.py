"""minidl/layers/input.py: `keras.Input` and its InputLayer — the shapes it accepts and refuses, what
it gives, and how a Sequential model takes its input shape from it."""

import numpy as np
import pytest

import minidl as keras
from minidl.layers.input import InputLayer, is_input


@pytest.mark.parametrize(
    "arguments, shape",
    [
        ({"shape": (28, 28, 1)}, (None, 28, 28, 1)),
        ({"shape": 784}, (None, 784)),  # one int: one axis
        ({"shape": (None, 8)}, (None, None, 8)),  # sequences of any length
        ({"batch_shape": (32, 5)}, (None, 5)),  # Keras's batch_shape: the batch axis is left out
    ],
)
def test_input_gives_a_symbolic_tensor_with_the_batch_axis_unknown(arguments, shape):
    tensor = keras.Input(**arguments, name="pixels")
    assert tensor.shape == shape and tensor.dtype == "float32" and is_input(tensor)
    assert isinstance(tensor.node.operation, InputLayer) and tensor.node.operation.name == "pixels"
    assert not is_input(keras.layers.Dense(2)(keras.Input((3,))))


def test_the_dtype_is_kept_and_the_layer_passes_values_and_gradients_through():
    tensor = keras.Input((3,), dtype="float64")
    layer = tensor.node.operation
    assert tensor.dtype == "float64" and layer.get_config()["shape"] == [3]
    x = np.arange(6.0).reshape(2, 3)
    assert layer.forward(x) is x and layer.backward(x) is x


def test_a_sequential_model_takes_its_input_shape_from_it():
    model = keras.Sequential([keras.Input((4, 2)), keras.layers.Flatten(), keras.layers.Dense(3)])
    assert model.input_shape == (4, 2) and model.output_shape == (3,)


@pytest.mark.parametrize(
    "arguments, error, message",
    [
        ({}, ValueError, r"Input: give shape=\(...\) without the batch axis"),
        ({"shape": ()}, ValueError, "at least one dimension"),
        ({"shape": (0, 3)}, ValueError, "Input: shape dimension"),
        ({"shape": (3,), "sparse": True}, NotImplementedError, "sparse=True"),
        ({"shape": (3,), "tensor": np.zeros((1, 3))}, NotImplementedError, "tensor="),
    ],
)
def test_bad_shapes_and_backend_options_are_refused_in_one_line(arguments, error, message):
    with pytest.raises(error, match=message) as caught:
        keras.Input(**arguments)
    assert "\n" not in str(caught.value)
