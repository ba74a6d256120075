"""Untrusted model files (issue 15, point 5): every crafted file is refused with a ModelFileError that
names the problem, quickly and without allocating more than the file justifies.

Each case loads a hostile file built by `hostile_files` (plain zips, not minidl's writer) under
`tracemalloc` and checks the error type, the message, a generous time bound (5 s: the measured figures
are milliseconds, the bound only catches a hang or an attempted multi-gigabyte allocation) and the
peak of traced allocations (NumPy reports its array memory to tracemalloc).
"""

from __future__ import annotations

import json
import re
import time
import tracemalloc
import zipfile

import hostile_files as hostile
import numpy as np
import pytest

import minidl
from minidl import Model, saving
from minidl.errors import ModelFileError
from minidl.layers import Dense

TIME_BOUND_SECONDS = 5.0
PEAK_BOUND_BYTES = 8 << 20  # every refused file here is refused before 8 MiB is allocated

CASES = [
    (hostile.make_asks_78m_parameters, r"architecture needs shape \(784, 100000\).*file holds \(784, 10\)"),
    (hostile.make_units_1e10, r"layer 1 \(Dense\) argument 'units' must be an integer in \[1, 2\*\*31\).*10000000000"),
    (hostile.make_header_8tib, r"weight_0.npy' declares shape \(2199023255552,\) of float32 \(8.0 TiB\) but holds"),
    (hostile.make_header_8tib_matching_architecture, r"Dense 'dense'.*kernel.*over 2,147,483,648 parameters"),
    (hostile.make_unknown_argument, r"layer 1 \(Dense\): unknown argument\(s\) \['evil'\]; Dense takes"),
    (hostile.make_dtype_object, r"dtype must be 'float32' or 'float64', got 'object'"),
    (hostile.make_layers_not_a_list, r"'layers' must be a list, got dict"),
    (hostile.make_deep_json, r"JSON nested 100001 levels deep, over the limit of 32"),
    (hostile.make_deflated_bomb, r"weight_0.npy' claims 67,1\d\d,\d\d\d uncompressed bytes.*possible zip bomb"),
    (hostile.make_claimed_1gib_bomb, r"weight_0.npy' claims 1,073,741,824 uncompressed bytes.*possible zip bomb"),
    (hostile.make_nan_weights, r"weight 'kernel' of layer 'dense' holds 1 NaN or infinite value\(s\).*allow_nonfinite"),
]


def load_measured(path, **options):
    """(error raised, seconds, peak traced bytes) of loading `path`."""
    tracemalloc.start()
    started = time.perf_counter()
    try:
        saving.load_model(path, **options)
        error = None
    except Exception as caught:
        error = caught
    seconds = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return error, seconds, peak


@pytest.mark.parametrize("make, message", CASES, ids=[make.__name__[5:] for make, _ in CASES])
def test_hostile_file_is_refused_quickly_and_cheaply(make, message, tmp_path):
    path = make(tmp_path)
    error, seconds, peak = load_measured(path)
    assert isinstance(error, ModelFileError), f"{type(error).__name__}: {error}"
    assert isinstance(error, ValueError)  # old callers catching ValueError still do
    assert str(path) in str(error)
    assert error.__context__ is None or error.__suppress_context__  # no chained NumPy traceback
    assert len(str(error).splitlines()) == 1
    assert re.search(message, str(error)), str(error)
    assert seconds < TIME_BOUND_SECONDS
    assert peak < PEAK_BOUND_BYTES, f"{peak:,} bytes allocated to refuse a {path.stat().st_size:,}-byte file"


def test_the_valid_crafted_file_loads(tmp_path):
    """The crafted files differ from a good one only in their fault: the good one loads."""
    model = saving.load_model(hostile.make_valid(tmp_path))
    np.testing.assert_array_equal(model.get_weights()[0], hostile.weights()[0])


def test_nan_weights_load_when_asked(tmp_path):
    model = saving.load_model(hostile.make_nan_weights(tmp_path), allow_nonfinite=True)
    kernel, bias = model.get_weights()
    assert np.isnan(kernel[3, 4]) and np.isinf(bias[0])


