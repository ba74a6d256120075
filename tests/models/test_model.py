"""Model: building, known parameter counts, weights, save/load, seeds, training and clear errors."""

import io
import json
import re
import warnings

import numpy as np
import pytest
from rich.console import Console

import minidl
from minidl import Model, optimizers
from minidl.callbacks import Callback
from minidl.errors import NotCompiledError, ShapeError, UnknownNameError
from minidl.layers import AvgPool2D, Conv2D, Dense, Dropout, Flatten, MaxPool2D, ReLU, Softmax, ZeroPadding2D
from minidl.layers.context import TrainingContext
from minidl.trainers.data import check_inputs, check_targets


def blobs(n=60, features=4, classes=3, seed=0):
    """Three well separated Gaussian clusters: an easy problem any working net learns in a few steps."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % classes
    centres = rng.standard_normal((classes, features)) * 3
    x = (centres[y] + rng.standard_normal((n, features)) * 0.5).astype(np.float32)
    return x, y


def small_mlp(seed=0, **kwargs):
    model = Model(seed=seed, **kwargs)
    model.add(Dense(8, activation="relu", input_shape=(4,)))
    model.add(Dense(3, activation="softmax"))
    return model


def small_cnn(seed=0):
    model = Model(name="small_cnn", seed=seed)
    model.add(Conv2D(3, 3, padding="same", activation="relu", input_shape=(8, 8, 1)))
    model.add(MaxPool2D(2))
    model.add(Conv2D(4, (2, 3), strides=2, activation="tanh"))
    model.add(Flatten())
    model.add(Dropout(0.25))
    model.add(Dense(5, activation="sigmoid"))
    model.add(Dense(3))
    model.add(Softmax())
    return model


def images(n=12, seed=0):
    rng = np.random.default_rng(seed)
    return rng.random((n, 8, 8, 1), dtype=np.float32), np.arange(n) % 3


class StepCounter(Callback):
    def __init__(self):
        super().__init__()
        self.steps = 0

    def on_train_batch_end(self, batch, logs=None):
        self.steps += 1


# ----- building and describing -----
def test_lenet5_has_61706_parameters(lenet5):
    model = lenet5()
    assert model.count_params() == 61_706
    assert [layer.count_params() for layer in model.layers] == [156, 0, 2416, 0, 0, 48_120, 10_164, 850]
    assert [layer.output_shape for layer in model.layers] == [
        (28, 28, 6),
        (14, 14, 6),
        (10, 10, 16),
        (5, 5, 16),
        (400,),
        (120,),
        (84,),
        (10,),
    ]


def test_summary_prints_total(lenet5):
    buffer = io.StringIO()
    lenet5().summary(console=Console(file=buffer, width=120))
    text = buffer.getvalue()
    assert "61,706" in text
    assert "(None, 28, 28, 6)" in text and "(None, 400)" in text
    assert "48,120" in text


def test_model_is_float32_by_default(lenet5):
    model = lenet5()
    assert model.parameters.dtype == np.float32
    assert all(w.dtype == np.float32 for w in model.get_weights())
    assert model.predict(np.zeros((2, 28, 28, 1))).dtype == np.float32


@pytest.mark.parametrize(
    "loss, labels",
    [
        ("categorical_crossentropy", np.eye(3)[[0, 1, 2, 0]]),
        ("sparse_categorical_crossentropy", np.array([0, 1, 2, 0])),
        ("mse", np.eye(3)[[0, 1, 2, 0]]),
    ],
)
def test_float32_all_the_way(loss, labels):
    """Forward outputs, input gradients and weight gradients of every layer stay float32 (float64 labels too)."""
    model = small_cnn()
    model.compile(loss=loss)
    x = check_inputs(model, images(4)[0])
    y = check_targets(model, x, labels)
    h = x
    for layer in model.layers:
        h = layer.forward(h, training=True)
        assert h.dtype == np.float32, f"{layer.name} forward gives {h.dtype}"
    grad = model.loss.gradient(h, y, len(x))
    assert grad.dtype == np.float32
    for layer in reversed(model.layers):
        grad = layer.backward(grad)
        assert grad is None or grad.dtype == np.float32, f"{layer.name} backward gives {grad.dtype}"
        assert all(g.dtype == np.float32 for g in layer.grads.values())


def test_layers_share_the_flat_parameter_vector(lenet5):
    model = lenet5()
    model.layers[0].params["kernel"][0, 0, 0, 0] = 42.0
    assert model.parameters[0] == 42.0
    assert sum(p.size for layer in model.layers for p in layer.params.values()) == model.parameters.size


def test_model_builds_from_first_data():
    model = Model(seed=0)
    model.add(Dense(5, activation="relu"))
    model.add(Dense(2))
    assert not model.built
    out = model.predict(np.ones((3, 7)))
    assert model.built and out.shape == (3, 2)
    assert model.count_params() == 7 * 5 + 5 + 5 * 2 + 2


def test_sequential_alias_and_layers_argument():
    assert issubclass(minidl.Sequential, Model) and type(Model()) is minidl.Sequential
    model = minidl.Sequential([Dense(3, input_shape=(2,)), ReLU()], seed=1)
    assert len(model.layers) == 2 and model.output_shape == (3,)


# ----- weights -----
def test_get_weights_keras_shapes(lenet5):
    shapes = [w.shape for w in lenet5().get_weights()]
    assert shapes == [(5, 5, 1, 6), (6,), (5, 5, 6, 16), (16,), (400, 120), (120,), (120, 84), (84,), (84, 10), (10,)]


def test_get_weights_returns_copies():
    model = small_mlp()
    weights = model.get_weights()
    weights[0][...] = 0
    assert np.any(model.get_weights()[0])


def test_set_weights_changes_predictions():
    model, other = small_mlp(seed=1), small_mlp(seed=2)
    x, _ = blobs(10)
    assert not np.array_equal(model.predict(x), other.predict(x))
    other.set_weights(model.get_weights())
    np.testing.assert_array_equal(model.predict(x), other.predict(x))


def test_set_weights_wrong_shape_names_the_layer():
    model = small_mlp()
    weights = model.get_weights()
    weights[2] = np.zeros((3, 8))
    name = model.layers[1].name
    with pytest.raises(ShapeError, match=rf"kernel.*{name}.*\(8, 3\).*\(3, 8\)"):
        model.set_weights(weights)


def test_set_weights_wrong_count_and_no_partial_update():
    model = small_mlp()
    before = model.get_weights()
    with pytest.raises(ValueError, match="4 weight arrays, got 3"):
        model.set_weights(before[:3])
    bad = [w + 1 for w in before]
    bad[-1] = np.zeros(5)
    with pytest.raises(ShapeError):
        model.set_weights(bad)
    for old, now in zip(before, model.get_weights()):
        np.testing.assert_array_equal(old, now)


# ----- save / load -----
def test_save_load_round_trip(tmp_path):
    model = small_cnn(seed=3)
    model.compile(
        optimizer=optimizers.SGD(0.05, momentum=0.9, nesterov=True, decay=0.01),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    x, y = images(12)
    model.fit(x, y, batch_size=4, epochs=1, verbose=0)
    path = tmp_path / "model.npz"
    model.save(path)
    loaded = Model.load(path)
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    assert loaded.get_config() == model.get_config()
    assert loaded.optimizer.get_config() == {
        "name": "sgd",
        "learning_rate": 0.05,
        "momentum": 0.9,
        "nesterov": True,
        "decay": 0.01,
    }
    assert loaded.loss.name == "sparse_categorical_crossentropy" and loaded.metrics == ["accuracy"]
    assert isinstance(loaded.training_loss, minidl.losses.SoftmaxCrossEntropy)
    assert [type(layer) for layer in loaded.layers] == [type(layer) for layer in model.layers]
    loaded.fit(x, y, batch_size=4, epochs=1, verbose=0)


def test_save_load_uncompiled_float64(tmp_path):
    model = Model(seed=0, dtype="float64")
    model.add(Dense(3, activation="tanh", input_shape=(2,)))
    model.save(tmp_path / "m.npz")
    loaded = Model.load(tmp_path / "m.npz")
    assert loaded.loss is None and loaded.parameters.dtype == np.float64
    x = np.array([[0.1, 0.2]])
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))


def test_load_refuses_pickled_objects(tmp_path):
    path = tmp_path / "evil.npz"
    config = json.dumps(small_mlp().get_config())
    np.savez(path, config=np.array(config), weight_0=np.array([{"payload": 1}], dtype=object))
    with pytest.raises(ValueError, match="pickle"):
        Model.load(path)
    np.savez(path, config=np.array([config], dtype=object))
    with pytest.raises(ValueError, match="pickle"):
        Model.load(path)


def test_load_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match=re.escape(str(tmp_path / "nope.npz"))):
        Model.load(tmp_path / "nope.npz")


@pytest.mark.parametrize("content", [b"hello, I am text\n", b"", b"PK\x03\x04 broken zip"])
def test_load_non_npz_file(content, tmp_path):
    path = tmp_path / "notes.npz"
    path.write_bytes(content)
    with pytest.raises(ValueError, match="not a .*minidl model file") as info:
        Model.load(path)
    assert "pickle" not in str(info.value), "a plain file must not be reported as pickled"


def test_load_refuses_a_bare_pickle(tmp_path):
    import pickle

    path = tmp_path / "model.npz"
    path.write_bytes(pickle.dumps({"weights": [1, 2]}))
    with pytest.raises(ValueError, match="pickle"):
        Model.load(path)


def test_load_npz_without_config(tmp_path):
    np.savez(tmp_path / "plain.npz", a=np.zeros(3))
    with pytest.raises(ValueError, match="no 'config' entry"):
        Model.load(tmp_path / "plain.npz")


def test_unknown_layer_class_in_config():
    config = small_mlp().get_config()
    config["layers"][0]["class"] = "Conv3D"
    with pytest.raises(UnknownNameError, match=r"Conv3D.*Dense"):
        Model.from_config(config)


# ----- seeds -----
def _train(model, epochs=2):
    model.compile(optimizer=optimizers.SGD(0.1, momentum=0.9), loss="sparse_categorical_crossentropy")
    x, y = images(24)
    return model.fit(x, y, batch_size=5, epochs=epochs, verbose=0, validation_split=0.25)


def test_same_seed_is_bit_identical():
    first, second = small_cnn(seed=7), small_cnn(seed=7)
    h1, h2 = _train(first), _train(second)
    assert h1.history == h2.history
    for a, b in zip(first.get_weights(), second.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_different_seeds_differ():
    assert not np.array_equal(small_cnn(seed=1).parameters, small_cnn(seed=2).parameters)


def test_set_seed():
    try:
        minidl.set_seed(11)
        a, b = small_mlp(seed=None), small_mlp(seed=None)
        assert a.seed == b.seed == 11
        np.testing.assert_array_equal(a.parameters, b.parameters)
        np.testing.assert_array_equal(a.parameters, small_mlp(seed=11).parameters)
        minidl.set_seed(None)
        assert not np.array_equal(
            Model(seed=None).add(Dense(50, input_shape=(50,))).parameters,
            Model(seed=None).add(Dense(50, input_shape=(50,))).parameters,
        )
    finally:
        minidl.set_seed(None)


# ----- training -----
def test_fit_learns_blobs():
    x, y = blobs(90)
    model = small_mlp(seed=0)
    model.compile(optimizer=optimizers.SGD(0.1, momentum=0.9), loss="sparse_categorical_crossentropy")
    history = model.fit(x, y, batch_size=10, epochs=5, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert history.history["accuracy"][-1] > 0.9
    loss, accuracy = model.evaluate(x, y)
    assert accuracy > 0.9 and loss < 0.5


def test_categorical_and_adam_learn_blobs():
    x, y = blobs(90)
    model = small_mlp(seed=0)
    model.compile(optimizer=optimizers.Adam(0.05), loss="categorical_crossentropy")
    history = model.fit(x, np.eye(3)[y], batch_size=10, epochs=5, verbose=0)
    assert history.history["accuracy"][-1] > 0.9


def test_mse_regression_learns():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 3)).astype(np.float32)
    y = x @ np.array([[1.0], [-2.0], [0.5]], dtype=np.float32) + 0.3
    model = Model(seed=0)
    model.add(Dense(1, input_shape=(3,)))
    model.compile(optimizer=optimizers.SGD(0.1), loss="mse", metrics=[])
    history = model.fit(x, y, batch_size=8, epochs=20, verbose=0)
    assert history.history["loss"][-1] < 1e-3
    np.testing.assert_allclose(model.get_weights()[0][:, 0], [1.0, -2.0, 0.5], atol=0.02)


def test_no_accuracy_without_metrics():
    x = np.zeros((8, 3), dtype=np.float32)
    model = Model(seed=0)
    model.add(Dense(1, input_shape=(3,)))
    model.compile(optimizer="sgd", loss="mse", metrics=[])
    assert "accuracy" not in model.evaluate(x, np.zeros((8, 1)), return_dict=True)
    history = model.fit(x, np.zeros((8, 1)), batch_size=4, epochs=1, verbose=0, validation_split=0.5)
    assert set(history.history) == {"loss", "val_loss"}


def test_evaluate_matches_manual_computation():
    x, y = blobs(30)
    model = small_mlp(seed=4)
    model.compile(loss="sparse_categorical_crossentropy")
    p = model.predict(x).astype(np.float64)
    loss, accuracy = model.evaluate(x, y, batch_size=7)
    assert loss == pytest.approx(-np.mean(np.log(p[np.arange(30), y])), rel=1e-5)
    assert accuracy == pytest.approx(np.mean(p.argmax(axis=1) == y))
    assert model.evaluate(x, y, return_dict=True) == pytest.approx({"loss": loss, "accuracy": accuracy})


def test_predict_batch_size_does_not_change_results():
    x, _ = images(13)
    model = small_cnn()
    np.testing.assert_allclose(model.predict(x, batch_size=1), model.predict(x, batch_size=256), rtol=1e-6)


def test_dropout_only_in_training():
    x, _ = images(6)
    model = small_cnn()
    np.testing.assert_array_equal(model.predict(x), model.predict(x))


def test_a_nested_model_follows_the_training_flag_of_the_call():
    """`outer(x, training=True)` runs a model nested in it in training mode too (its Dropout drops)."""
    x = np.ones((4, 50), dtype=np.float32)
    inner = minidl.Sequential([minidl.Input((50,)), Dropout(0.5)])
    inputs = minidl.Input((50,))
    outer = minidl.Model(inputs, minidl.layers.Rescaling(1.0)(inner(inputs)))
    dropped = outer(x, training=True)
    assert set(np.unique(dropped)) == {0.0, 2.0}  # kept units scaled by 1 / (1 - rate)
    np.testing.assert_array_equal(outer(x, training=False), x)
    np.testing.assert_array_equal(outer(x), x)


def test_a_sequential_without_input_is_built_by_the_tensor_it_is_called_on():
    """keras.io's `x = data_augmentation(inputs)`: a Sequential made without an Input, first called in a graph."""
    inner = minidl.Sequential([Dense(3)])
    inputs = minidl.Input((5,))
    outer = minidl.Model(inputs, inner(inputs))
    assert inner.layers[0].get_weights()[0].shape == (5, 3)
    assert outer.predict(np.ones((2, 5)), verbose=0).shape == (2, 3)


