"""Masks: which time steps of a padded batch of sequences are real, passed from layer to layer.

A batch of sequences of different lengths is padded to one length T (`keras.utils.pad_sequences`).
A mask, (N, T) booleans, says which steps are real. As in Keras, a layer makes one
(`Embedding(mask_zero=True)`: the steps whose token is not 0; `Masking(mask_value)`: the steps whose
features are not all `mask_value`), the layers that support masking pass it on unchanged (Dense,
Dropout, the activations: they act on each step alone), and the layers that use it take it as the
`mask` argument of `forward`: the recurrent layers skip masked steps (state and output carried over)
and GlobalAveragePooling1D averages over the real steps only. Any other layer drops it.

`forward_with_mask` is that rule for one layer; a model runs it layer after layer within one forward
pass. The mask is never stored on the model: each layer that needs it in `backward` keeps its own
copy from the forward pass, like its input.
"""

from __future__ import annotations

import functools
import inspect

import numpy as np

from ..errors import ShapeError
from ..utils.checks import finite_number
from .base import Layer


@functools.cache
def takes_mask(layer_class) -> bool:
    """True when `layer_class.forward` has a `mask` argument (Keras looks at `call` the same way)."""
    return "mask" in inspect.signature(layer_class.forward).parameters


def forward_with_mask(layer, x, training, mask):
    """(output, output mask) of `layer` on `x` given the mask of `x` (None: every step is real)."""
    if mask is not None and takes_mask(type(layer)):
        out = layer.forward(x, training, mask=mask)
    else:
        out = layer.forward(x, training)
    return out, layer.compute_mask(x, mask)


class Masking(Layer):
    """Keras's Masking: steps whose features all equal `mask_value` are masked (and zeroed).

    keep[n, t] = any_d (x[n, t, d] != mask_value)                         x (N, T, ..., D), keep (N, T)
    forward:   y = x · keep,   mask = keep
    backward:  dL/dx = g · keep
    """

    takes_unknown_dims = True
    supports_masking = True

    def __init__(self, mask_value=0.0, name=None, input_shape=None):
        super().__init__(name=name, input_shape=input_shape)
        self.mask_value = finite_number(mask_value, "Masking: mask_value")

    def compute_output_shape(self, input_shape):
        if len(input_shape) < 2:
            raise ShapeError(f"layer {self.name!r} (Masking) needs sequences (timesteps, features), got {input_shape}")
        return input_shape

    def keep(self, x):
        """(N, T) booleans: the steps with at least one feature other than `mask_value`."""
        return np.any((x != self.mask_value).reshape(*x.shape[:2], -1), axis=-1)

    def compute_mask(self, inputs, previous_mask):
        return self.keep(inputs)

    def forward(self, x, training=False):
        self.check_input(x)
        keep = self.keep(x).reshape(*x.shape[:2], *([1] * (x.ndim - 2)))
        if training:
            self.kept = keep
        return x * keep

    def backward(self, grad):
        return grad * self.kept

    def get_config(self):
        return {**super().get_config(), "mask_value": self.mask_value}
