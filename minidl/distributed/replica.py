"""Copies of a model for other processes, and binding a model to flat buffers it does not own.

A model keeps every weight in one flat vector `model.parameters` and every gradient in another,
`model.gradients`; each layer's `params` / `grads` entries are views into them (see `minidl.flat`).
The pool and the MPI backend swap those two vectors for shared ones: the parent's weights become
one shared-memory buffer all replicas read, and each process's gradient a row of a shared array.
"""

from __future__ import annotations

import copy
import pickle

import numpy as np

from .. import flat


def blueprint(model) -> bytes:
    """The model pickled for a worker process: layers and settings, no optimizer, no arrays.

    Layers drop their arrays when pickled (`Layer.__getstate__`); the worker binds the replica to the
    shared buffers, which hold the weights.
    """
    replica = copy.copy(model)
    replica.optimizer = None
    replica.parameters = replica.gradients = None
    return pickle.dumps(replica)


def from_blueprint(data: bytes):
    """The replica a worker computes with (still without weights: call `bind` next)."""
    return pickle.loads(data)


def bind(model, parameters: np.ndarray, gradients: np.ndarray, keep_values=True):
    """Make `parameters` / `gradients` (flat, e.g. shared memory) the model's storage.

    With `keep_values` the model's current values are copied in; without, the model adopts the
    buffers' values (how a worker's replica takes the parent's weights).
    """
    layers = model.weight_layers()
    size = flat.parameter_count(layers)
    for buffer in (parameters, gradients):
        if buffer.shape != (size,) or buffer.dtype != np.dtype(model.dtype):
            raise ValueError(
                f"buffer of shape {buffer.shape} and dtype {buffer.dtype} cannot hold the "
                f"{size} {np.dtype(model.dtype).name} weights of model {model.name!r}"
            )
    if keep_values:
        parameters[...] = model.parameters
        gradients[...] = model.gradients
    flat.bind(model, parameters, gradients, layers)


def bind_gradients(model, gradients: np.ndarray):
    """Make `gradients` (flat, of the model's size) the model's gradient storage; the weights stay put.

    The pool points a model at the row of each piece it computes, so no gradient is copied.
    """
    for (layer, key), view in flat.weight_views(model.weight_layers(), gradients):
        layer.grads[key] = view
    model.gradients = gradients
