"""Saving as Keras 3 does it (issue 14, point 7) and writing safely (issue 15, point 3 for model files).

`.keras`: a zip of metadata.json, config.json, state.json and `.npy` arrays; `.npz` stays loadable and
savable (also files written by earlier minidl versions); `save_weights` / `load_weights` in `.weights.npz`
and `.weights.h5` (h5py, a dependency). Writes are atomic: a full disk leaves the previous file intact
and no temporary file behind; a folder is never replaced.
"""

from __future__ import annotations

import errno
import io
import json
import os
import zipfile

import numpy as np
import pytest

from minidl import Model, saving
from minidl.errors import ModelFileError
from minidl.layers import Conv2D, Dense, Flatten, MaxPool2D
from minidl.saving import archive


def trained(dtype="float32", optimizer="adam"):
    model = Model(name="small", seed=5, dtype=dtype)
    model.add(Conv2D(3, 3, activation="relu", input_shape=(6, 6, 1)))
    model.add(MaxPool2D(2))
    model.add(Flatten())
    model.add(Dense(2, activation="softmax"))
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    rng = np.random.default_rng(0)
    model.fit(rng.normal(size=(8, 6, 6, 1)).astype(dtype), np.arange(8) % 2, batch_size=4, epochs=1, verbose=0)
    return model


