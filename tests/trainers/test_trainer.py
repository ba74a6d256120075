"""fit / evaluate / predict with Keras 3's arguments: weights, epochs, steps, verbose, return values."""

import re
import warnings

import numpy as np
import pytest

from minidl import Model, ops, optimizers
from minidl.callbacks import Callback
from minidl.errors import ShapeError
from minidl.layers import Dense, Layer


def blobs(n=40, seed=0):
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 3
    x = (np.eye(3, 4)[y] * 3 + rng.standard_normal((n, 4)) * 0.5).astype(np.float32)
    return x, y


def mlp(seed=0, lr=0.1, metrics=None, loss="sparse_categorical_crossentropy"):
    model = Model(seed=seed)
    model.add(Dense(6, activation="relu", input_shape=(4,)))
    model.add(Dense(3, activation="softmax"))
    return model.compile(optimizer=optimizers.SGD(lr), loss=loss, metrics=metrics)


def test_sample_weights_scale_each_samples_share_of_the_gradient():
    """Keras's rule: loss = Σ w_i L_i / N. Weights of 2 everywhere = twice the learning rate for SGD."""
    x, y = blobs(8)
    doubled, plain = mlp(lr=0.1), mlp(lr=0.2)
    first = doubled.train_on_batch(x, y, sample_weight=np.full(8, 2.0), return_dict=True)
    reference = plain.train_on_batch(x, y, return_dict=True)
    np.testing.assert_allclose(doubled.parameters, plain.parameters, rtol=1e-6)
    assert first["loss"] == pytest.approx(2 * reference["loss"], rel=1e-6)
    assert first["accuracy"] == reference["accuracy"]  # metrics are not weighted


def test_zero_weights_remove_samples_and_class_weights_equal_sample_weights():
    x, y = blobs(12)
    kept = y != 2
    a, b = mlp(), mlp()
    a.train_on_batch(x, y, sample_weight=kept.astype(float))
    # Dropping the class-2 samples by weight = training on the rest with the gradient scaled by 8/12.
    b.optimizer.learning_rate = 0.1 * kept.sum() / len(y)
    b.train_on_batch(x[kept], y[kept])
    np.testing.assert_allclose(a.parameters, b.parameters, rtol=1e-5)
    c, d = mlp(), mlp()
    c.fit(x, y, batch_size=4, epochs=2, verbose=0, class_weight={0: 1.0, 1: 3.0, 2: 0.5})
    d.fit(x, y, batch_size=4, epochs=2, verbose=0, sample_weight=np.array([1.0, 3.0, 0.5])[y])
    np.testing.assert_allclose(c.parameters, d.parameters, rtol=1e-6)


def test_weighted_fit_works_with_worker_processes():
    x, y = blobs(24)
    weights = np.linspace(0.5, 2.0, 24)
    one, two = mlp(), mlp()
    one.fit(x, y, batch_size=8, epochs=1, verbose=0, sample_weight=weights)
    two.fit(x, y, batch_size=8, epochs=1, verbose=0, sample_weight=weights, workers=2)
    np.testing.assert_allclose(one.parameters, two.parameters, rtol=1e-5, atol=1e-7)


def test_bad_weights_are_named():
    x, y = blobs(6)
    with pytest.raises(ValueError, match=r"sample_weight must have shape \(6,\)"):
        mlp().fit(x, y, verbose=0, sample_weight=np.ones(5))
    with pytest.raises(ValueError, match="non-negative"):
        mlp().fit(x, y, verbose=0, sample_weight=-np.ones(6))
    with pytest.raises(ValueError, match=r"class_weight\[1\]"):
        mlp().fit(x, y, verbose=0, class_weight={1: float("nan")})


