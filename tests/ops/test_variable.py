"""minidl/ops/variable.py: a layer's weight seen as a Variable, a leaf whose gradient lands in `grads`."""

import numpy as np

import minidl as keras
from minidl.ops.tape import Tape, Tensor, recording


def test_a_layers_variable_reads_the_live_weight_and_collects_its_gradient():
    class Scale(keras.layers.Layer):
        def build(self, input_shape):
            self.scale = self.add_weight(shape=(input_shape[-1],), initializer="ones", name="scale")

        def call(self, x):
            return x * self.scale

    layer = Scale()
    layer(np.ones((1, 3)))
    layer.params["scale"][...] = [1.0, 2.0, 3.0]  # the model rebinds and writes the arrays: seen at once
    np.testing.assert_array_equal(layer.scale.numpy(), [1.0, 2.0, 3.0])
    tape, x = Tape(), Tensor(np.array([[1.0, 1.0, 1.0], [2.0, 0.0, -1.0]]), requires_grad=False)
    layer.grads["scale"][...] = 0
    with recording(tape):
        y = layer(x)
    found = tape.backward([y], [np.ones((2, 3))])
    np.testing.assert_array_equal(layer.grads["scale"], [3.0, 1.0, 0.0])  # Σ over the batch of x
    assert id(layer.scale) not in found  # a leaf: the gradient went to the layer, not the result


def test_a_free_variable_holds_its_own_array_and_assigns_in_place():
    v = keras.Variable(np.array([1.0, 2.0]), name="v")
    storage = v.value
    v.assign([5.0, 6.0])
    v.assign_add(np.array([1.0, 1.0]))
    v.assign_sub(Tensor(np.array([0.5, 0.5])))
    assert v.value is storage
    np.testing.assert_array_equal(v.numpy(), [5.5, 6.5])
    assert v.path == "v" and not v.collects_gradient
