"""minidl.gradcheck: right gradients pass, wrong ones fail naming the tensor, contracts are enforced."""

import numpy as np
import pytest

from minidl import Model, gradcheck
from minidl.gradcheck import GradientCheckError, check_gradients, check_loss_gradient, check_model_gradients
from minidl.layers import LAYER_CLASSES, Conv2D, Dense, Dropout, Flatten, Layer
from minidl.losses import MeanSquaredError


def ones(shape, fan_in, fan_out, rng, dtype):
    """An initialiser: all ones."""
    return np.ones(shape, dtype)


class ChannelScale(Layer):
    """y = x * s[c] + t[c] per channel: a user's layer written to the documented contract."""

    def __init__(self, factor_on_scale=1.0, factor_on_input=1.0, **kwargs):
        super().__init__(**kwargs)
        self.factor_on_scale, self.factor_on_input = factor_on_scale, factor_on_input

    def build(self, input_shape):
        self.add_weight(name="scale", shape=(input_shape[-1],), initializer=ones)
        self.add_weight(name="shift", shape=(input_shape[-1],), initializer="zeros")

    def forward(self, x, training=False):
        if training:
            self.x = x
        return x * self.params["scale"] + self.params["shift"]

    def backward(self, grad):
        axes = tuple(range(grad.ndim - 1))
        self.grads["scale"][...] = self.factor_on_scale * (grad * self.x).sum(axis=axes)
        self.grads["shift"][...] = grad.sum(axis=axes)
        return self.factor_on_input * grad * self.params["scale"]


def _scaled(layer, rng):
    layer.build_weights((3, 4, 2), rng=rng)
    layer.params["scale"][...] = rng.standard_normal(2)
    layer.params["shift"][...] = rng.standard_normal(2)
    return layer


def test_a_correct_user_layer_passes(rng):
    report = check_gradients(_scaled(ChannelScale(), rng), rng.standard_normal((2, 3, 4, 2)))
    assert report.ok, report.message
    assert [t.name for t in report.tensors] == ["input", "scale", "shift"]
    assert all(t.max_abs_error < 1e-7 and t.checked == np.prod(t.shape) for t in report.tensors)
    report.assert_ok()


def test_a_factor_of_two_in_one_parameter_gradient_is_reported_by_name(rng):
    report = check_gradients(_scaled(ChannelScale(factor_on_scale=2.0), rng), rng.standard_normal((2, 3, 4, 2)))
    assert not report.ok
    assert [t.name for t in report.failing] == ["scale"]
    assert report["input"].ok and report["shift"].ok
    wrong = report["scale"]
    assert wrong.analytic_at_worst == pytest.approx(2 * wrong.numeric_at_worst, rel=1e-6)
    assert wrong.max_rel_error == pytest.approx(0.5, rel=1e-6)  # |2g - g| / |2g|
    with pytest.raises(GradientCheckError, match=r"scale: gradient is WRONG — at index \(\d,\)"):
        report.assert_ok()
    assert "shift" not in report.message and "input" not in report.message


def test_a_wrong_input_gradient_is_reported_as_input(rng):
    report = check_gradients(_scaled(ChannelScale(factor_on_input=-1.0), rng), rng.standard_normal((2, 3, 4, 2)))
    assert [t.name for t in report.failing] == ["input"]


def test_replacing_a_gradient_array_breaks_the_contract(rng):
    class Replacing(ChannelScale):
        def backward(self, grad):
            dx = super().backward(grad)
            self.grads["shift"] = self.grads["shift"].copy()
            return dx

    report = check_gradients(_scaled(Replacing(), rng), rng.standard_normal((2, 3, 4, 2)))
    assert [t.name for t in report.failing] == ["shift"]
    assert "fill it in place" in report["shift"].problem


def test_adding_into_a_gradient_breaks_the_contract(rng):
    class Accumulating(ChannelScale):
        def backward(self, grad):
            kept = self.grads["scale"].copy()
            dx = super().backward(grad)
            self.grads["scale"] += kept
            return dx

    report = check_gradients(_scaled(Accumulating(), rng), rng.standard_normal((2, 3, 4, 2)))
    assert [t.name for t in report.failing] == ["scale"]
    assert "adds into grads['scale']" in report.message


def test_backward_without_input_gradient_is_reported(rng):
    class NoInput(ChannelScale):
        def backward(self, grad):
            super().backward(grad)

    report = check_gradients(_scaled(NoInput(), rng), rng.standard_normal((2, 3, 4, 2)))
    assert [t.name for t in report.failing] == ["input"]
    assert "returned None" in report.message


