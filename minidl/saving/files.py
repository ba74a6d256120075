"""Model and weights files: `.keras` (Keras 3's layout) and `.npz`, both zips of JSON and `.npy` arrays.

`.keras`: `metadata.json`, `config.json` (the architecture), `state.json` (training position and the
optimizer's scalars), `weights/<i>.npy` and `optimizer/<name>.npy`.
`.npz` (readable by `np.load` too): `config.npy` and `state.npy` (each one JSON string),
`weight_<i>.npy`, `optimizer_<name>.npy`. A weights-only file is the same without the architecture.

Loading checks, in this order and before allocating any weight: the zip directory (sizes, compression
ratio, flags), the architecture (`config.check_config`), the weights the architecture implies against
every `.npy` header (shape, dtype) and each header against its member's real size; then it builds the
model without drawing weights (`flat.placeholder_weights`) and streams each weight straight into its
place, refusing NaN/inf unless `allow_nonfinite=True`. So a model file costs its weights once in
memory, its optimizer arrays twice (the optimizer keeps a copy) and one 1 MiB read buffer; and what a
file may declare is bounded by its size (`archive.max_uncompressed`). `load_weights` into an existing
model reads every member through first: a refused file leaves the model as it was.
"""

from __future__ import annotations

import datetime
import json
import math
import os
import warnings

import numpy as np

from .. import flat
from ..errors import ModelFileError
from . import state as training
from .archive import WEIGHT_DTYPES, Archive, format_bytes, write_archive
from .config import FORMAT, check_config, expected_weight_shapes, model_config, model_from_config

KERAS_FORMAT = "minidl-keras-1"


class Layout:
    """Member names of one archive layout."""

    def __init__(self, config, state, weight, optimizer, metadata=None):
        self.config, self.state, self.weight, self.optimizer, self.metadata = config, state, weight, optimizer, metadata


KERAS = Layout("config.json", "state.json", "weights/{}.npy", "optimizer/{}.npy", "metadata.json")
NPZ = Layout("config.npy", "state.npy", "weight_{}.npy", "optimizer_{}.npy")


def weight_slots(model) -> list[tuple]:
    """(layer, weight name, live array) of every weight, in `Model.get_weights()` order."""
    return model.tracked_weights()


def layout_of(archive: Archive) -> Layout:
    """The layout an archive uses, told by its members (not its file name)."""
    names = set(archive.names())
    if KERAS.metadata in names or KERAS.config in names or any(n.startswith("weights/") for n in names):
        return KERAS
    return NPZ


# ----- writing -----
def model_members(model, layout: Layout, with_config=True) -> dict:
    """The archive members holding `model` (architecture optional), in `layout`'s names."""
    members = {}
    text = _text_member(layout)
    if layout.metadata:
        members[layout.metadata] = text({"format": KERAS_FORMAT, "date_saved": datetime.datetime.now().isoformat()})
    if with_config:
        members[layout.config] = text(model_config(model))
    state = training.training_state(model)
    if state["optimizer"] is not None:
        scalars, arrays = training.split_arrays(state["optimizer"])
        state["optimizer"] = scalars
        members.update({layout.optimizer.format(key): array for key, array in arrays.items()})
    members[layout.state] = text(state)
    for index, weight in enumerate(model.get_weights()):
        members[layout.weight.format(index)] = weight
    return members


def _text_member(layout):
    if layout is KERAS:
        return lambda value: json.dumps(value)
    return lambda value: np.array(json.dumps(value))


def _check_overwrite(path, overwrite):
    if not overwrite and os.path.exists(path):
        raise FileExistsError(f"{path} exists and overwrite=False")


def save_model(model, path, overwrite=True):
    """Write `model` (architecture, weights, optimizer state, training position) atomically.

    A path ending in `.keras` gets Keras 3's layout, any other the `.npz` layout. A folder at `path`
    is never replaced; an existing file is, unless `overwrite=False`.
    """
    path = os.fspath(path)
    _check_overwrite(path, overwrite)
    layout = KERAS if path.endswith(".keras") else NPZ
    write_archive(path, model_members(model, layout))


