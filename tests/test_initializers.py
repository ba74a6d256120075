"""minidl/initializers.py: each initializer draws the distribution Keras documents, from the fans Keras
computes, reproducibly from a model's generator."""

import numpy as np
import pytest

from minidl import initializers

SHAPE = (400, 600)  # 240,000 draws: sample figures within a percent of the target
FAN_IN, FAN_OUT = SHAPE


def draw(name, shape=SHAPE, **settings):
    fan_in, fan_out = initializers.compute_fans(shape)
    return initializers.INITIALIZERS[name](shape, fan_in, fan_out, np.random.default_rng(0), "float64", **settings)


@pytest.mark.parametrize(
    "name, limit",
    [("glorot_uniform", np.sqrt(6 / (FAN_IN + FAN_OUT))), ("he_uniform", np.sqrt(6 / FAN_IN)), ("uniform", 0.05)],
)
def test_uniform_initializers_fill_their_interval(name, limit):
    w = draw(name)
    assert np.abs(w).max() <= limit and np.abs(w).max() > 0.99 * limit
    np.testing.assert_allclose(w.std(), limit / np.sqrt(3), rtol=0.01)  # the std of U(-a, a) is a / sqrt(3)


@pytest.mark.parametrize(
    "name, std", [("glorot_normal", np.sqrt(2 / (FAN_IN + FAN_OUT))), ("he_normal", np.sqrt(2 / FAN_IN))]
)
def test_normal_initializers_are_keras_truncated_normals_of_the_target_std(name, std):
    """Keras draws them from a normal cut at two of its standard deviations, widened so that what is left
    has the std asked for: no value beyond 2 · std / 0.8796, and the sample std on target."""
    w = draw(name)
    bound = 2 * std / initializers.TRUNCATED_STD
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.99 * bound
    np.testing.assert_allclose(w.std(), std, rtol=0.01)
    assert abs(w.mean()) < 0.01 * std


def test_random_and_truncated_normal_take_keras_settings():
    w = draw("random_normal", mean=1.0, stddev=0.5)
    np.testing.assert_allclose([w.mean(), w.std()], [1.0, 0.5], rtol=0.01)
    t = draw("truncated_normal", stddev=0.5)
    assert np.abs(t).max() <= 1.0  # cut at two standard deviations (of the normal before the cut)


@pytest.mark.parametrize("shape", [(5, 3), (3, 5), (3, 3, 4, 6)])
def test_orthogonal_gives_orthonormal_rows_or_columns(shape):
    w = draw("orthogonal", shape=shape, gain=2.0).reshape(-1, shape[-1])
    small = w.T @ w if w.shape[0] >= w.shape[1] else w @ w.T
    np.testing.assert_allclose(small, 4.0 * np.eye(len(small)), atol=1e-12)  # gain² times the identity
    assert draw("orthogonal", shape=shape).flags.c_contiguous


def test_fans_are_computed_as_keras_computes_them():
    assert initializers.compute_fans((5, 5, 1, 6)) == (25, 150)  # a conv kernel: receptive field times channels
    assert initializers.compute_fans((784, 120)) == (784, 120)
    assert initializers.compute_fans((10,)) == (10, 10)
    assert initializers.compute_fans(()) == (1, 1)


def test_a_generator_fixes_the_values_and_the_class_forms_match_the_names():
    first = initializers.initial_value("he_normal", (4, 3), "float32", rng=np.random.default_rng(7))
    again = initializers.initial_value(initializers.HeNormal(), (4, 3), "float32", rng=np.random.default_rng(7))
    np.testing.assert_array_equal(first, again)
    assert first.dtype == np.float32
    with initializers.drawing_from(np.random.default_rng(7)):
        np.testing.assert_array_equal(initializers.initial_value("he_normal", (4, 3), "float32"), first)
    seeded = initializers.GlorotUniform(seed=3)
    np.testing.assert_array_equal(seeded((2, 2)), seeded((2, 2)))  # Keras's call form, seeded: the same
    np.testing.assert_array_equal(initializers.Constant(0.25)((2, 3), dtype="float64"), np.full((2, 3), 0.25))


def test_a_users_keras_style_function_is_called_as_keras_calls_it_and_checked():
    value = initializers.initial_value(lambda shape, dtype=None: np.full(shape, 2.0), (2, 3), "float32")
    np.testing.assert_array_equal(value, np.full((2, 3), 2.0, "float32"))
    with pytest.raises(ValueError, match=r"returned shape \(3,\), expected \(2, 3\)"):
        initializers.initial_value(lambda shape, dtype=None: np.zeros(3), (2, 3), "float32")
    with pytest.raises(ValueError, match="he_normall"):
        initializers.get("he_normall")
