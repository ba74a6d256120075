"""minidl/trainers/compile_utils.py (with losses/outputs.py and metrics/outputs.py): a model with several
outputs trains on the weighted sum of their losses and logs each output as Keras names it."""

import json
import zipfile

import numpy as np
import pytest

import minidl as keras
from minidl import layers
from minidl.errors import ModelFileError
from minidl.gradcheck import check_model_gradients

RNG = np.random.default_rng(4)
XA, XB = RNG.standard_normal((40, 4)), RNG.standard_normal((40, 3))
PRIORITY, DEPARTMENT = RNG.standard_normal((40, 1)), RNG.integers(0, 3, 40)


def ranking_model(dtype="float32"):
    """Keras's functional-API guide in small: two inputs, a score head and a 3-way classifier head."""
    keras.set_seed(3)
    a, b = keras.Input((4,), name="a", dtype=dtype), keras.Input((3,), name="b", dtype=dtype)
    hidden = layers.Dense(8, activation="tanh", dtype=dtype)(layers.concatenate([a, b]))
    priority = layers.Dense(1, name="priority", dtype=dtype)(hidden)
    department = layers.Dense(3, activation="softmax", name="department", dtype=dtype)(hidden)
    model = keras.Model([a, b], [priority, department], seed=3)
    keras.set_seed(None)  # random again for what the next test builds
    return model


def compiled(model=None, **options):
    model = model or ranking_model()
    settings = {"loss": {"priority": "mse", "department": "sparse_categorical_crossentropy"}}
    model.compile(optimizer="sgd", **{**settings, **options})
    return model


def test_the_loss_is_the_weighted_sum_and_each_output_logs_as_keras_names_it():
    model = compiled(
        loss_weights={"priority": 1.0, "department": 0.2}, metrics={"priority": ["mae"], "department": ["accuracy"]}
    )
    history = model.fit({"a": XA, "b": XB}, {"priority": PRIORITY, "department": DEPARTMENT}, epochs=1, verbose=0)
    assert sorted(history.history) == [
        "department_accuracy",
        "department_loss",
        "loss",
        "priority_loss",
        "priority_mae",
    ]
    logs = model.evaluate([XA, XB], [PRIORITY, DEPARTMENT], verbose=0, return_dict=True)
    p, d = model.predict([XA, XB], verbose=0)
    mse = np.mean((p - PRIORITY) ** 2)
    cross_entropy = -np.mean(np.log(d[np.arange(40), DEPARTMENT]))
    np.testing.assert_allclose(logs["priority_loss"], mse, rtol=1e-5)
    np.testing.assert_allclose(logs["department_loss"], cross_entropy, rtol=1e-5)
    np.testing.assert_allclose(logs["loss"], mse + 0.2 * cross_entropy, rtol=1e-5)
    np.testing.assert_allclose(logs["priority_mae"], np.mean(np.abs(p - PRIORITY)), rtol=1e-5)
    assert logs["department_accuracy"] == np.mean(d.argmax(axis=1) == DEPARTMENT)
    # Keras's order in evaluate's list: the loss, each output's loss, then the metrics by name.
    assert model.metrics_names == ["loss", "priority_loss", "department_loss", "department_accuracy", "priority_mae"]
    assert model.evaluate([XA, XB], [PRIORITY, DEPARTMENT], verbose=0) == pytest.approx(list(logs.values()))


@pytest.mark.parametrize(
    "metrics, names",
    [
        (None, ["priority_loss", "department_loss", "department_accuracy"]),  # minidl's default: accuracy for CE
        ([], ["priority_loss", "department_loss"]),
        (["mae", "accuracy"], ["priority_loss", "department_loss", "department_accuracy", "priority_mae"]),
        ([["mse", "mae"], None], ["priority_loss", "department_loss", "priority_mae", "priority_mse"]),
        ({"department": "accuracy"}, ["priority_loss", "department_loss", "department_accuracy"]),
    ],
)
def test_metrics_are_given_per_output_by_list_or_by_name(metrics, names):
    model = compiled(metrics=metrics)
    assert model.metrics == names
    assert sorted(model.fit([XA, XB], [PRIORITY, DEPARTMENT], epochs=1, verbose=0).history) == sorted(["loss", *names])


def test_an_output_without_a_loss_needs_no_targets_and_its_head_does_not_learn():
    model = compiled(loss={"priority": "mse"})
    head = model.get_layer("department").get_weights()
    history = model.fit({"a": XA, "b": XB}, {"priority": PRIORITY}, epochs=2, verbose=0)
    assert sorted(history.history) == ["loss", "priority_loss"]
    for before, after in zip(head, model.get_layer("department").get_weights()):
        np.testing.assert_array_equal(before, after)
    assert not np.array_equal(
        model.get_layer("priority").get_weights()[0], compiled().get_layer("priority").get_weights()[0]
    )


def test_one_loss_for_all_outputs_and_the_targets_as_a_list_or_a_dict_give_the_same_training():
    one_hot = np.eye(3)[DEPARTMENT]
    runs = []
    for targets in ([PRIORITY, one_hot], {"department": one_hot, "priority": PRIORITY}):
        model = ranking_model()
        model.compile("sgd", loss="mse", metrics=[])
        runs.append(model.fit([XA, XB], targets, epochs=2, verbose=0, shuffle=False).history)
    assert runs[0] == runs[1] and sorted(runs[0]) == ["department_loss", "loss", "priority_loss"]


