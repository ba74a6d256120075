"""Merge layers: one output from several inputs of a functional graph — Add, Subtract, Multiply, Average,
Maximum, Minimum, Concatenate — and Keras's function forms (`layers.add([a, b])`, ...).

For inputs x₁ … x_k of the same shape (N, ...) and g = dL/dy:

    Add:         y = Σ_i x_i                 dL/dx_i = g
    Subtract:    y = x₁ − x₂                 dL/dx₁ = g,  dL/dx₂ = −g
    Multiply:    y = Π_i x_i                 dL/dx_i = g ⊙ Π_{j≠i} x_j
    Average:     y = (1/k) Σ_i x_i           dL/dx_i = g / k
    Maximum:     y = max_i x_i               dL/dx_i = g where x_i is the (first) largest, else 0
    Minimum:     y = min_i x_i               dL/dx_i = g where x_i is the (first) smallest, else 0
    Concatenate: y = [x₁ | x₂ | …] on `axis`  dL/dx_i = the slice of g that x_i filled
"""

from __future__ import annotations

import numpy as np

from ..errors import ShapeError
from ..utils import checks
from .base import Layer


class Merge(Layer):
    """Base: a list of inputs of one shape (the element-wise merges) to one output."""

    takes_unknown_dims = True

    def compute_output_shape(self, input_shape):
        if not isinstance(input_shape, list) or len(input_shape) < 2:
            raise ShapeError(f"layer {self.name!r} ({type(self).__name__}) merges a list of at least 2 inputs")
        shapes = [tuple(s) for s in input_shape]
        if any(s != shapes[0] for s in shapes):
            raise ShapeError(f"layer {self.name!r} ({type(self).__name__}) needs inputs of one shape, got {shapes}")
        return shapes[0]

    def check_input(self, xs):
        if not isinstance(xs, list) or any(not checks.shape_fits(x.shape[1:], s) for x, s in zip(xs, self.input_shape)):
            got = [getattr(x, "shape", None) for x in (xs if isinstance(xs, list) else [xs])]
            raise ShapeError(f"layer {self.name!r} expects inputs of shapes {self.input_shape}, got {got}")


class Add(Merge):
    def forward(self, xs, training=False):
        self.check_input(xs)
        self.count = len(xs)
        out = xs[0].copy()
        for x in xs[1:]:
            out += x
        return out

    def backward(self, grad):
        return [grad] + [grad.copy() for _ in range(self.count - 1)]


class Subtract(Merge):
    def compute_output_shape(self, input_shape):
        if not isinstance(input_shape, list) or len(input_shape) != 2:
            raise ShapeError(f"layer {self.name!r} (Subtract) takes exactly 2 inputs")
        return super().compute_output_shape(input_shape)

    def forward(self, xs, training=False):
        self.check_input(xs)
        return xs[0] - xs[1]

    def backward(self, grad):
        return [grad, -grad]


class Multiply(Merge):
    def forward(self, xs, training=False):
        self.check_input(xs)
        if training:
            self.xs = xs
        out = xs[0].copy()
        for x in xs[1:]:
            out *= x
        return out

    def backward(self, grad):
        grads = []
        for i in range(len(self.xs)):
            g = grad.copy()
            for j, x in enumerate(self.xs):
                if j != i:
                    g *= x
            grads.append(g)
        return grads


class Average(Add):
    def forward(self, xs, training=False):
        return super().forward(xs, training) / len(xs)

    def backward(self, grad):
        return super().backward(grad / self.count)


class Maximum(Merge):
    def pick(self, stacked):
        """Which input holds each entry's largest value (the first, on ties)."""
        return np.argmax(stacked, axis=0)

    def forward(self, xs, training=False):
        self.check_input(xs)
        stacked = np.stack(xs)
        self.winner = self.pick(stacked)
        return np.take_along_axis(stacked, self.winner[None], axis=0)[0]

    def backward(self, grad):
        return [np.where(self.winner == i, grad, 0).astype(grad.dtype) for i in range(len(self.input_shape))]


class Minimum(Maximum):
    def pick(self, stacked):
        """Which input holds each entry's smallest value (the first, on ties)."""
        return np.argmin(stacked, axis=0)


class Concatenate(Layer):
    """Inputs joined along `axis` (the last by default); the other sizes must agree."""

    takes_unknown_dims = True

    def __init__(self, axis=-1, name=None, **kwargs):
        super().__init__(name=name, **kwargs)
        if not isinstance(axis, int) or axis == 0:
            raise ValueError(f"Concatenate: axis must be a non-batch axis (an int other than 0), got {axis!r}")
        self.axis = axis

    def compute_output_shape(self, input_shape):
        if not isinstance(input_shape, list) or len(input_shape) < 2:
            raise ShapeError(f"layer {self.name!r} (Concatenate) joins a list of at least 2 inputs")
        shapes = [tuple(s) for s in input_shape]
        rank = len(shapes[0])
        axis = self.axis - 1 if self.axis > 0 else rank + self.axis
        if not 0 <= axis < rank or any(len(s) != rank for s in shapes):
            raise ShapeError(f"layer {self.name!r} (Concatenate): axis {self.axis} does not fit inputs {shapes}")
        others = {s[:axis] + s[axis + 1 :] for s in shapes}
        if len(others) > 1:
            raise ShapeError(f"layer {self.name!r} (Concatenate): inputs {shapes} differ outside axis {self.axis}")
        sizes = [s[axis] for s in shapes]
        return shapes[0][:axis] + (None if None in sizes else sum(sizes),) + shapes[0][axis + 1 :]

    def forward(self, xs, training=False):
        self.edges = np.cumsum([x.shape[self.axis] for x in xs])[:-1]
        return np.concatenate(xs, axis=self.axis)

    def backward(self, grad):
        return [np.ascontiguousarray(part) for part in np.split(grad, self.edges, axis=self.axis)]

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}


def add(inputs, **kwargs):
    """Keras's `layers.add([a, b, ...])`: an Add layer called on the inputs."""
    return Add(**kwargs)(inputs)


def subtract(inputs, **kwargs):
    """Keras's `layers.subtract([a, b])`."""
    return Subtract(**kwargs)(inputs)


def multiply(inputs, **kwargs):
    """Keras's `layers.multiply([a, b, ...])`."""
    return Multiply(**kwargs)(inputs)


def average(inputs, **kwargs):
    """Keras's `layers.average([a, b, ...])`."""
    return Average(**kwargs)(inputs)


def maximum(inputs, **kwargs):
    """Keras's `layers.maximum([a, b, ...])`."""
    return Maximum(**kwargs)(inputs)


def minimum(inputs, **kwargs):
    """Keras's `layers.minimum([a, b, ...])`."""
    return Minimum(**kwargs)(inputs)


def concatenate(inputs, axis=-1, **kwargs):
    """Keras's `layers.concatenate([a, b, ...], axis=-1)`."""
    return Concatenate(axis=axis, **kwargs)(inputs)
