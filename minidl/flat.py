"""One flat vector for all of a model's weights, one for all its gradients.

Every layer's `params[name]` (and `grads[name]`) is a view into the model's `parameters` (and
`gradients`) vector, in layer order, kernel before bias. That makes an optimizer step one vectorised
update over the whole network, and lets other processes share all the weights through one buffer.
Each layer remembers which model's vectors it is a view into (`flat_owner`): a layer shared by two
models belongs to the one that packed it last.
"""

from __future__ import annotations

import contextlib
import contextvars

import numpy as np

_PLACEHOLDERS = contextvars.ContextVar("minidl_placeholder_weights", default=False)


@contextlib.contextmanager
def placeholder_weights():
    """Build models whose every weight is about to be overwritten (a loader reading them from a file).

    Inside, initializers give zeros instead of drawing random numbers and `pack` moves no values:
    zeroed memory the system has not handed out yet, so the weights cost memory once, when the
    loader writes them, instead of three times (a float64 draw, its float32 copy, the flat vector).
    """
    token = _PLACEHOLDERS.set(True)
    try:
        yield
    finally:
        _PLACEHOLDERS.reset(token)


def placeholders() -> bool:
    """True inside `placeholder_weights()`."""
    return _PLACEHOLDERS.get()


def parameter_count(layers) -> int:
    """How many trainable numbers `layers` hold together."""
    return sum(p.size for layer in layers for p in layer.params.values())


def weight_views(layers, vector):
    """(layer, weight name) with the matching view of `vector`, in layer order, kernel before bias."""
    offset = 0
    for layer in layers:
        for key, array in layer.params.items():
            yield (layer, key), vector[offset : offset + array.size].reshape(array.shape)
            offset += array.size


def pack(model, layers=None):
    """Move every weight of `layers` (default `model.layers`) into fresh flat vectors (gradients zeroed);
    the layers keep views."""
    layers = model.layers if layers is None else layers
    total = parameter_count(layers)
    if placeholders():  # every value is a zero placeholder: nothing to move
        parameters = np.zeros(total, model.dtype)
    else:
        parameters = np.empty(total, model.dtype)
        for (layer, key), view in weight_views(layers, parameters):
            view[...] = layer.params[key]
    bind(model, parameters, np.zeros(total, model.dtype), layers)


def bind(model, parameters, gradients, layers=None):
    """Make the layers' weights and gradients views of `parameters` / `gradients` (no values copied)."""
    layers = model.layers if layers is None else layers
    for (layer, key), view in weight_views(layers, parameters):
        layer.params[key] = view
    for (layer, key), view in weight_views(layers, gradients):
        layer.grads[key] = view
    for layer in layers:
        layer.flat_owner = model
    model.parameters, model.gradients = parameters, gradients