def test_a_float32_layer_is_checked_on_a_float64_copy_with_its_own_weights(rng):
    layer = Dense(3, activation="tanh")
    layer.build_weights((4,), rng=rng)
    layer.params["bias"][...] = rng.standard_normal(3)
    before = {name: value.copy() for name, value in layer.params.items()}
    x = rng.standard_normal((2, 4))
    report = check_gradients(layer, x)
    assert report.ok, report.message
    assert layer.dtype is np.float32 and layer.params["kernel"].dtype == np.float32
    for name, value in layer.params.items():
        np.testing.assert_array_equal(value, before[name])
    # The input gradient is that of the layer's own weights (not fresh ones): d(sum y*G)/dx = ((1-y^2) G) W^T.
    twin = gradcheck.float64_copy(layer, (4,))
    np.testing.assert_array_equal(twin.params["kernel"], layer.params["kernel"].astype(np.float64))


def test_an_unbuilt_layer_is_built_from_the_input(rng):
    report = check_gradients(Conv2D(2, 3, padding="same"), rng.standard_normal((2, 5, 5, 3)))
    assert report.ok and [t.shape for t in report.tensors] == [(2, 5, 5, 3), (3, 3, 3, 2), (2,)]


def test_dropout_noise_is_replayed_while_measuring(rng):
    layer = Dropout(0.5, seed=4)
    layer.build_weights((20,))
    report = check_gradients(layer, rng.standard_normal((3, 20)))
    assert report.ok, report.message
    dx = report.input_gradient
    assert np.any(dx == 0) and np.any(dx != 0), "the check ran with units dropped and kept"


def test_a_layer_drawing_fresh_noise_each_pass_still_checks(rng):
    class Noisy(Layer):
        """y = x * u with u ~ U(0.5, 1.5) drawn from the layer's generator on every training pass."""

        def forward(self, x, training=False):
            self.u = self._rng.uniform(0.5, 1.5, x.shape) if training else 1.0
            return x * self.u

        def backward(self, grad):
            return grad * self.u

    layer = Noisy()
    layer.build_weights((6,), rng=np.random.default_rng(0))
    assert check_gradients(layer, rng.standard_normal((2, 6))).ok


def test_max_entries_checks_a_sample(rng):
    report = check_gradients(Dense(7), rng.standard_normal((3, 10)), max_entries=5)
    assert report.ok and [t.checked for t in report.tensors] == [5, 5, 5]


def _small_model(layer=None):
    model = Model(seed=0)
    model.add(Conv2D(2, 3, activation="relu", input_shape=(5, 5, 1)))
    model.add(Flatten())
    model.add(layer or ChannelScale())
    model.add(Dropout(0.3))
    model.add(Dense(3, activation="softmax"))
    return model


def test_whole_model_check_passes_and_names_layer_parameters(rng):
    model = _small_model()
    model.compile(loss="sparse_categorical_crossentropy")
    report = check_model_gradients(model, rng.standard_normal((4, 5, 5, 1)), np.array([0, 2, 1, 2]))
    assert report.ok, report.message
    names = [t.name for t in report.tensors]
    assert names[0] == "input" and any(name.endswith(".scale") for name in names)
    assert model.dtype is np.float32


def test_whole_model_check_finds_the_wrong_parameter(rng):
    model = _small_model(ChannelScale(factor_on_scale=2.0, name="my_scale"))
    report = check_model_gradients(model, rng.standard_normal((4, 5, 5, 1)), rng.random((4, 3)), loss="mse")
    assert [t.name for t in report.failing] == ["my_scale.scale"]


def test_a_wrong_loss_gradient_fails(rng):
    class HalfMSE(MeanSquaredError):
        def gradient(self, y_pred, y_true, denominator):
            return super().gradient(y_pred, y_true, denominator) / 2

    y_pred, y_true = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    assert check_loss_gradient(MeanSquaredError(), y_pred, y_true).ok
    assert not check_loss_gradient(HalfMSE(), y_pred, y_true).ok


def test_bad_arguments_are_named(rng):
    with pytest.raises(TypeError, match="need a minidl Layer"):
        check_gradients(object(), rng.standard_normal((2, 3)))
    with pytest.raises(ValueError, match="batch"):
        check_gradients(Dense(2), np.ones(3))
    with pytest.raises(ValueError, match="no loss"):
        check_model_gradients(_small_model(), rng.standard_normal((2, 5, 5, 1)), np.array([0, 1]))


def test_command_line_table_passes_for_every_builtin(capsys):
    assert gradcheck.main() == 0
    out = capsys.readouterr().out
    results = gradcheck.builtin_checks()
    assert f"{len(results)} of {len(results)} checks pass" in out
    checked = {what.split()[0].split("(")[0] for what, _ in results}
    missing = {cls.__name__ for cls in LAYER_CLASSES.values()} - checked
    assert not missing, f"built-in layers missing from the table: {missing}"
    assert {"CategoricalCrossentropy", "SparseCategoricalCrossentropy", "MeanSquaredError"} <= checked


def test_the_command_has_help():
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-m", "minidl.gradcheck", "--help"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0 and "usage: python -m minidl.gradcheck" in result.stdout
    assert "central differences" in result.stdout and "table" not in result.stderr
