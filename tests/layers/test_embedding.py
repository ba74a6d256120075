"""Embedding: lookup, the gradient of repeated tokens, masks, checks on tokens and arguments, Keras."""

import os

import numpy as np
import pytest

from minidl.errors import ShapeError
from minidl.gradcheck import build_float64 as build
from minidl.gradcheck import check_gradients
from minidl.layers import Embedding


def test_lookup_of_any_shape_and_float_tokens(rng):
    layer = build(Embedding(10, 3), (None,))
    tokens = np.array([[1, 4, 4, 0], [9, 2, 0, 0]])
    out = layer.forward(tokens.astype(np.float32))
    np.testing.assert_array_equal(out, layer.params["embeddings"][tokens])
    assert layer.output_shape == (None, 3) and out.shape == (2, 4, 3)
    assert build(Embedding(10, 3), (2, 3)).forward(np.ones((5, 2, 3))).shape == (5, 2, 3, 3)
    np.testing.assert_array_equal(layer.forward(tokens + 0.7), out)  # truncated, as Keras casts


def test_gradient_adds_up_over_repeated_tokens(rng):
    layer = build(Embedding(6, 2), (5,))
    tokens = np.array([[1, 3, 3, 0, 1], [3, 5, 1, 1, 2]])
    layer.forward(tokens, training=True)
    grad = rng.standard_normal((2, 5, 2))
    assert layer.backward(grad.copy()) is not None  # a standalone layer: dL/dx = 0
    expected = np.zeros((6, 2))
    for n in range(2):
        for t in range(5):
            expected[tokens[n, t]] += grad[n, t]
    np.testing.assert_allclose(layer.grads["embeddings"], expected, rtol=1e-12)
    layer.needs_input_grad = False
    assert layer.backward(grad.copy()) is None
    check_gradients(layer, tokens + 0.5).assert_ok()


def test_mask_zero_masks_padding_and_shifts_nothing():
    layer = build(Embedding(5, 2, mask_zero=True), (4,))
    tokens = np.array([[0, 0, 2, 3], [1, 0, 4, 0]], dtype=np.float32)
    np.testing.assert_array_equal(layer.compute_mask(tokens, None), tokens != 0)
    assert layer.supports_masking
    plain = build(Embedding(5, 2), (4,))
    assert plain.compute_mask(tokens, None) is None and not plain.supports_masking


def test_starting_weights_and_bad_tokens():
    table = np.arange(12.0).reshape(4, 3)
    layer = build(Embedding(4, 3, weights=[table], name="emb_w"), (2,))
    np.testing.assert_array_equal(layer.forward(np.array([[3, 1]])), table[[[3, 1]]])
    with pytest.raises(ValueError, match=r"emb_w.*0\.\.3.*found 1\.\.4"):
        layer.forward(np.array([[1, 4]]))
    with pytest.raises(ValueError, match=r"emb_w.*found -1"):
        layer.forward(np.array([[-1, 2]]))
    with pytest.raises(ShapeError, match="emb_w"):
        layer.forward(np.array([[1, 2, 3]]))


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"input_dim": 0, "output_dim": 3}, ValueError, "Embedding: input_dim"),
        ({"input_dim": 5, "output_dim": 2.5}, ValueError, "Embedding: output_dim"),
        ({"input_dim": 5, "output_dim": 2, "mask_zero": 1}, ValueError, "mask_zero"),
        ({"input_dim": 5, "output_dim": 2, "embeddings_regularizer": "l2"}, NotImplementedError, "regularizer"),
        ({"input_dim": 5, "output_dim": 2, "lora_rank": 4}, NotImplementedError, "lora_rank"),
    ],
)
def test_bad_arguments_are_named(kwargs, error, match):
    with pytest.raises(error, match=match):
        Embedding(**kwargs)


def test_config_rebuilds_the_layer():
    layer = Embedding(20, 4, mask_zero=True, name="words")
    assert Embedding(**layer.get_config()).get_config() == layer.get_config()


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_keras_weights_give_keras_vectors(rng):
    os.environ.setdefault("KERAS_BACKEND", "torch")
    keras = pytest.importorskip("keras")
    tokens = rng.integers(0, 8, (3, 5))
    theirs = keras.layers.Embedding(8, 4, mask_zero=True)
    out = keras.ops.convert_to_numpy(theirs(tokens))
    ours = build(Embedding(8, 4, mask_zero=True), (5,))
    ours.set_weights(theirs.get_weights())
    np.testing.assert_allclose(ours.forward(tokens.astype(np.float32)), out, rtol=1e-6)
    np.testing.assert_array_equal(
        ours.compute_mask(tokens.astype(np.float32), None),
        keras.ops.convert_to_numpy(theirs.compute_mask(tokens, None)),
    )


def test_keras_2s_input_length_is_ignored_with_a_warning_as_keras_3_does():
    with pytest.warns(UserWarning, match="Embedding: input_length is a Keras 2 argument that is ignored"):
        layer = Embedding(10, 4, input_length=5)
    assert "input_length" not in layer.get_config()
    assert build(layer, (7,)).forward(np.arange(14.0).reshape(2, 7) % 10).shape == (2, 7, 4)  # any length
