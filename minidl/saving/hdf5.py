"""`.weights.h5` — the only weights file name Keras 3 accepts: weights and optimizer state in HDF5 (h5py).

Layout: datasets `weights/<i>` in `get_weights()` order, `optimizer/<name>` for the optimizer's arrays,
and the file attribute `state` (the same JSON as `state.json` in a `.keras` file). Reading checks every
dataset's dtype and shape against the model before reading it, so no dataset allocates more than the
model's own weights; the file is written to a temporary file and renamed, like every minidl file.
"""

from __future__ import annotations

import json
import os

import numpy as np

from ..errors import ModelFileError
from ..utils.temporaries import temporary_beside
from . import files
from . import state as training
from .archive import READ_CHUNK_BYTES, WEIGHT_DTYPES, check_destination, parse_json

FORMAT = "minidl-weights-h5-1"


def h5py_module():
    """h5py (a dependency of minidl, as of Keras), or an ImportError saying how to get it back."""
    try:
        import h5py
    except ImportError:
        raise ImportError("saving or loading .h5 files needs h5py, a dependency of minidl: pip install h5py") from None
    return h5py


def save_weights(model, path):
    """Write weights and optimizer state to an HDF5 file, atomically."""
    h5py = h5py_module()
    path = check_destination(path)
    state = training.training_state(model)
    arrays = {}
    if state["optimizer"] is not None:
        state["optimizer"], arrays = training.split_arrays(state["optimizer"])
    try:
        # Written through the locked temporary's own descriptor: HDF5 would lock the file by its name.
        with temporary_beside(path) as (handle, temporary):
            with open(os.dup(handle), "w+b") as raw:
                with h5py.File(raw, "w") as file:
                    file.attrs["format"] = FORMAT
                    file.attrs["state"] = json.dumps(state)
                    # Fletcher-32 checksums: a damaged file is refused when read, not loaded as other numbers.
                    for index, weight in enumerate(model.get_weights()):
                        file.create_dataset(f"weights/{index}", data=weight, fletcher32=weight.size > 0)
                    for key, array in arrays.items():
                        file.create_dataset(f"optimizer/{key}", data=array, fletcher32=array.size > 0)
                raw.flush()
                os.fsync(raw.fileno())
            os.replace(temporary, path)
    except OSError as error:
        if error.errno is None:
            raise
        raise OSError(error.errno, f"cannot save {path}: {error.strerror or error}") from None


def load_weights(model, path, allow_nonfinite=False):
    """Read an HDF5 weights file into `model`, checking each dataset before reading it."""
    h5py = h5py_module()
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"weights file not found: {path}")
    try:
        file = h5py.File(path, "r")
    except OSError as error:
        raise ModelFileError(f"{path}: not a readable HDF5 file ({error})") from None
    with file:
        try:
            _load(file, model, path, h5py, allow_nonfinite)
        except ModelFileError:
            raise
        except (OSError, KeyError, RuntimeError, ValueError, TypeError, UnicodeError) as error:  # HDF5's own
            raise ModelFileError(f"{path}: not a readable minidl weights file ({error})") from None


def _load(file, model, path, h5py, allow_nonfinite):
    """load_weights once the file is open: every dataset checked (and read through) before the model changes."""
    if file.attrs.get("format") != FORMAT:
        raise ModelFileError(f"{path}: not a minidl weights file (format {file.attrs.get('format')!r})")
    views = [((layer, key), array) for layer, key, array in files.weight_slots(model)]
    group = file.get("weights")
    names = sorted(group.keys(), key=lambda n: (len(n), n)) if isinstance(group, h5py.Group) else []
    if names != [str(i) for i in range(len(views))]:
        raise ModelFileError(f"{path} holds {len(names)} weight arrays, this model has {len(views)}")
    datasets = []
    for name, ((layer, key), view) in zip(names, views):
        dataset = group[name]
        what = f"{path}: weight {key!r} of layer {layer.name!r} (weights/{name})"
        if not isinstance(dataset, h5py.Dataset) or dataset.dtype.name not in WEIGHT_DTYPES:
            raise ModelFileError(f"{what} is not a float32/float64 dataset")
        if dataset.shape != view.shape:
            raise ModelFileError(f"{what}: the model needs shape {view.shape}, the file holds {dataset.shape}")
        datasets.append((dataset, what, view))
    # All or nothing: every weight read through and checked, and the state, before the model changes.
    for dataset, what, _ in datasets:
        _read_through(dataset, what, allow_nonfinite)
    _restore(file, model, path, h5py, allow_nonfinite)
    for dataset, _, view in datasets:
        dataset.read_direct(view)  # straight into the model's weight


def _read_through(dataset, what, allow_nonfinite):
    """Read `dataset` in slices of about `READ_CHUNK_BYTES` (its checksum is verified as it is read) and
    refuse NaN or infinite values unless allowed."""
    if dataset.size == 0:
        return
    rows = dataset.shape[0] if dataset.ndim else 1
    per_row = max(1, dataset.size // rows) * dataset.dtype.itemsize
    step = max(1, READ_CHUNK_BYTES // per_row)
    for start in range(0, rows, step):
        part = dataset[start : start + step] if dataset.ndim else dataset[()]
        if not allow_nonfinite and not np.isfinite(part).all():
            raise ModelFileError(
                f"{what} holds NaN or infinite values; refused (pass allow_nonfinite=True to load it anyway)"
            )


def _restore(file, model, path, h5py, allow_nonfinite):
    text = file.attrs.get("state")
    if text is None or model.optimizer is None:
        return
    state = parse_json(str(text), f"{path}: state")
    if not isinstance(state, dict):
        raise ModelFileError(f"{path}: state must be a JSON object, got {type(state).__name__}")
    saved = state.get("optimizer")
    if not isinstance(saved, (dict, type(None))):
        raise ModelFileError(f"{path}: state's 'optimizer' must be an object or null")
    if saved is not None:
        if saved.get("name") != model.optimizer.name:
            return
        for key, value in list(saved.items()):
            if isinstance(value, dict):
                dataset = file.get(f"optimizer/{key}")
                if not isinstance(dataset, h5py.Dataset) or dataset.shape != model.parameters.shape:
                    raise ModelFileError(f"{path}: optimizer array {key!r} is missing or of the wrong shape")
                if dataset.dtype != np.dtype(model.dtype):
                    raise ModelFileError(f"{path}: optimizer array {key!r} has dtype {dataset.dtype}")
                saved[key] = dataset[()]
                if not allow_nonfinite and not np.isfinite(saved[key]).all():
                    raise ModelFileError(f"{path}: optimizer array {key!r} holds NaN or infinite values")
    training.restore_training_state(model, {**state, "optimizer": saved}, f"{path}: state")
