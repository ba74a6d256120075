"""minidl/layers/cells.py: the cells' regularizers and constraints, Keras's arguments, on each weight
(kernel, recurrent_kernel, bias), for the cells alone and inside SimpleRNN / LSTM / GRU / Bidirectional.
(The cells' equations and gradients are tested through the layers in test_recurrent.py.)"""

import numpy as np
import pytest

import minidl as keras
from minidl import constraints, layers, regularizers
from minidl.errors import ModelFileError
from minidl.gradcheck import check_model_gradients

RNG = np.random.default_rng(5)
X, Y = RNG.standard_normal((6, 4, 3)), RNG.integers(0, 2, 6)


def recurrent_model(recurrent, dtype="float64"):
    model = keras.Sequential(
        [keras.Input((4, 3)), recurrent, layers.Dense(2, activation="softmax")], seed=2, dtype=dtype
    )
    model.compile("sgd", "sparse_categorical_crossentropy")
    return model


@pytest.mark.parametrize("kind", [layers.SimpleRNN, layers.LSTM, layers.GRU])
def test_each_weights_penalty_is_in_the_loss_once_and_in_its_gradient(kind):
    layer = kind(3, kernel_regularizer=regularizers.L2(0.3), recurrent_regularizer=regularizers.L1(0.2),
                 bias_regularizer=regularizers.L1L2(0.1, 0.4), bias_initializer="ones")  # fmt: skip
    model = recurrent_model(layer)
    kernel, recurrent, bias = layer.get_weights()
    expected = (
        0.3 * np.sum(kernel**2) + 0.2 * np.sum(np.abs(recurrent)) + 0.1 * np.sum(np.abs(bias)) + 0.4 * np.sum(bias**2)
    )
    np.testing.assert_allclose(sum(float(np.asarray(t)) for t in model.losses), expected, rtol=1e-12)  # once each
    plain = recurrent_model(kind(3, bias_initializer="ones"))
    plain.set_weights(model.get_weights())
    logs, bare = (m.evaluate(X, Y, verbose=0, return_dict=True)["loss"] for m in (model, plain))
    np.testing.assert_allclose(logs - bare, expected, rtol=1e-9)
    check_model_gradients(model, X, Y).assert_ok()  # the penalties' gradients included


def test_constraints_project_each_weight_after_every_step_also_in_both_directions():
    lstm = layers.LSTM(3, kernel_constraint="non_neg", recurrent_constraint=constraints.MaxNorm(0.5, axis=0))
    both = layers.Bidirectional(layers.GRU(3, bias_constraint=constraints.NonNeg()))
    for layer in (lstm, both):
        recurrent_model(layer, dtype="float32").fit(X, Y, epochs=2, batch_size=2, verbose=0)
    kernel, recurrent, _ = lstm.get_weights()
    assert kernel.min() >= 0
    assert np.linalg.norm(recurrent, axis=0).max() <= 0.5 + 1e-6
    forward_bias, backward_bias = both.get_weights()[2], both.get_weights()[5]
    assert forward_bias.min() >= 0 and backward_bias.min() >= 0


def test_the_config_and_a_saved_file_keep_them_and_a_crafted_one_is_refused(tmp_path):
    layer = layers.GRU(3, recurrent_regularizer=regularizers.L2(0.01), recurrent_constraint="unit_norm")
    config = layer.get_config()
    assert config["recurrent_regularizer"] == {"class_name": "L2", "config": {"l2": 0.01}}
    assert config["recurrent_constraint"]["class_name"] == "UnitNorm"
    model = recurrent_model(layer, dtype="float32")
    model.save(tmp_path / "gru.keras")
    loaded = keras.models.load_model(tmp_path / "gru.keras")
    assert loaded.layers[0].get_config()["recurrent_regularizer"] == config["recurrent_regularizer"]
    np.testing.assert_allclose(loaded.evaluate(X, Y, verbose=0), model.evaluate(X, Y, verbose=0), rtol=1e-6)
    import json
    import zipfile

    with zipfile.ZipFile(tmp_path / "gru.keras") as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    text = members["config.json"].decode().replace('"class_name": "L2"', '"class_name": "Lasso"')
    assert json.loads(text)
    with zipfile.ZipFile(tmp_path / "bad.keras", "w") as archive:
        for name, blob in members.items():
            archive.writestr(name, text if name == "config.json" else blob)
    with pytest.raises(ModelFileError, match="argument 'recurrent_regularizer' must be an L1, L2 or L1L2 regularizer"):
        keras.models.load_model(tmp_path / "bad.keras")
