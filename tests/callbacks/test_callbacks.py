"""Callbacks: hook order, History, EarlyStopping, ModelCheckpoint, TerminateOnNaN, validation."""

import numpy as np
import pytest

from minidl import Model, optimizers
from minidl.callbacks import Callback, EarlyStopping, History, ModelCheckpoint, TerminateOnNaN
from minidl.layers import Dense


def data(n=20, seed=0):
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 3
    x = (np.eye(3, 4)[y] * 3 + rng.standard_normal((n, 4)) * 0.3).astype(np.float32)
    return x, y


def model(seed=0, lr=0.1):
    m = Model(seed=seed)
    m.add(Dense(6, activation="relu", input_shape=(4,)))
    m.add(Dense(3, activation="softmax"))
    m.compile(optimizer=optimizers.SGD(lr), loss="sparse_categorical_crossentropy")
    return m


class Recorder(Callback):
    """Records every hook call with its argument and a copy of the logs."""

    def __init__(self):
        super().__init__()
        self.calls = []

    def __getattribute__(self, name):
        if name.startswith("on_"):

            def record(*args):
                self.calls.append((name, *args[:-1], dict(args[-1] or {})))

            return record
        return super().__getattribute__(name)

    def names(self):
        return [call[0] for call in self.calls]


class Scripted(Callback):
    """Overrides one epoch-log value with a scripted sequence (for callbacks placed after it)."""

    def __init__(self, key, values):
        super().__init__()
        self.key, self.values, self.weights = key, values, []

    def on_epoch_end(self, epoch, logs=None):
        logs[self.key] = self.values[epoch]
        self.weights.append(self.model.get_weights())


def test_hook_order_with_validation():
    recorder = Recorder()
    x, y = data(20)
    model().fit(x, y, batch_size=8, epochs=2, verbose=0, validation_split=0.25, callbacks=[recorder])
    # 15 training samples in batches of 8: 2 steps per epoch; then validation.
    epoch = [
        "on_epoch_begin",
        "on_train_batch_begin",
        "on_train_batch_end",
        "on_train_batch_begin",
        "on_train_batch_end",
        "on_test_begin",
        "on_test_batch_begin",  # 5 validation samples: one batch of 8
        "on_test_batch_end",
        "on_test_end",
        "on_epoch_end",
    ]
    assert recorder.names() == ["on_train_begin", *epoch, *epoch, "on_train_end"]
    assert [c[1] for c in recorder.calls if c[0] == "on_epoch_begin"] == [0, 1]
    assert [c[1] for c in recorder.calls if c[0] == "on_train_batch_end"] == [0, 1, 0, 1]
    batch_logs = [c[2] for c in recorder.calls if c[0] == "on_train_batch_end"]
    assert [logs["size"] for logs in batch_logs] == [8, 7, 8, 7]
    assert all(set(logs) >= {"loss", "accuracy"} for logs in batch_logs)
    epoch_logs = [c[2] for c in recorder.calls if c[0] == "on_epoch_end"]
    assert all(set(logs) == {"loss", "accuracy", "val_loss", "val_accuracy"} for logs in epoch_logs)
    assert recorder.calls[-1][-1]["status"] == "finished"
    assert recorder.params["samples"] == 15 and recorder.params["val_samples"] == 5
    assert recorder.params["steps"] == 2 and recorder.params["epochs"] == 2
    assert recorder.model is not None


def test_train_end_is_called_after_an_error():
    class Boom(Callback):
        def on_train_batch_end(self, batch, logs=None):
            raise RuntimeError("boom")

    recorder = Recorder()
    x, y = data(10)
    with pytest.raises(RuntimeError, match="boom"):
        model().fit(x, y, batch_size=5, verbose=0, callbacks=[recorder, Boom()])
    assert recorder.names()[-1] == "on_train_end"
    assert recorder.calls[-1][-1] == {"status": "failed", "error": "RuntimeError: boom"}


def test_evaluate_calls_test_hooks():
    recorder = Recorder()
    x, y = data(10)
    m = model()
    m.evaluate(x, y, batch_size=4, callbacks=[recorder])
    batch = ["on_test_batch_begin", "on_test_batch_end"]
    assert recorder.names() == ["on_test_begin", *batch * 3, "on_test_end"]
    assert recorder.calls[-1][-1] == pytest.approx(m.evaluate(x, y, return_dict=True))


