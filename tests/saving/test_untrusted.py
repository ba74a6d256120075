"""Untrusted model files (issue 15, point 5): every crafted file is refused with a ModelFileError that
names the problem, quickly and without allocating more than the file justifies.

Each case loads a hostile file built by `hostile_files` (plain zips, not minidl's writer) under
`tracemalloc` and checks the error type, the message, a generous time bound (5 s: the measured figures
are milliseconds, the bound only catches a hang or an attempted multi-gigabyte allocation) and the
peak of traced allocations (NumPy reports its array memory to tracemalloc).
"""

from __future__ import annotations

import functools
import io
import json
import re
import struct
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
    (functools.partial(hostile.make_flagged, bits=0x1), r"weight_0.npy' is encrypted \(general-purpose flags 0x0001\)"),
    (
        functools.partial(hostile.make_flagged, bits=0x40),
        r"weight_0.npy' is encrypted \(general-purpose flags 0x0040\)",
    ),
    (
        functools.partial(hostile.make_flagged, bits=0x20),
        r"weight_0.npy' is patched data \(general-purpose flags 0x0020\)",
    ),
    (hostile.make_many_small_claims, r"its members claim 40,\d{3},\d{3} uncompressed bytes from a .*zip bomb"),
    (hostile.make_garbled_deflate, r"weight_0.npy' has no valid .npy header \(Error -3 while decompressing data"),
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


def case_name(make) -> str:
    if isinstance(make, functools.partial):
        return f"{make.func.__name__[5:]}_{make.keywords['bits']:#x}"
    return make.__name__[5:]


@pytest.mark.parametrize("make, message", CASES, ids=[case_name(make) for make, _ in CASES])
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


@pytest.mark.parametrize("bits", [0x1, 0x40])
def test_classify_refuses_an_encrypted_member_in_one_line(bits, tmp_path, mnist_dir):
    """What a user of `trainings/classify.py --model` sees of such a file: one line naming it, exit 1."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    path = hostile.make_flagged(tmp_path, bits=bits)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")])}
    result = subprocess.run(
        [sys.executable, str(root / "trainings" / "classify.py"), "--model", str(path)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 1 and result.stdout == "", result.stderr
    assert result.stderr.splitlines() == [
        f"classify.py: error: {path}: member 'weight_0.npy' is encrypted (general-purpose flags {bits:#06x}): refused"
    ]


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


# ----- a refused file changes nothing -----
OUTPUTS = 2000  # the last bias (weight 5) spans more than zipfile's 4 KiB first read: its CRC is checked late
PARAMETERS = 4 * 5 + 5 + 5 * 4 + 4 + 4 * OUTPUTS + OUTPUTS


def trained(seed=0, optimizer="adam"):
    """A three-layer model (six weights) trained one step, so that its optimizer holds arrays."""
    model = Model(name="m", seed=seed)
    model.add(Dense(5, activation="relu", input_shape=(4,)))
    model.add(Dense(4, activation="relu"))
    model.add(Dense(OUTPUTS))
    model.compile(optimizer=optimizer, loss="mse")
    rng = np.random.default_rng(seed)
    model.train_on_batch(rng.normal(size=(8, 4)).astype("float32"), rng.normal(size=(8, OUTPUTS)).astype("float32"))
    return model


def everything(model):
    """The model's weights, optimizer state and training position, copied."""
    state = saving.training_state(model)
    optimizer = {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in (state.pop("optimizer") or {}).items()}
    return [w.copy() for w in model.get_weights()], optimizer, state


def assert_unchanged(model, before):
    weights, optimizer, state = everything(model)
    for old, new in zip(before[0], weights):
        np.testing.assert_array_equal(old, new, strict=True)
    assert optimizer.keys() == before[1].keys()
    for key, value in optimizer.items():
        np.testing.assert_array_equal(value, before[1][key], strict=True)
    assert state == before[2]


def corrupt_third_weight(path, name):
    """A NaN in the third weight array (weights 0 and 1 are good)."""
    with zipfile.ZipFile(path) as archive:
        array = np.load(io.BytesIO(archive.read(name)))
    array.reshape(-1)[0] = np.nan
    rewrite(path, name, hostile.npy_bytes(array))


