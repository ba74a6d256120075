"""Merge layers: each one's forward values, as a layer and as Keras's function, in a graph and on arrays.
(Their gradients are in `python -m minidl.gradcheck`, tests/gradcheck.)"""

from __future__ import annotations

import numpy as np
import pytest

import minidl as keras
from minidl import layers
from minidl.errors import ShapeError

A = np.array([[1.0, -2.0, 3.0], [0.5, 4.0, -1.0]], dtype="float32")
B = np.array([[2.0, 1.0, -3.0], [0.5, -4.0, 2.0]], dtype="float32")
C = np.array([[0.0, 3.0, 1.0], [-1.0, 1.0, 5.0]], dtype="float32")
EXPECTED = {
    "add": (layers.Add, layers.add, [A, B, C], A + B + C),
    "subtract": (layers.Subtract, layers.subtract, [A, B], A - B),
    "multiply": (layers.Multiply, layers.multiply, [A, B, C], A * B * C),
    "average": (layers.Average, layers.average, [A, B, C], (A + B + C) / 3),
    "maximum": (layers.Maximum, layers.maximum, [A, B, C], np.maximum(np.maximum(A, B), C)),
    "minimum": (layers.Minimum, layers.minimum, [A, B, C], np.minimum(np.minimum(A, B), C)),
    "concatenate": (layers.Concatenate, layers.concatenate, [A, B], np.concatenate([A, B], axis=-1)),
}


@pytest.mark.parametrize("name", EXPECTED)
def test_each_merge_layer_and_function_computes_its_equation(name):
    cls, function, arrays, expected = EXPECTED[name]
    np.testing.assert_allclose(cls()(arrays), expected, rtol=1e-6)
    inputs = [keras.Input((3,)) for _ in arrays]
    model = keras.Model(inputs, function(inputs))
    assert model.output_shape == (expected.shape[-1],)  # minidl leaves out the batch axis (keras-compatibility.md)
    np.testing.assert_allclose(model.predict(arrays, verbose=0), expected, rtol=1e-6)


def test_subtract_takes_exactly_two_inputs_and_merges_need_equal_shapes():
    with pytest.raises(ShapeError, match=r"\(Subtract\) takes exactly 2 inputs"):
        layers.Subtract()([A, B, C])
    with pytest.raises(ShapeError, match=r"needs inputs of one shape, got \[\(3,\), \(4,\)\]"):
        layers.Add()([keras.Input((3,)), keras.Input((4,))])
