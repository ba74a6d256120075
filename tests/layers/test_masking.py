"""Masks from layer to layer: Masking, which layers pass a mask on, use it or drop it."""

import numpy as np
import pytest

from minidl import Input, Sequential
from minidl.errors import ShapeError
from minidl.gradcheck import build_float64 as build
from minidl.gradcheck import check_gradients
from minidl.layers import (
    LSTM,
    Activation,
    Conv1D,
    Dense,
    Dropout,
    Embedding,
    GlobalAveragePooling1D,
    Masking,
)
from minidl.layers.masking import forward_with_mask, takes_mask


def test_masking_zeroes_and_masks_the_padded_steps(rng):
    layer = build(Masking(mask_value=-1.0), (4, 2))
    x = rng.standard_normal((2, 4, 2))
    x[0, :2] = -1.0
    x[1, 3, 0] = -1.0  # one feature only: still a real step
    out, mask = forward_with_mask(layer, x, True, None)
    np.testing.assert_array_equal(mask, [[False, False, True, True], [True, True, True, True]])
    np.testing.assert_array_equal(out[0, :2], 0)
    np.testing.assert_array_equal(out[1], x[1])
    np.testing.assert_array_equal(layer.backward(np.ones_like(x))[0, :, 0], [0, 0, 1, 1])
    check_gradients(build(Masking(), (4, 2)), rng.standard_normal((2, 4, 2))).assert_ok()
    with pytest.raises(ShapeError, match=r"Masking.*\(timesteps, features\)"):
        build(Masking(), (4,))


def test_which_layers_pass_use_or_drop_a_mask(rng):
    mask = np.array([[True, False, True]])
    x = rng.standard_normal((1, 3, 2))
    for layer in (Dense(2), Dropout(0.5), Activation("relu")):
        layer.build_weights((3, 2), dtype=np.float64)
        assert forward_with_mask(layer, x, False, mask)[1] is mask
    conv = build(Conv1D(2, 1), (3, 2))
    assert forward_with_mask(conv, x, False, mask)[1] is None  # Keras's Conv1D drops it too
    assert takes_mask(LSTM) and takes_mask(GlobalAveragePooling1D) and not takes_mask(Dense)
    assert build(LSTM(2), (3, 2)).compute_mask(x, mask) is None
    assert build(LSTM(2, return_sequences=True), (3, 2)).compute_mask(x, mask) is mask


def test_a_model_passes_the_mask_within_one_forward_pass(rng):
    model = Sequential(
        [Input(shape=(None,)), Embedding(7, 3, mask_zero=True), Dense(4, activation="tanh"), GlobalAveragePooling1D()],
        seed=0,
    )
    tokens = np.array([[0, 0, 2, 5], [1, 3, 0, 0]])
    out = model.predict(tokens, verbose=0)
    embedding, dense = model.layers[0], model.layers[1]
    vectors = dense.forward(embedding.forward(tokens))
    np.testing.assert_allclose(out, [vectors[0, 2:].mean(axis=0), vectors[1, :2].mean(axis=0)], rtol=1e-6)
    assert model.predict(tokens[:, 2:], verbose=0).shape == (2, 4)  # another length, no mask left over
