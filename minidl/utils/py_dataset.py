"""Keras's `keras.utils.PyDataset`: a dataset written in Python, read by `fit` batch by batch.

A subclass defines `__len__` (the number of batches in an epoch) and `__getitem__(index)` (one whole
batch: `(x, y)` or `(x, y, sample_weight)`), and may define `on_epoch_begin` / `on_epoch_end` (e.g. to
shuffle). minidl reads it in this process, in order; `workers`, `use_multiprocessing` and
`max_queue_size` are Keras's settings for reading it in parallel, accepted and not used (the training
itself is what minidl spreads over processes, with `fit(..., workers=N)`).
"""

from __future__ import annotations


class PyDataset:
    """Base class: define `__len__` and `__getitem__`."""

    def __init__(self, workers=1, use_multiprocessing=False, max_queue_size=10):
        self.workers, self.use_multiprocessing, self.max_queue_size = workers, use_multiprocessing, max_queue_size

    def __len__(self) -> int:
        raise NotImplementedError(f"{type(self).__name__} must define __len__ (the number of batches)")

    def __getitem__(self, index):
        raise NotImplementedError(f"{type(self).__name__} must define __getitem__ (one batch)")

    @property
    def num_batches(self):
        return len(self)

    def on_epoch_begin(self):
        """Called before each epoch."""

    def on_epoch_end(self):
        """Called after each epoch."""

    def __iter__(self):
        for index in range(len(self)):
            yield self[index]