def test_the_whole_model_passes_the_gradient_check():
    model = compiled(ranking_model("float64"), loss_weights=[0.7, 1.3])
    check_model_gradients(model, (XA[:6], XB[:6]), (PRIORITY[:6], DEPARTMENT[:6])).assert_ok()


def test_sample_weights_weigh_every_outputs_loss():
    model = compiled(metrics=[])
    weights = np.r_[np.zeros(20), np.ones(20)]
    logs = model.evaluate([XA, XB], [PRIORITY, DEPARTMENT], sample_weight=weights, verbose=0, return_dict=True)
    half = model.evaluate([XA[20:], XB[20:]], [PRIORITY[20:], DEPARTMENT[20:]], verbose=0, return_dict=True)
    for key in ("loss", "priority_loss", "department_loss"):
        np.testing.assert_allclose(logs[key], half[key] / 2, rtol=1e-6)  # a weighted sum over all 40 samples


def test_a_subclassed_model_with_two_outputs_names_them_output_1_and_output_2():
    class TwoHeads(keras.Model):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.hidden, self.first, self.second = layers.Dense(5, activation="relu"), layers.Dense(1), layers.Dense(2)

        def call(self, x):
            h = self.hidden(x)
            return [self.first(h), self.second(h)]

    model = TwoHeads(seed=1)
    model.build((None, 4))
    model.compile("adam", loss=["mse", "mae"])
    history = model.fit(XA, [PRIORITY, np.zeros((40, 2))], epochs=1, verbose=0)
    assert sorted(history.history) == ["loss", "output_1_loss", "output_2_loss"]


def test_saved_and_loaded_the_losses_weights_and_metrics_come_back(tmp_path):
    model = compiled(loss_weights=[1.0, 0.25], metrics={"priority": ["mae"], "department": ["accuracy"]})
    model.fit([XA, XB], [PRIORITY, DEPARTMENT], epochs=1, verbose=0)
    model.save(tmp_path / "ranking.keras")
    loaded = keras.models.load_model(tmp_path / "ranking.keras")
    assert loaded.metrics_names == model.metrics_names and loaded.loss.weights == [1.0, 0.25]
    assert loaded.evaluate([XA, XB], [PRIORITY, DEPARTMENT], verbose=0) == pytest.approx(
        model.evaluate([XA, XB], [PRIORITY, DEPARTMENT], verbose=0)
    )


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda c: c["loss"].update(loss_weights=[1.0]), "'loss_weights' must be 2 finite non-negative numbers"),
        (lambda c: c["loss"].update(outputs=[None, None]), "no output has a loss"),
        (lambda c: c["loss"]["outputs"].__setitem__(0, "nonsense"), "unknown loss 'nonsense'"),
        (lambda c: c.update(metrics=[{"output": 5, "metric": "mae"}]), "'metrics' of several outputs must be a list"),
    ],
)
def test_a_crafted_file_of_a_model_with_two_outputs_is_refused_in_one_line(tmp_path, change, message):
    compiled(metrics={"priority": ["mae"]}).save(tmp_path / "good.keras")
    with zipfile.ZipFile(tmp_path / "good.keras") as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    config = json.loads(members["config.json"])
    change(config)
    members["config.json"] = json.dumps(config).encode()
    with zipfile.ZipFile(tmp_path / "bad.keras", "w") as archive:
        for name, blob in members.items():
            archive.writestr(name, blob)
    with pytest.raises(ModelFileError, match=message) as caught:
        keras.models.load_model(tmp_path / "bad.keras")
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    "compile_options, fit_targets, error, message",
    [
        ({"loss": {"priority": "mse", "score": "mse"}}, None, ValueError, r"loss names \['score'\], which are not"),
        ({"loss": ["mse"]}, None, ValueError, "loss has 1 entries for a model with 2 outputs"),
        ({"loss": [None, None]}, None, ValueError, "no output of .* has a loss"),
        ({}, "one array", ValueError, "give their targets as a list of 2 arrays or a dict by output name"),
        ({}, {"priority": PRIORITY}, ValueError, r"missing \['department'\]"),
        ({}, [PRIORITY, DEPARTMENT[:10]], Exception, "department"),
    ],
)
def test_bad_losses_and_targets_are_named_in_one_line(compile_options, fit_targets, error, message):
    model = ranking_model()
    with pytest.raises(error, match=message) as caught:
        model.compile("sgd", **{"loss": ["mse", "sparse_categorical_crossentropy"], **compile_options})
        targets = PRIORITY if fit_targets == "one array" else fit_targets
        model.fit([XA, XB], targets, epochs=1, verbose=0)
    assert "\n" not in str(caught.value)


def test_class_weight_and_loss_weights_on_one_output_are_refused():
    model = compiled()
    with pytest.raises(ValueError, match="class_weight is for a model with one output"):
        model.fit([XA, XB], [PRIORITY, DEPARTMENT], class_weight={0: 1.0}, epochs=1, verbose=0)
    single = keras.Sequential([layers.Dense(1, input_shape=(4,))])
    with pytest.raises(ValueError, match="loss_weights is for models with several outputs"):
        single.compile("sgd", "mse", loss_weights=[1.0])