def test_history_keys_and_lengths():
    x, y = data(30)
    history = model().fit(x, y, batch_size=10, epochs=3, verbose=0, validation_data=data(9, seed=1))
    assert isinstance(history, History)
    assert set(history.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert all(len(values) == 3 for values in history.history.values())
    assert history.epoch == [0, 1, 2]
    assert all(0 <= a <= 1 for a in history.history["accuracy"] + history.history["val_accuracy"])


def test_history_without_validation():
    x, y = data(12)
    history = model().fit(x, y, batch_size=4, epochs=2, verbose=0)
    assert set(history.history) == {"loss", "accuracy"}


def test_epoch_loss_is_the_sample_weighted_mean_of_batches():
    recorder = Recorder()
    x, y = data(10)
    history = model().fit(x, y, batch_size=4, epochs=1, verbose=0, callbacks=[recorder])
    batches = [c[2] for c in recorder.calls if c[0] == "on_train_batch_end"]
    # Batch logs carry the running mean of the epoch so far (Keras); each batch's own mean loss is
    # recovered from two consecutive running means.
    seen = np.cumsum([b["size"] for b in batches])
    totals = [b["loss"] * n for b, n in zip(batches, seen)]
    own = [(t - p) / b["size"] for t, p, b in zip(totals, [0.0, *totals[:-1]], batches)]
    mean = sum(loss * b["size"] for loss, b in zip(own, batches)) / 10
    assert history.history["loss"][0] == pytest.approx(mean)
    assert batches[-1]["loss"] == pytest.approx(history.history["loss"][0])


def test_validation_split_uses_the_last_samples():
    x, y = data(20)
    val_x, val_y = x[15:], y[15:]
    m = model()
    history = m.fit(x, y, batch_size=5, epochs=1, verbose=0, validation_split=0.25, shuffle=False)
    loss, accuracy = m.evaluate(val_x, val_y)
    assert history.history["val_loss"][0] == pytest.approx(loss)
    assert history.history["val_accuracy"][0] == pytest.approx(accuracy)


def test_validation_data_equals_evaluate():
    x, y = data(20)
    vx, vy = data(7, seed=3)
    m = model()
    history = m.fit(x, y, batch_size=5, epochs=1, verbose=0, validation_data=(vx, vy))
    assert history.history["val_loss"][0] == pytest.approx(m.evaluate(vx, vy)[0])


# ----- EarlyStopping -----
@pytest.mark.parametrize("patience", [0, 1, 2, 3])
def test_early_stopping_patience(patience):
    """val_loss 1.0, 0.5, 0.4, then worse: it stops after `patience` epochs without improvement (at least one)."""
    script = Scripted("val_loss", [1.0, 0.5, 0.4, 0.6, 0.7, 0.8, 0.9])
    stopper = EarlyStopping(patience=patience)
    x, y = data(10)
    history = model().fit(x, y, batch_size=5, epochs=7, verbose=0, validation_split=0.2, callbacks=[script, stopper])
    expected_epochs = 3 + max(patience, 1)
    assert len(history.epoch) == expected_epochs
    assert stopper.stopped_epoch == expected_epochs - 1


def test_early_stopping_restores_best_weights():
    script = Scripted("val_loss", [1.0, 0.3, 0.5, 0.6, 0.7, 0.8])
    stopper = EarlyStopping(patience=2, restore_best_weights=True)
    x, y = data(10)
    m = model()
    m.fit(x, y, batch_size=5, epochs=6, verbose=0, validation_split=0.2, callbacks=[script, stopper])
    assert stopper.stopped_epoch == 3
    assert len(script.weights) == 4
    for best, now in zip(script.weights[1], m.get_weights()):
        np.testing.assert_array_equal(best, now)
    assert not np.array_equal(script.weights[3][0], m.get_weights()[0])


def test_early_stopping_without_restore_keeps_last_weights():
    script = Scripted("val_loss", [1.0, 0.3, 0.5, 0.6])
    x, y = data(10)
    m = model()
    m.fit(x, y, batch_size=5, epochs=4, verbose=0, validation_split=0.2, callbacks=[script, EarlyStopping(patience=1)])
    np.testing.assert_array_equal(script.weights[-1][0], m.get_weights()[0])


def test_early_stopping_max_mode_for_accuracy():
    script = Scripted("val_accuracy", [0.5, 0.9, 0.8, 0.95, 0.7, 0.6, 0.5])
    stopper = EarlyStopping(monitor="val_accuracy", patience=2)
    x, y = data(10)
    history = model().fit(x, y, batch_size=5, epochs=7, verbose=0, validation_split=0.2, callbacks=[script, stopper])
    assert len(history.epoch) == 6


def test_early_stopping_min_delta():
    script = Scripted("loss", [1.0, 0.99, 0.98, 0.97])
    stopper = EarlyStopping(monitor="loss", min_delta=0.05, patience=2)
    x, y = data(10)
    history = model().fit(x, y, batch_size=5, epochs=4, verbose=0, callbacks=[script, stopper])
    assert len(history.epoch) == 3


def test_early_stopping_unknown_monitor():
    x, y = data(10)
    with pytest.raises(KeyError, match=r"val_loss.*accuracy.*loss"):
        model().fit(x, y, verbose=0, callbacks=[EarlyStopping()])


def test_early_stopping_state_resets_between_fits():
    script = Scripted("loss", [0.1, 0.2, 1.0, 0.9, 0.8])
    stopper = EarlyStopping(monitor="loss", patience=1)
    x, y = data(10)
    m = model()
    assert len(m.fit(x, y, epochs=5, verbose=0, callbacks=[script, stopper]).epoch) == 2
    script.values = [5.0, 4.0, 3.0]
    assert len(m.fit(x, y, epochs=3, verbose=0, callbacks=[script, stopper]).epoch) == 3


# ----- ModelCheckpoint -----
def test_model_checkpoint_writes_every_epoch(tmp_path):
    x, y = data(10)
    m = model()
    pattern = str(tmp_path / "ckpt-{epoch:02d}-{loss:.3f}.npz")
    history = m.fit(x, y, batch_size=5, epochs=3, verbose=0, callbacks=[ModelCheckpoint(pattern)])
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == [f"ckpt-{e + 1:02d}-{loss:.3f}.npz" for e, loss in enumerate(history.history["loss"])]
    last = Model.load(tmp_path / names[-1])
    np.testing.assert_array_equal(last.predict(x), m.predict(x))


def test_model_checkpoint_save_best_only(tmp_path):
    script = Scripted("val_loss", [1.0, 0.5, 0.7, 0.4])
    saved = []

    class Spy(ModelCheckpoint):
        def on_epoch_end(self, epoch, logs=None):
            before = {p.stat().st_mtime_ns for p in tmp_path.glob("*.npz")}
            super().on_epoch_end(epoch, logs)
            if (tmp_path / "best.npz").exists() and {p.stat().st_mtime_ns for p in tmp_path.glob("*.npz")} != before:
                saved.append(epoch)

    x, y = data(10)
    m = model()
    m.fit(
        x,
        y,
        batch_size=5,
        epochs=4,
        verbose=0,
        validation_split=0.2,
        callbacks=[script, Spy(tmp_path / "best.npz", save_best_only=True)],
    )
    assert saved == [0, 1, 3]
    np.testing.assert_array_equal(Model.load(tmp_path / "best.npz").predict(x), m.predict(x))


def test_model_checkpoint_unknown_monitor(tmp_path):
    x, y = data(10)
    with pytest.raises(KeyError, match="val_loss"):
        model().fit(x, y, verbose=0, callbacks=[ModelCheckpoint(tmp_path / "m.npz", save_best_only=True)])


# ----- TerminateOnNaN -----
def test_terminate_on_nan_can_be_reused():
    guard = TerminateOnNaN()
    x, y = data(16)
    bad = model(lr=1e6)
    with np.errstate(all="ignore"), pytest.warns(RuntimeWarning, match="epoch 1, step"):
        bad.fit(x * np.float32(1e3), y, batch_size=2, epochs=2, verbose=0, callbacks=[guard])
    assert guard.message is not None
    good = model()
    history = good.fit(x, y, batch_size=4, epochs=2, verbose=0, callbacks=[guard])
    assert history.epoch == [0, 1] and guard.message is None


def test_stop_training_from_a_callback_ends_after_the_epoch():
    class StopAtFirstEpoch(Callback):
        def on_train_batch_end(self, batch, logs=None):
            self.model.stop_training = True

    recorder = Recorder()
    x, y = data(12)
    history = model().fit(x, y, batch_size=4, epochs=3, verbose=0, callbacks=[StopAtFirstEpoch(), recorder])
    assert history.epoch == [0]
    assert recorder.names().count("on_train_batch_end") == 3
    assert recorder.calls[-1][-1]["status"] == "stopped"


def test_validation_data_overrides_validation_split():
    recorder = Recorder()
    x, y = data(20)
    vx, vy = data(6, seed=2)
    model().fit(
        x, y, batch_size=5, epochs=1, verbose=0, validation_split=0.5, validation_data=(vx, vy), callbacks=[recorder]
    )
    assert recorder.params["samples"] == 20 and recorder.params["val_samples"] == 6


@pytest.mark.parametrize("verbose", [1, 2])
def test_progress_output(verbose, capsys):
    x, y = data(12)
    model().fit(x, y, batch_size=4, epochs=2, verbose=verbose, validation_split=0.25)
    out = capsys.readouterr().out
    assert "Epoch 1/2" in out and "Epoch 2/2" in out
    # Keras prints steps, not samples: 9 training samples in batches of 4 are 3 steps.
    assert "val_loss" in out and "3/3" in out
