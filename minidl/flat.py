"""One flat vector for all of a model's weights, one for all its gradients.

Every layer's `params[name]` (and `grads[name]`) is a view into the model's `parameters` (and
`gradients`) vector, in layer order, kernel before bias. That makes an optimizer step one vectorised
update over the whole network, and lets other processes share all the weights through one buffer.
"""

from __future__ import annotations

import numpy as np


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


def pack(model):
    """Move every weight of `model.layers` into fresh flat vectors (gradients zeroed); layers keep views."""
    total = parameter_count(model.layers)
    parameters = np.empty(total, model.dtype)
    for (layer, key), view in weight_views(model.layers, parameters):
        view[...] = layer.params[key]
    bind(model, parameters, np.zeros(total, model.dtype))


def bind(model, parameters, gradients):
    """Make the layers' weights and gradients views of `parameters` / `gradients` (no values copied)."""
    for (layer, key), view in weight_views(model.layers, parameters):
        layer.params[key] = view
    for (layer, key), view in weight_views(model.layers, gradients):
        layer.grads[key] = view
    model.parameters, model.gradients = parameters, gradients