def damage_crc_of_the_last_weight(path, name):
    """One data byte of the last weight flipped after writing: its CRC no longer matches."""
    blob = bytearray(path.read_bytes())
    local, _ = hostile.member_headers(bytes(blob), name.encode())
    start = local + 30 + struct.unpack_from("<H", blob, local + 26)[0] + struct.unpack_from("<H", blob, local + 28)[0]
    blob[start + 4500] ^= 0xFF  # past the .npy header and zipfile's first read: the numbers
    path.write_bytes(bytes(blob))


SUFFIXES = {".weights.npz": "weight_{}.npy", ".keras": "weights/{}.npy"}


@pytest.mark.parametrize("suffix", SUFFIXES)
@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda path, names: corrupt_third_weight(path, names.format(2)), "holds 1 NaN or infinite value"),
        (lambda path, names: damage_crc_of_the_last_weight(path, names.format(5)), "Bad CRC-32"),
        (lambda path, names: rewrite(path, names.format(6), hostile.npy_bytes(np.zeros(3, np.float32))), "holds 7"),
        (
            lambda path, names: rewrite(
                path,
                names.replace("weights/{}", "optimizer/v").replace("weight_{}", "optimizer_v"),
                hostile.npy_bytes(np.full(PARAMETERS, np.inf, np.float32)),
            ),
            f"optimizer array 'v' holds {PARAMETERS} NaN",
        ),
    ],
    ids=["nan-in-third-weight", "bad-crc-in-last-weight", "a-weight-too-many", "inf-in-optimizer-state"],
)
def test_a_refused_weights_file_leaves_the_model_as_it_was(tmp_path, suffix, damage, message):
    """load_weights (and so BackupAndRestore) checks the whole file before changing the model."""
    path = tmp_path / f"other{suffix}"
    source = trained(seed=1)
    source.save_weights(path) if suffix.endswith(".npz") else source.save(path)
    damage(path, SUFFIXES[suffix])
    model = trained(seed=2)
    before = everything(model)
    with pytest.raises(ModelFileError, match=message):
        saving.load_weights(model, path)
    assert_unchanged(model, before)


def test_a_refused_training_state_leaves_the_model_as_it_was(tmp_path):
    path = tmp_path / "other.weights.npz"
    trained(seed=1).save_weights(path)
    with zipfile.ZipFile(path) as archive:
        state = json.loads(np.load(io.BytesIO(archive.read("state.npy")))[()])
    state["epoch"] = -3
    rewrite(path, "state.npy", hostile.npy_bytes(np.array(json.dumps(state))))
    model = trained(seed=2)
    before = everything(model)
    with pytest.raises(ModelFileError, match="epoch must be a non-negative integer, got -3"):
        saving.load_weights(model, path)
    assert_unchanged(model, before)


def test_a_refused_h5_file_leaves_the_model_as_it_was(tmp_path):
    h5py = pytest.importorskip("h5py")
    path = tmp_path / "other.weights.h5"
    trained(seed=1).save_weights(path)
    with h5py.File(path, "r+") as file:
        file["weights/2"][0, 0] = np.nan
    model = trained(seed=2)
    before = everything(model)
    with pytest.raises(ModelFileError, match=r"weight 'kernel' of layer .* \(weights/2\) holds NaN"):
        saving.load_weights(model, path)
    assert_unchanged(model, before)


def test_a_damaged_h5_file_is_refused_not_loaded_as_other_numbers(tmp_path):
    """.weights.h5 datasets carry Fletcher-32 checksums: one flipped byte in a weight is found."""
    pytest.importorskip("h5py")
    path = tmp_path / "other.weights.h5"
    source = trained(seed=1)
    source.save_weights(path)
    blob = bytearray(path.read_bytes())
    kernel = source.get_weights()[0].tobytes()
    at = blob.find(kernel)
    assert at > 0, "the kernel's bytes are stored as they are"
    blob[at + 5] ^= 0x40
    path.write_bytes(bytes(blob))
    model = trained(seed=2)
    before = everything(model)
    with pytest.raises(ModelFileError, match=r"other.weights.h5: not a readable minidl weights file \(.*"):
        saving.load_weights(model, path)
    assert_unchanged(model, before)


def test_a_crafted_json_text_with_a_lone_surrogate_is_refused(tmp_path):
    """A `.npz` JSON member is a NumPy string, which may hold lone surrogates (no UTF-8 text can)."""
    text = json.dumps(hostile.config()) + "\ud800"
    path = hostile.write(tmp_path / "surrogate.npz", text, hostile.weight_members(hostile.weights()))
    with pytest.raises(ModelFileError, match="not valid JSON"):
        saving.load_model(path)
