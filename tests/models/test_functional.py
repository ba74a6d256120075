"""Functional models of sequences: masks carried along the graph as Keras carries them (models/functional.py)."""

from __future__ import annotations

import numpy as np
import pytest

import minidl as keras
from minidl import layers, saving
from minidl.errors import ShapeError
from minidl.gradcheck import check_model_gradients


def reviews(rng, n=40, steps=9, vocab=30):
    """Token rows padded with 0 at the front, lengths 3..steps; label: whether token 1 occurs."""
    x = np.zeros((n, steps), dtype="int64")
    for row, length in zip(x, rng.integers(3, steps + 1, n)):
        row[steps - length :] = rng.integers(1, vocab, length)
    return x, (x == 1).any(axis=1).astype("float32")


def functional_lstm(seed=0, dtype="int32"):
    """Embedding(mask_zero) -> LSTM -> Dense(sigmoid) from keras.Input((None,)), as in the brief."""
    x = keras.Input((None,), dtype=dtype)
    h = layers.Embedding(30, 8, mask_zero=True)(x)
    h = layers.LSTM(6)(h)
    out = layers.Dense(1, activation="sigmoid")(h)
    return keras.Model(x, out, seed=seed)


def sequential_lstm(seed=0):
    return keras.Sequential(
        [
            keras.Input((None,)),
            layers.Embedding(30, 8, mask_zero=True),
            layers.LSTM(6),
            layers.Dense(1, activation="sigmoid"),
        ],
        seed=seed,
    )


def test_the_masked_lstm_of_the_brief_builds_and_matches_its_sequential_twin(rng):
    x, y = reviews(rng)
    functional, sequential = functional_lstm(), sequential_lstm()
    assert functional.output_shape == (1,) and np.dtype(functional.dtype) == np.float32
    assert [w.shape for w in functional.get_weights()] == [w.shape for w in sequential.get_weights()]
    sequential.set_weights(functional.get_weights())
    np.testing.assert_allclose(functional.predict(x, verbose=0), sequential.predict(x, verbose=0), rtol=1e-6)
    histories = []
    for model in (functional, sequential):
        model.compile(keras.optimizers.Adam(0.01), "binary_crossentropy", metrics=["accuracy"])
        histories.append(model.fit(x, y, batch_size=8, epochs=3, verbose=0).history)
    np.testing.assert_allclose(histories[0]["loss"], histories[1]["loss"], rtol=1e-5)
    for ours, theirs in zip(functional.get_weights(), sequential.get_weights(), strict=True):
        np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-6)
    assert histories[0]["loss"][-1] < histories[0]["loss"][0]


@pytest.mark.parametrize("padding", ["pre", "post"])
def test_padding_changes_nothing_when_masked(padding):
    model = functional_lstm(seed=3)
    short = np.array([[3, 1, 4, 1, 5]])
    padded = np.array([[0, 0, 0, 3, 1, 4, 1, 5]] if padding == "pre" else [[3, 1, 4, 1, 5, 0, 0, 0]])
    np.testing.assert_allclose(model.predict(padded, verbose=0), model.predict(short, verbose=0), rtol=1e-6)


def test_without_the_mask_padding_does_change_the_output():
    """The padding test above can fail: the same graph with mask_zero=False sees the padded steps."""
    x = keras.Input((None,), dtype="int32")
    out = layers.Dense(1)(layers.LSTM(6)(layers.Embedding(30, 8)(x)))
    model = keras.Model(x, out, seed=3)
    short, padded = np.array([[3, 1, 4, 1, 5]]), np.array([[0, 0, 0, 3, 1, 4, 1, 5]])
    assert not np.allclose(model.predict(padded, verbose=0), model.predict(short, verbose=0), rtol=1e-3)


def test_the_mask_goes_through_layers_that_pass_it_and_stops_where_keras_stops_it(rng):
    """Dropout and Dense pass the mask on; return_sequences keeps it for the pooling; the pooling ends it."""
    x = keras.Input((None,))
    h = layers.Embedding(30, 4, mask_zero=True)(x)
    h = layers.Dropout(0.2)(h)
    h = layers.Dense(5, activation="tanh")(h)
    h = layers.Bidirectional(layers.GRU(3, return_sequences=True))(h)
    out = layers.Dense(2, activation="softmax")(layers.GlobalAveragePooling1D()(h))
    model = keras.Model(x, out, seed=1)
    short = np.array([[4, 2, 7]])
    padded = np.array([[4, 2, 7, 0, 0, 0]])
    np.testing.assert_allclose(model.predict(padded, verbose=0), model.predict(short, verbose=0), rtol=1e-6)


def test_a_masked_functional_model_has_exact_gradients():
    x = keras.Input((5,), dtype="float64")
    h = layers.Embedding(6, 4, mask_zero=True)(x)
    h = layers.Bidirectional(layers.LSTM(3, return_sequences=True))(h)
    out = layers.Dense(3, activation="softmax")(layers.GlobalAveragePooling1D()(h))
    model = keras.Model(x, out, seed=1)
    tokens = np.array([[0, 0, 3, 1, 4], [2, 5, 1, 0, 0], [1, 2, 3, 4, 5]]) + 0.5
    check_model_gradients(model, tokens, np.array([0, 2, 1]), loss="sparse_categorical_crossentropy").assert_ok()


def test_save_and_load_keep_the_mask_and_the_numbers(rng, tmp_path):
    x, y = reviews(rng, n=16)
    model = functional_lstm(seed=5)
    model.compile("adam", "binary_crossentropy")
    model.fit(x, y, epochs=1, verbose=0)
    model.save(tmp_path / "text.keras")
    loaded = saving.load_model(tmp_path / "text.keras")
    assert type(loaded).__name__ == "Functional"
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    np.testing.assert_allclose(
        loaded.predict(x[:1, -4:], verbose=0), loaded.predict(np.pad(x[:1, -4:], ((0, 0), (3, 0))), verbose=0)
    )


