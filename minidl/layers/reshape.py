"""Flatten: turns images (h, w, c) into vectors (h*w*c,) for the Dense layers that follow."""

from __future__ import annotations

import math

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