def save_weights(model, path, overwrite=True):
    """Write only the weights and the optimizer state to `x.weights.npz` (`.h5`: see `hdf5`)."""
    path = os.fspath(path)
    _check_overwrite(path, overwrite)
    if not path.endswith(".npz"):
        raise ValueError(f"save_weights: the file name must end in .weights.npz or .weights.h5, got {path!r}")
    write_archive(path, model_members(model, NPZ, with_config=False))


# ----- reading -----
def load_model(model_class, path, allow_nonfinite=False, compile=True, custom_objects=None):
    """Read a model written by `save_model`, checking everything before allocating (see the module doc)."""
    with Archive(path) as archive:
        layout = layout_of(archive)
        where = archive.path
        if layout.config not in archive.members:
            raise ModelFileError(f"{where}: not a minidl model file (no 'config' entry, member {layout.config!r})")
        if layout.metadata and layout.metadata in archive.members:
            metadata = archive.read_json(layout.metadata)
            if not isinstance(metadata, dict) or metadata.get("format") != KERAS_FORMAT:
                raise ModelFileError(f"{where}: metadata.json does not name format {KERAS_FORMAT!r}")
        config = archive.read_json(layout.config)
        if not compile and isinstance(config, dict):  # the training setup is neither used nor checked
            config = {**config, "loss": None, "optimizer": None}
        config = check_config(config, where, custom_objects)
        expected = expected_weight_shapes(config, where, model_class, custom_objects)
        headers = _weight_headers(archive, layout, [entry[2] for entry in expected], config["dtype"], expected)
        trainable = sum(math.prod(shape) for _, _, shape, is_trainable in expected if is_trainable)
        state, optimizer_headers = _state(archive, layout, config["dtype"], trainable)
        _refuse_unknown_members(archive, layout, headers, optimizer_headers)
        try:
            with flat.placeholder_weights():  # no random weights drawn only to be overwritten
                model = model_from_config(model_class, config, custom_objects)
        except Exception as error:  # e.g. an unknown initializer or metric name, found when building
            raise ModelFileError(f"{where}: the architecture cannot be built ({error})") from None
        # A fresh model: a refusal part-way leaves nothing half-done that anyone holds.
        _read_weights(archive, model, headers, allow_nonfinite)
        _restore_state(archive, model, state, optimizer_headers, allow_nonfinite)
    return model


def read_state(path) -> dict | None:
    """The training state a model or weights file records (seed, epoch, optimizer scalars), or None."""
    with Archive(path) as archive:
        layout = layout_of(archive)
        if layout.state not in archive.members:
            return None
        state = archive.read_json(layout.state)
    if not isinstance(state, dict):
        raise ModelFileError(f"{path}: {layout.state} must be a JSON object")
    return state


def load_weights(model, path, allow_nonfinite=False):
    """Read weights (and optimizer state, when the model's optimizer matches) into a built `model`.

    All or nothing: every weight is read through and checked (size, CRC, NaN) and the training state
    checked before the model changes; then the state is taken over and the weights are read straight
    into their places. A refused file leaves the model exactly as it was.
    """
    path = os.fspath(path)
    with Archive(path) as archive:
        layout = layout_of(archive)
        expected = [(layer.name, key, array.shape) for layer, key, array in weight_slots(model)]
        dtype = np.dtype(model.dtype).name
        headers = _weight_headers(archive, layout, [entry[2] for entry in expected], None, expected, "this model")
        state, optimizer_headers = _state(archive, layout, dtype, model.parameters.size)
        ignored = {layout.config, layout.metadata}
        _refuse_unknown_members(archive, layout, headers, optimizer_headers, ignored)
        for header, (layer, key, _) in zip(headers, weight_slots(model)):
            _finite(archive.count_nonfinite(header.name, header), _weight_label(archive, layer, key), allow_nonfinite)
        saved = (state or {}).get("optimizer") or {}
        if model.optimizer is not None and saved and saved.get("name") != model.optimizer.name:
            warnings.warn(
                f"{path}: optimizer state of {saved.get('name')!r} not loaded into the model's "
                f"{model.optimizer.name!r}",
                stacklevel=2,
            )
            state = {**state, "optimizer": None}
        _restore_state(archive, model, state, optimizer_headers, allow_nonfinite)  # checks all, then sets
        _read_weights(archive, model, headers, allow_nonfinite)


