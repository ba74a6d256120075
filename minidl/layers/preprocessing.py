"""Rescaling: Keras's preprocessing layer that maps raw pixel values into the range a network wants."""

from __future__ import annotations

from ..utils.checks import finite_number
from .base import Layer


class Rescaling(Layer):
    """y = x * scale + offset, element-wise, in training and inference alike (no weights).

    Forward: x (N, ...) -> y (N, ...) of the same shape. Backward: dL/dx = scale * dL/dy.
    `Rescaling(1 / 255)` maps [0, 255] pixels to [0, 1]; `Rescaling(1 / 127.5, offset=-1)` to [-1, 1].
    `scale` and `offset` are finite numbers (Keras's floats).
    """

    def __init__(self, scale, offset=0.0, name=None, input_shape=None, **kwargs):
        super().__init__(name=name, input_shape=input_shape, **kwargs)
        self.scale = finite_number(scale, "Rescaling: scale")
        self.offset = finite_number(offset, "Rescaling: offset")

    def forward(self, x, training=False):
        self.check_input(x)
        out = x * self.dtype(self.scale)
        if self.offset:
            out += self.dtype(self.offset)
        return out

    def backward(self, grad):
        if not self.needs_input_grad:
            return None
        grad *= self.dtype(self.scale)
        return grad

    def get_config(self):
        return {**super().get_config(), "scale": self.scale, "offset": self.offset}