def test_model_load_refuses_with_the_same_checks(tmp_path):
    with pytest.raises(ModelFileError, match="unknown argument"):
        Model.load(hostile.make_unknown_argument(tmp_path))


def test_a_78m_parameter_claim_allocates_less_than_the_file(tmp_path):
    path = hostile.make_asks_78m_parameters(tmp_path)
    error, _, peak = load_measured(path)
    assert isinstance(error, ModelFileError)
    assert peak < 2 * path.stat().st_size + (1 << 20)


def saved_keras(tmp_path):
    model = Model(seed=2)
    model.add(Dense(4, input_shape=(3,)))
    model.compile(optimizer="adam", loss="mse", metrics=[])
    model.train_on_batch(np.ones((2, 3), np.float32), np.ones((2, 4), np.float32))
    path = tmp_path / "m.keras"
    model.save(path)
    return path


def rewrite(path, name, data):
    """Replace one member of a zip (the rest copied as they are)."""
    with zipfile.ZipFile(path) as archive:
        members = {info.filename: archive.read(info) for info in archive.infolist()}
    members[name] = data
    with zipfile.ZipFile(path, "w") as archive:
        for key, value in members.items():
            archive.writestr(key, value)


def test_keras_file_config_is_checked_too(tmp_path):
    path = saved_keras(tmp_path)
    with zipfile.ZipFile(path) as archive:
        config = json.loads(archive.read("config.json"))
    config["dtype"] = "object"
    rewrite(path, "config.json", json.dumps(config))
    with pytest.raises(ModelFileError, match="dtype must be 'float32' or 'float64', got 'object'"):
        saving.load_model(path)


def test_keras_file_with_wrong_optimizer_array_is_refused(tmp_path):
    path = saved_keras(tmp_path)
    rewrite(path, "optimizer/m.npy", hostile.npy_bytes(np.zeros(5, np.float32)))
    with pytest.raises(ModelFileError, match=r"optimizer array 'm' is float32 \(5,\); the model needs float32 \(16,\)"):
        saving.load_model(path)


def test_keras_file_with_nan_in_optimizer_state_is_refused(tmp_path):
    path = saved_keras(tmp_path)
    rewrite(path, "optimizer/v.npy", hostile.npy_bytes(np.full(16, np.nan, np.float32)))
    with pytest.raises(ModelFileError, match="optimizer array 'v' holds 16 NaN"):
        saving.load_model(path)


def test_json_nan_constant_and_unknown_members_are_refused(tmp_path):
    path = saved_keras(tmp_path)
    with zipfile.ZipFile(path) as archive:
        text = archive.read("config.json").decode()
    rewrite(path, "config.json", text.replace('"seed": 2', '"seed": NaN'))
    with pytest.raises(ModelFileError, match="not valid JSON.*NaN is not a JSON number"):
        saving.load_model(path)
    path = saved_keras(tmp_path)
    rewrite(path, "payload.pkl", b"\x80\x04")
    with pytest.raises(ModelFileError, match=r"unexpected archive member\(s\) \['payload.pkl'\]"):
        saving.load_model(path)


def test_a_pickled_weight_is_refused_without_unpickling(tmp_path):
    path = tmp_path / "pickled.npz"
    np.savez(
        path,
        config=np.array(json.dumps(hostile.config())),
        weight_0=np.array([{"x": 1}], dtype=object),
        weight_1=np.zeros(10),
    )
    with pytest.raises(ModelFileError, match="dtype object: refused"):
        saving.load_model(path)


def test_folder_in_place_of_a_model_file(tmp_path):
    with pytest.raises(ModelFileError, match="is a folder, not a model file"):
        saving.load_model(tmp_path)


