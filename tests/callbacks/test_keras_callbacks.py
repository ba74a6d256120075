"""Keras 3's callbacks: CSVLogger, LambdaCallback, LearningRateScheduler, ReduceLROnPlateau, and the
arguments of EarlyStopping and ModelCheckpoint."""

import csv

import numpy as np
import pytest

from minidl import Model, optimizers
from minidl.callbacks import (
    CSVLogger,
    EarlyStopping,
    LambdaCallback,
    LearningRateScheduler,
    ModelCheckpoint,
    ReduceLROnPlateau,
)
from minidl.layers import Dense


def data(n=20, seed=0):
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 3
    return (np.eye(3, 4)[y] * 3 + rng.standard_normal((n, 4)) * 0.3).astype(np.float32), y


def model(lr=0.1):
    m = Model(seed=0)
    m.add(Dense(6, activation="relu", input_shape=(4,)))
    m.add(Dense(3, activation="softmax"))
    return m.compile(optimizer=optimizers.SGD(lr), loss="sparse_categorical_crossentropy")


def test_csv_logger_writes_one_row_per_epoch_and_appends(tmp_path):
    path = tmp_path / "log.csv"
    x, y = data()
    history = model().fit(x, y, epochs=3, verbose=0, validation_split=0.25, callbacks=[CSVLogger(path)])
    rows = list(csv.DictReader(path.open()))
    assert list(rows[0]) == ["epoch", "accuracy", "loss", "val_accuracy", "val_loss"]
    assert [int(r["epoch"]) for r in rows] == [0, 1, 2]
    assert [float(r["loss"]) for r in rows] == pytest.approx(history.history["loss"])
    model().fit(
        x, y, epochs=1, initial_epoch=0, verbose=0, validation_split=0.25, callbacks=[CSVLogger(path, append=True)]
    )
    assert len(list(csv.DictReader(path.open()))) == 4
    assert not list(tmp_path.glob("*.tmp"))


def test_lambda_callback_calls_the_given_functions():
    seen = []
    callback = LambdaCallback(
        on_epoch_end=lambda epoch, logs: seen.append(("epoch", epoch, round(logs["loss"], 9))),
        on_train_end=lambda logs: seen.append(("end",)),
        on_batch_end=lambda batch, logs: seen.append(("batch", batch)),
    )
    x, y = data(8)
    history = model().fit(x, y, batch_size=4, epochs=2, verbose=0, callbacks=[callback])
    assert seen == [
        ("batch", 0),
        ("batch", 1),
        ("epoch", 0, round(history.history["loss"][0], 9)),
        ("batch", 0),
        ("batch", 1),
        ("epoch", 1, round(history.history["loss"][1], 9)),
        ("end",),
    ]
    with pytest.raises(TypeError, match="unknown hook 'on_epoch_finish'"):
        LambdaCallback(on_epoch_finish=print)


def test_learning_rate_scheduler_sets_the_rate_each_epoch():
    x, y = data()
    m = model(lr=0.1)
    history = m.fit(x, y, epochs=3, verbose=0, callbacks=[LearningRateScheduler(lambda epoch, lr: lr * 0.5)])
    assert history.history["learning_rate"] == pytest.approx([0.05, 0.025, 0.0125])
    one_argument = LearningRateScheduler(lambda epoch: 0.01 * (epoch + 1))
    assert model().fit(x, y, epochs=2, verbose=0, callbacks=[one_argument]).history["learning_rate"] == pytest.approx(
        [0.01, 0.02]
    )
    with pytest.raises(ValueError, match="schedule gave -1"):
        model().fit(x, y, epochs=1, verbose=0, callbacks=[LearningRateScheduler(lambda epoch: -1)])


def test_reduce_lr_on_plateau_with_cooldown_and_floor():
    x, y = data()
    # Nothing counts as an improvement after the first epoch (min_delta is huge); after a reduction
    # the next epoch is a cooldown epoch (its count runs down first, as in Keras).
    callback = ReduceLROnPlateau(monitor="loss", factor=0.5, patience=1, cooldown=2, min_delta=100.0, min_lr=0.02)
    history = model(lr=0.1).fit(x, y, epochs=7, verbose=0, callbacks=[callback])
    assert history.history["learning_rate"] == pytest.approx([0.1, 0.1, 0.05, 0.05, 0.025, 0.025, 0.02])
    with pytest.raises(ValueError, match="factor"):
        ReduceLROnPlateau(factor=1.0)


