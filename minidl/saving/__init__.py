"""Saving and loading models: architecture as JSON, weights as `.npy` arrays in a zip, never pickle.

`save_model` / `load_model` write and read whole models (`.keras`, Keras 3's layout, or `.npz`);
`save_weights` / `load_weights` only the weights and optimizer state (`.weights.npz`, or `.weights.h5`
Keras's name). Files are written atomically and read as untrusted: see `files` for the checks,
`state` for what makes a resumed training continue bit for bit.
"""

from __future__ import annotations

import os

from . import files, hdf5
from .archive import check_destination
from .config import FORMAT, model_config, model_from_config
from .files import read_state, save_model
from .object_registration import (
    CustomObjectScope,
    custom_object_scope,
    deserialize_keras_object,
    get_registered_name,
    get_registered_object,
    register_keras_serializable,
    serialize_keras_object,
)
from .state import restore_training_state, training_state

_model_class = None


def use_model_class(model_class):
    """Tell `load_model(path)` which class to rebuild models as (minidl.models registers Model)."""
    global _model_class
    _model_class = model_class


def load_model(filepath, model_class=None, *, custom_objects=None, compile=True, safe_mode=True, allow_nonfinite=False):
    """Read a model written by `save_model`; a bad or hostile file raises `ModelFileError`.

    Keras's `load_model(path, custom_objects=None, compile=True, safe_mode=True)`; the user's own layers,
    losses and models come from `custom_objects`, a `custom_object_scope` or the registry — never by
    importing a name read from the file. NaN or infinite weights are refused unless `allow_nonfinite=True`.
    """
    if isinstance(filepath, type):
        filepath, model_class = model_class, filepath
    model_class = model_class or _model_class
    if model_class is None:
        raise RuntimeError("load_model: no model class registered; import minidl first")
    return files.load_model(
        model_class,
        os.fspath(filepath),
        allow_nonfinite=allow_nonfinite,
        compile=compile,
        custom_objects=custom_objects,
    )


def save_weights(model, filepath, overwrite=True):
    """Write the weights and the optimizer state: `x.weights.h5` (Keras's format name), or `x.weights.npz`."""
    filepath = os.fspath(filepath)
    if filepath.endswith(".h5"):
        if not overwrite and os.path.exists(filepath):
            raise FileExistsError(f"{filepath} exists and overwrite=False")
        return hdf5.save_weights(model, filepath)
    return files.save_weights(model, filepath, overwrite=overwrite)


def load_weights(model, filepath, allow_nonfinite=False):
    """Read weights (and the optimizer state, if the file has one for this optimizer) into `model`."""
    filepath = os.fspath(filepath)
    if filepath.endswith(".h5"):
        return hdf5.load_weights(model, filepath, allow_nonfinite)
    return files.load_weights(model, filepath, allow_nonfinite=allow_nonfinite)


__all__ = [
    "CustomObjectScope",
    "custom_object_scope",
    "deserialize_keras_object",
    "get_registered_name",
    "get_registered_object",
    "register_keras_serializable",
    "serialize_keras_object",
    "check_destination",
    "FORMAT",
    "load_model",
    "load_weights",
    "model_config",
    "model_from_config",
    "read_state",
    "restore_training_state",
    "save_model",
    "save_weights",
    "training_state",
    "use_model_class",
]