def _weight_headers(archive, layout, shapes, dtype, described, holder="the architecture"):
    where = archive.path
    present = sorted(n for n in archive.names() if _is_weight(n, layout))
    wanted = [layout.weight.format(i) for i in range(len(shapes))]
    if set(present) != set(wanted):
        raise ModelFileError(
            f"{where} holds {len(present)} weight arrays, {holder} has {len(shapes)} "
            f"({', '.join(present[:6]) or 'none'}{', ...' if len(present) > 6 else ''})"
        )
    headers = []
    for name, shape, (layer, key, *_) in zip(wanted, shapes, described):
        header = archive.npy_header(name)
        what = f"{where}: weight {key!r} of layer {layer!r} ({name})"
        if header.dtype.name not in WEIGHT_DTYPES or (dtype is not None and header.dtype.name != dtype):
            raise ModelFileError(f"{what} has dtype {header.dtype}; expected {dtype or ' or '.join(WEIGHT_DTYPES)}")
        if header.shape != tuple(shape):
            need = format_bytes(math.prod(shape) * header.dtype.itemsize)
            raise ModelFileError(f"{what}: {holder} needs shape {tuple(shape)} ({need}), the file holds {header.shape}")
        headers.append(header)
    return headers


def _is_weight(name, layout):
    prefix, _, suffix = layout.weight.partition("{}")
    return name.startswith(prefix) and name.endswith(suffix)


def _state(archive, layout, dtype, parameters):
    """The state JSON (None if absent) and the checked headers of the optimizer arrays it names."""
    if layout.state not in archive.members:
        return None, {}
    state = archive.read_json(layout.state)
    where = f"{archive.path}: {layout.state}"
    if not isinstance(state, dict) or not isinstance(state.get("optimizer"), (dict, type(None))):
        raise ModelFileError(f"{where}: must be an object with an 'optimizer' object or null")
    headers = {}
    for key, value in (state.get("optimizer") or {}).items():
        if isinstance(value, dict):
            name = layout.optimizer.format(value.get("array"))
            if value != {"array": key} or name not in archive.members:
                raise ModelFileError(f"{where}: optimizer entry {key!r} names no array member of the file")
            header = archive.npy_header(name)
            if header.dtype.name != dtype or header.shape != (parameters,):
                raise ModelFileError(
                    f"{archive.path}: optimizer array {key!r} is {header.dtype} {header.shape}; "
                    f"the model needs {dtype} ({parameters},)"
                )
            headers[key] = header
        elif not (value is None or isinstance(value, (int, float, str, bool))):
            raise ModelFileError(f"{where}: optimizer entry {key!r} must be a number, text or null")
    return state, headers


def _refuse_unknown_members(archive, layout, headers, optimizer_headers, ignored=()):
    known = {layout.config, layout.state, layout.metadata, *ignored}
    known |= {h.name for h in headers} | {h.name for h in optimizer_headers.values()}
    unknown = sorted(set(archive.names()) - known)
    if unknown:
        raise ModelFileError(f"{archive.path}: unexpected archive member(s) {unknown[:5]}")


def _finite(nonfinite: int, what, allow_nonfinite):
    if nonfinite and not allow_nonfinite:
        raise ModelFileError(
            f"{what} holds {nonfinite} NaN or infinite value(s); refused (pass allow_nonfinite=True to load it anyway)"
        )


def _weight_label(archive, layer, key) -> str:
    return f"{archive.path}: weight {key!r} of layer {layer.name!r}"


def _read_weights(archive, model, headers, allow_nonfinite):
    """Each weight streamed straight into its place in the model (its view of the flat vector)."""
    for header, (layer, key, target) in zip(headers, weight_slots(model)):
        _finite(archive.fill(header.name, header, target), _weight_label(archive, layer, key), allow_nonfinite)


def _restore_state(archive, model, state, optimizer_headers, allow_nonfinite):
    if state is None:
        return
    saved = state.get("optimizer")
    if saved is not None:
        saved = dict(saved)
        for key, header in optimizer_headers.items():
            saved[key] = array = np.empty(header.shape, header.dtype)
            _finite(
                archive.fill(header.name, header, array), f"{archive.path}: optimizer array {key!r}", allow_nonfinite
            )
    if model.optimizer is None:
        saved = None
    training.restore_training_state(model, {**state, "optimizer": saved}, f"{archive.path}: {FORMAT} state")
