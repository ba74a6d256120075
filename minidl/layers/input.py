"""`keras.Input`: the symbolic tensor a functional model starts from, made by an `InputLayer`.

`keras.Input(shape=(28, 28, 1))` gives a `KerasTensor` of shape (None, 28, 28, 1); calling layers on
it records the graph that `keras.Model(inputs, outputs)` runs. Added to a Sequential model
(`Sequential([keras.Input(shape=...), ...])`), it fixes the model's input shape.
"""

from __future__ import annotations

import numpy as np

from ..ops.symbolic import KerasTensor, Node
from ..utils import checks
from .base import Layer


class InputLayer(Layer):
    """The layer behind `keras.Input`: no weights; its output is the model's input as given."""

    def __init__(self, shape=None, batch_size=None, dtype=None, sparse=None, batch_shape=None, name=None,
                 input_tensor=None, optional=False, input_shape=None, **kwargs):  # fmt: skip
        if shape is None and batch_shape is not None:
            shape = tuple(batch_shape)[1:]
        if shape is None and input_shape is not None:
            shape = input_shape
        if shape is None:
            raise ValueError("Input: give shape=(...) without the batch axis, e.g. Input(shape=(28, 28, 1))")
        shape = (shape,) if isinstance(shape, int) else tuple(shape)
        if not shape:
            raise ValueError("Input: shape must have at least one dimension, e.g. Input(shape=(784,))")
        if sparse:
            raise NotImplementedError("Input: sparse=True is not supported by minidl")
        shape = tuple(None if d is None else checks.positive_int(d, "Input: shape dimension") for d in shape)
        super().__init__(name=name or None, input_shape=shape, dtype=dtype or "float32", **kwargs)
        self.batch_size = batch_size
        self.output_shape = shape
        self.built = True
        tensor = KerasTensor((None, *shape), np.dtype(self.dtype).name, name=self.name)
        tensor.node = Node(self, (), {}, [tensor])  # the layer's first node: `self.output` is `tensor`

    def forward(self, x, training=False):
        return x

    def backward(self, grad):
        return grad

    def get_config(self):
        return {"name": self.name, "shape": list(self.input_shape), "dtype": np.dtype(self.dtype).name}


def Input(shape=None, batch_size=None, dtype=None, sparse=None, batch_shape=None, name=None, tensor=None,
          optional=False):  # fmt: skip
    """Keras's `keras.Input`: a symbolic tensor of shape (None, *shape) to call layers on."""
    if tensor is not None:
        raise NotImplementedError("Input: tensor= (wrapping a backend tensor) is not supported by minidl")
    layer = InputLayer(
        shape=shape, batch_size=batch_size, dtype=dtype, sparse=sparse, batch_shape=batch_shape, name=name
    )
    return layer.output


def is_input(tensor) -> bool:
    """Whether `tensor` is what `keras.Input` returned (the output of an InputLayer)."""
    return isinstance(tensor, KerasTensor) and tensor.node is not None and isinstance(tensor.node.operation, InputLayer)
