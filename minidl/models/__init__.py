"""`minidl.models`: what the network is — `Model` / `Sequential`, `load_model`, `clone_model`."""

from __future__ import annotations

import os

from .. import saving
from .cloning import clone_model
from .model import Model, Sequential

__all__ = ["Model", "Sequential", "load_model", "clone_model"]


def load_model(filepath, custom_objects=None, compile=True, safe_mode=True):
    """Read a model written by `model.save(...)` (`minidl.saving.load_model`); never unpickles."""
    if custom_objects:
        raise NotImplementedError("load_model: custom_objects are not supported by minidl (no custom layers)")
    return saving.load_model(os.fspath(filepath), Model, compile=compile)
