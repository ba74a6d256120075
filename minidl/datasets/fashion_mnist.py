"""Keras's `keras.datasets.fashion_mnist`: Zalando's clothing images, read by minidl's own loader."""

from __future__ import annotations

from .loaders import keras_arrays, load_fashion_mnist


def load_data(path=None):
    """`(x_train, y_train), (x_test, y_test)`: uint8 images (N, 28, 28) and uint8 labels 0-9, as Keras.

    `path` is accepted and ignored: the files are found as `load_fashion_mnist` finds them.
    """
    return keras_arrays("fashion_mnist", load_fashion_mnist)
