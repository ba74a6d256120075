"""Keras's `clone_model`: the same architecture, fresh weights."""

from __future__ import annotations


def clone_model(model, input_tensors=None, clone_function=None):
    """A new model with the same architecture and fresh weights (not compiled), as Keras's `clone_model`."""
    if input_tensors is not None or clone_function is not None:
        raise NotImplementedError("clone_model: input_tensors and clone_function are not supported by minidl")
    config = {**model.get_config(), "loss": None}
    return type(model).from_config(config)