def test_epochs_steps_and_validation_frequency():
    x, y = blobs(40)
    history = mlp().fit(
        x,
        y,
        batch_size=8,
        epochs=5,
        initial_epoch=2,
        steps_per_epoch=3,
        validation_split=0.2,
        validation_freq=2,
        verbose=0,
    )
    assert history.epoch == [2, 3, 4] and history.params["steps"] == 3
    assert len(history.history["loss"]) == 3
    # Validation after epochs 2 and 4 (1-based), i.e. epoch indices 1 and 3: only index 3 is run here.
    assert len(history.history["val_loss"]) == 1
    with pytest.raises(ValueError, match="steps_per_epoch=9 is more than the 5 batches"):
        mlp().fit(x, y, batch_size=8, steps_per_epoch=9, verbose=0)


def test_batch_size_defaults_to_32_and_verbose_is_checked():
    x, y = blobs(70)
    assert mlp().fit(x, y, verbose=0).params["steps"] == 3
    for bad in (3, "loud", True):
        with pytest.raises(ValueError, match="verbose must be 'auto', 0, 1 or 2"):
            mlp().fit(x, y, verbose=bad)


def test_evaluate_returns_keras_shapes():
    x, y = blobs(20)
    model = mlp(metrics=["accuracy", "sparse_top_k_categorical_accuracy"])
    values = model.evaluate(x, y, verbose=0)
    logs = model.evaluate(x, y, verbose=0, return_dict=True)
    assert model.metrics_names == ["loss", "accuracy", "sparse_top_k_categorical_accuracy"]
    assert values == [logs[k] for k in model.metrics_names]
    assert logs["sparse_top_k_categorical_accuracy"] == 1.0  # 3 classes, top 5
    assert isinstance(mlp(metrics=[]).evaluate(x, y, verbose=0), float)
    assert model.evaluate(x, y, batch_size=3, verbose=0) == pytest.approx(values)
    assert model.test_on_batch(x, y) == pytest.approx(values)


def test_predict_hooks_and_batches():
    class Seen(Callback):
        def __init__(self):
            super().__init__()
            self.names, self.rows = [], 0

        def on_predict_begin(self, logs=None):
            self.names.append("begin")

        def on_predict_batch_end(self, batch, logs=None):
            self.rows += len(logs["outputs"])

        def on_predict_end(self, logs=None):
            self.names.append("end")

    x, _ = blobs(70)
    seen = Seen()
    model = mlp()
    out = model.predict(x, callbacks=[seen], verbose=0)
    assert seen.names == ["begin", "end"] and seen.rows == 70 and seen.params["steps"] == 3
    np.testing.assert_array_equal(model.predict_on_batch(x), out)
    np.testing.assert_array_equal(model(x), out)
    assert model.predict(x, steps=1, verbose=0).shape == (32, 3)


def test_predict_of_a_model_with_several_outputs_gives_one_array_per_output():
    from minidl import Input

    inputs = Input(shape=(4,))
    hidden = Dense(5, activation="relu")(inputs)
    model = Model(inputs, [hidden, Dense(3)(hidden)])
    x, _ = blobs(70)
    hidden_values, out = model.predict(x, batch_size=32, verbose=0)  # three batches, concatenated per output
    assert hidden_values.shape == (70, 5) and out.shape == (70, 3)
    expected_hidden, expected_out = model(x)
    np.testing.assert_allclose(hidden_values, expected_hidden, rtol=1e-6)
    np.testing.assert_allclose(out, expected_out, rtol=1e-6)


def test_keras_progress_lines(capsys):
    x, y = blobs(20)
    model = mlp()
    model.fit(x, y, batch_size=10, epochs=1, verbose=2)
    model.evaluate(x, y, verbose=1)
    model.predict(x, verbose=2)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "Epoch 1/1"
    assert lines[1].startswith("2/2 - ") and ("ms/step" in lines[1] or "us/step" in lines[1])
    assert lines[1].endswith(
        f" - accuracy: {model.history.history['accuracy'][0]:.4f} - loss: {model.history.history['loss'][0]:.4f}"
    )
    assert lines[2].startswith("1/1 ━━━━━━━━━━━━━━━━━━━━ ") and " - accuracy: " in lines[2]
    assert lines[3].startswith("1/1 - ")


