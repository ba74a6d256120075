"""Flatten, Reshape, Permute, RepeatVector: the same numbers in another arrangement (nothing learned).

Flatten turns images (h, w, c) into vectors (h*w*c,) for the Dense layers that follow; Reshape gives
any shape with the same count; Permute reorders the axes; RepeatVector copies a vector n times. Each
backward pass is the inverse rearrangement (RepeatVector's adds the n copies' gradients).
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from ..errors import ShapeError
from ..utils import checks
from .base import Layer


class Flatten(Layer):
    """Reshape each sample to one axis, keeping channels-last order (as Keras does).

        forward:  y[n, (i·W + j)·C + c] = x[n, i, j, c]       x: (N, H, W, C) -> y: (N, H·W·C)
        backward: dL/dx = g reshaped back to (N, H, W, C)

    Nothing is computed and nothing is learned: both directions are reshapes (views, no copy).
    """

    def compute_output_shape(self, input_shape):
        return (math.prod(input_shape),)

    def forward(self, x, training=False):
        self.check_input(x)
        return x.reshape(len(x), -1)

    def backward(self, grad):
        return grad.reshape(len(grad), *self.input_shape)


def _ints(value, argument):
    """A tuple of ints from a list or tuple of them (Keras's `target_shape`, `dims`)."""
    try:
        items = tuple(value)
    except TypeError:
        items = None
    if not items or not all(isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in items):
        raise ValueError(f"{argument} must be a non-empty tuple of integers, got {value!r}")
    return tuple(int(v) for v in items)


class Reshape(Layer):
    """Give each sample the shape `target_shape` (one entry may be -1: whatever the count leaves).

    forward:  y = x.reshape(N, *target_shape)        (row-major order, the numbers unchanged)
    backward: dL/dx = g.reshape(N, *input_shape)
    """

    def __init__(self, target_shape, name=None, input_shape=None, **kwargs):
        super().__init__(name=name, input_shape=input_shape, **kwargs)
        self.target_shape = _ints(target_shape, "Reshape: target_shape")
        if sum(d == -1 for d in self.target_shape) > 1 or any(d < 1 and d != -1 for d in self.target_shape):
            raise ValueError(
                f"Reshape: target_shape must hold positive sizes and at most one -1, got {self.target_shape}"
            )

    def compute_output_shape(self, input_shape):
        count, known = math.prod(input_shape), math.prod(d for d in self.target_shape if d != -1)
        fits = count % known == 0 if -1 in self.target_shape else count == known
        if not fits:
            raise ShapeError(
                f"layer {self.name!r} (Reshape): input {input_shape} ({count} numbers) cannot take the shape "
                f"{self.target_shape}"
            )
        return tuple(count // known if d == -1 else d for d in self.target_shape)

    def forward(self, x, training=False):
        self.check_input(x)
        return x.reshape(len(x), *self.output_shape)

    def backward(self, grad):
        return grad.reshape(len(grad), *self.input_shape)

    def get_config(self):
        return {**super().get_config(), "target_shape": list(self.target_shape)}


class Permute(Layer):
    """Reorder the axes of each sample: `dims` is a permutation of 1..rank (axis 0, the batch, stays).

    forward:  y = x.transpose(0, *dims)      y[n, i_dims[0], i_dims[1], ...] = x[n, i_1, i_2, ...]
    backward: dL/dx = g.transpose(0, *inverse(dims))
    """

    def __init__(self, dims, name=None, input_shape=None, **kwargs):
        super().__init__(name=name, input_shape=input_shape, **kwargs)
        self.dims = _ints(dims, "Permute: dims")
        if sorted(self.dims) != list(range(1, len(self.dims) + 1)):
            raise ValueError(f"Permute: dims must be a permutation of 1..{len(self.dims)}, got {self.dims}")

    def compute_output_shape(self, input_shape):
        if len(input_shape) != len(self.dims):
            raise ShapeError(
                f"layer {self.name!r} (Permute): dims {self.dims} need inputs of rank {len(self.dims)}, got "
                f"{input_shape}"
            )
        return tuple(input_shape[d - 1] for d in self.dims)

    def forward(self, x, training=False):
        self.check_input(x)
        return np.ascontiguousarray(x.transpose(0, *self.dims))

    def backward(self, grad):
        return np.ascontiguousarray(grad.transpose(0, *(np.argsort(self.dims) + 1)))

    def get_config(self):
        return {**super().get_config(), "dims": list(self.dims)}


class RepeatVector(Layer):
    """Repeat each sample's vector `n` times.

    forward:  y[b, t, :] = x[b, :] for t < n            x (N, F) -> y (N, n, F)
    backward: dL/dx[b, :] = Σ_t g[b, t, :]              (N, n, F) -> (N, F)
    """

    def __init__(self, n, name=None, input_shape=None, **kwargs):
        super().__init__(name=name, input_shape=input_shape, **kwargs)
        self.n = checks.positive_int(n, "RepeatVector: n")

    def compute_output_shape(self, input_shape):
        if len(input_shape) != 1:
            raise ShapeError(f"layer {self.name!r} (RepeatVector) needs vectors (features,), got {input_shape}")
        return (self.n, input_shape[0])

    def forward(self, x, training=False):
        self.check_input(x)
        return np.repeat(x[:, None, :], self.n, axis=1)

    def backward(self, grad):
        return grad.sum(axis=1)

    def get_config(self):
        return {**super().get_config(), "n": self.n}