def test_early_stopping_start_from_epoch_baseline_and_stopped_epoch(capsys):
    x, y = data()
    # min_delta so large that no epoch improves; epochs before start_from_epoch are not watched.
    stopper = EarlyStopping(monitor="loss", min_delta=100.0, patience=1, start_from_epoch=2, verbose=1)
    history = model().fit(x, y, epochs=10, verbose=0, callbacks=[stopper])
    # Epoch 2 is the first watched (it "improves" on infinity), epoch 3 does not: stop there.
    assert stopper.stopped_epoch == 3 and history.epoch == [0, 1, 2, 3]
    assert "Epoch 4: early stopping" in capsys.readouterr().out
    baseline = EarlyStopping(monitor="loss", baseline=0.0, patience=2)
    assert len(model().fit(x, y, epochs=10, verbose=0, callbacks=[baseline]).epoch) == 2


def test_early_stopping_restores_the_best_weights():
    x, y = data()
    m = model(lr=0.5)
    kept = []

    class Keep(LambdaCallback):
        pass

    keep = Keep(on_epoch_end=lambda epoch, logs: kept.append((logs["loss"], m.get_weights())))
    stopper = EarlyStopping(monitor="loss", min_delta=0.05, patience=2, restore_best_weights=True)
    m.fit(x, y, epochs=30, verbose=0, callbacks=[keep, stopper])
    assert stopper.stopped_epoch > 0
    best = kept[stopper.best_epoch][1]
    for a, b in zip(m.get_weights(), best):
        np.testing.assert_array_equal(a, b)


def test_model_checkpoint_names_frequency_and_best_only(tmp_path, capsys):
    x, y = data()
    every = ModelCheckpoint(tmp_path / "m-{epoch:02d}-{loss:.2f}.npz")
    history = model().fit(x, y, epochs=2, verbose=0, callbacks=[every])
    names = sorted(p.name for p in tmp_path.glob("m-*.npz"))
    assert names == [f"m-{e + 1:02d}-{history.history['loss'][e]:.2f}.npz" for e in range(2)]
    batches = ModelCheckpoint(tmp_path / "b-{epoch}-{batch}.npz", save_freq=3)
    model().fit(x, y, batch_size=5, epochs=2, verbose=0, callbacks=[batches])  # 8 batches: saves after 3 and 6
    assert sorted(p.name for p in tmp_path.glob("b-*.npz")) == ["b-1-3.npz", "b-2-2.npz"]
    best = ModelCheckpoint(tmp_path / "best.npz", monitor="loss", save_best_only=True, verbose=1)
    model().fit(x, y, epochs=2, verbose=0, callbacks=[best])
    out = capsys.readouterr().out
    assert "Epoch 1: loss improved from inf to" in out and "saving model to" in out
    assert Model.load(tmp_path / "best.npz").count_params() == model().count_params()
    with pytest.raises(ValueError, match="save_freq"):
        ModelCheckpoint("x.npz", save_freq=0)


def test_callbacks_list_takes_duck_typed_objects_and_refuses_others():
    class Counter:
        """No Callback base: only set_model, set_params and one hook."""

        def __init__(self):
            self.epochs = 0

        def set_model(self, model):
            self.model = model

        def set_params(self, params):
            self.params = params

        def on_epoch_end(self, epoch, logs=None):
            self.epochs += 1

    x, y = data()
    counter = Counter()
    model().fit(x, y, epochs=2, verbose=0, validation_split=0.25, callbacks=[counter])
    assert counter.epochs == 2
    with pytest.raises(TypeError, match="callbacks must be keras.callbacks.Callback instances"):
        model().fit(x, y, epochs=1, verbose=0, callbacks=[print])


def test_model_checkpoint_refuses_an_unwritable_place_before_the_first_step(tmp_path):
    """Issue 15: checkpoint paths are checked before training, not after the first epoch."""
    import numpy as np

    from minidl import Model
    from minidl.callbacks import Callback, ModelCheckpoint
    from minidl.layers import Dense

    (tmp_path / "file").write_text("not a folder")
    steps = []

    class CountSteps(Callback):
        def on_train_batch_end(self, batch, logs=None):
            steps.append(batch)

    model = Model([Dense(2, input_shape=(3,))], seed=0)
    model.compile(loss="mse")
    x, y = np.zeros((8, 3)), np.zeros((8, 2))
    for bad, error in ((tmp_path / "file" / "ckpt-{epoch}.keras", OSError), (tmp_path, IsADirectoryError)):
        with pytest.raises(error, match="ModelCheckpoint"):
            model.fit(x, y, epochs=1, verbose=0, callbacks=[ModelCheckpoint(bad), CountSteps()])
    assert steps == []
    model.fit(x, y, epochs=1, verbose=0, callbacks=[ModelCheckpoint(tmp_path / "new" / "m-{epoch}.keras")])
    assert (tmp_path / "new" / "m-1.keras").is_file()