def test_a_model_called_without_training_augments_as_keras_does():
    """Keras's `model(x)` leaves `training` to each layer's default: inference, except the random
    augmentation layers, which augment (keras.io draws augmented images with `data_augmentation(images)`);
    `training=False` and `predict` never augment."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((32, 5, 5, 1)).astype(np.float32)
    flip = minidl.Sequential([minidl.layers.RandomFlip("horizontal", seed=1), Dropout(0.9)])
    out = flip(x)
    flipped = np.array([np.array_equal(o, a[:, ::-1]) for o, a in zip(out, x)])
    kept = np.array([np.array_equal(o, a) for o, a in zip(out, x)])
    assert (flipped | kept).all() and flipped.any() and kept.any()  # flips, and Dropout stays idle
    assert not np.array_equal(flip(x), out)  # a fresh draw per call
    np.testing.assert_array_equal(flip(x, training=False), x)
    np.testing.assert_array_equal(flip.predict(x, verbose=0), x)
    inputs = minidl.Input((5, 5, 1))
    outer = minidl.Model(inputs, Flatten()(flip(inputs)))
    assert not np.array_equal(outer(x), x.reshape(32, -1))
    np.testing.assert_array_equal(outer(x, training=False), x.reshape(32, -1))


def test_train_on_batch_reduces_loss():
    x, y = blobs(30)
    model = small_mlp(seed=0)
    model.compile(optimizer=optimizers.SGD(0.2), loss="sparse_categorical_crossentropy")
    first = model.train_on_batch(x, y, return_dict=True)
    for _ in range(10):
        last = model.train_on_batch(x, y, return_dict=True)
    assert set(first) == {"loss", "accuracy"}
    assert last["loss"] < first["loss"]
    assert model.optimizer.iterations == 11


def test_fit_gradient_is_the_batch_mean(rng):
    """One SGD step from fit equals w - lr * (numerical gradient of the mean batch loss)."""
    from minidl.gradcheck import numerical_gradient

    model = Model(seed=0, dtype="float64")
    model.add(Dense(4, activation="tanh", input_shape=(3,)))
    model.add(Dense(2, activation="softmax"))
    model.compile(optimizer=optimizers.SGD(0.5), loss="sparse_categorical_crossentropy")
    x, y = rng.standard_normal((6, 3)), np.array([0, 1, 1, 0, 1, 0])
    w0 = model.parameters.copy()
    numeric = numerical_gradient(lambda: model.loss.total(model.forward(x), y) / 6, model.parameters)
    model.fit(x, y, batch_size=6, epochs=1, verbose=0, shuffle=False)
    np.testing.assert_allclose(model.parameters, w0 - 0.5 * numeric, rtol=1e-6, atol=1e-9)


def small_cnn64(seed=0):
    """A float64 CNN touching every layer kind: single- and multi-channel conv, both paddings and
    strides, both pools, Flatten, Dropout, Dense activations and a standalone softmax."""
    model = Model(seed=seed, dtype="float64")
    model.add(Conv2D(2, 3, padding="same", activation="tanh", input_shape=(7, 6, 1)))
    model.add(MaxPool2D(2, strides=1))
    model.add(Conv2D(3, (2, 3), strides=2, padding="same", activation="sigmoid"))
    model.add(AvgPool2D(2, strides=1))
    model.add(Flatten())
    model.add(Dropout(0.3))
    model.add(Dense(5, activation="tanh"))
    model.add(Dense(3))
    model.add(Softmax())
    return model


@pytest.mark.parametrize("loss", ["sparse_categorical_crossentropy", "mse"])
def test_whole_model_gradient_check(loss, rng):
    """Layers composed in a Model (first layer without input gradient, flat weight views, dropout noise,
    fused or unfused softmax) give the numerical gradient of the mean batch loss."""
    from minidl.gradcheck import assert_gradients_close, numerical_gradient

    model = small_cnn64()
    model.compile(loss=loss)
    x = rng.standard_normal((4, 7, 6, 1))
    y = check_targets(model, x, np.array([0, 2, 1, 2]) if loss != "mse" else rng.random((4, 3)))
    model.forward_backward(x, y, None, len(x), step=5)
    analytic = model.gradients.copy()
    # The same training context as forward_backward's fixes each Dropout's mask for the numerical side.
    context = TrainingContext(step=5, positions=np.arange(len(x)), seed=model.seed, layers=tuple(model.layers))
    numeric = numerical_gradient(
        lambda: model.loss.total(model.forward(x, training=context), y) / len(x), model.parameters
    )
    assert_gradients_close(analytic, numeric, f"model with {loss}")


def test_float32_gradients_match_float64():
    x = np.random.default_rng(0).random((3, 7, 6, 1))
    config, weights = small_cnn64().get_config(), small_cnn64().get_weights()
    grads = {}
    for dtype in ("float32", "float64"):
        model = Model.from_config({**config, "dtype": dtype})
        model.set_weights(weights)
        model.compile(loss="sparse_categorical_crossentropy")
        model.forward_backward(check_inputs(model, x), np.array([0, 1, 2]), None, 3, step=1)
        assert model.gradients.dtype == np.dtype(dtype)
        grads[dtype] = model.gradients.astype(np.float64)
    np.testing.assert_allclose(grads["float32"], grads["float64"], rtol=1e-3, atol=1e-6)


def test_adding_a_layer_after_compile_moves_the_fusion():
    from minidl.gradcheck import assert_gradients_close, numerical_gradient

    model = Model(seed=0, dtype="float64")
    model.add(Dense(4, activation="softmax", input_shape=(3,)))
    model.compile(loss="sparse_categorical_crossentropy")
    model.add(Dense(3, activation="softmax"))
    assert not model.layers[0].activation.backward_done_by_loss and model.layers[1].activation.backward_done_by_loss
    x, y = np.random.default_rng(0).standard_normal((5, 3)), np.array([0, 1, 2, 1, 0])
    model.forward_backward(x, y, None, 5)
    analytic = model.gradients.copy()
    numeric = numerical_gradient(lambda: model.loss.total(model.forward(x), y) / 5, model.parameters)
    assert_gradients_close(analytic, numeric, "softmax inside, fused softmax last")


# ----- clear errors -----
def _compiled_mlp():
    model = small_mlp()
    model.compile(loss="sparse_categorical_crossentropy")
    return model


@pytest.mark.parametrize("x", [np.zeros((5, 3)), np.zeros((5, 4, 2)), np.zeros(4), np.zeros((5, 2, 2))])
def test_fit_and_predict_reject_wrong_input_shape(x):
    model = _compiled_mlp()
    with pytest.raises(ShapeError, match=rf"expects x of shape \(N, 4\), got {re.escape(str(x.shape))}"):
        model.predict(x)
    with pytest.raises(ShapeError, match=r"expects x of shape \(N, 4\)"):
        model.fit(x, np.zeros(len(x), dtype=int), verbose=0)


def test_images_without_channel_axis_get_it_as_in_keras(lenet5):
    """Keras adds a missing last axis of size 1 (MNIST's (N, 28, 28) for Input (28, 28, 1)); other shapes
    are refused."""
    model, x = lenet5(), np.random.default_rng(0).random((2, 28, 28))
    np.testing.assert_array_equal(model.predict(x, verbose=0), model.predict(x[..., None], verbose=0))
    with pytest.raises(ShapeError, match=r"\(N, 28, 28, 1\), got \(2, 28, 27\)"):
        model.predict(np.zeros((2, 28, 27)))


def test_dense_after_conv_without_flatten_is_refused_by_the_classification_loss():
    """Dense acts on the channels as in Keras; a cross-entropy on one label per image then names Flatten."""
    model = Model(seed=0)
    model.add(Conv2D(4, 3, input_shape=(8, 8, 1), name="conv_a"))
    model.add(Dense(10, name="dense_b"))
    assert model.output_shape == (6, 6, 10)
    model.compile(loss="sparse_categorical_crossentropy")
    with pytest.raises(ShapeError, match=r"\(N, 6, 6, 10\).*Flatten"):
        model.fit(np.zeros((2, 8, 8, 1)), np.zeros(2, int), verbose=0)


def test_kernel_larger_than_input_fails_at_add():
    model = Model(seed=0)
    model.add(Conv2D(4, 3, input_shape=(6, 6, 1)))
    model.add(MaxPool2D(2))
    with pytest.raises(ShapeError, match=r"conv_big.*\(5, 5\).*\(2, 2, 4\)"):
        model.add(Conv2D(2, 5, name="conv_big"))


def test_failed_add_leaves_the_model_unchanged():
    model = Model(seed=0)
    model.add(Conv2D(4, 3, input_shape=(8, 8, 1)))
    params = model.count_params()
    with pytest.raises(ShapeError):
        model.add(Conv2D(2, 7))  # a 7x7 kernel on a 6x6 picture
    assert len(model.layers) == 1 and model.count_params() == params
    model.add(Flatten())
    model.add(Dense(10))
    assert model.output_shape == (10,)
    with pytest.raises(ShapeError):
        model.add(Conv2D(2, 3))
    assert len(model.layers) == 3


def test_a_rejected_layer_can_be_added_after_a_fix():
    model = Model(seed=0)
    model.add(Conv2D(4, 3, input_shape=(8, 8, 1)))
    pool = MaxPool2D(8)
    with pytest.raises(ShapeError):
        model.add(pool)  # an 8x8 pool on a 6x6 picture
    model.add(ZeroPadding2D(1))
    model.add(pool)
    assert pool.input_shape == (8, 8, 4) and model.output_shape == (1, 1, 4) and model.count_params() == 40


def test_wrong_first_data_does_not_break_a_deferred_build():
    model = Model(seed=0)
    model.add(Conv2D(2, 3))
    model.add(Flatten())
    with pytest.raises(ShapeError):
        model.predict(np.zeros((3, 7)))
    assert model.predict(np.zeros((3, 4, 4, 1))).shape == (3, 8)


def test_adding_a_layer_twice_or_a_non_layer():
    layer = Dense(3, input_shape=(2,))
    model = Model(seed=0).add(layer)
    with pytest.raises(ValueError, match="already"):
        model.add(layer)
    with pytest.raises(TypeError, match="Layer.*str"):
        model.add("dense")


def test_fit_before_compile():
    model = small_mlp()
    x, y = blobs(6)
    with pytest.raises(NotCompiledError, match="compile"):
        model.fit(x, y, verbose=0)
    with pytest.raises(NotCompiledError, match="compile"):
        model.evaluate(x, y)
    with pytest.raises(NotCompiledError, match="compile"):
        model.train_on_batch(x, y)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"loss": "hinge"}, r"unknown loss 'hinge'"),
        ({"optimizer": "adadelta"}, r"unknown optimizer 'adadelta'"),
        ({"metrics": ["f1_scoreish"]}, r"unknown metric.*f1_scoreish"),
    ],
)
def test_compile_unknown_names(kwargs, match):
    with pytest.raises(ValueError, match=match):
        small_mlp().compile(**kwargs)


def test_compile_accepts_a_single_metric_name():
    model = small_mlp()
    model.compile(loss="sparse_categorical_crossentropy", metrics="accuracy")
    assert model.metrics == ["accuracy"]


@pytest.mark.parametrize(
    "labels, error, match",
    [
        (np.array([0, 1, 3, 0, 1, 2]), ValueError, r"0\.\.2.*0\.\.3"),
        (np.array([0.0, 1.5, 2.0, 0.0, 1.0, 2.0]), ValueError, "non-integer"),
        (np.eye(3)[[0, 1, 2, 0, 1, 2]], ShapeError, "categorical_crossentropy"),
        (np.array([0, 1, 2, 0, 1]), ShapeError, "6 samples but y has 5"),
    ],
)
def test_fit_rejects_bad_sparse_labels(labels, error, match):
    x, _ = blobs(6)
    with pytest.raises(error, match=match):
        _compiled_mlp().fit(x, labels, verbose=0)


def test_categorical_rejects_integer_labels_in_fit():
    model = small_mlp()
    model.compile(loss="categorical_crossentropy")
    x, y = blobs(6)
    with pytest.raises(ShapeError, match="sparse_categorical_crossentropy"):
        model.fit(x, y, verbose=0)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"batch_size": 0}, "batch_size"),
        ({"batch_size": -3}, "batch_size"),
        ({"batch_size": 2.5}, "batch_size"),
        ({"epochs": 0}, "epochs"),
        ({"epochs": -1}, "epochs"),
        ({"validation_split": 1.0}, "validation_split"),
        ({"verbose": 3}, "verbose"),
    ],
)
def test_fit_rejects_bad_arguments(kwargs, match):
    x, y = blobs(6)
    with pytest.raises(ValueError, match=match):
        _compiled_mlp().fit(x, y, **{"verbose": 0, **kwargs})


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nan_or_inf_inputs_are_rejected(bad):
    x, y = blobs(6)
    x[2, 1] = bad
    model = _compiled_mlp()
    with pytest.raises(ValueError, match="x contains NaN or infinite"):
        model.fit(x, y, verbose=0)
    with pytest.raises(ValueError, match="NaN or infinite"):
        model.predict(x)


def test_values_too_large_for_float32_are_rejected():
    x, y = blobs(6)
    x = x.astype(np.float64)
    x[0, 0] = 1e300
    with pytest.raises(ValueError, match="NaN or infinite"):
        _compiled_mlp().fit(x, y, verbose=0)


def test_non_numeric_and_empty_inputs():
    model = _compiled_mlp()
    with pytest.raises(TypeError, match="numbers"):
        model.predict(np.array([["a"] * 4]))
    with pytest.raises(ValueError, match="empty"):
        model.predict(np.zeros((0, 4)))


def test_validation_data_is_checked():
    x, y = blobs(6)
    with pytest.raises(ShapeError, match="validation x"):
        _compiled_mlp().fit(x, y, validation_data=(np.zeros((3, 5)), y[:3]), verbose=0)
    with pytest.raises(ShapeError, match="validation y"):
        _compiled_mlp().fit(x, y, validation_data=(x[:3], y[:2]), verbose=0)


@pytest.mark.parametrize("how", ["huge learning rate", "huge inputs"])
def test_nan_loss_stops_training_with_a_warning(how):
    x, y = blobs(64)
    model = small_mlp(seed=0)
    if how == "huge learning rate":
        model.compile(optimizer=optimizers.SGD(1e6), loss="sparse_categorical_crossentropy")
    else:
        x = x * np.float32(1e36)
        model.compile(optimizer=optimizers.SGD(0.01), loss="sparse_categorical_crossentropy")
    counter = StepCounter()
    with np.errstate(all="ignore"), pytest.warns(RuntimeWarning, match=r"epoch 1, step \d+") as records:
        history = model.fit(x, y, batch_size=8, epochs=3, verbose=0, callbacks=[counter])
    message = next(str(r.message) for r in records if "epoch 1" in str(r.message))
    stopped_step = int(re.search(r"step (\d+)", message).group(1))
    assert counter.steps == stopped_step < 8
    assert history.epoch == [0] and len(history.history["loss"]) == 1
    assert not np.isfinite(history.history["loss"][0])
    assert model.stop_training and "epoch 1" in model.stop_reason


def test_check_targets_casts_float_labels_to_the_model_dtype():
    model = small_mlp()
    model.compile(loss="categorical_crossentropy")
    x, y = blobs(6)
    assert check_targets(model, x, np.eye(3)[y]).dtype == np.float32


def test_no_warnings_in_normal_training():
    model = small_cnn()
    model.compile(loss="sparse_categorical_crossentropy")
    xi, yi = images(8)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.fit(xi, yi, batch_size=4, epochs=1, verbose=0)


@pytest.mark.parametrize("seed", [-1, 2**63, 1.5, True, "3"])
def test_bad_seeds_are_refused_naming_the_argument(seed):
    with pytest.raises(ValueError, match="Model: seed must be None or an integer"):
        Model(seed=seed)
    with pytest.raises(ValueError, match="set_seed: seed must be None or an integer"):
        minidl.set_seed(seed)
    assert Model(seed=np.int64(7)).seed == 7


def test_unknown_dimensions_only_where_a_layer_takes_them():
    from minidl import Input, Sequential

    with pytest.raises(ShapeError, match=r"conv_n.*needs every input dimension known.*\(None, None, 1\)"):
        Sequential([Input(shape=(None, None, 1)), Conv2D(2, 3, name="conv_n")])
    model = Sequential([Input(shape=(None, 4)), Dense(2)])
    assert model.input_shape == (None, 4) and model.output_shape == (None, 2)
    with pytest.raises(ValueError, match="Input: shape"):
        Input(shape=())
    with pytest.raises(ValueError, match="Input: shape dimension"):
        Input(shape=(None, 0))


class WithoutTraining(Model):
    """A subclassed model whose `call` takes no `training` argument (Keras passes it only when taken)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.hidden = Dense(8, activation="relu")
        self.out = Dense(3)

    def call(self, inputs):
        return self.out(self.hidden(inputs))


def test_a_subclassed_models_call_needs_no_training_argument():
    x, y = blobs()
    model = WithoutTraining(seed=0)
    model.compile(optimizer="adam", loss=minidl.losses.SparseCategoricalCrossentropy(from_logits=True))
    history = model.fit(x, y, epochs=5, batch_size=10, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert model.predict(x, verbose=0).shape == (60, 3) and model(x).shape == (60, 3)
    inputs = minidl.Input(shape=(4,))
    assert minidl.Model(inputs, model(inputs)).predict(x, verbose=0).shape == (60, 3)


class AddsALoss(Model):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.dense = Dense(3)

    def call(self, inputs):
        outputs = self.dense(inputs)
        self.add_loss(minidl.ops.mean(minidl.ops.square(outputs)))
        return outputs


def test_model_losses_hold_the_last_calls_terms_only():
    model = AddsALoss(seed=0)
    x = np.ones((10, 4), "float32")
    model.predict(x, batch_size=2, verbose=0)
    assert len(model.losses) == 1  # the last batch's term, not one per batch predicted so far
    expected = np.mean(np.square(model(x)))
    model(x)
    assert len(model.losses) == 1 and float(np.asarray(model.losses[0])) == pytest.approx(expected, rel=1e-6)


class Scale(minidl.layers.Layer):
    """A weightless custom layer: its output, computed from the model's input, is a plain array."""

    def call(self, inputs):
        return inputs * 0.5


def test_layers_after_a_weightless_custom_layer_train():
    x, y = blobs()
    inputs = minidl.Input(shape=(4,))
    outputs = Dense(3)(Dense(8, activation="relu")(Scale()(inputs)))
    model = minidl.Model(inputs, outputs)
    model.compile(optimizer=optimizers.Adam(0.05), loss=minidl.losses.SparseCategoricalCrossentropy(from_logits=True))
    before = model.get_weights()
    history = model.fit(x, y, epochs=5, batch_size=10, verbose=0)
    assert all(not np.array_equal(a, b) for a, b in zip(before, model.get_weights()))
    assert history.history["loss"][-1] < 0.7 * history.history["loss"][0]
