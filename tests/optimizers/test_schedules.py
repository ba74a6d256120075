"""Learning-rate schedules: the formulas by hand, real Keras's rates, user schedules, saving and loading."""

import json
import math
import zipfile

import numpy as np
import pytest

from minidl import Sequential, models, optimizers
from minidl.errors import ModelFileError
from minidl.layers import Dense
from minidl.optimizers import schedules

SCHEDULES = [
    ("CosineDecay", (0.1, 20), {}),
    ("CosineDecay", (0.1, 20), {"alpha": 0.1}),
    ("CosineDecay", (0.0, 20), {"warmup_target": 0.2, "warmup_steps": 5}),
    ("CosineDecayRestarts", (0.1, 7), {}),
    ("CosineDecayRestarts", (0.1, 7), {"t_mul": 1.0, "m_mul": 0.5, "alpha": 0.05}),
    ("CosineDecayRestarts", (0.1, 5), {"t_mul": 1.5, "m_mul": 0.9}),
    ("InverseTimeDecay", (0.1, 5, 0.5), {}),
    ("InverseTimeDecay", (0.1, 5, 0.5), {"staircase": True}),
    ("PolynomialDecay", (0.1, 10), {}),
    ("PolynomialDecay", (0.1, 10), {"end_learning_rate": 0.01, "power": 0.5, "cycle": True}),
    ("ExponentialDecay", (0.1, 10, 0.9), {}),
    ("PiecewiseConstantDecay", ([5, 10], [0.1, 0.05, 0.01]), {}),
]


def _ids(entry):
    return entry[0] + "".join(f"-{k}" for k in entry[2])


def test_cosine_decay_by_hand():
    cosine = schedules.CosineDecay(0.1, decay_steps=10, alpha=0.2)
    assert cosine(0) == pytest.approx(0.1)
    assert cosine(5) == pytest.approx(0.1 * (0.8 * 0.5 + 0.2))  # halfway: cos(pi/2) = 0
    assert cosine(10) == cosine(25) == pytest.approx(0.02)  # alpha times the rate from decay_steps on
    warm = schedules.CosineDecay(0.0, decay_steps=10, warmup_target=0.5, warmup_steps=4)
    assert [warm(s) for s in (0, 1, 2, 4)] == pytest.approx([0.0, 0.125, 0.25, 0.5])
    assert warm(9) == pytest.approx(0.25) and warm(14) == warm(100) == pytest.approx(0.0)


def test_restarts_inverse_time_and_polynomial_by_hand():
    restarts = schedules.CosineDecayRestarts(1.0, first_decay_steps=4, t_mul=2.0, m_mul=0.5)
    assert restarts(0) == pytest.approx(1.0)  # first period: steps 0-3
    assert restarts(2) == pytest.approx(0.5)
    assert restarts(4) == pytest.approx(0.5)  # second period (8 steps) starts at half the rate
    assert restarts(8) == pytest.approx(0.25 * (1 + math.cos(math.pi / 2)))
    assert restarts(12) == pytest.approx(0.25)  # third period (16 steps) from a quarter
    inverse = schedules.InverseTimeDecay(0.1, decay_steps=2, decay_rate=0.5, staircase=True)
    assert [inverse(s) for s in (0, 1, 2, 5)] == pytest.approx([0.1, 0.1, 0.1 / 1.5, 0.1 / 2])
    poly = schedules.PolynomialDecay(0.1, decay_steps=4, end_learning_rate=0.02, power=2.0)
    assert [poly(s) for s in (0, 2, 4, 9)] == pytest.approx([0.1, 0.04, 0.02, 0.02])
    cycle = schedules.PolynomialDecay(0.1, decay_steps=4, end_learning_rate=0.0, cycle=True)
    assert [cycle(s) for s in (0, 4, 5, 8)] == pytest.approx([0.1, 0.0, 0.1 * 3 / 8, 0.0])


@pytest.mark.parametrize("entry", SCHEDULES, ids=_ids)
def test_rates_equal_real_keras(entry):
    from keras_twins import real_keras

    keras = real_keras()
    name, args, kwargs = entry
    theirs, ours = getattr(keras.optimizers.schedules, name)(*args, **kwargs), getattr(schedules, name)(*args, **kwargs)
    expected = [float(keras.ops.convert_to_numpy(theirs(step))) for step in range(45)]
    np.testing.assert_allclose([ours(step) for step in range(45)], expected, rtol=2e-6, atol=1e-7)


class HalvingEvery(optimizers.schedules.LearningRateSchedule):
    """A schedule of one's own, as Keras's guide writes one."""

    def __init__(self, initial_learning_rate, period):
        self.initial_learning_rate, self.period = initial_learning_rate, period

    def __call__(self, step):
        return self.initial_learning_rate * 0.5 ** (step // self.period)

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate, "period": self.period}


