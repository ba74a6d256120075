"""The Layer contract: non-trainable states, get/set_weights, calling a layer, pickling."""

import pickle

import numpy as np
import pytest

from minidl import Model, ops
from minidl.errors import ShapeError
from minidl.gradcheck import build_float64 as build
from minidl.layers import BatchNormalization, Conv2D, Dense, Embedding, Flatten, Input, Layer, ReLU


class Counter(Layer):
    """A layer with one trainable scale and one non-trainable counter of training batches."""

    def build(self, input_shape):
        self.add_weight(name="scale", shape=input_shape, initializer="ones")
        self.add_weight(name="seen", shape=(), initializer="zeros", trainable=False)

    def forward(self, x, training=False):
        if training:
            self.states["seen"][...] += 1
        return x * self.params["scale"]


def test_add_weight_non_trainable_goes_to_states_without_gradient():
    layer = build(Counter(), (3,))
    assert list(layer.params) == ["scale"] and list(layer.grads) == ["scale"]
    assert list(layer.states) == ["seen"]
    assert layer.count_params() == 4
    layer.forward(np.ones((2, 3)), training=True)
    layer.forward(np.ones((2, 3)))
    assert layer.states["seen"] == 1


def test_add_weight_refuses_a_duplicate_name():
    class Twice(Layer):
        def build(self, input_shape):
            self.add_weight(name="w", shape=(2,), initializer="zeros")
            self.add_weight(name="w", shape=(2,), initializer="zeros", trainable=False)

    with pytest.raises(ValueError, match=r"twice_layer.*'w'"):
        build(Twice(name="twice_layer"), (2,))


def test_get_weights_are_copies_in_keras_order(rng):
    layer = build(Dense(3), (4,))
    kernel, bias = layer.get_weights()
    assert kernel.shape == (4, 3) and bias.shape == (3,)
    kernel[...] = 7
    assert not np.any(layer.params["kernel"] == 7)
    assert build(ReLU(), (4,)).get_weights() == []
    assert [w.shape for w in layer.weights] == [(4, 3), (3,)]
    assert layer.non_trainable_weights == []


def test_set_weights_writes_in_place(rng):
    layer = build(Counter(), (3,))
    scale, seen = layer.params["scale"], layer.states["seen"]
    layer.set_weights([np.array([1.0, 2.0, 3.0]), np.array(5.0)])
    assert layer.params["scale"] is scale and layer.states["seen"] is seen
    np.testing.assert_array_equal(scale, [1, 2, 3])
    assert seen == 5


def test_set_weights_reaches_the_models_flat_buffer(rng):
    """Inside a model the weights are views of one flat vector; set_weights must write through them."""
    model = Model(seed=0)
    model.add(Dense(2, input_shape=(3,)))
    model.add(Dense(1))
    kernel = np.arange(6.0).reshape(3, 2)
    model.layers[0].set_weights([kernel, np.array([0.5, -0.5])])
    np.testing.assert_array_equal(model.parameters[:8], [*kernel.ravel(), 0.5, -0.5])
    np.testing.assert_allclose(model.predict(np.ones((1, 3)))[0], model.layers[1](model.layers[0](np.ones((1, 3))))[0])


def test_set_weights_errors_name_the_layer():
    layer = build(Dense(3, name="dense_w"), (4,))
    with pytest.raises(ValueError, match=r"dense_w.*2 weight arrays \(kernel, bias\).*got 1"):
        layer.set_weights([np.zeros((4, 3))])
    with pytest.raises(ShapeError, match=r"'kernel' of layer 'dense_w' has shape \(4, 3\), got \(3, 4\)"):
        layer.set_weights([np.zeros((3, 4)), np.zeros(3)])
    with pytest.raises(TypeError, match=r"'bias' of layer 'dense_w'.*dtype"):
        layer.set_weights([np.zeros((4, 3)), np.array(["a", "b", "c"])])
    with pytest.raises(ValueError, match=r"dense_new.*not built"):
        Dense(3, name="dense_new").set_weights([])


