"""Keras's ways of building and inspecting a model: Input, naming, model(x), nesting, weights, errors."""

import io
import re
import subprocess
import sys

import numpy as np
import pytest
from rich.console import Console

import minidl
import minidl as keras
from minidl import layers
from minidl.errors import ShapeError


def test_namespace_is_importable_right_after_import_minidl():
    code = (
        "import minidl as k; "
        "[getattr(k, n) for n in ('Input', 'Sequential', 'Model', 'layers', 'losses', 'optimizers', 'metrics', "
        "'callbacks', 'models', 'utils', 'ops', 'initializers', 'datasets', 'activations', 'regularizers', "
        "'random')]; k.regularizers.l2; k.random.SeedGenerator; k.activations.gelu; "
        "k.models.load_model; k.utils.to_categorical; k.utils.set_random_seed; k.ops.convert_to_numpy; "
        "k.datasets.mnist.load_data; k.optimizers.schedules.ExponentialDecay; k.initializers.HeNormal"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_input_fixes_the_shape_and_names_follow_keras():
    model = keras.Sequential([keras.Input(shape=(6, 6, 1)), layers.Conv2D(2, 3), layers.Conv2D(2, 3), layers.Flatten()])
    assert model.built and model.output_shape == (8,)
    first, second = model.layers[0].name, model.layers[1].name
    base = first.rsplit("_", 1)[0] if first != "conv2d" else "conv2d"
    assert base == "conv2d" and second.startswith("conv2d_")
    assert int(second.rsplit("_", 1)[1]) == (0 if first == "conv2d" else int(first.rsplit("_", 1)[1])) + 1
    added = keras.Sequential()
    added.add(keras.Input(shape=(3,)))
    added.add(layers.Dense(2))
    assert added.built and added.name.startswith("sequential")
    assert keras.Sequential(name="mine").name == "mine"
    with pytest.raises(ShapeError, match="differs from the first layer's input_shape"):
        keras.Sequential([keras.Input(shape=(3,)), layers.Dense(2, input_shape=(4,))])


def test_lazy_build_by_call_and_fit():
    model = keras.Sequential([layers.Dense(4, activation="relu"), layers.Dense(2)])
    assert not model.built
    out = model(np.ones((5, 3)))
    assert out.shape == (5, 2) and model.built and model.input_shape == (3,)
    model.build((None, 3))  # Keras's build shape, batch axis first: nothing changes
    np.testing.assert_array_equal(model(np.ones((5, 3))), out)
    assert model(np.ones((5, 3)), training=True).shape == (5, 2)


def test_layers_weights_get_layer_pop_count_params():
    model = keras.Sequential([keras.Input(shape=(3,)), layers.Dense(4, name="hidden"), layers.Dense(2, name="out")])
    assert [w.shape for w in model.weights] == [(3, 4), (4,), (4, 2), (2,)]
    assert len(model.trainable_weights) == 4 and model.non_trainable_weights == []
    assert model.count_params() == 3 * 4 + 4 + 4 * 2 + 2
    assert model.get_layer("hidden") is model.layers[0] and model.get_layer(index=-1).name == "out"
    with pytest.raises(ValueError, match="no layer named 'nope'"):
        model.get_layer("nope")
    kept = model.layers[0].params["kernel"].copy()
    popped = model.pop()
    assert popped.name == "out" and len(model.layers) == 1 and model.count_params() == 16
    np.testing.assert_array_equal(model.layers[0].params["kernel"], kept)
    model.weights[0][...] = 1.0  # live views, as Keras's variables
    assert model.get_weights()[0].sum() == 12


def test_a_model_inside_a_model_keeps_its_weights():
    inner = keras.Sequential([keras.Input(shape=(3,)), layers.Dense(4)])
    before = inner.get_weights()
    outer = keras.Sequential([inner, layers.Softmax()])
    for a, b in zip(outer.get_weights(), before):
        np.testing.assert_array_equal(a, b)
    x = np.random.default_rng(0).random((5, 3))
    np.testing.assert_allclose(outer(x).sum(axis=1), 1.0, rtol=1e-6)


def test_summary_has_keras_columns_and_totals():
    model = keras.Sequential([keras.Input(shape=(3,)), layers.Dense(4, name="d")], name="tiny")
    buffer = io.StringIO()
    model.summary(console=Console(file=buffer, width=100))
    text = buffer.getvalue()
    for expected in ('Model: "tiny"', "Layer (type)", "Output Shape", "Param #", "d (Dense)", "(None, 4)"):
        assert expected in text
    assert "Total params: 16 (64.00 B)" in text and "Non-trainable params: 0 (0.00 B)" in text
    lines = []
    model.summary(print_fn=lines.append)
    assert any("Trainable params: 16" in line for line in lines)


def test_summary_of_a_graph_counts_nested_models_and_says_what_is_connected_to_what():
    inner_input = keras.Input(shape=(3,))
    inner = keras.Model(inner_input, layers.Dense(4)(inner_input), name="inner")
    chain_input = keras.Input(shape=(3,), name="x")
    chain = keras.Model(chain_input, layers.Dense(2, name="head")(inner(chain_input)), name="chain")
    buffer = io.StringIO()
    chain.summary(console=Console(file=buffer, width=120))
    text = buffer.getvalue()
    assert re.search(r"inner \(Functional\)\s*│ \(None, 4\)\s*│\s*16 │", text), text
    assert "Connected to" not in text  # a chain, as Keras's "sequential-like" models
    left, right = keras.Input(shape=(3,), name="left"), keras.Input(shape=(3,), name="right")
    shared = layers.Dense(2, name="shared")
    merged = layers.concatenate([shared(left), shared(right)], name="merged")
    graph = keras.Model([left, right], merged, name="graph")
    buffer = io.StringIO()
    graph.summary(console=Console(file=buffer, width=150))
    text = buffer.getvalue()
    assert "Connected to" in text
    assert re.search(r"left \(InputLayer\).*│ - +│", text)
    assert "left[0][0], right[0][0]" in text and "shared[0][0], shared[1][0]" in text


def test_custom_training_steps_are_refused_clearly():
    class Custom(keras.Model):
        def train_step(self, data):
            return {}

    with pytest.raises(NotImplementedError, match="custom train_step"):
        Custom().compile(loss="mse")
    with pytest.raises(TypeError, match="symbolic tensor .* has no values"):
        np.asarray(keras.Input(shape=(3,)))


def test_utils_ops_and_datasets(mnist_dir):
    np.testing.assert_array_equal(keras.utils.to_categorical([0, 2], 3), [[1, 0, 0], [0, 0, 1]])
    with pytest.raises(ValueError, match="does not fit num_classes=2"):
        keras.utils.to_categorical([0, 2], 2)
    unit = keras.utils.normalize(np.array([[3.0, 4.0], [0.0, 0.0]]))
    np.testing.assert_allclose(unit, [[0.6, 0.8], [0.0, 0.0]])  # zero rows left alone
    np.testing.assert_allclose(keras.utils.normalize([[1.0, 3.0]], order=1), [[0.25, 0.75]])
    keras.utils.set_random_seed(3)
    a = keras.Sequential([layers.Dense(2, input_shape=(3,))]).get_weights()
    keras.utils.set_random_seed(3)
    np.testing.assert_array_equal(a[0], keras.Sequential([layers.Dense(2, input_shape=(3,))]).get_weights()[0])
    minidl.set_seed(None)
    np.testing.assert_allclose(keras.ops.softmax(np.array([[0.0, np.log(3.0)]])), [[0.25, 0.75]])
    assert keras.ops.convert_to_numpy([1, 2]).tolist() == [1, 2]
    (x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
    assert x_train.shape == (60000, 28, 28) and x_train.dtype == np.uint8 and y_train.dtype == np.uint8
    assert x_test.shape == (10000, 28, 28) and x_train.max() == 255
    (ours, labels), _ = minidl.datasets.load_mnist(limit=50)
    np.testing.assert_array_equal(x_train[:50], np.rint(ours[..., 0] * 255))
    np.testing.assert_array_equal(y_train[:50], labels)
    x_train[0] = 0  # a copy: the next call is unchanged
    assert keras.datasets.mnist.load_data()[0][0][0].max() == 255


def test_input_is_also_exported_from_layers_as_in_keras():
    model = minidl.Sequential([minidl.layers.Input(shape=(4,)), minidl.layers.Dense(2)])
    assert minidl.layers.Input is minidl.Input and model.output_shape == (2,)


def test_keras_import_paths_work_with_minidl_in_keras_place():
    """Every `from keras.X.Y import Z` of the house issue, and the old minidl paths users may have written."""
    import inspect
    import types

    from minidl.datasets import load_mnist  # noqa: F401  (minidl's own loader, as before)
    from minidl.losses import SparseCategoricalCrossentropy
    from minidl.optimizers import SGD  # noqa: F401
    from minidl.optimizers.schedules import ExponentialDecay

    assert isinstance(keras.datasets.mnist, types.ModuleType)
    assert isinstance(keras.datasets.fashion_mnist, types.ModuleType)
    assert callable(keras.datasets.mnist.load_data)
    assert keras.layers.Input is keras.Input
    assert keras.models.Sequential is keras.Sequential and keras.models.Model is keras.Model is minidl.Model
    assert keras.utils.to_categorical([1], 2).tolist() == [[0.0, 1.0]]
    assert ExponentialDecay(0.1, 10, 0.5)(10) == pytest.approx(0.05)
    assert SparseCategoricalCrossentropy(from_logits=True).from_logits
    fit = list(inspect.signature(keras.Model.fit).parameters)
    assert fit[1:17] == [
        "x", "y", "batch_size", "epochs", "verbose", "callbacks", "validation_split", "validation_data", "shuffle",
        "class_weight", "sample_weight", "initial_epoch", "steps_per_epoch", "validation_steps",
        "validation_batch_size", "validation_freq",
    ]  # fmt: skip
    assert fit[17:] == ["workers", "backend", "threads", "step_timeout"]
    evaluate = list(inspect.signature(keras.Model.evaluate).parameters)
    assert evaluate[1:9] == ["x", "y", "batch_size", "verbose", "sample_weight", "steps", "callbacks", "return_dict"]
    taking_arguments = [
        "fit", "evaluate", "predict", "compile", "train_on_batch", "test_on_batch", "predict_on_batch",
        "save", "save_weights", "load_weights", "summary", "get_layer",
    ]  # fmt: skip
    assert [name for name in taking_arguments if "Args:" not in getattr(keras.Model, name).__doc__] == []


def test_metrics_passed_third_positionally_are_named_as_keras_loss_weights():
    model = keras.Sequential([layers.Dense(2, input_shape=(3,))])
    with pytest.raises(TypeError, match="the third argument is loss_weights, as in Keras; pass the metrics by keyword"):
        model.compile("sgd", "mse", ["mae"])
