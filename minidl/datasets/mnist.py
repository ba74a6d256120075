"""Keras's `keras.datasets.mnist`: handwritten digits, read by minidl's own loader."""

from __future__ import annotations

from .loaders import keras_arrays, load_mnist


def load_data(path=None):
    """`(x_train, y_train), (x_test, y_test)`: uint8 images (N, 28, 28) and uint8 labels 0-9, as Keras.

    `path` is accepted and ignored: the files are found as `load_mnist` finds them (`MINIDL_DATA_DIR`,
    the cache, or a checked download).
    """
    return keras_arrays("mnist", load_mnist)
