"""SimpleRNN, LSTM, GRU, RNN over cells and Bidirectional: the equations, BPTT, masks, states, dropout.

Three kinds of evidence: a float64 gradient check of every setting (backpropagation through time
against central differences), an independent step-by-step loop written here from Keras's equations,
and — when Keras 3 is installed — real Keras (torch backend) given the same weights.
"""

import os

import numpy as np
import pytest

from minidl import Input, Sequential
from minidl.errors import ShapeError
from minidl.gradcheck import build_float64 as build
from minidl.gradcheck import check_gradients, check_layer_state, check_model_gradients
from minidl.layers import (
    GRU,
    LSTM,
    RNN,
    Bidirectional,
    Dense,
    Embedding,
    GlobalAveragePooling1D,
    GRUCell,
    LSTMCell,
    SimpleRNN,
    SimpleRNNCell,
)
from minidl.layers.context import TrainingContext


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def naive_run(layer, x, mask=None):
    """Keras's recurrence written out step by step, from the layer's weights (Keras's layout)."""
    cell = layer.cell
    w, u = cell.params["kernel"], cell.params["recurrent_kernel"]
    b = cell.params.get("bias", np.zeros(w.shape[1]))
    n, steps, _ = x.shape
    units = cell.units
    h, c, outputs = np.zeros((n, units)), np.zeros((n, units)), []
    order = range(steps - 1, -1, -1) if layer.go_backwards else range(steps)
    for t in order:
        if isinstance(cell, LSTMCell):
            z = x[:, t] @ w + h @ u + b
            i, f, g, o = (
                sigmoid(z[:, :units]),
                sigmoid(z[:, units : 2 * units]),
                np.tanh(z[:, 2 * units : 3 * units]),
                sigmoid(z[:, 3 * units :]),
            )
            new_c = f * c + i * g
            new_h = o * np.tanh(new_c)
        elif isinstance(cell, GRUCell):
            b_in, b_rec = (b[0], b[1]) if cell.reset_after else (b, np.zeros_like(b))
            xz = x[:, t] @ w + b_in
            if cell.reset_after:
                rec = h @ u + b_rec
                z_, r = (
                    sigmoid(xz[:, :units] + rec[:, :units]),
                    sigmoid(xz[:, units : 2 * units] + rec[:, units : 2 * units]),
                )
                hh = np.tanh(xz[:, 2 * units :] + r * rec[:, 2 * units :])
            else:
                z_ = sigmoid(xz[:, :units] + h @ u[:, :units])
                r = sigmoid(xz[:, units : 2 * units] + h @ u[:, units : 2 * units])
                hh = np.tanh(xz[:, 2 * units :] + (r * h) @ u[:, 2 * units :])
            new_h, new_c = z_ * h + (1 - z_) * hh, c
        else:
            new_h, new_c = np.tanh(x[:, t] @ w + h @ u + b), c
        if mask is not None:
            keep = mask[:, t : t + 1]
            new_h, new_c = np.where(keep, new_h, h), np.where(keep, new_c, c)
        h, c = new_h, new_c
        outputs.append(h)
    return np.stack(outputs, axis=1), h, c


LAYERS = {
    "SimpleRNN": lambda **kw: SimpleRNN(4, **kw),
    "LSTM": lambda **kw: LSTM(4, **kw),
    "GRU": lambda **kw: GRU(4, **kw),
    "GRU reset before": lambda **kw: GRU(4, reset_after=False, **kw),
}


def with_random_biases(layer, rng):
    for name, value in layer.params.items():
        if name.endswith("bias"):
            value[...] = rng.standard_normal(value.shape) * 0.3
    return layer


