"""Weight constraints: the projections, real Keras's, applied after every optimizer step, saved and loaded."""

import json
import zipfile

import numpy as np
import pytest

from minidl import Sequential, callbacks, constraints, models
from minidl.errors import ModelFileError, UnknownNameError
from minidl.layers import Conv2D, Conv2DTranspose, Dense, DepthwiseConv2D, Flatten, SeparableConv2D
from minidl.optimizers import SGD

CONSTRAINTS = [
    (constraints.MaxNorm, {}),
    (constraints.MaxNorm, {"max_value": 0.5, "axis": [0, 1, 2]}),
    (constraints.MinMaxNorm, {"min_value": 0.3, "max_value": 0.6, "rate": 0.5}),
    (constraints.NonNeg, {}),
    (constraints.UnitNorm, {"axis": -1}),
]


def test_projections_by_hand():
    w = np.array([[3.0, 0.1], [4.0, -0.1]])  # column norms 5 and ~0.141
    capped = constraints.MaxNorm(2.0)(w)
    np.testing.assert_allclose(np.linalg.norm(capped, axis=0), [2.0, np.hypot(0.1, 0.1)], rtol=1e-6)
    np.testing.assert_allclose(capped[:, 1], w[:, 1], rtol=1e-6)  # short columns stay (up to epsilon)
    np.testing.assert_allclose(np.linalg.norm(constraints.UnitNorm()(w), axis=0), 1.0, rtol=1e-6)
    np.testing.assert_array_equal(constraints.NonNeg()(w), [[3.0, 0.1], [4.0, 0.0]])
    half = constraints.MinMaxNorm(1.0, 2.0, rate=0.5)(w)  # halfway from 5 to 2: 3.5
    assert np.linalg.norm(half[:, 0]) == pytest.approx(3.5, rel=1e-6)


@pytest.mark.parametrize("cls, kwargs", CONSTRAINTS)
def test_projections_equal_real_keras(cls, kwargs, rng):
    from keras_twins import real_keras

    keras = real_keras()
    w = rng.standard_normal((3, 3, 4, 5)).astype(np.float32)
    theirs = getattr(keras.constraints, cls.__name__)(**kwargs)
    expected = keras.ops.convert_to_numpy(theirs(keras.ops.convert_to_tensor(w)))
    np.testing.assert_allclose(cls(**kwargs)(w), expected, rtol=1e-5, atol=1e-6)


def test_names_dicts_classes_and_functions():
    assert isinstance(constraints.get("max_norm"), constraints.MaxNorm)
    assert isinstance(constraints.get("NonNeg"), constraints.NonNeg)
    assert isinstance(constraints.get(constraints.UnitNorm), constraints.UnitNorm)
    rebuilt = constraints.get(constraints.serialize(constraints.MaxNorm(3.0, axis=[0, 1])))
    assert rebuilt.get_config() == {"max_value": 3.0, "axis": [0, 1]}
    clip = np.tanh  # any callable, as Keras allows
    assert constraints.get(clip) is clip and constraints.get(None) is None
    with pytest.raises(UnknownNameError, match="Dense: kernel_constraint: unknown constraint 'max_nrom'"):
        Dense(2, kernel_constraint="max_nrom")
    with pytest.raises(ValueError, match="MaxNorm: max_value"):
        constraints.MaxNorm(-1)
    with pytest.raises(ValueError, match="UnitNorm: axis"):
        constraints.UnitNorm(axis="rows")


def constrained_model(workers_seed=0):
    model = Sequential(
        [
            Conv2D(4, 3, kernel_constraint=constraints.MaxNorm(0.3, axis=[0, 1, 2]), input_shape=(6, 6, 2)),
            DepthwiseConv2D(3, depthwise_constraint="non_neg", bias_constraint=constraints.NonNeg()),
            SeparableConv2D(3, 2, pointwise_constraint=constraints.UnitNorm(axis=2)),
            Conv2DTranspose(2, 2, kernel_constraint="non_neg"),
            Flatten(),
            Dense(3, kernel_constraint=constraints.MaxNorm(0.5), activation="softmax"),
        ],
        seed=workers_seed,
        dtype="float64",
    )
    return model.compile(SGD(0.5, momentum=0.9), "sparse_categorical_crossentropy")


