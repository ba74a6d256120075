"""Flatten, Reshape, Permute, RepeatVector: gradient checks, orders, the loop reference, Keras, errors, saving."""

import numpy as np
import pytest

from minidl import reference
from minidl.errors import ShapeError
from minidl.gradcheck import build_float64 as build
from minidl.gradcheck import check_gradients, check_layer_state
from minidl.layers import Flatten, Permute, RepeatVector, Reshape


@pytest.mark.parametrize("shape", [(3, 4, 2), (5,), (2, 3)])
def test_flatten_gradients(shape, rng):
    layer = build(Flatten(), shape)
    check_gradients(layer, rng.standard_normal((2, *shape))).assert_ok()


def test_flatten_keeps_channels_last_order():
    layer = build(Flatten(), (2, 2, 3))
    x = np.arange(24, dtype=np.float64).reshape(2, 2, 2, 3)
    out = layer.forward(x)
    assert layer.output_shape == (12,)
    np.testing.assert_array_equal(out[1], np.arange(12, 24))
    np.testing.assert_array_equal(out.reshape(2, 2, 2, 3), x)


def test_flatten_backward_restores_shape(rng):
    layer = build(Flatten(), (4, 5, 1))
    layer.forward(rng.standard_normal((3, 4, 5, 1)), training=True)
    grad = rng.standard_normal((3, 20))
    dx = layer.backward(grad.copy())
    assert dx.shape == (3, 4, 5, 1)
    np.testing.assert_array_equal(dx.reshape(3, 20), grad)


def test_flatten_rejects_wrong_input(rng):
    layer = build(Flatten(name="flat_z"), (4, 4, 1))
    with pytest.raises(ShapeError, match=r"flat_z.*\(2, 4, 4\)"):
        layer.forward(rng.standard_normal((2, 4, 4)))


def test_flatten_backward_uses_last_training_forward(rng):
    check_layer_state(build(Flatten(), (3, 2, 2)), rng)


# ----- Reshape, Permute, RepeatVector -----
@pytest.mark.parametrize(
    "make, shape, expected",
    [
        (lambda: Reshape((6, 4)), (3, 4, 2), (6, 4)),
        (lambda: Reshape((-1, 2)), (3, 4, 2), (12, 2)),
        (lambda: Reshape([24]), (3, 4, 2), (24,)),
        (lambda: Permute((2, 1)), (3, 5), (5, 3)),
        (lambda: Permute((3, 1, 2)), (3, 4, 2), (2, 3, 4)),
        (lambda: RepeatVector(3), (5,), (3, 5)),
    ],
)
def test_rearranging_layers(make, shape, expected, rng):
    layer = build(make(), shape)
    assert layer.output_shape == expected
    x = rng.standard_normal((2, *shape))
    check_gradients(layer, x).assert_ok()
    y = layer.forward(x, training=True)
    g = rng.standard_normal(y.shape)
    dx = layer.backward(g)
    if isinstance(layer, Reshape):
        pair = reference.reshape_forward(x, expected), reference.reshape_backward(x, g)
    elif isinstance(layer, Permute):
        pair = reference.permute_forward(x, layer.dims), reference.permute_backward(x, g, layer.dims)
    else:
        pair = reference.repeat_vector_forward(x, layer.n), reference.repeat_vector_backward(g)
    np.testing.assert_array_equal(y, pair[0])
    np.testing.assert_allclose(dx, pair[1], atol=1e-12)


@pytest.mark.parametrize(
    "make, error, match",
    [
        (lambda: Reshape((2, -1, -1)), ValueError, "at most one -1"),
        (lambda: Reshape((0, 4)), ValueError, "positive sizes"),
        (lambda: Reshape("a"), ValueError, "Reshape: target_shape"),
        (lambda: build(Reshape((5, 5)), (3, 4, 2)), ShapeError, r"\(24 numbers\) cannot take the shape \(5, 5\)"),
        (lambda: build(Reshape((-1, 5)), (3, 4, 2)), ShapeError, "cannot take"),
        (lambda: Permute((1, 3)), ValueError, "permutation of 1..2"),
        (lambda: Permute((0, 1)), ValueError, "permutation"),
        (lambda: build(Permute((2, 1)), (3, 4, 2)), ShapeError, "rank 2"),
        (lambda: RepeatVector(0), ValueError, "RepeatVector: n"),
        (lambda: build(RepeatVector(2), (3, 4)), ShapeError, "needs vectors"),
    ],
)
def test_rearranging_layers_refuse_bad_arguments(make, error, match):
    with pytest.raises(error, match=match):
        make()


@pytest.mark.parametrize(
    "name, args, shape",
    [("Reshape", ((-1, 6),), (5, 4, 3)), ("Permute", ((3, 1, 2),), (5, 4, 3)), ("RepeatVector", (4,), (7,))],
)
def test_rearranging_layers_equal_real_keras(name, args, shape):
    from keras_twins import twin_outputs

    theirs, ours = twin_outputs(name, args, {}, np.random.default_rng(0).standard_normal((2, *shape)))
    np.testing.assert_array_equal(ours, theirs)


def test_rearranging_layers_save_and_load(rng, tmp_path):
    from suite_helpers import assert_round_trip

    from minidl import Sequential

    model = Sequential(
        [Reshape((6, 4), input_shape=(3, 4, 2)), Permute((2, 1)), Flatten(), RepeatVector(2), Reshape((-1,))]
    )
    assert_round_trip(model, rng.standard_normal((2, 3, 4, 2)).astype(np.float32), tmp_path)
