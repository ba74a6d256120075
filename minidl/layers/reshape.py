"""Flatten: turns images (h, w, c) into vectors (h*w*c,) for the Dense layers that follow."""

from __future__ import annotations

import math

from .base import Layer


class Flatten(Layer):
    """Reshape each sample to one axis, keeping channels-last order (as Keras does)."""

    def compute_output_shape(self, input_shape):
        return (math.prod(input_shape),)

    def forward(self, x, training=False):
        self.check_input(x)
        return x.reshape(len(x), -1)

    def backward(self, grad):
        return grad.reshape(len(grad), *self.input_shape)
