"""fit / evaluate / predict on a keras.utils.PyDataset and on plain Python generators of batches."""

import warnings

import numpy as np
import pytest

import minidl as keras
from minidl import layers


class Batches(keras.utils.PyDataset):
    def __init__(self, x, y, batch_size, **kwargs):
        super().__init__(**kwargs)
        self.x, self.y, self.batch_size = x, y, batch_size
        self.epochs_ended = 0

    def __len__(self):
        return -(-len(self.x) // self.batch_size)

    def __getitem__(self, index):
        part = slice(index * self.batch_size, (index + 1) * self.batch_size)
        return self.x[part], self.y[part]

    def on_epoch_end(self):
        self.epochs_ended += 1


def data(n=128, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 4)).astype("float32")
    return x, (x[:, 0] > 0).astype(int)


def model(seed=3):
    net = keras.Sequential(
        [layers.Dense(6, activation="relu", input_shape=(4,)), layers.Dense(2, activation="softmax")], seed=seed
    )
    return net.compile(keras.optimizers.SGD(0.1), "sparse_categorical_crossentropy", metrics=["accuracy"])


def test_a_pydataset_trains_as_its_batches_of_arrays_do():
    x, y = data()
    by_dataset, by_arrays = model(), model()
    dataset = Batches(x, y, 32)
    history = by_dataset.fit(dataset, epochs=3, validation_data=Batches(x[:64], y[:64], 16), verbose=0)
    expected = by_arrays.fit(x, y, batch_size=32, epochs=3, shuffle=False, validation_data=(x[:64], y[:64]), verbose=0)
    np.testing.assert_allclose(by_dataset.parameters, by_arrays.parameters, rtol=1e-6)
    np.testing.assert_allclose(history.history["loss"], expected.history["loss"], rtol=1e-6)
    np.testing.assert_allclose(history.history["val_loss"], expected.history["val_loss"], rtol=1e-6)
    assert dataset.epochs_ended == 3
    assert by_dataset.evaluate(Batches(x, y, 50), verbose=0) == pytest.approx(by_arrays.evaluate(x, y, verbose=0))
    np.testing.assert_allclose(by_dataset.predict(Batches(x, y, 50), verbose=0), by_arrays.predict(x, verbose=0))


def test_a_generator_is_read_on_across_epochs_and_its_end_stops_training():
    x, y = data()

    def forever():
        start = 0
        while True:
            yield x[start : start + 16], y[start : start + 16]
            start = (start + 16) % len(x)

    net = model()
    history = net.fit(forever(), steps_per_epoch=8, epochs=2, verbose=0)
    assert len(history.history["loss"]) == 2

    def once():
        for start in range(0, len(x), 32):
            yield x[start : start + 32], y[start : start + 32], np.ones(len(x[start : start + 32]))

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        short = model().fit(once(), epochs=3, verbose=0)
    assert len(short.history["loss"]) == 1
    assert any("ran out of data during epoch 1 of 3" in str(w.message) for w in caught)


def test_bad_batches_and_arguments_are_named():
    x, y = data()
    net = model()
    with pytest.raises(ValueError, match="y must not be given with a dataset or generator"):
        net.fit(Batches(x, y, 32), y, verbose=0)
    with pytest.raises(ValueError, match="batch 0: a batch must be"):
        net.fit(iter([x[:4]]), verbose=0)
    with pytest.raises(ValueError, match="x batch 1: x"):
        net.fit(iter([(x[:4], y[:4]), (x[:4, :3], y[:4])]), epochs=1, verbose=0)
