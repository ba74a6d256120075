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


def _scratch(owner, like, dtype=None):
    """An array shaped like `like` from a buffer kept on `owner` and reused across steps.

    Derivatives need one temporary the size of the layer's output; allocating it fresh every step
    costs page faults. The buffer is an ndarray attribute, so it is not pickled (recreated on demand).
    """
    dtype = np.dtype(dtype or like.dtype)
    flat = getattr(owner, "_derivative_buffer", None)
    if flat is None or flat.size < like.size or flat.dtype != dtype:
        flat = np.empty(like.size, dtype=dtype)
        owner._derivative_buffer = flat
    return flat[: like.size].reshape(like.shape)


class ReLU(Activation):
    """f(x) = max(x, 0); f' = 1 where y > 0, else 0."""

    def apply(self, x, out):
        return np.maximum(x, 0, out=out)

    def derivative_times(self, grad, y):
        mask = _scratch(self, y, bool)
        np.greater(y, 0, out=mask)
        return np.multiply(grad, mask, out=grad)


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
        slope = np.subtract(1, y, out=_scratch(self, y))
        slope *= y
        grad *= slope
        return grad


class Tanh(Activation):
    """f(x) = tanh(x); f' = 1 - y^2."""

    def apply(self, x, out):
        return np.tanh(x, out=out)

    def derivative_times(self, grad, y):
        slope = np.multiply(y, y, out=_scratch(self, y))
        np.subtract(1, slope, out=slope)
        grad *= slope
        return grad


class Softmax(Activation):
    """Softmax over the last axis, computed stably (max subtracted).

    Followed by a cross-entropy loss, the model fuses the two: the loss then hands back the gradient
    with respect to the softmax's input, `(p - y) / batch`, and this layer passes it through.
    """

    def __init__(self, name=None, input_shape=None, inplace=False):
        super().__init__(name=name, input_shape=input_shape, inplace=inplace)
        self.fused_with_loss = False

    def apply(self, x, out):
        shifted = np.subtract(x, x.max(axis=-1, keepdims=True), out=out)
        np.exp(shifted, out=shifted)
        shifted /= shifted.sum(axis=-1, keepdims=True)
        return shifted

    def derivative_times(self, grad, y):
        if self.fused_with_loss:
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