def test_unsupported_inputs_name_the_feature():
    x, y = blobs(6)
    with pytest.raises(NotImplementedError, match=r"fit needs arrays x and y, or x as a generator .*; got y=None"):
        mlp().fit(x)


def test_repeated_fit_calls_draw_new_shuffles_and_equal_one_longer_fit():
    """`for i in range(3): fit(epochs=1)` continues the shuffle sequence (as Keras draws fresh orders)
    and ends with the same weights, bit for bit, as one `fit(epochs=3)`."""
    x, y = blobs(64)
    one = Model([Dense(5, "relu", input_shape=(4,)), Dense(3, "softmax")], seed=2)
    one.compile(optimizers.SGD(0.1), "sparse_categorical_crossentropy")
    one.fit(x, y, batch_size=8, epochs=3, verbose=0)
    repeated = Model([Dense(5, "relu", input_shape=(4,)), Dense(3, "softmax")], seed=2)
    repeated.compile(optimizers.SGD(0.1), "sparse_categorical_crossentropy")
    for _ in range(3):
        repeated.fit(x, y, batch_size=8, epochs=1, verbose=0)
    np.testing.assert_array_equal(repeated.parameters, one.parameters)
    assert repeated.completed_epochs == 3

    same_each_time = Model([Dense(5, "relu", input_shape=(4,)), Dense(3, "softmax")], seed=2)
    same_each_time.compile(optimizers.SGD(0.1), "sparse_categorical_crossentropy")
    orders = []
    for _ in range(2):
        same_each_time.completed_epochs = 0  # what every call saw before: the first epoch's order again
        same_each_time.fit(x, y, batch_size=8, epochs=1, verbose=0)
        orders.append(same_each_time.parameters.copy())
    assert not np.array_equal(orders[1], repeated.parameters)


def test_save_with_overwrite_false_refuses_an_existing_file(tmp_path):
    model = Model([Dense(3, input_shape=(4,))], seed=0)
    path = tmp_path / "m.keras"
    model.save(path)
    before = path.read_bytes()
    other = Model([Dense(3, input_shape=(4,))], seed=1)
    with pytest.raises(FileExistsError):
        other.save(path, overwrite=False)
    assert path.read_bytes() == before


def test_sample_weights_reach_the_loss_equal_in_one_process_and_a_pool():
    """The weights travel as their own array: a pool of two gives the one-process result (float64)."""
    rng = np.random.default_rng(4)
    x, y = blobs(60)
    weights = rng.uniform(0.1, 3.0, len(x))
    results = []
    for workers in (1, 2):
        model = Model([Dense(5, "relu", input_shape=(4,)), Dense(3, "softmax")], seed=2, dtype="float64")
        model.compile(optimizers.SGD(0.1), "sparse_categorical_crossentropy", metrics=["accuracy"])
        history = model.fit(x, y, batch_size=16, epochs=2, sample_weight=weights, verbose=0, workers=workers)
        results.append((model.parameters.copy(), history.history["loss"]))
    np.testing.assert_allclose(results[1][0], results[0][0], rtol=1e-12)
    np.testing.assert_allclose(results[1][1], results[0][1], rtol=1e-12)


def test_a_backends_tensors_are_refused_in_one_line():
    torch = pytest.importorskip("torch")
    model = Model([Dense(2, input_shape=(3,))], seed=0).compile("sgd", "mse")
    for call in (
        lambda: model.fit(torch.zeros(4, 3), np.zeros((4, 2)), verbose=0),
        lambda: model.predict(torch.zeros(4, 3)),
    ):
        with pytest.raises(NotImplementedError, match="PyTorch's tensors and DataLoaders are not supported by minidl"):
            call()


