"""Dense: the fully connected layer, y = activation(x @ kernel + bias)."""

from __future__ import annotations

import numpy as np

from ..errors import ShapeError
from . import activations
from .base import Layer


class Dense(Layer):
    """Fully connected layer with `units` outputs; kernel `(in, units)`, bias `(units,)`.

    Forward, x (N, in) -> y (N, units): z = x @ kernel + bias, y = activation(z) (in place on z).
    Backward, dY (N, units) -> dX (N, in): dZ = dY * activation'(z); dkernel = x.T @ dZ;
    dbias = ones @ dZ; dX = dZ @ kernel.T (skipped for the model's first layer).
    Every product writes into its destination (`out=`), so a step allocates only z and dX.
    """

    def __init__(
        self,
        units,
        activation=None,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        kernel_regularizer=None,
        bias_regularizer=None,
        name=None,
        input_shape=None,
        **kwargs,
    ):
        super().__init__(name=name, input_shape=input_shape, **kwargs)
        if not isinstance(units, (int, np.integer)) or units < 1:
            raise ValueError(f"Dense: units must be a positive integer, got {units!r}")
        self.units = int(units)
        self.activation = activations.get(activation, inplace=True)
        self.kernel_initializer, self.bias_initializer = kernel_initializer, bias_initializer
        self.kernel_regularizer, self.bias_regularizer = kernel_regularizer, bias_regularizer

    def compute_output_shape(self, input_shape):
        if len(input_shape) != 1:
            raise ShapeError(
                f"layer {self.name!r} (Dense) needs flat input (features,), got {input_shape}; "
                "add a Flatten() layer before it"
            )
        return (self.units,)

    def build(self, input_shape):
        self.kernel = self.add_weight(
            name="kernel",
            shape=(input_shape[0], self.units),
            initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer,
        )
        self.bias = self.add_weight(
            name="bias", shape=(self.units,), initializer=self.bias_initializer, regularizer=self.bias_regularizer
        )
        self.activation.build_weights(self.output_shape, dtype=self.dtype)

    def forward(self, x, training=False):
        self.check_input(x)
        if training:
            self.x = x
        z = x @ self.params["kernel"]
        z += self.params["bias"]
        return self.activation.forward(z, training)

    def backward(self, grad):
        grad = self.activation.backward(grad)
        np.matmul(self.x.T, grad, out=self.grads["kernel"])
        np.matmul(self.ones(len(grad), grad.dtype), grad, out=self.grads["bias"])
        return grad @ self.params["kernel"].T if self.needs_input_grad else None

    def ones(self, count, dtype):
        """A vector of ones kept for the bias gradient (`ones @ dZ` measured 10x faster than a sum)."""
        ones = getattr(self, "_ones", None)
        if ones is None or len(ones) != count or ones.dtype != dtype:
            ones = self._ones = np.ones(count, dtype)
        return ones

    def get_config(self):
        return {**super().get_config(), "units": self.units, "activation": activations.name_of(self.activation)}
