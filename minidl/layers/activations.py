"""Activation layers: ReLU, Sigmoid, Tanh, Softmax, Linear.

Each keeps its output from the forward pass, because every derivative here is cheapest written in
terms of the output. Dense and Conv2D use these same classes for `activation="..."`; there they
may work in place on a fresh pre-activation (`inplace=True`), saving one array per step.
"""

from __future__ import annotations

import numpy as np

from ..errors import lookup
from .base import Layer


class Activation(Layer):
    """Base for element-wise activations; `inplace` lets forward overwrite its input."""

    def __init__(self, name=None, input_shape=None, inplace=False):
        super().__init__(name=name, input_shape=input_shape)
        self.inplace = inplace
        self.output = None

    def forward(self, x, training=False):
        out = self.apply(x, x if self.inplace else None)
        if training:
            self.output = out
        return out

    def backward(self, grad):
        return self.derivative_times(grad, self.output)

    def apply(self, x, out):
        """Return f(x), written into `out` when it is given."""
        raise NotImplementedError

    def derivative_times(self, grad, y):
        """Return grad * f'(x), using the output y = f(x); may overwrite `grad`."""
        raise NotImplementedError


class Linear(Activation):
    """The identity: f(x) = x."""

    def apply(self, x, out):
        return x

    def derivative_times(self, grad, y):
        return grad


class ReLU(Activation):
    """f(x) = max(x, 0)."""

    def apply(self, x, out):
        return np.maximum(x, 0, out=out)

    def derivative_times(self, grad, y):
        return np.multiply(grad, y > 0, out=grad)


class Sigmoid(Activation):
    """f(x) = 1 / (1 + e^-x); f' = y (1 - y)."""

    def apply(self, x, out):
        # Written with tanh so that large |x| neither overflows nor warns.
        out = np.multiply(x, 0.5, out=out)
        np.tanh(out, out=out)
        out += 1
        out *= 0.5
        return out

    def derivative_times(self, grad, y):
        grad *= y * (1 - y)
        return grad


class Tanh(Activation):
    """f(x) = tanh(x); f' = 1 - y^2."""

    def apply(self, x, out):
        return np.tanh(x, out=out)

    def derivative_times(self, grad, y):
        grad *= 1 - y * y
        return grad


class Softmax(Activation):
    """Softmax over the last axis, computed stably (max subtracted).

    As a model's last layer before a cross-entropy, `minidl.losses.for_output` sets
    `backward_done_by_loss`: the loss then hands back the gradient with respect to this layer's input,
    `(p - y) / batch`, and this layer passes it through.
    """

    def __init__(self, name=None, input_shape=None, inplace=False):
        super().__init__(name=name, input_shape=input_shape, inplace=inplace)
        self.backward_done_by_loss = False

    def apply(self, x, out):
        shifted = np.subtract(x, x.max(axis=-1, keepdims=True), out=out)
        np.exp(shifted, out=shifted)
        shifted /= shifted.sum(axis=-1, keepdims=True)
        return shifted

    def derivative_times(self, grad, y):
        if self.backward_done_by_loss:
            return grad
        return y * (grad - (grad * y).sum(axis=-1, keepdims=True))


ACTIVATIONS = {"relu": ReLU, "sigmoid": Sigmoid, "tanh": Tanh, "softmax": Softmax, "linear": Linear}


def get(activation, inplace=False):
    """An activation layer from a name ("relu", ...), None (linear), a class or an instance."""
    if activation is None:
        return Linear(inplace=inplace)
    if isinstance(activation, Activation):
        return activation
    if isinstance(activation, type) and issubclass(activation, Activation):
        return activation(inplace=inplace)
    return lookup("activation", activation, ACTIVATIONS)(inplace=inplace)


def name_of(activation: Activation) -> str | None:
    """The registered name of an activation instance (None for the identity)."""
    for name, cls in ACTIVATIONS.items():
        if type(activation) is cls:
            return None if name == "linear" else name
    raise ValueError(f"activation {type(activation).__name__} has no registered name")
