"""MultiHeadAttention and LayerNormalization: gradients, masks, Keras's numbers, and a small transformer block
that learns."""

import importlib.util
import os
import subprocess
import sys

import numpy as np
import pytest

import minidl as keras
from minidl import layers, ops
from minidl.gradcheck import check_gradients, check_op_gradients


@pytest.mark.parametrize("settings", [{}, {"dropout": 0.3}, {"value_dim": 4, "output_shape": 6}])
def test_attention_gradients(settings, rng):
    mha = layers.MultiHeadAttention(2, 3, dtype="float64", **settings)
    query, value = rng.standard_normal((2, 4, 5)), rng.standard_normal((2, 3, 5))
    check_op_gradients(lambda q, v: mha(q, v), query, value).assert_ok()


def test_masked_and_causal_self_attention_gradients(rng):
    mha = layers.MultiHeadAttention(2, 3, dtype="float64")
    mask = rng.random((2, 4, 4)) > 0.3
    x = rng.standard_normal((2, 4, 5))
    check_op_gradients(lambda a: mha(a, a, attention_mask=mask), x).assert_ok()
    check_op_gradients(lambda a: mha(a, a, use_causal_mask=True), x).assert_ok()


def test_a_masked_position_changes_nothing(rng):
    mha = layers.MultiHeadAttention(2, 3)
    query, value = rng.standard_normal((1, 2, 4)), rng.standard_normal((1, 3, 4))
    mask = np.array([[[True, True, False], [True, True, False]]])
    before = mha(query, value, attention_mask=mask)
    value[0, 2] += 100.0  # the hidden position
    np.testing.assert_allclose(mha(query, value, attention_mask=mask), before, rtol=1e-5)


def test_layer_normalization_gradients_and_statistics(rng):
    check_gradients(layers.LayerNormalization(), rng.standard_normal((3, 4, 5))).assert_ok()
    out = layers.LayerNormalization(epsilon=1e-6)(rng.standard_normal((4, 7)) * 3 + 2)
    np.testing.assert_allclose(out.mean(axis=-1), 0, atol=1e-5)
    np.testing.assert_allclose(out.std(axis=-1), 1, atol=1e-3)


KERAS_SCRIPT = """
import json, sys, numpy as np, keras
weights = [np.array(w) for w in json.loads(sys.stdin.read())]
q, v = weights.pop(0), weights.pop(0)
mha = keras.layers.MultiHeadAttention(2, 3)
mha(q, v)
mha.set_weights(weights)
print(json.dumps(keras.ops.convert_to_numpy(mha(q, v)).tolist()))
"""


def test_attention_equals_keras_given_the_same_weights(rng):
    if importlib.util.find_spec("keras") is None or importlib.util.find_spec("torch") is None:
        pytest.skip("real Keras 3 with the torch backend is not installed (the `compat` extra)")
    mha = layers.MultiHeadAttention(2, 3)
    query, value = rng.standard_normal((2, 4, 5)).astype("float32"), rng.standard_normal((2, 3, 5)).astype("float32")
    ours = mha(query, value)
    import json

    payload = json.dumps([query.tolist(), value.tolist(), *[w.tolist() for w in mha.get_weights()]])
    result = subprocess.run(
        [sys.executable, "-c", KERAS_SCRIPT],
        input=payload,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "KERAS_BACKEND": "torch"},
    )
    assert result.returncode == 0, result.stderr[-2000:]
    np.testing.assert_allclose(ours, np.array(json.loads(result.stdout.splitlines()[-1])), rtol=1e-4, atol=1e-5)


def test_a_self_attention_block_learns_which_token_came_first(rng):
    """Sequences of 6 one-hot tokens; the label is whether token 0 appears before token 1 (order matters,
    so a bag of tokens cannot solve it; position embeddings and attention can)."""
    n, steps, vocab = 600, 6, 5
    tokens = np.stack([rng.permutation(vocab + 1)[:steps] % vocab for _ in range(n)])
    first = np.array([list(row).index(0) if 0 in row else steps for row in tokens])
    second = np.array([list(row).index(1) if 1 in row else steps for row in tokens])
    labels = (first < second).astype(int)
    x = np.eye(vocab, dtype="float32")[tokens] + np.eye(steps, vocab, dtype="float32")[None] * 0.5

    keras.utils.set_random_seed(0)
    inputs = keras.Input(shape=(steps, vocab))
    h = layers.Dense(16)(inputs)
    h = layers.LayerNormalization()(layers.add([h, layers.MultiHeadAttention(2, 8)(h, h)]))
    h = ops.mean(layers.Dense(16, activation="relu")(h), axis=1)
    model = keras.Model(inputs, layers.Dense(2, activation="softmax")(h), seed=0)
    model.compile(keras.optimizers.Adam(0.01), "sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x[:500], labels[:500], batch_size=32, epochs=15, verbose=0)
    assert history.history["loss"][-1] < 0.6 * history.history["loss"][0]
    assert model.evaluate(x[500:], labels[500:], verbose=0)[1] > 0.8
