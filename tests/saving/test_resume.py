"""Exact resume (issue 15, point 2): stopping after epoch 1 and continuing gives, bit for bit, the
weights and optimizer state of a run never stopped — with Dropout, momentum SGD (with decay) and
Adam, float32 and float64, in this process and across two worker processes.

Three ways to stop and continue are checked against the uninterrupted run: `save` → `load` →
`fit(initial_epoch=1)` (`.keras` and `.npz`), `save_weights` → `load_weights` into a fresh model, and
`BackupAndRestore` after a run killed (an exception) at the start of epoch 2.
"""

from __future__ import annotations

import numpy as np
import pytest

from minidl import Model, saving
from minidl.callbacks import BackupAndRestore, Callback
from minidl.distributed import WorkerPool
from minidl.layers import Dense, Dropout
from minidl.optimizers import SGD, Adam

EPOCHS = 2


@pytest.fixture(scope="module")
def pool():
    with WorkerPool(2) as shared_pool:
        yield shared_pool


def data(dtype):
    rng = np.random.default_rng(7)
    return rng.normal(size=(100, 12)).astype(dtype), rng.integers(0, 4, 100)


def make_model(dtype, optimizer, seed=11):
    model = Model(name="resume", seed=seed, dtype=dtype)
    model.add(Dense(24, activation="relu", input_shape=(12,)))
    model.add(Dropout(0.3))
    model.add(Dense(4, activation="softmax"))
    chosen = SGD(0.05, momentum=0.9, nesterov=True, decay=0.01) if optimizer == "sgd" else Adam(0.01)
    model.compile(optimizer=chosen, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def fit(model, workers, pool, **options):
    x, y = data(model.dtype)
    return model.fit(x, y, batch_size=16, verbose=0, workers=pool if workers == 2 else 1, **options)


def assert_same_run(resumed, uninterrupted):
    np.testing.assert_array_equal(resumed.parameters, uninterrupted.parameters, strict=True)
    state, expected = resumed.optimizer.get_state(), uninterrupted.optimizer.get_state()
    assert state.keys() == expected.keys() and state["iterations"] == expected["iterations"]
    for key, value in expected.items():
        if isinstance(value, np.ndarray):
            np.testing.assert_array_equal(state[key], value, strict=True)


@pytest.fixture(scope="module")
def uninterrupted(pool):
    """The reference runs: 2 epochs without a stop, one per (workers, dtype, optimizer)."""
    runs = {}
    for workers in (1, 2):
        for dtype in ("float32", "float64"):
            for optimizer in ("sgd", "adam"):
                model = make_model(dtype, optimizer)
                fit(model, workers, pool, epochs=EPOCHS)
                runs[workers, dtype, optimizer] = model
    return runs


GRID = [(w, d, o) for w in (1, 2) for d in ("float32", "float64") for o in ("sgd", "adam")]
IDS = [f"workers{w}-{d}-{o}" for w, d, o in GRID]


@pytest.mark.parametrize("workers, dtype, optimizer", GRID, ids=IDS)
@pytest.mark.parametrize("suffix", [".keras", ".npz"])
def test_save_load_fit_equals_an_uninterrupted_fit(workers, dtype, optimizer, suffix, uninterrupted, pool, tmp_path):
    first = make_model(dtype, optimizer)
    fit(first, workers, pool, epochs=1)
    first.save(tmp_path / f"epoch1{suffix}")
    resumed = saving.load_model(tmp_path / f"epoch1{suffix}")
    assert saving.training_state(resumed)["epoch"] == 1
    history = fit(resumed, workers, pool, epochs=EPOCHS, initial_epoch=1)
    assert history.epoch == [1]
    assert_same_run(resumed, uninterrupted[workers, dtype, optimizer])


@pytest.mark.parametrize("workers, dtype, optimizer", GRID[::3], ids=IDS[::3])
def test_save_weights_load_weights_fit_equals_an_uninterrupted_fit(
    workers, dtype, optimizer, uninterrupted, pool, tmp_path
):
    first = make_model(dtype, optimizer)
    fit(first, workers, pool, epochs=1)
    saving.save_weights(first, tmp_path / "epoch1.weights.npz")
    resumed = make_model(dtype, optimizer, seed=12345)  # the file's seed replaces it: it fixes shuffle and Dropout
    saving.load_weights(resumed, tmp_path / "epoch1.weights.npz")
    assert resumed.seed == 11
    fit(resumed, workers, pool, epochs=EPOCHS, initial_epoch=1)
    assert_same_run(resumed, uninterrupted[workers, dtype, optimizer])


class Kill(Callback):
    """Ends `fit` like a crash would, at the start of epoch `at`."""

    def __init__(self, at):
        super().__init__()
        self.at = at

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.at:
            raise RuntimeError("killed")


@pytest.mark.parametrize("workers, dtype, optimizer", GRID, ids=IDS)
def test_backup_and_restore_continues_bit_for_bit(workers, dtype, optimizer, uninterrupted, pool, tmp_path):
    backup = tmp_path / "backup"
    interrupted = make_model(dtype, optimizer)
    with pytest.raises(RuntimeError, match="killed"):
        fit(interrupted, workers, pool, epochs=EPOCHS, callbacks=[BackupAndRestore(backup), Kill(at=1)])
    assert (backup / "backup.keras").is_file()  # kept: the run did not complete
    # A new process: new random weights; with one process even a new seed (the backup's is adopted).
    fresh = make_model(dtype, optimizer, seed=4321 if workers == 1 else 11)
    history = fit(fresh, workers, pool, epochs=EPOCHS, callbacks=[BackupAndRestore(backup)])
    assert history.epoch == [1]  # only the epoch the killed run had not finished
    assert_same_run(fresh, uninterrupted[workers, dtype, optimizer])
    assert not backup.exists()  # deleted once training completed


def test_backup_and_restore_with_workers_needs_the_backups_seed(pool, tmp_path):
    backup = BackupAndRestore(tmp_path / "b")
    assert backup.backup_seed() is None
    with pytest.raises(RuntimeError, match="killed"):
        fit(make_model("float32", "sgd"), 2, pool, epochs=EPOCHS, callbacks=[backup, Kill(at=1)])
    assert backup.backup_seed() == 11
    with pytest.raises(
        ValueError, match="made by a model with seed=11, this one has seed=5.*build the model with seed=11"
    ):
        fit(make_model("float32", "sgd", seed=5), 2, pool, epochs=EPOCHS, callbacks=[backup])


def test_backup_and_restore_without_a_backup_trains_from_the_start(uninterrupted, pool, tmp_path):
    model = make_model("float32", "sgd")
    history = fit(model, 1, pool, epochs=EPOCHS, callbacks=[BackupAndRestore(tmp_path / "b", delete_checkpoint=False)])
    assert history.epoch == [0, 1]
    assert_same_run(model, uninterrupted[1, "float32", "sgd"])
    assert saving.training_state(saving.load_model(tmp_path / "b" / "backup.keras"))["epoch"] == 2


def test_backup_and_restore_refuses_what_it_cannot_do(tmp_path):
    with pytest.raises(NotImplementedError, match="save_freq=100 is not supported"):
        BackupAndRestore(tmp_path, save_freq=100)
    (tmp_path / "file").write_text("x")
    with pytest.raises(NotADirectoryError, match="is a file, not a folder"):
        BackupAndRestore(tmp_path / "file")


def test_initial_epoch_skips_the_shuffles_of_the_skipped_epochs(pool):
    """Without saving: the shuffle generator is advanced by one permutation per skipped epoch."""
    x, y = data("float64")
    orders = []

    class Order(Callback):
        def on_train_batch_begin(self, batch, logs=None):
            orders.append(self.model.optimizer.iterations)

    model = make_model("float64", "sgd")
    model.fit(x, y, batch_size=100, epochs=3, initial_epoch=2, verbose=0, callbacks=[Order()])
    assert orders == [0]  # one step: epoch 2 only
    with pytest.raises(ValueError, match="initial_epoch must be a non-negative integer"):
        model.fit(x, y, epochs=1, initial_epoch=-1, verbose=0)


def test_optimizer_state_round_trip_before_and_after_the_first_step():
    for optimizer in (SGD(0.1, momentum=0.9), Adam()):
        state = optimizer.get_state()
        assert state["iterations"] == 0 and all(v is None for k, v in state.items() if k != "iterations")
        params = np.zeros(3)
        optimizer.step(params, np.ones(3))
        copy = type(optimizer)(**{k: v for k, v in optimizer.get_config().items() if k != "name"})
        copy.set_state(optimizer.get_state())
        a, b = params.copy(), params.copy()
        optimizer.step(a, np.full(3, 0.5))
        copy.step(b, np.full(3, 0.5))
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="iterations must be a non-negative integer"):
        SGD().set_state({"iterations": -1})
