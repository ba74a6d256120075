"""minidl/ops/symbolic.py and operation.py: symbolic tensors, the nodes an op records on them, and the
stand-ins that find an output's shape."""

import numpy as np
import pytest

import minidl as keras
from minidl import ops
from minidl.ops.operation import unbroadcast
from minidl.ops.symbolic import KerasTensor, flatten, shape_from_stand_in, stand_in, substitute


def test_an_op_on_a_symbolic_tensor_records_a_node_with_unknown_sizes_kept_unknown():
    x = keras.Input((None, 4))
    y = ops.mean(ops.matmul(x, np.ones((4, 3))), axis=-1, keepdims=True)
    assert y.shape == (None, None, 1)
    assert isinstance(y.node.operation, ops.Op) and y.node.inputs[0].node.operation is not None
    assert [t.shape for t in y.node.inputs] == [(None, None, 3)]


def test_an_op_on_two_symbolic_tensors_lists_both_as_inputs():
    a, b = keras.Input((3,), name="a"), keras.Input((3,), name="b")
    total = a + 2.0 * b
    assert [t.shape for t in total.node.inputs] == [(None, 3), (None, 3)]
    model = keras.Model([a, b], total)
    np.testing.assert_allclose(model.predict([np.ones((2, 3)), np.full((2, 3), 4.0)], verbose=0), 9.0)


def test_a_symbolic_tensor_has_no_values_and_no_truth_value():
    x = keras.Input((3,), name="pixels")
    with pytest.raises(TypeError, match=r"symbolic tensor .* has no values: call layers and minidl.ops on it"):
        np.asarray(x)
    with pytest.raises(TypeError, match="a symbolic tensor has no truth value"):
        bool(x)


def test_stand_ins_read_back_as_the_unknown_sizes_they_stood_for():
    t = KerasTensor((None, 5, None))
    zeros = stand_in(t)
    assert zeros.shape == (7, 5, 11) and not zeros.any()
    assert shape_from_stand_in(zeros.shape) == (None, 5, None)
    assert shape_from_stand_in((7, 7), batch_unknown=False) == (7, 7)  # a known batch of 7 stays 7


def test_flatten_and_substitute_walk_lists_tuples_and_dicts():
    a, b = KerasTensor((None, 1)), KerasTensor((None, 2))
    structure = {"y": [a, (b, 3)], "x": "keep"}
    assert flatten(structure) == ["keep", a, b, 3]  # dict values by key order
    assert substitute(structure, {id(a): "A", id(b): "B"}) == {"y": ["A", ("B", 3)], "x": "keep"}


def test_unbroadcast_sums_over_the_axes_numpy_broadcast():
    grad = np.arange(24.0).reshape(2, 3, 4)
    np.testing.assert_array_equal(unbroadcast(grad, (4,)), grad.sum(axis=(0, 1)))
    np.testing.assert_array_equal(unbroadcast(grad, (3, 1)), grad.sum(axis=0).sum(axis=1, keepdims=True))
    assert unbroadcast(grad, (2, 3, 4)) is grad