def test_a_failed_set_weights_changes_nothing():
    layer = build(Dense(2), (2,))
    before = layer.get_weights()
    with pytest.raises(ShapeError):
        layer.set_weights([np.ones((2, 2)), np.ones(3)])
    np.testing.assert_array_equal(layer.get_weights()[0], before[0])


def test_calling_a_layer_builds_it_from_the_input(rng):
    layer = Dense(4, activation="relu")
    x = rng.standard_normal((5, 3))
    out = layer(x)
    assert layer.built and layer.input_shape == (3,) and layer.output_shape == (4,)
    assert out.shape == (5, 4) and out.dtype == np.float32
    expected = np.maximum(x.astype(np.float32) @ layer.params["kernel"] + layer.params["bias"], 0)
    np.testing.assert_allclose(out, expected, rtol=1e-6)


def test_calling_runs_inference_by_default_and_training_on_request(rng):
    layer = BatchNormalization()
    x = rng.standard_normal((16, 3)) * 4 + 10
    inference = layer(x)
    np.testing.assert_allclose(inference, x / np.sqrt(1 + 1e-3), rtol=1e-5)  # moving statistics 0 and 1
    np.testing.assert_array_equal(layer.states["moving_mean"], 0)
    training = layer(x, training=True)
    np.testing.assert_allclose(training.mean(axis=0), 0, atol=1e-5)
    assert np.all(layer.states["moving_mean"] > 0)


def test_calling_a_conv_stack_as_keras_does(rng):
    images = rng.integers(0, 256, (2, 8, 8, 1)).astype(np.uint8)
    conv, flatten = Conv2D(3, 3), Flatten()
    out = flatten(conv(images))
    assert out.shape == (2, 6 * 6 * 3)


def test_calling_checks_the_input(rng):
    layer = Dense(2, name="dense_c")
    layer(np.ones((1, 3)))
    with pytest.raises(ShapeError, match=r"dense_c.*\(batch, 3\).*\(2, 4\)"):
        layer(np.ones((2, 4)))
    with pytest.raises(TypeError, match=r"dense_c.*dtype"):
        layer(np.array([["a", "b", "c"]]))
    with pytest.raises(ShapeError, match=r"dense_c.*scalar"):
        layer(np.float32(1.0))
    with pytest.raises(ShapeError, match=r"dense_d.*last input axis"):
        Dense(2, name="dense_d").build_weights((4, None))


def test_pickled_layer_keeps_weights_and_states_not_caches(rng):
    layer = build(Counter(), (3,))
    layer.set_weights([np.array([1.0, 2.0, 3.0]), np.array(4.0)])
    dense = build(Dense(2), (3,))
    dense.forward(rng.standard_normal((2, 3)), training=True)
    copy, dense_copy = pickle.loads(pickle.dumps((layer, dense)))
    np.testing.assert_array_equal(copy.states["seen"], 4.0)
    np.testing.assert_array_equal(copy.params["scale"], [1, 2, 3])
    np.testing.assert_array_equal(dense_copy.params["kernel"], dense.params["kernel"])
    assert not hasattr(dense_copy, "x")


def test_batch_dependent_flag():
    assert Layer.batch_dependent is False
    assert all(not cls.batch_dependent for cls in (Dense, Conv2D, ReLU, Flatten))
    assert BatchNormalization.batch_dependent is True


class Block(Layer):
    """Keras's way: a layer holding two built-in layers and a weight of its own (the guide's MLPBlock)."""

    def __init__(self):
        super().__init__()
        self.hidden = Dense(4)
        self.out = Dense(2)
        self.normalization = BatchNormalization()

    def build(self, input_shape):
        self.scale = self.add_weight(shape=(), initializer="ones", name="scale")

    def call(self, inputs):
        return self.normalization(self.out(self.hidden(inputs))) * self.scale