def test_an_explicit_mask_and_an_initial_state_go_through_the_graph(rng):
    """`layer(h, mask=m)` with a symbolic mask, and Keras's encoder-decoder `initial_state=[h, c]`."""
    tokens, steps = keras.Input((None,)), keras.Input((4, 2))
    embedded = layers.Embedding(9, 3)(tokens)
    mask = keras.ops.not_equal(tokens, 0)
    _, h, c = layers.LSTM(5, return_state=True)(embedded, mask=mask)
    decoded = layers.LSTM(5, return_sequences=True)(steps, initial_state=[h, c])
    model = keras.Model([tokens, steps], layers.Dense(1)(decoded), seed=2)
    a = np.array([[0, 0, 3, 4, 1], [2, 2, 1, 5, 6]], dtype="float32")
    b = rng.standard_normal((2, 4, 2)).astype("float32")
    out = model.predict([a, b], verbose=0)
    np.testing.assert_allclose(model.predict([a[:1, 2:], b[:1]], verbose=0), out[:1], rtol=1e-6)
    check_model_gradients(model, (a + 0.5, b), rng.standard_normal((2, 4, 1)), loss="mse").assert_ok()


def test_layers_that_cannot_take_unknown_sizes_say_so_in_a_graph():
    x = keras.Input((None, 3))
    with pytest.raises(ShapeError, match=r"flatten.*needs every input dimension known.*\(None, 3\)"):
        layers.Flatten(name="flatten")(x)
    with pytest.raises(TypeError, match=r"'dense_x' \(Dense\) takes no argument 'initial_state'"):
        layers.Dense(2, name="dense_x")(np.ones((1, 3)), initial_state=[np.ones((1, 2))])


class Subclassed(keras.Model):
    def __init__(self, explicit, **kwargs):
        super().__init__(**kwargs)
        self.explicit = explicit
        self.embedding = layers.Embedding(30, 8, mask_zero=True)
        self.lstm = layers.LSTM(6)
        self.dense = layers.Dense(1, activation="sigmoid")

    def call(self, x, training=None):
        h = self.embedding(x)
        mask = self.embedding.compute_mask(x, None) if self.explicit else None
        return self.dense(self.lstm(h, mask=mask))


@pytest.mark.parametrize("explicit", [True, False])
def test_a_subclassed_model_passes_masks_as_keras_does(explicit, rng):
    """Given as `mask=`, or carried by the Embedding's output to the LSTM as Keras's `_keras_mask` is."""
    x, y = reviews(rng, n=16)
    sequential = sequential_lstm()
    model = Subclassed(explicit=explicit, seed=0)
    model.build((None, 9))
    model.set_weights(sequential.get_weights())
    np.testing.assert_allclose(model.predict(x, verbose=0), sequential.predict(x, verbose=0), rtol=1e-6)
    for each in (model, sequential):
        each.compile(keras.optimizers.SGD(0.1), "binary_crossentropy")
    losses = [
        each.fit(x, y, batch_size=8, epochs=2, verbose=0, shuffle=False).history["loss"] for each in (model, sequential)
    ]
    np.testing.assert_allclose(losses[0], losses[1], rtol=1e-5)


def test_layers_called_one_by_one_carry_the_mask(rng):
    embedding, lstm = layers.Embedding(9, 3, mask_zero=True), layers.LSTM(4)
    padded = np.array([[3, 1, 4, 0, 0], [2, 0, 0, 0, 0]])
    out = lstm(embedding(padded))
    np.testing.assert_array_equal(out, lstm(embedding(padded), mask=padded != 0))
    assert not np.allclose(out, lstm(embedding(padded) + 0), rtol=1e-3)  # a new array: it carries no mask


class ScaledSum(keras.layers.Layer):
    """A custom layer whose call takes two tensors, as keras.io's endpoint layers do: x * w + y."""

    def build(self, input_shape):
        self.w = self.add_weight(shape=(input_shape[-1],), initializer="random_normal", name="w")

    def call(self, x, y):
        return x * self.w + y


def test_a_custom_layer_called_on_two_tensors_builds_and_trains_both_branches(rng):
    """`layer(a, b)`: the call's second tensor is part of the graph (its branch gets gradients) and the
    output shape is found by running `call` on both; eager calls on arrays build the same way."""
    a, b = keras.Input((3,), name="a"), keras.Input((4,), name="b")
    out = ScaledSum(name="scaled")(a, layers.Dense(3, name="dense")(b))
    model = keras.Model([a, b], out, seed=2)
    assert model.output_shape == (3,)  # minidl's shapes leave out the batch axis
    assert model.connections()[id(model.get_layer("scaled"))] == ["a[0][0]", "dense[0][0]"]
    xa, xb = rng.standard_normal((5, 3)), rng.standard_normal((5, 4))
    check_model_gradients(model, (xa, xb), rng.standard_normal((5, 3)), loss="mse").assert_ok()
    layer, dense = model.get_layer("scaled"), model.get_layer("dense")
    expected = xa * layer.get_weights()[0] + xb @ dense.get_weights()[0] + dense.get_weights()[1]
    np.testing.assert_allclose(model.predict([xa, xb], verbose=0), expected, rtol=1e-5, atol=1e-6)
    eager = ScaledSum()
    assert eager(np.ones((2, 3)), np.zeros((2, 3))).shape == (2, 3)
