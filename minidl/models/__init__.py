"""`minidl.models`: what the network is — `Model`, `Sequential`, `Functional`, `load_model`, `clone_model`."""

from __future__ import annotations

import os

from .. import saving
from .cloning import clone_model
from .functional import Functional
from .model import Model
from .sequential import Sequential

__all__ = ["Model", "Sequential", "Functional", "load_model", "clone_model", "model_from_json"]

saving.use_model_class(Model)  # what `minidl.saving.load_model(path)` rebuilds models as


def load_model(filepath, custom_objects=None, compile=True, safe_mode=True):
    """Read a model written by `model.save(...)` (`minidl.saving.load_model`); never unpickles."""
    return saving.load_model(os.fspath(filepath), Model, custom_objects=custom_objects, compile=compile)


def model_from_json(json_string, custom_objects=None):
    """A model (fresh weights) from `model.to_json()`'s text (Keras's `models.model_from_json`)."""
    import json

    from ..errors import ModelFileError
    from ..saving.config import check_config

    try:
        config = json.loads(json_string)
    except (TypeError, ValueError) as error:
        raise ModelFileError(f"model_from_json: not JSON ({error})") from None
    check_config(config, "model_from_json", custom_objects)
    return saving.model_from_config(Model, config, custom_objects=custom_objects)