def test_a_layer_tracks_the_weights_of_the_layers_it_holds():
    block = Block()
    block(np.ones((3, 5), "float32"))
    # Keras's order: the layer's own weight, then each held layer's (trainable before non-trainable).
    assert [w.shape for w in block.weights] == [(), (5, 4), (4,), (4, 2), (2,), (2,), (2,), (2,), (2,)]
    assert len(block.trainable_weights) == 7 and len(block.non_trainable_weights) == 2
    assert block.count_params() == 1 + 20 + 4 + 8 + 2 + 4 * 2
    new = [np.full(w.shape, i, "float32") for i, w in enumerate(block.get_weights())]
    block.set_weights(new)
    np.testing.assert_array_equal(block.out.params["kernel"], new[3])
    with pytest.raises(ValueError, match="9 weight arrays"):
        block.set_weights(new[:-1])
    block.hidden.trainable = False
    assert len(block.trainable_weights) == 5 and len(block.non_trainable_weights) == 4
    # A model of the block lists every weight once.
    inputs = Input(shape=(5,))
    model = Model(inputs, Block()(inputs))
    assert len(model.weights) == 9 and len(model.get_weights()) == 9 and model.count_params() == 43


def test_layer_output_and_input_are_those_of_its_first_symbolic_call():
    inputs = Input(shape=(4,), name="features")
    hidden = Dense(3, activation="relu")
    first = hidden(inputs)
    hidden(Input(shape=(4,)))  # a second call (shared layer): output stays the first call's
    assert hidden.output is first and hidden.input is inputs
    assert inputs.node.operation.output is inputs and inputs.node.operation.input is inputs
    model = Model(inputs, Dense(2)(first))
    extractor = Model(inputs=model.inputs, outputs=[layer.output for layer in model.layers])
    features, hidden_values, out = extractor.predict(np.ones((5, 4), "float32"), verbose=0)
    assert features.shape == (5, 4) and hidden_values.shape == (5, 3) and out.shape == (5, 2)
    np.testing.assert_allclose(out, model.predict(np.ones((5, 4), "float32"), verbose=0), rtol=1e-6)
    with pytest.raises(AttributeError, match=r"'never_called' has never been called on symbolic tensors"):
        _ = Dense(2, name="never_called").output
    copy = pickle.loads(pickle.dumps(hidden))  # the graph is not pickled with a layer
    assert copy.inbound_nodes == []


class AddPositions(Layer):
    """Keras's way: a built-in Embedding called on `ops.arange`, a plain array made inside `call`."""

    def __init__(self, steps, **kwargs):
        super().__init__(**kwargs)
        self.steps = steps
        self.positions = Embedding(steps, 2)

    def call(self, x):
        return x + self.positions(ops.arange(0, self.steps))


@pytest.mark.parametrize("kind", ["sequential", "functional"])
def test_a_built_in_layer_called_on_a_plain_array_in_call_trains(kind, rng):
    """Its weights get their gradient although its input is no tensor: mse on (N, T, D) is the mean of all
    squares, so SGD(1) moves row t of the table by -2 Σ_n (x + E - y)[n, t] / (N T D)."""
    import minidl as keras

    x, y = rng.standard_normal((3, 4, 2)).astype("float32"), rng.standard_normal((3, 4, 2)).astype("float32")
    layer = AddPositions(4)
    if kind == "sequential":
        model = keras.Sequential([keras.Input((4, 2)), layer])
    else:
        inputs = keras.Input((4, 2))
        model = keras.Model(inputs, layer(inputs))
    table = layer.positions.get_weights()[0]
    model.compile(optimizer=keras.optimizers.SGD(1.0), loss="mse", metrics=[])
    model.train_on_batch(x, y)
    expected = table - 2 * (x + table - y).sum(axis=0) / x.size
    np.testing.assert_allclose(layer.positions.get_weights()[0], expected, rtol=1e-5, atol=1e-7)
