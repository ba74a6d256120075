"""Keras's dataset modules: `minidl.datasets.mnist.load_data()` and `fashion_mnist.load_data()`.

They return what Keras returns — `(x_train, y_train), (x_test, y_test)` with uint8 images of shape
(N, 28, 28) and uint8 labels — read through minidl's own loaders (`minidl.datasets.load_mnist`,
same files, cache, checks and download). `minidl/__init__.py` attaches them to `minidl.datasets`.
"""

from __future__ import annotations

import numpy as np

from . import datasets


def _as_keras_arrays(split):
    images, labels = split
    # The loaders give float32 bytes / 255; times 255 and rounded, every byte comes back exactly.
    return np.rint(images[..., 0] * 255).astype(np.uint8), labels.astype(np.uint8)


class KerasDataset:
    """One of Keras's dataset modules: `load_data()` returns uint8 arrays in Keras's shapes."""

    def __init__(self, loader, name):
        self.loader, self.__name__ = loader, name
        self.arrays = None

    def load_data(self, path=None):
        """`(x_train, y_train), (x_test, y_test)`; `path` is ignored (minidl finds the files itself).

        Reading and checking the files takes seconds, so the arrays are kept after the first call
        (55 MB for MNIST); every call returns fresh copies, which the caller may change freely.
        """
        if self.arrays is None:
            train, test = self.loader()
            self.arrays = (_as_keras_arrays(train), _as_keras_arrays(test))
        return tuple(tuple(array.copy() for array in split) for split in self.arrays)


mnist = KerasDataset(datasets.load_mnist, "mnist")
fashion_mnist = KerasDataset(datasets.load_fashion_mnist, "fashion_mnist")