def test_a_user_schedule_drives_training(rng):
    schedule = HalvingEvery(0.2, period=2)
    model = Sequential([Dense(2, input_shape=(3,))], seed=0, dtype="float64")
    model.compile(optimizer=optimizers.SGD(learning_rate=schedule), loss="mse")
    x, y = rng.standard_normal((8, 3)), rng.standard_normal((8, 2))
    rates = []
    for _ in range(5):
        rates.append(model.optimizer.learning_rate)
        model.train_on_batch(x, y)
    assert rates == pytest.approx([0.2, 0.2, 0.1, 0.1, 0.05])
    assert HalvingEvery.from_config(schedule.get_config())(4) == 0.05


@pytest.mark.parametrize("entry", SCHEDULES, ids=_ids)
def test_a_model_with_a_schedule_saves_and_loads(entry, tmp_path, rng):
    name, args, kwargs = entry
    model = Sequential([Dense(2, input_shape=(3,))], seed=0)
    model.compile(optimizer=optimizers.Adam(learning_rate=getattr(schedules, name)(*args, **kwargs)), loss="mse")
    model.fit(rng.standard_normal((16, 3)), rng.standard_normal((16, 2)), batch_size=4, verbose=0)
    model.save(tmp_path / "m.keras")
    loaded = models.load_model(tmp_path / "m.keras")
    assert type(loaded.optimizer._learning_rate) is type(model.optimizer._learning_rate)
    assert loaded.optimizer.get_config() == model.optimizer.get_config()
    assert loaded.optimizer.iterations == 4 and loaded.optimizer.learning_rate == model.optimizer.learning_rate


def _edited(tmp_path, edit):
    """A saved model whose config.json went through `edit`."""
    model = Sequential([Dense(2, input_shape=(3,))], seed=0)
    model.compile(optimizer=optimizers.SGD(learning_rate=schedules.CosineDecay(0.1, 10)), loss="mse")
    path = tmp_path / "m.keras"
    model.save(path)
    with zipfile.ZipFile(path) as archive:
        members = {info.filename: archive.read(info) for info in archive.infolist()}
    config = json.loads(members["config.json"])
    edit(config["optimizer"]["learning_rate"])
    members["config.json"] = json.dumps(config)
    with zipfile.ZipFile(path, "w") as archive:
        for key, value in members.items():
            archive.writestr(key, value)
    return path


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda rate: rate.update({"class": "os.system"}), "unknown learning-rate schedule 'os.system'"),
        (lambda rate: rate["config"].update({"shell": "rm"}), r"unknown argument\(s\) \['shell'\]"),
        (lambda rate: rate["config"].update({"alpha": [[0.1] * 9] * 2}), "argument 'alpha' must be"),
        (lambda rate: rate["config"].update({"decay_steps": -3}), "decay_steps must be a positive integer"),
    ],
)
def test_a_file_with_a_bad_schedule_is_refused(edit, message, tmp_path):
    with pytest.raises(ModelFileError, match=message):
        models.load_model(_edited(tmp_path, edit))


def test_a_user_schedule_saves_and_is_named_when_loading(tmp_path):
    model = Sequential([Dense(2, input_shape=(3,))], seed=0)
    model.compile(optimizer=optimizers.SGD(learning_rate=HalvingEvery(0.2, 2)), loss="mse")
    model.save(tmp_path / "m.keras")
    with pytest.raises(ModelFileError, match="unknown learning-rate schedule 'HalvingEvery'"):
        models.load_model(tmp_path / "m.keras")
    assert models.load_model(tmp_path / "m.keras", compile=False).optimizer is None


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: schedules.CosineDecay(0.1, 0), "CosineDecay: decay_steps"),
        (lambda: schedules.CosineDecay(0.1, 10, alpha=1.5), "CosineDecay: alpha"),
        (lambda: schedules.CosineDecay(0.1, 10, warmup_target=0.2, warmup_steps=-1), "warmup_steps"),
        (lambda: schedules.CosineDecayRestarts(0.1, 5, t_mul=0), "t_mul"),
        (lambda: schedules.InverseTimeDecay(0.1, 5, -0.5), "InverseTimeDecay: decay_rate"),
        (lambda: schedules.PolynomialDecay(float("nan"), 5), "PolynomialDecay: initial_learning_rate"),
        (lambda: schedules.PolynomialDecay(0.1, 5, power=-1), "PolynomialDecay: power"),
        (lambda: schedules.CosineDecayRestarts(0.1, 2, t_mul=0.5)(10), "every period has ended before step 10"),
        (lambda: schedules.LearningRateSchedule()(0), "must override __call__"),
    ],
)
def test_bad_arguments(make, match):
    with pytest.raises((ValueError, NotImplementedError), match=match):
        make()