def test_training_that_does_not_learn_warns_naming_the_learning_rate():
    rng = np.random.default_rng(0)
    x, y = rng.random((256, 20)).astype("float32"), rng.integers(0, 10, 256)
    wild = Model([Dense(32, "relu", input_shape=(20,)), Dense(10, "softmax")], seed=0)
    wild.compile(optimizers.SGD(1e6), "sparse_categorical_crossentropy")
    with pytest.warns(
        RuntimeWarning, match=r"the loss rose during the first epoch.*learning rate 1e\+06 may be too high"
    ):
        wild.fit(x, y, batch_size=32, epochs=1, verbose=0)
    calm = Model([Dense(32, "relu", input_shape=(20,)), Dense(10, "softmax")], seed=0)
    calm.compile(optimizers.SGD(0.05), "sparse_categorical_crossentropy")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        calm.fit(x, y, batch_size=32, epochs=1, verbose=0)


def test_a_loss_that_grows_tenfold_within_the_epoch_is_named_at_once():
    """Least squares with SGD(0.5) on inputs of scale 3: each step overshoots, and the running loss passes
    10x the first batch's within the epoch (the warning fires there, while the loss is still finite)."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 4)).astype("float32") * 3
    model = Model([Dense(1, input_shape=(4,))], seed=0).compile(optimizers.SGD(0.5), "mse")
    with pytest.warns(RuntimeWarning, match=r"the loss grew from \S+ to \S+ \(over 10x\).*learning rate 0.5") as caught:
        model.fit(x, x.sum(axis=1, keepdims=True), batch_size=8, epochs=1, verbose=0)
    assert len([w for w in caught if "diverging" in str(w.message)]) == 1  # said once


def test_a_loss_that_rises_for_a_few_steps_and_then_learns_is_not_called_diverging():
    """A custom loss with Adam at 0.01 on a small problem: the first batches rise above the first one, so
    the epoch's mean is above the first batch's loss, while its last quarter is back level with it; 20 epochs
    take the loss from 0.38 to 0.02."""
    from minidl import Input, ops, set_seed
    from minidl.callbacks import DivergenceGuard
    from minidl.layers import Concatenate, Layer

    class Scale(Layer):
        def build(self, input_shape):
            self.s = self.add_weight(name="s", shape=(input_shape[-1],), initializer="ones")

        def call(self, x):
            return x * self.s

    set_seed(0)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((256, 6)).astype("float32")
    y = (x[:, :3].sum(axis=1) > 0).astype("float32")[:, None]
    inputs = Input((6,))
    merged = Concatenate()([Dense(8, activation="relu")(inputs), Scale()(inputs)])
    model = Model(inputs, Dense(1, activation="sigmoid")(merged))

    def focal(y_true, y_pred):
        p = ops.clip(y_pred, 1e-6, 1 - 1e-6)
        return -ops.mean(y_true * (1 - p) ** 2 * ops.log(p) + (1 - y_true) * p**2 * ops.log(1 - p), axis=-1)

    model.compile(optimizers.Adam(0.01), loss=focal)
    guard = DivergenceGuard()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.fit(x, y, batch_size=32, epochs=1, verbose=0, callbacks=[guard])
    epoch_mean = guard.running[-1]
    assert epoch_mean > guard.first_loss * 1.05, "the case this test is about: the epoch's mean above the first batch"
    assert guard.message is None and guard._last_quarter() < guard.first_loss * 1.05  # level by then: not named


def test_more_workers_than_samples_in_a_batch_is_refused_before_any_process_starts(monkeypatch):
    """workers=N beyond the batch size: one line, and no pool started (a typo like 100000 would fork that many)."""
    from minidl.distributed import pool

    x, y = blobs(16)
    model = Model([Dense(3, "softmax", input_shape=(4,))], seed=0).compile("sgd", "sparse_categorical_crossentropy")
    monkeypatch.setattr(pool.WorkerPool, "__init__", lambda *args, **kwargs: pytest.fail("a pool was started"))
    message = "workers=100000 with batches of 2 samples: 99998 worker(s) would have nothing to compute at every step"
    for call in (
        lambda: model.fit(x, y, batch_size=2, epochs=1, verbose=0, workers=100000),
        lambda: model.evaluate(x, y, batch_size=2, verbose=0, workers=100000),
        lambda: model.predict(x, batch_size=2, verbose=0, workers=100000),
    ):
        with pytest.raises(ValueError, match=re.escape(message)):
            call()


def test_a_pool_given_with_more_workers_than_samples_in_a_batch_is_named():
    from minidl.distributed import WorkerPool

    x, y = blobs(16)
    model = Model([Dense(3, "softmax", input_shape=(4,))], seed=0).compile("sgd", "sparse_categorical_crossentropy")
    message = "3 workers for batches of 2 samples: 1 of them have nothing to compute"
    with WorkerPool(3) as workers, pytest.warns(RuntimeWarning, match=message):
        model.fit(x, y, batch_size=2, epochs=1, verbose=0, workers=workers)


def test_a_column_without_its_axis_of_size_one_is_taken_as_keras_takes_it():
    """Keras's functional models accept an input one axis short when the Input ends in 1 (a column (N,) for
    `Input((1,))`, as keras.io's structured-data example feeds it) or one axis of size 1 long, and nothing else."""
    import minidl

    a, b = minidl.Input((1,), name="a"), minidl.Input((3,), name="b")
    model = minidl.Model([a, b], Dense(1)(minidl.layers.concatenate([a, b])))
    model.compile("sgd", "mse")
    x = {"a": np.arange(6, dtype="float32"), "b": np.ones((6, 3, 1), dtype="float32")}
    full = {"a": x["a"][:, None], "b": x["b"][..., 0]}
    np.testing.assert_array_equal(model.predict(x, verbose=0), model.predict(full, verbose=0))
    model.fit(x, np.zeros(6), epochs=1, verbose=0)
    with pytest.raises(ShapeError, match=r"expects x\[1\] \(b\) of shape \(N, 3\), got \(6,\)"):
        model.predict({"a": x["a"], "b": np.ones(6)}, verbose=0)


