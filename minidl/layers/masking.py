"""Masks: which time steps of a padded batch of sequences are real, passed from layer to layer.

A batch of sequences of different lengths is padded to one length T (`keras.utils.pad_sequences`).
A mask, (N, T) booleans, says which steps are real. As in Keras, a layer makes one
(`Embedding(mask_zero=True)`: the steps whose token is not 0; `Masking(mask_value)`: the steps whose
features are not all `mask_value`), the layers that support masking pass it on unchanged (Dense,
Dropout, the activations: they act on each step alone), and the layers that use it take it as the
`mask` argument of `forward`: the recurrent layers skip masked steps (state and output carried over)
and GlobalAveragePooling1D averages over the real steps only. Any other layer drops it.

`forward_with_mask` is that rule for one layer's `forward` (a Sequential's fast path runs it layer
after layer); `call_with_mask` is the same rule for a layer called on tensors (a functional graph's
nodes, a Sequential nested in another model). The mask is never stored on the model: it lives within
one forward pass, and each layer that needs it in `backward` keeps its own copy, like its input.
"""

from __future__ import annotations

import numpy as np

from ..errors import ShapeError
from ..ops.tape import value_of
from ..utils.checks import finite_number
from .base import Layer, passing_masks, takes_mask


def forward_with_mask(layer, x, training, mask):
    """(output, output mask) of `layer.forward` on `x` given the mask of `x` (None: every step is real)."""
    if mask is not None and takes_mask(type(layer)):
        out = layer.forward(x, training, mask=mask)
    else:
        out = layer.forward(x, training)
    return out, layer.compute_mask(x, mask)


def call_with_mask(layer, x, mask, *args, **kwargs):
    """(output, output mask) of `layer(x, *args, **kwargs)` given the mask of `x` (the call is recorded on a
    tape when one is active). A `mask=` among `kwargs` is the caller's own and wins."""
    mask = kwargs.pop("mask", mask)
    with passing_masks():
        out = layer(x, *args, mask=mask, **kwargs) if mask is not None else layer(x, *args, **kwargs)
    return out, layer.compute_mask(value_of(x), None if mask is None else value_of(mask))


class Masking(Layer):
    """Keras's Masking: steps whose features all equal `mask_value` are masked (and zeroed).

    keep[n, t] = any_d (x[n, t, d] != mask_value)                         x (N, T, ..., D), keep (N, T)
    forward:   y = x · keep,   mask = keep
    backward:  dL/dx = g · keep
    """

    takes_unknown_dims = True
    supports_masking = True

    def __init__(self, mask_value=0.0, name=None, input_shape=None, **kwargs):
        super().__init__(name=name, input_shape=input_shape, **kwargs)
        self.mask_value = finite_number(mask_value, "Masking: mask_value")

    def compute_output_shape(self, input_shape):
        if len(input_shape) < 2:
            raise ShapeError(f"layer {self.name!r} (Masking) needs sequences (timesteps, features), got {input_shape}")
        return input_shape

    def keep(self, x):
        """(N, T) booleans: the steps with at least one feature other than `mask_value`."""
        return np.any((x != self.mask_value).reshape(*x.shape[:2], -1), axis=-1)

    def compute_mask(self, inputs, previous_mask):
        return self.keep(np.asarray(inputs))

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
