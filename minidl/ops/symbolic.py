"""Symbolic tensors: what `keras.Input` gives and what calling layers and ops on it records.

A `KerasTensor` has a shape (None for the batch and any other unknown dimension), a dtype, and the
`Node` that made it: the operation (a layer or an op) with the arguments it was called on. Following
`node.inputs` back from a model's outputs reaches its inputs; that is the graph `keras.Model(inputs,
outputs)` runs, forward in order and backward in reverse.
"""

from __future__ import annotations

import numpy as np

from .tape import Arithmetic


class Node:
    """One call of an operation on symbolic tensors: `operation(*args, **kwargs)` made `outputs`."""

    def __init__(self, operation, args, kwargs, outputs):
        self.operation, self.args, self.kwargs = operation, args, kwargs
        self.outputs = outputs
        if getattr(operation, "first_node", None) is None:  # a layer's `input` / `output` (Keras's node 0)
            operation.first_node = self

    @property
    def inputs(self) -> list[KerasTensor]:
        """The symbolic tensors among the arguments, in order (inside lists, tuples and dicts too)."""
        return [t for t in flatten((self.args, self.kwargs)) if isinstance(t, KerasTensor)]

    def run(self, values: dict):
        """Call the operation on concrete values: `values` maps id(symbolic tensor) to its value."""
        args, kwargs = substitute((self.args, self.kwargs), values)
        return self.operation(*args, **kwargs)


class KerasTensor(Arithmetic):
    """Keras's symbolic tensor: `shape` with None for unknown sizes, `dtype`, and `node` (its history)."""

    def __init__(self, shape, dtype="float32", name=None, node=None, index=0):
        self.shape = tuple(None if d is None else int(d) for d in shape)
        self.dtype = np.dtype(dtype).name
        self.name = name
        self.node, self.index = node, index

    ndim = property(lambda self: len(self.shape))

    def __repr__(self):
        return f"<KerasTensor shape={self.shape}, dtype={self.dtype}, name={self.name}>"

    def __array__(self, dtype=None, copy=None):
        raise TypeError(
            f"a symbolic tensor ({self.name or 'KerasTensor'}, shape {self.shape}) has no values: call "
            "layers and minidl.ops on it to build a model, then fit / predict the model on arrays"
        )

    def __bool__(self):
        raise TypeError("a symbolic tensor has no truth value: use minidl.ops.where / ops.cond logic on arrays")


def flatten(structure) -> list:
    """The leaves of nested lists, tuples and dicts (dict values in key order), depth first."""
    if isinstance(structure, (list, tuple)):
        return [leaf for item in structure for leaf in flatten(item)]
    if isinstance(structure, dict):
        return [leaf for key in sorted(structure, key=str) for leaf in flatten(structure[key])]
    return [structure]


def substitute(structure, values: dict):
    """`structure` with every KerasTensor replaced by `values[id(tensor)]` (lists, tuples, dicts kept)."""
    if isinstance(structure, KerasTensor):
        return values[id(structure)]
    if isinstance(structure, list):
        return [substitute(item, values) for item in structure]
    if isinstance(structure, tuple):
        return tuple(substitute(item, values) for item in structure)
    if isinstance(structure, dict):
        return {key: substitute(item, values) for key, item in structure.items()}
    return structure


def any_symbolic(structure) -> bool:
    """Whether a KerasTensor is among the leaves of `structure` (every op and layer call asks: kept cheap)."""
    if isinstance(structure, KerasTensor):
        return True
    if isinstance(structure, (list, tuple)):
        return any(any_symbolic(item) for item in structure)
    if isinstance(structure, dict):
        return any(any_symbolic(item) for item in structure.values())
    return False


# Sizes standing in for unknown dimensions when an op's output shape is found by running it on zeros:
# distinct primes, so an output dimension equal to one of them is read back as unknown.
STAND_IN_BATCH, STAND_IN_OTHER = 7, 11


def stand_in(tensor: KerasTensor) -> np.ndarray:
    """Zeros of the tensor's shape (batch 7, other unknown sizes 11), to run an op on for its shape."""
    shape = [
        STAND_IN_BATCH if i == 0 and d is None else STAND_IN_OTHER if d is None else d
        for i, d in enumerate(tensor.shape)
    ]
    return np.zeros(shape, dtype=tensor.dtype)


def shape_from_stand_in(shape, batch_unknown=True) -> tuple:
    """A shape computed on stand-ins, with the stand-in sizes read back as None."""
    return tuple(
        None if (d == STAND_IN_BATCH and (i == 0 and batch_unknown)) or d == STAND_IN_OTHER else d
        for i, d in enumerate(shape)
    )