def test_a_loss_that_is_zero_from_the_start_is_not_called_diverging():
    model = Model([Dense(1, input_shape=(2,), kernel_initializer="zeros")], seed=0).compile("sgd", "mse")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.fit(np.ones((8, 2), "float32"), np.zeros((8, 1)), batch_size=4, epochs=1, verbose=0)


class Penalised(Layer):
    """Adds 3 · mean(inputs) to the loss (at module level: worker processes unpickle it by name)."""

    def call(self, inputs):
        self.add_loss(ops.mean(inputs) * 3.0)
        return inputs


def test_evaluate_adds_the_regularizers_penalty_and_add_loss_terms_as_keras_does():
    """Keras's evaluate (and val_loss) adds model.losses to the data loss: an L2 penalty of 0.5·Σw², and a
    custom layer's add_loss term of the batch."""
    from minidl import Input, regularizers

    x = np.ones((6, 2), "float32")
    y = np.zeros((6, 1), "float32")
    model = Model([Dense(1, input_shape=(2,), kernel_initializer="ones", kernel_regularizer=regularizers.L2(0.5))])
    model.compile("sgd", "mse")
    data_loss = 4.0  # (1 + 1 + bias 0 - 0)^2
    assert model.evaluate(x, y, verbose=0) == pytest.approx(data_loss + 0.5 * 2)

    inputs = Input((2,))
    outputs = Dense(1, kernel_initializer="ones")(Penalised()(inputs))
    graph = Model(inputs, outputs)
    graph.compile("sgd", "mse")
    assert graph.evaluate(x, y, batch_size=4, verbose=0) == pytest.approx(data_loss + 3.0)
    refused = r"evaluate with workers > 1: model 'functional\w*' adds loss terms in call\(\) \(add_loss\)"
    with pytest.raises(NotImplementedError, match=refused):
        graph.evaluate(x, y, batch_size=4, verbose=0, workers=2)