def assert_constrained(model):
    conv, depthwise, separable, transpose, _, dense = model.layers
    assert np.linalg.norm(conv.params["kernel"].reshape(-1, 4), axis=0).max() <= 0.3 + 1e-9
    assert depthwise.params["kernel"].min() >= 0 and depthwise.params["bias"].min() >= 0
    np.testing.assert_allclose(np.linalg.norm(separable.params["pointwise_kernel"], axis=2), 1.0, rtol=1e-6)
    assert transpose.params["kernel"].min() >= 0
    assert np.linalg.norm(dense.params["kernel"], axis=0).max() <= 0.5 + 1e-9


def test_fit_and_train_on_batch_project_after_every_step(rng):
    x, y = rng.standard_normal((48, 6, 6, 2)) * 3, rng.integers(0, 3, 48)
    model = constrained_model()
    seen = []

    def check(batch, logs):  # the weights every step leaves behind
        assert_constrained(model)
        seen.append(batch)

    model.fit(x, y, batch_size=8, epochs=1, verbose=0, callbacks=[callbacks.LambdaCallback(on_train_batch_end=check)])
    assert len(seen) == 6
    model.train_on_batch(x[:8] * 10, y[:8])
    assert_constrained(model)
    free = Sequential([Dense(3, input_shape=(4,))], seed=0, dtype="float64").compile(SGD(5.0), "mse")
    free.fit(rng.standard_normal((8, 4)) * 10, rng.standard_normal((8, 3)) * 10, verbose=0)
    assert np.linalg.norm(free.layers[0].params["kernel"], axis=0).max() > 0.5  # unconstrained: free to grow


def test_two_workers_project_as_one(rng):
    x, y = rng.standard_normal((48, 6, 6, 2)) * 3, rng.integers(0, 3, 48)
    runs = []
    for workers in (1, 2):
        model = constrained_model()
        model.fit(x, y, batch_size=12, epochs=2, verbose=0, workers=workers)
        runs.append(model.parameters.copy())
    np.testing.assert_allclose(runs[1], runs[0], rtol=1e-10, atol=1e-12)


def test_constraints_save_and_load(rng, tmp_path):
    from suite_helpers import assert_round_trip

    model = constrained_model()
    loaded = assert_round_trip(model, rng.standard_normal((2, 6, 6, 2)), tmp_path)
    assert loaded.layers[0].kernel_constraint.get_config() == {"max_value": 0.3, "axis": [0, 1, 2]}
    assert isinstance(loaded.layers[3].kernel_constraint, constraints.NonNeg)
    assert set(loaded.layers[1].weight_constraints) == {"kernel", "bias"}


@pytest.mark.parametrize(
    "constraint, message",
    [
        ({"class_name": "Lambda", "config": {}}, "must be null, a constraint name"),
        ({"class_name": "MaxNorm", "config": {"code": "rm"}}, r"unknown argument\(s\) \['code'\]"),
        ({"class_name": "MaxNorm", "config": {"max_value": {"a": 1}}}, "argument 'max_value' must be"),
        ("evil_norm", "must be null, a constraint name"),
    ],
)
def test_a_file_with_a_bad_constraint_is_refused(constraint, message, tmp_path):
    model = Sequential([Dense(2, kernel_constraint="unit_norm", input_shape=(3,))], seed=0)
    path = tmp_path / "m.keras"
    model.save(path)
    with zipfile.ZipFile(path) as archive:
        members = {info.filename: archive.read(info) for info in archive.infolist()}
    config = json.loads(members["config.json"])
    config["layers"][0]["config"]["kernel_constraint"] = constraint
    members["config.json"] = json.dumps(config)
    with zipfile.ZipFile(path, "w") as archive:
        for key, value in members.items():
            archive.writestr(key, value)
    with pytest.raises(ModelFileError, match=message):
        models.load_model(path)


def test_without_constraints_apply_changes_nothing(rng):
    model = Sequential([Conv2D(2, 3, input_shape=(5, 5, 1)), Flatten(), Dense(2)], seed=0)
    before = model.parameters.copy()
    constraints.apply(model.layers)
    np.testing.assert_array_equal(model.parameters, before)
    assert all(not getattr(layer, "weight_constraints", {}) for layer in model.layers)