def test_keras_file_is_a_zip_of_json_and_npy_arrays(tmp_path):
    model = trained()
    model.save(tmp_path / "x.keras")
    with zipfile.ZipFile(tmp_path / "x.keras") as zipped:
        names = set(zipped.namelist())
        config = json.loads(zipped.read("config.json"))
        metadata = json.loads(zipped.read("metadata.json"))
        state = json.loads(zipped.read("state.json"))
    assert names == {
        "metadata.json",
        "config.json",
        "state.json",
        "optimizer/m.npy",
        "optimizer/v.npy",
        *(f"weights/{i}.npy" for i in range(4)),
    }
    assert config == model.get_config() and metadata["format"] == "minidl-keras-1"
    assert state["epoch"] == 1 and state["optimizer"]["iterations"] == 2
    assert state["optimizer"]["m"] == {"array": "m"}
    loaded = saving.load_model(tmp_path / "x.keras")
    for a, b in zip(loaded.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(loaded.optimizer.m, model.optimizer.m)


def test_npz_file_is_readable_by_numpy_without_pickle(tmp_path):
    model = trained("float64", "sgd")
    model.save(tmp_path / "x.npz")
    with np.load(tmp_path / "x.npz", allow_pickle=False) as arrays:
        assert json.loads(str(arrays["config"])) == model.get_config()
        np.testing.assert_array_equal(arrays["weight_0"], model.get_weights()[0])
    assert Model.load(tmp_path / "x.npz").optimizer.get_state()["iterations"] == 2


def test_files_of_the_previous_npz_layout_still_load(tmp_path):
    """minidl before this change wrote np.savez(config=..., weight_i=...) with no state."""
    model = trained()
    weights = {f"weight_{i}": w for i, w in enumerate(model.get_weights())}
    np.savez(tmp_path / "old.npz", config=np.array(json.dumps(model.get_config())), **weights)
    loaded = saving.load_model(tmp_path / "old.npz")
    np.testing.assert_array_equal(loaded.parameters, model.parameters)
    assert loaded.optimizer.iterations == 0  # no state in the old file: a fresh optimizer


def test_compressed_npz_loads(tmp_path):
    model = trained()
    weights = {f"weight_{i}": w for i, w in enumerate(model.get_weights())}
    np.savez_compressed(tmp_path / "c.npz", config=np.array(json.dumps(model.get_config())), **weights)
    np.testing.assert_array_equal(saving.load_model(tmp_path / "c.npz").parameters, model.parameters)


def test_load_model_compile_false_leaves_the_model_uncompiled(tmp_path):
    trained().save(tmp_path / "x.keras")
    loaded = saving.load_model(tmp_path / "x.keras", compile=False)
    assert loaded.optimizer is None and loaded.loss is None


@pytest.mark.parametrize("suffix", [".weights.npz", ".weights.h5"])
def test_save_weights_and_load_weights(suffix, tmp_path):
    model = trained()
    path = tmp_path / f"x{suffix}"
    saving.save_weights(model, path)
    fresh = Model(name="small", seed=99)
    for layer in (
        Conv2D(3, 3, activation="relu", input_shape=(6, 6, 1)),
        MaxPool2D(2),
        Flatten(),
        Dense(2, activation="softmax"),
    ):
        fresh.add(layer)
    fresh.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    saving.load_weights(fresh, path)
    np.testing.assert_array_equal(fresh.parameters, model.parameters)
    assert fresh.optimizer.iterations == 2
    np.testing.assert_array_equal(fresh.optimizer.v, model.optimizer.v)
    wrong = Model(seed=1)
    wrong.add(Dense(3, input_shape=(4,)))
    with pytest.raises(ModelFileError, match="weight"):
        saving.load_weights(wrong, path)


def test_load_weights_of_another_optimizer_loads_weights_and_warns(tmp_path):
    saving.save_weights(trained(optimizer="adam"), tmp_path / "x.weights.npz")
    model = trained(optimizer="sgd")
    with pytest.warns(UserWarning, match="optimizer state of 'adam' not loaded into the model's 'sgd'"):
        saving.load_weights(model, tmp_path / "x.weights.npz")


def test_save_weights_needs_a_known_suffix(tmp_path):
    with pytest.raises(ValueError, match=r"must end in .weights.npz or .weights.h5, got '.*x.bin'"):
        saving.save_weights(trained(), tmp_path / "x.bin")


def test_h5_without_h5py_says_how_to_get_it(tmp_path, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_h5py(name, *args, **kwargs):
        if name == "h5py":
            raise ImportError("No module named 'h5py'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_h5py)
    with pytest.raises(ImportError, match=r"needs h5py, a dependency of minidl: pip install h5py"):
        saving.save_weights(trained(), tmp_path / "x.weights.h5")


class FullDisk(io.FileIO):
    """A file on a disk that fills up after `budget` bytes."""

    budget = 3000

    def write(self, data):
        if self.tell() + len(data) > self.budget:
            super().write(bytes(data)[: max(self.budget - self.tell(), 0)])
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return super().write(data)


@pytest.mark.parametrize("suffix", [".keras", ".npz"])
def test_full_disk_leaves_the_previous_file_and_no_temporary(suffix, tmp_path, monkeypatch):
    model = trained()
    path = tmp_path / f"m{suffix}"
    path.write_bytes(b"the previous model")
    monkeypatch.setattr(archive, "open", lambda name, mode: FullDisk(name, mode), raising=False)
    with pytest.raises(
        OSError, match=rf"cannot save {path}: the disk is full \(any previous file is unchanged\)"
    ) as info:
        model.save(path)
    assert info.value.errno == errno.ENOSPC
    assert len(str(info.value).splitlines()) == 1
    assert path.read_bytes() == b"the previous model"
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]


def test_a_folder_is_never_replaced(tmp_path):
    folder = tmp_path / "m.keras"
    folder.mkdir()
    (folder / "inside").write_text("keep")
    with pytest.raises(IsADirectoryError, match="is a folder; refusing to replace it"):
        trained().save(folder)
    assert (folder / "inside").read_text() == "keep"


def test_overwrite_false_and_missing_folder(tmp_path):
    model = trained()
    saving.save_model(model, tmp_path / "m.keras")
    with pytest.raises(FileExistsError, match="exists and overwrite=False"):
        saving.save_model(model, tmp_path / "m.keras", overwrite=False)
    with pytest.raises(FileNotFoundError, match="folder .*nowhere does not exist"):
        saving.save_model(model, tmp_path / "nowhere" / "m.keras")


def test_an_interrupted_save_leaves_no_temporary(tmp_path, monkeypatch):
    model = trained()

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(archive.os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        model.save(tmp_path / "m.keras")
    assert list(tmp_path.iterdir()) == []


def every_kind_of_layer(seed):
    """A model with every layer class that has special arguments or non-trainable state."""
    from minidl.layers import LAYER_CLASSES as kinds

    model = Model(name="zoo", seed=seed)
    for layer in (
        kinds["Rescaling"](1 / 255, input_shape=(8, 8, 1)),
        kinds["ZeroPadding2D"](((1, 2), (0, 1))),
        Conv2D(4, 3, activation="relu"),
        kinds["BatchNormalization"](),
        kinds["LeakyReLU"](0.1),
        kinds["GlobalAveragePooling2D"](),
        Dense(3),
        kinds["Activation"]("softmax"),
    ):
        model.add(layer)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    return model


@pytest.mark.parametrize("suffix", [".keras", ".npz"])
def test_layers_with_state_and_nested_arguments_round_trip_and_resume(suffix, tmp_path):
    """BatchNormalization's moving averages are weights (not optimizer-updated); resume stays exact."""
    x, y = np.random.default_rng(0).random((16, 8, 8, 1)).astype("float32"), np.arange(16) % 3
    uninterrupted = every_kind_of_layer(1)
    uninterrupted.fit(x, y, batch_size=8, epochs=2, verbose=0)
    first = every_kind_of_layer(1)
    first.fit(x, y, batch_size=8, epochs=1, verbose=0)
    first.save(tmp_path / f"zoo{suffix}")
    loaded = saving.load_model(tmp_path / f"zoo{suffix}")
    assert loaded.get_config() == first.get_config()
    np.testing.assert_array_equal(loaded.predict(x), first.predict(x))
    loaded.fit(x, y, batch_size=8, epochs=2, initial_epoch=1, verbose=0)
    for resumed, expected in zip(loaded.get_weights(), uninterrupted.get_weights(), strict=True):
        np.testing.assert_array_equal(resumed, expected)


def test_a_loss_on_logits_stays_on_logits(tmp_path):
    from minidl.losses import SparseCategoricalCrossentropy

    model = Model(seed=3)
    model.add(Dense(3, input_shape=(4,)))
    model.compile(optimizer="sgd", loss=SparseCategoricalCrossentropy(from_logits=True))
    model.save(tmp_path / "logits.keras")
    loaded = saving.load_model(tmp_path / "logits.keras")
    assert loaded.loss.get_config() == {"name": "sparse_categorical_crossentropy", "from_logits": True}
    x, y = np.ones((2, 4), np.float32), np.array([0, 2])
    assert loaded.evaluate(x, y) == model.evaluate(x, y)


def sequence_models(seed):
    """Every sequence and recurrent layer, with a None time axis and nested configs (Bidirectional, RNN)."""
    from minidl import Input
    from minidl.layers import LAYER_CLASSES as kinds

    text = Model(name="text", seed=seed)
    for layer in (
        Input(shape=(None,)),
        kinds["Embedding"](12, 4, mask_zero=True),
        kinds["Bidirectional"](kinds["GRU"](3, return_sequences=True, reset_after=False), merge_mode="sum"),
        kinds["Conv1D"](4, 3, padding="causal", dilation_rate=2, activation="relu"),
        kinds["MaxPooling1D"](2, padding="same"),
        kinds["LSTM"](3, return_sequences=True, go_backwards=True, dropout=0.2),
        kinds["RNN"](kinds["SimpleRNNCell"](3), return_sequences=True),
        kinds["AveragePooling1D"](2),
        kinds["GlobalAveragePooling1D"](),
        Dense(3, activation="softmax"),
    ):
        text.add(layer)
    series = Model(name="series", seed=seed)
    for layer in (
        Input(shape=(None, 2)),
        kinds["Masking"](0.0),
        kinds["SimpleRNN"](3, return_sequences=True),
        kinds["GlobalMaxPooling1D"](),
        Dense(3, activation="softmax"),
    ):
        series.add(layer)
    for model in (text, series):
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    return text, series


@pytest.mark.parametrize("suffix", [".keras", ".npz"])
def test_sequence_and_recurrent_layers_round_trip(suffix, tmp_path):
    rng = np.random.default_rng(0)
    data = [rng.integers(0, 12, (10, 9)), rng.standard_normal((10, 7, 2)).astype("float32")]
    y = np.arange(10) % 3
    for model, x in zip(sequence_models(2), data):
        model.fit(x, y, batch_size=5, epochs=1, verbose=0)
        model.save(tmp_path / f"{model.name}{suffix}")
        loaded = saving.load_model(tmp_path / f"{model.name}{suffix}")
        assert loaded.get_config() == model.get_config()
        assert loaded.input_shape == model.input_shape and None in loaded.input_shape
        for ours, theirs in zip(loaded.get_weights(), model.get_weights(), strict=True):
            np.testing.assert_array_equal(ours, theirs)
        np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
        np.testing.assert_array_equal(loaded.predict(x[:, :5], verbose=0), model.predict(x[:, :5], verbose=0))


def test_a_users_activation_function_is_saved_by_its_registered_name_and_found_again(tmp_path):
    from minidl import Input, ops
    from minidl.saving import register_keras_serializable

    @register_keras_serializable(package="test_formats")
    def squash(x):
        return x * ops.sigmoid(x)

    def unregistered(x):
        return ops.tanh(x) * 2

    inputs = Input(shape=(3,))
    model = Model(inputs, Dense(2, activation=unregistered)(Dense(4, activation=squash)(inputs)))
    x = np.random.default_rng(0).random((5, 3)).astype("float32")
    model.save(tmp_path / "m.keras")
    assert "test_formats>squash" in json.dumps(model.get_config())
    with pytest.raises(ModelFileError, match="unknown activation 'unregistered'"):
        saving.load_model(tmp_path / "m.keras")
    loaded = saving.load_model(tmp_path / "m.keras", custom_objects={"unregistered": unregistered})
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