@pytest.mark.parametrize("name", LAYERS)
@pytest.mark.parametrize("sequences", [False, True])
@pytest.mark.parametrize("backwards", [False, True])
def test_matches_the_equations_written_out_step_by_step(name, sequences, backwards, rng):
    layer = with_random_biases(build(LAYERS[name](return_sequences=sequences, go_backwards=backwards), (6, 3)), rng)
    x = rng.standard_normal((4, 6, 3))
    outputs, last, _ = naive_run(layer, x)
    expected = outputs if sequences else last
    np.testing.assert_allclose(layer.forward(x), expected, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", LAYERS)
def test_masked_steps_carry_the_states_over(name, rng):
    layer = with_random_biases(build(LAYERS[name](return_sequences=True), (6, 3)), rng)
    x = rng.standard_normal((3, 6, 3))
    mask = np.array([[0, 0, 1, 1, 1, 1], [1, 1, 1, 0, 0, 0], [1, 0, 1, 1, 0, 1]], dtype=bool)
    outputs, _, _ = naive_run(layer, x, mask)
    np.testing.assert_allclose(layer.forward(x, mask=mask), outputs, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", LAYERS)
@pytest.mark.parametrize(
    "options",
    [{}, {"return_sequences": True}, {"go_backwards": True}, {"return_sequences": True, "go_backwards": True}],
)
def test_backpropagation_through_time_gradients(name, options, rng):
    layer = with_random_biases(build(LAYERS[name](**options), (5, 3)), rng)
    check_gradients(layer, rng.standard_normal((2, 5, 3))).assert_ok()


@pytest.mark.parametrize("name", LAYERS)
def test_gradients_with_dropout_and_recurrent_dropout(name, rng):
    layer = build(LAYERS[name](return_sequences=True, dropout=0.4, recurrent_dropout=0.3, seed=5), (5, 3))
    check_gradients(layer, rng.standard_normal((3, 5, 3))).assert_ok()


@pytest.mark.parametrize(
    "activations",
    [{"activation": "relu"}, {"activation": "sigmoid", "recurrent_activation": "tanh"}, {"use_bias": False}],
)
def test_other_activations_and_no_bias(activations, rng):
    for kind in (LSTM, GRU) if "recurrent_activation" in activations else (LSTM, GRU, SimpleRNN):
        layer = build(kind(3, return_sequences=True, **activations), (4, 2))
        check_gradients(layer, rng.standard_normal((2, 4, 2))).assert_ok()


@pytest.mark.parametrize("name", LAYERS)
def test_backward_uses_the_last_training_pass(name, rng):
    check_layer_state(build(LAYERS[name](return_sequences=True), (5, 3)), rng)
    # With dropout: masks fixed by the training context, inference passes in between change nothing.
    layer = build(LAYERS[name](return_sequences=True, dropout=0.3, recurrent_dropout=0.3), (5, 3))
    x, grad, context = rng.standard_normal((4, 5, 3)), rng.standard_normal((4, 5, 4)), TrainingContext(2, np.arange(4))
    layer.forward(x, context)
    first = layer.backward(grad.copy()), {key: g.copy() for key, g in layer.grads.items()}
    layer.forward(x, context)
    layer.forward(rng.standard_normal((2, 5, 3)), training=False)
    np.testing.assert_array_equal(layer.backward(grad.copy()), first[0])
    for key, g in layer.grads.items():
        np.testing.assert_array_equal(g, first[1][key])


@pytest.mark.parametrize("cell", [SimpleRNNCell(3), LSTMCell(3), GRUCell(3), GRUCell(3, reset_after=False)])
def test_rnn_over_a_cell_is_the_named_layer(cell, rng):
    named = {SimpleRNNCell: SimpleRNN, LSTMCell: LSTM, GRUCell: GRU}[type(cell)]
    options = {"reset_after": cell.reset_after} if isinstance(cell, GRUCell) else {}
    layer, twin = (
        build(RNN(cell, return_sequences=True), (5, 2)),
        build(named(3, return_sequences=True, **options), (5, 2)),
    )
    twin.set_weights(layer.get_weights())
    x = rng.standard_normal((2, 5, 2))
    np.testing.assert_array_equal(layer.forward(x), twin.forward(x))
    check_gradients(layer, x).assert_ok()


def test_a_cell_called_on_one_step_as_in_keras(rng):
    cell = build(LSTMCell(3), (2,))
    x, h, c = rng.standard_normal((4, 2)), rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    output, (h1, c1) = cell(x, [h, c])
    z = x @ cell.params["kernel"] + h @ cell.params["recurrent_kernel"] + cell.params["bias"]
    i, f, g, o = sigmoid(z[:, :3]), sigmoid(z[:, 3:6]), np.tanh(z[:, 6:9]), sigmoid(z[:, 9:])
    np.testing.assert_allclose(c1, f * c + i * g, rtol=1e-12)
    np.testing.assert_allclose(output, o * np.tanh(f * c + i * g), rtol=1e-12)
    np.testing.assert_array_equal(output, h1)
    assert cell.state_size == [3, 3] and cell.output_size == 3


def test_weights_in_keras_layout_and_unit_forget_bias():
    lstm, gru = build(LSTM(5), (7, 3)), build(GRU(5), (7, 3))
    assert [w.shape for w in lstm.get_weights()] == [(3, 20), (5, 20), (20,)]
    assert [w.shape for w in gru.get_weights()] == [(3, 15), (5, 15), (2, 15)]
    assert [w.shape for w in build(GRU(5, reset_after=False), (7, 3)).get_weights()] == [(3, 15), (5, 15), (15,)]
    np.testing.assert_array_equal(lstm.params["bias"], np.r_[np.zeros(5), np.ones(5), np.zeros(10)])
    assert not build(LSTM(5, unit_forget_bias=False), (7, 3)).params["bias"].any()
    recurrent = lstm.params["recurrent_kernel"]  # orthogonal rows, Keras's default
    np.testing.assert_allclose(recurrent @ recurrent.T, np.eye(5), atol=1e-12)


def test_return_state_gives_the_final_states_and_their_gradients(rng):
    layer = build(LSTM(3, return_sequences=True, return_state=True), (4, 2))
    x = rng.standard_normal((2, 4, 2))
    outputs, h, c = layer.forward(x, training=True)
    np.testing.assert_array_equal(outputs[:, -1], h)
    assert layer.compute_output_shape((4, 2)) == [(4, 3), (3,), (3,)]
    # L = Σ G_y ⊙ y + Σ G_h ⊙ h + Σ G_c ⊙ c: the analytic input gradient against central differences.
    g = [rng.standard_normal(a.shape) for a in (outputs, h, c)]
    dx = layer.backward([a.copy() for a in g])

    def loss(inputs):
        return sum(float(np.sum(a * b)) for a, b in zip(layer.forward(inputs), g))

    numeric = np.zeros_like(x)
    for index in np.ndindex(x.shape):
        step = np.zeros_like(x)
        step[index] = 1e-6
        numeric[index] = (loss(x + step) - loss(x - step)) / 2e-6
    np.testing.assert_allclose(dx, numeric, rtol=1e-6, atol=1e-8)


def test_initial_state_and_its_gradient(rng):
    layer = build(GRU(3), (4, 2))
    x, h0 = rng.standard_normal((2, 4, 2)), rng.standard_normal((2, 3))
    g = rng.standard_normal((2, 3))
    layer.forward(x, training=True, initial_state=[h0])
    dx, dh0 = layer.backward(g.copy())
    numeric = np.zeros_like(h0)
    for index in np.ndindex(h0.shape):
        step = np.zeros_like(h0)
        step[index] = 1e-6
        up, down = (float(np.sum(layer.forward(x, initial_state=[h0 + s]) * g)) for s in (step, -step))
        numeric[index] = (up - down) / 2e-6
    np.testing.assert_allclose(dh0, numeric, rtol=1e-6, atol=1e-8)
    assert dx.shape == x.shape
    with pytest.raises(ShapeError, match="initial_state"):
        layer.forward(x, initial_state=[h0[:1]])


def test_dropout_masks_do_not_depend_on_how_a_batch_is_split(rng):
    layer = build(LSTM(3, return_sequences=True, dropout=0.5, recurrent_dropout=0.5), (5, 2))
    x = rng.standard_normal((6, 5, 2))
    whole = layer.forward(x, TrainingContext(step=3, positions=np.arange(6), seed=7))
    first = layer.forward(x[:2], TrainingContext(step=3, positions=np.arange(2), seed=7))
    rest = layer.forward(x[2:], TrainingContext(step=3, positions=np.arange(2, 6), seed=7))
    np.testing.assert_array_equal(np.concatenate([first, rest]), whole)
    other_step = layer.forward(x, TrainingContext(step=4, positions=np.arange(6), seed=7))
    assert not np.array_equal(other_step, whole)
    np.testing.assert_array_equal(layer.forward(x), layer.forward(x))  # inference: no dropout


@pytest.mark.parametrize("merge_mode", ["concat", "sum", "ave", "mul"])
@pytest.mark.parametrize("sequences", [False, True])
def test_bidirectional_gradients_and_outputs(merge_mode, sequences, rng):
    layer = build(Bidirectional(GRU(3, return_sequences=sequences), merge_mode=merge_mode), (5, 2))
    x = rng.standard_normal((2, 5, 2))
    forward, _, _ = naive_run(layer.forward_layer, x)
    backward, _, _ = naive_run(layer.backward_layer, x)
    y_f, y_b = (forward, backward[:, ::-1]) if sequences else (forward[:, -1], backward[:, -1])
    expected = {"concat": np.concatenate([y_f, y_b], -1), "sum": y_f + y_b, "ave": (y_f + y_b) / 2, "mul": y_f * y_b}
    np.testing.assert_allclose(layer.forward(x), expected[merge_mode], rtol=1e-10)
    check_gradients(layer, x).assert_ok()
    assert [w.shape for w in layer.get_weights()] == [(2, 9), (3, 9), (2, 9)] * 2


def test_bidirectional_without_merge_and_with_states(rng):
    layer = build(Bidirectional(LSTM(3, return_state=True), merge_mode=None), (4, 2))
    y, y_rev, h, c, h_rev, c_rev = layer.forward(rng.standard_normal((2, 4, 2)))
    np.testing.assert_array_equal(y, h)
    np.testing.assert_array_equal(y_rev, h_rev)
    assert layer.compute_output_shape((4, 2)) == [(3,), (3,), (3,), (3,), (3,), (3,)]
    with pytest.raises(TypeError, match="recurrent layer"):
        Bidirectional(Dense(3))
    with pytest.raises(ValueError, match="merge_mode"):
        Bidirectional(LSTM(3), merge_mode="max")
    with pytest.raises(ValueError, match="go_backwards"):
        Bidirectional(LSTM(3), backward_layer=LSTM(3))


def test_masked_models_have_exact_gradients():
    tokens = np.array([[0, 0, 3, 1, 4], [2, 5, 1, 0, 0], [1, 2, 3, 4, 5]]) + 0.5
    for recurrent in (LSTM(3), SimpleRNN(3, return_sequences=True), Bidirectional(GRU(3, return_sequences=True))):
        model = Sequential([Embedding(6, 4, mask_zero=True, input_shape=(5,)), recurrent], seed=1, dtype="float64")
        if recurrent.return_sequences:
            model.add(GlobalAveragePooling1D())
        model.add(Dense(3, activation="softmax"))
        report = check_model_gradients(model, tokens, np.array([0, 2, 1]), loss="sparse_categorical_crossentropy")
        report.assert_ok()


@pytest.mark.parametrize("padding", ["pre", "post"])
def test_padding_changes_nothing_when_masked(padding, rng):
    """The outputs for a padded review equal those for the review alone, as Keras's masking promises."""
    model = Sequential([Input(shape=(None,)), Embedding(9, 4, mask_zero=True), LSTM(3)], seed=2)
    short = np.array([[3, 1, 4, 1, 5]])
    padded = np.array([[0, 0, 0, 3, 1, 4, 1, 5]] if padding == "pre" else [[3, 1, 4, 1, 5, 0, 0, 0]])
    np.testing.assert_allclose(model.predict(padded, verbose=0), model.predict(short, verbose=0), rtol=1e-6)
    bidirectional = Sequential([Input(shape=(None,)), Embedding(9, 4, mask_zero=True), Bidirectional(GRU(3))], seed=3)
    np.testing.assert_allclose(
        bidirectional.predict(padded, verbose=0), bidirectional.predict(short, verbose=0), rtol=1e-6
    )


def test_sequences_of_other_lengths_between_calls(rng):
    model = Sequential([Input(shape=(None, 2)), LSTM(4, return_sequences=True), Dense(3)], seed=0)
    assert model.output_shape == (None, 3)
    assert model.predict(rng.standard_normal((5, 7, 2)), verbose=0).shape == (5, 7, 3)
    assert model.predict(rng.standard_normal((2, 3, 2)), verbose=0).shape == (2, 3, 3)
    model.compile(optimizer="adam", loss="mse")
    for steps in (4, 9):
        history = model.fit(rng.standard_normal((8, steps, 2)), rng.standard_normal((8, steps, 3)), epochs=2, verbose=0)
        assert np.isfinite(history.history["loss"]).all()
    with pytest.raises(ShapeError, match=r"expects x of shape \(N, None, 2\)"):
        model.predict(rng.standard_normal((2, 3, 5)), verbose=0)


def test_a_layer_with_several_outputs_cannot_go_on_in_a_sequential_model():
    model = Sequential([Input(shape=(4, 2))])
    with pytest.raises(ShapeError, match="several tensors"):
        model.add(LSTM(3, return_state=True))
    assert not model.layers


@pytest.mark.parametrize(
    "make, error, match",
    [
        (lambda: LSTM(0), ValueError, "LSTM.*units"),
        (lambda: GRU(3, stateful=True), NotImplementedError, "stateful"),
        (lambda: RNN([LSTMCell(2), LSTMCell(2)]), NotImplementedError, "StackedRNNCells"),
        (lambda: RNN(Dense(2)), TypeError, "cell"),
        (lambda: LSTM(3, dropout=1.0), ValueError, "dropout"),
        (lambda: SimpleRNN(3, return_sequences="yes"), ValueError, "return_sequences"),
        (lambda: LSTM(3, kernel_constraint="max_normal"), Exception, "kernel_constraint"),
        (lambda: GRU(3, activity_regularizer="l2"), NotImplementedError, "activity_regularizer"),
        (lambda: LSTM(3, activation="swishy"), ValueError, "swishy"),
    ],
)
def test_bad_arguments_are_named(make, error, match):
    with pytest.raises(error, match=match):
        make()


def test_shape_errors_name_the_layer(rng):
    with pytest.raises(ShapeError, match=r"lstm_flat.*\(timesteps, features\)"):
        build(LSTM(3, name="lstm_flat"), (5,))
    layer = build(LSTM(3, name="lstm_b"), (5, 2))
    with pytest.raises(ShapeError, match="lstm_b"):
        layer.forward(rng.standard_normal((2, 5, 3)))
    with pytest.raises(ShapeError, match="mask"):
        layer.forward(rng.standard_normal((2, 5, 2)), mask=np.ones((2, 4), bool))
    with pytest.raises(ShapeError, match=r"lstm_c.*at least one time step"):
        build(LSTM(3, name="lstm_c"), (None, 2)).forward(np.zeros((2, 0, 2)))


def test_config_rebuilds_the_layer():
    for layer in (
        LSTM(3, return_sequences=True, go_backwards=True, dropout=0.1, unit_forget_bias=False),
        GRU(2, reset_after=False, recurrent_activation="tanh"),
        SimpleRNN(4, activation="relu", return_state=True),
    ):
        twin = type(layer)(**layer.get_config())
        assert twin.get_config() == layer.get_config()
    rnn = RNN(GRUCell(3), return_sequences=True)
    config = rnn.get_config()
    assert config["cell"]["class"] == "GRUCell" and config["cell"]["config"]["units"] == 3


# ----- real Keras, when installed -----
@pytest.fixture(scope="module")
def keras():
    os.environ.setdefault("KERAS_BACKEND", "torch")
    keras = pytest.importorskip("keras")
    if keras.backend.backend() != "torch":
        pytest.skip("these comparisons run Keras on its torch backend")
    return keras


def keras_outputs(keras_layer, x, grad, mask=None):
    """(output, dL/dx, weight gradients) of a Keras layer for L = Σ output ⊙ grad."""
    import torch

    inputs = torch.tensor(x, requires_grad=True)
    output = keras_layer(inputs, mask=None if mask is None else torch.tensor(mask))
    (output * torch.tensor(grad)).sum().backward()
    return output.detach().numpy(), inputs.grad.numpy(), [w.value.grad.numpy() for w in keras_layer.trainable_weights]


def assert_same_as_keras(ours, theirs, x, grad, mask):
    """Our layer, given the Keras layer's weights, gives its output, input gradient and weight gradients."""
    out, dx, dw = keras_outputs(theirs, x, grad, mask)
    ours.build_weights(x.shape[1:])
    ours.set_weights(theirs.get_weights())
    np.testing.assert_allclose(ours.forward(x, training=True, mask=mask), out, atol=2e-6)
    np.testing.assert_allclose(ours.backward(grad.copy()), dx, atol=2e-6)
    for ours_grad, theirs_grad in zip(ours.grads.values(), dw, strict=True):
        np.testing.assert_allclose(ours_grad, theirs_grad, atol=5e-6)


KERAS_CASES = [
    ("LSTM", {}),
    ("LSTM", {"return_sequences": True, "go_backwards": True}),
    ("GRU", {"return_sequences": True}),
    ("GRU", {"reset_after": False}),
    ("SimpleRNN", {"go_backwards": True}),
]


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # Keras's torch backend and NumPy 2's copy keyword
@pytest.mark.parametrize("name, options", KERAS_CASES)
@pytest.mark.parametrize("masked", [False, True])
def test_keras_weights_give_keras_outputs_and_gradients(keras, name, options, masked, rng):
    x = rng.standard_normal((3, 6, 4)).astype(np.float32)
    mask = np.array([[0, 0, 1, 1, 1, 1], [1, 1, 1, 1, 0, 0], [1, 1, 1, 1, 1, 1]], bool) if masked else None
    theirs = getattr(keras.layers, name)(5, **options)
    ours = {"LSTM": LSTM, "GRU": GRU, "SimpleRNN": SimpleRNN}[name](5, **options)
    units_out = (3, 6, 5) if options.get("return_sequences") else (3, 5)
    grad = rng.standard_normal(units_out).astype(np.float32)
    assert_same_as_keras(ours, theirs, x, grad, mask)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.parametrize("merge_mode", ["concat", "mul"])
def test_keras_bidirectional_with_a_mask(keras, merge_mode, rng):
    x = rng.standard_normal((2, 5, 3)).astype(np.float32)
    mask = np.array([[1, 1, 1, 0, 0], [0, 1, 1, 1, 1]], bool)
    theirs = keras.layers.Bidirectional(keras.layers.LSTM(4, return_sequences=True), merge_mode=merge_mode)
    grad = rng.standard_normal((2, 5, 8 if merge_mode == "concat" else 4)).astype(np.float32)
    assert_same_as_keras(Bidirectional(LSTM(4, return_sequences=True), merge_mode=merge_mode), theirs, x, grad, mask)