def test_loading_through_the_package_namespace():
    assert minidl.saving.load_model is saving.load_model


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda text: text.replace('"units": 10', '"units": 1e400'), r"argument 'units' must be an integer.*got inf"),
        (lambda text: text.replace('"seed": 1', '"seed": 1' + "0" * 5000), r"not valid JSON \(Exceeds the limit"),
        (
            lambda text: text.replace('"name": "dense"', '"name": "dense", "kernel_initializer": "evil"'),
            "unknown initializer 'evil'",
        ),
        (lambda text: text.replace('"format": "minidl-model-1"', '"format": "other"'), "unknown model format 'other'"),
        (
            lambda text: text.replace('"metrics": []', '"metrics": [], "exec": 1'),
            r"unknown architecture keys \['exec'\]",
        ),
        (lambda text: text.replace('"class": "Dense"', '"class": "Lambda"'), "unknown layer class 'Lambda'"),
    ],
    ids=["infinite_number", "huge_integer", "unknown_initializer", "unknown_format", "unknown_key", "unknown_layer"],
)
def test_edited_architecture_is_refused(edit, message, tmp_path):
    text = edit(json.dumps(hostile.config()))
    path = hostile.write(tmp_path / "edited.npz", text, hostile.weight_members(hostile.weights()))
    with pytest.raises(ModelFileError, match=message):
        saving.load_model(path)


def recurrent_config(layer):
    """A one-layer architecture around `layer` ({"class", "config"}), as minidl writes it."""
    config = hostile.config()
    config["layers"] = [layer]
    return config


@pytest.mark.parametrize(
    "layer, message",
    [
        (  # a huge LSTM: its cell's weights must be counted from placeholders, not allocated
            {"class": "LSTM", "config": {"name": "l", "input_shape": [None, 8], "units": 2**16}},
            "over 2,147,483,648 parameters",
        ),
        (  # a huge cell inside a Bidirectional inside a file
            {
                "class": "Bidirectional",
                "config": {
                    "name": "b",
                    "input_shape": [5, 8],
                    "layer": {
                        "class": "RNN",
                        "config": {"name": "r", "cell": {"class": "GRUCell", "config": {"units": 2**15}}},
                    },
                },
            },
            "over 2,147,483,648 parameters",
        ),
        (
            {
                "class": "Bidirectional",
                "config": {
                    "name": "b",
                    "input_shape": [5, 8],
                    "layer": {
                        "class": "Bidirectional",
                        "config": {
                            "name": "c",
                            "layer": {
                                "class": "Bidirectional",
                                "config": {"name": "d", "layer": {"class": "LSTM", "config": {}}},
                            },
                        },
                    },
                },
            },
            "nested over 2 deep",
        ),
        (
            {
                "class": "Bidirectional",
                "config": {"name": "b", "input_shape": [5, 8], "layer": {"class": "Lambda", "config": {}}},
            },
            "unknown layer class 'Lambda'",
        ),
        (
            {
                "class": "RNN",
                "config": {
                    "name": "r",
                    "input_shape": [5, 8],
                    "cell": {"class": "LSTMCell", "config": {"units": 2, "exec": 1}},
                },
            },
            r"unknown argument\(s\) \['exec'\]",
        ),
        (
            {"class": "LSTM", "config": {"name": "l", "input_shape": [5, 8], "units": 3, "return_sequences": "yes"}},
            "must be true or false",
        ),
        (
            {"class": "Embedding", "config": {"name": "e", "input_shape": [None, 0], "input_dim": 3, "output_dim": 2}},
            "dimensions",
        ),
    ],
    ids=[
        "huge_lstm",
        "huge_nested_cell",
        "deep_nesting",
        "unknown_nested",
        "unknown_cell_argument",
        "bad_flag",
        "zero_dim",
    ],
)
def test_hostile_recurrent_architectures_are_refused_cheaply(layer, message, tmp_path):
    path = hostile.write(tmp_path / "recurrent.npz", json.dumps(recurrent_config(layer)), {})
    tracemalloc.start()
    try:
        with pytest.raises(ModelFileError, match=message):
            saving.load_model(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 20 * 2**20, f"refusing the file allocated {peak / 2**20:.0f} MB"
