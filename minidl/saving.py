"""Saving and loading models: architecture as JSON plus weights as arrays in one `.npz`, never pickle.

A model file is a zip archive (NumPy's `.npz`) with one entry `config` (the JSON of `model_config`)
and one entry `weight_<i>` per weight array, in `Model.get_weights()` order. Pickled objects are
refused on reading, because unpickling can run arbitrary code.
"""

from __future__ import annotations

import json
import os
import zipfile

import numpy as np

from .errors import UnknownNameError
from .layers import LAYER_CLASSES

FORMAT = "minidl-model-1"


def model_config(model) -> dict:
    """Everything needed to rebuild `model` without its weights."""
    return {
        "format": FORMAT,
        "name": model.name,
        "seed": model.seed,
        "dtype": np.dtype(model.dtype).name,
        "layers": [{"class": type(layer).__name__, "config": layer.get_config()} for layer in model.layers],
        "optimizer": model.optimizer.get_config() if model.optimizer else None,
        "loss": model.loss.name if model.loss else None,
        "metrics": model.metrics,
    }


def model_from_config(model_class, config: dict):
    """Rebuild (and compile, if it was) a model from `model_config`; weights are fresh."""
    model = model_class(name=config["name"], seed=config["seed"], dtype=config.get("dtype", "float32"))
    for entry in config["layers"]:
        if entry["class"] not in LAYER_CLASSES:
            raise UnknownNameError(f"unknown layer class {entry['class']!r}; known: {sorted(LAYER_CLASSES)}")
        model.add(LAYER_CLASSES[entry["class"]](**entry["config"]))
    if config.get("loss"):
        model.compile(optimizer=config["optimizer"], loss=config["loss"], metrics=config.get("metrics"))
    return model


def save_model(model, path):
    """Write `model`'s architecture and weights to `path` atomically (temporary file, then rename)."""
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    temporary = os.path.join(directory, f".{os.path.basename(path)}.{os.getpid()}.tmp.npz")
    arrays = {f"weight_{i}": w for i, w in enumerate(model.get_weights())}
    try:
        np.savez(temporary, config=np.array(json.dumps(model_config(model))), **arrays)
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.remove(temporary)
        raise


def load_model(model_class, path):
    """Read a model written by `save_model`; files holding pickled objects are refused.

    Anything but a zip (.npz) archive is refused before NumPy opens it, because `np.load` treats
    an unknown file as a pickle.
    """
    path = os.fspath(path)
    try:
        with open(path, "rb") as file:
            magic = file.read(4)
    except FileNotFoundError:
        raise FileNotFoundError(f"model file not found: {path}") from None
    if magic[:1] == b"\x80":
        raise ValueError(
            f"{path}: refused, the file is a Python pickle, which minidl never loads (it can run arbitrary code)"
        )
    if magic != b"PK\x03\x04":
        raise ValueError(f"{path}: not a minidl model file (not an .npz archive)")
    try:
        with np.load(path, allow_pickle=False) as archive:
            config = json.loads(str(archive["config"])) if "config" in archive.files else None
            weights = [archive[f"weight_{i}"] for i in range(len(archive.files) - 1)] if config else []
    except ValueError as error:
        if "allow_pickle" in str(error) or "Object arrays" in str(error):
            raise ValueError(
                f"{path}: refused, the file holds pickled Python objects, which minidl "
                "never loads (they can run arbitrary code)"
            ) from None
        raise ValueError(f"{path}: not a readable minidl model file ({error})") from None
    except (OSError, EOFError, zipfile.BadZipFile, KeyError) as error:
        raise ValueError(f"{path}: not a readable minidl model file ({error})") from None
    if config is None:
        raise ValueError(f"{path}: not a minidl model file (no 'config' entry)")
    if not isinstance(config, dict) or config.get("format") != FORMAT:
        found = config.get("format") if isinstance(config, dict) else None
        raise ValueError(f"{path}: unknown model format {found!r} (expected {FORMAT!r})")
    model = model_from_config(model_class, config)
    model.set_weights(weights)
    return model
