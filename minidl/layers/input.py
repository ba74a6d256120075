"""`minidl.Input`: Keras's symbolic input, for Sequential models only.

In Keras, `keras.Input(shape=(28, 28, 1))` makes a symbolic tensor. Here it is a placeholder that
fixes a Sequential model's input shape (`Sequential([keras.Input(shape=...), ...])` or
`model.add(keras.Input(...))`). minidl has no symbolic graph, so the Functional API — calling layers
on an `Input` and building `Model(inputs, outputs)` — raises a `NotImplementedError` naming it.
"""

from __future__ import annotations

import numpy as np

from ..utils import checks

FUNCTIONAL_API = (
    "the Functional API (calling layers on keras.Input / Model(inputs, outputs)) is not supported by "
    "minidl: build a Sequential model, e.g. Sequential([keras.Input(shape=...), layers.Dense(...), ...])"
)


class Input:
    """The input of a Sequential model: `shape` without the batch axis (`batch_size` is ignored)."""

    def __init__(self, shape=None, batch_size=None, dtype=None, sparse=None, batch_shape=None, name=None, tensor=None):
        if shape is None and batch_shape is not None:
            shape = tuple(batch_shape)[1:]
        if shape is None:
            raise ValueError("Input: give shape=(...) without the batch axis, e.g. Input(shape=(28, 28, 1))")
        shape = (shape,) if isinstance(shape, int) else tuple(shape)
        if not shape:
            raise ValueError("Input: shape must have at least one dimension, e.g. Input(shape=(784,))")
        # None: a size known only from the data, e.g. the time axis of Input(shape=(None, 8)) for sequences.
        self.input_shape = tuple(None if d is None else checks.positive_int(d, "Input: shape dimension") for d in shape)
        self.batch_size = batch_size
        self.dtype = np.dtype(dtype or "float32").name
        self.name = name or "input_layer"

    @property
    def shape(self):
        """Keras's symbolic shape: `(None, *shape)`."""
        return (None, *self.input_shape)

    def __array__(self, dtype=None, copy=None):
        raise NotImplementedError(FUNCTIONAL_API)

    def __repr__(self):
        return f"<Input shape={self.shape}, dtype={self.dtype}, name={self.name}>"
