"""keras.random: draws of the shape, range and moments asked, the same for the same seed."""

from __future__ import annotations

import numpy as np

from minidl import random


def test_uniform_draws_in_its_range_and_repeats_for_a_seed():
    draws = random.uniform((2000,), minval=-3.0, maxval=5.0, seed=7)
    values = np.asarray(draws)
    assert values.shape == (2000,) and values.min() >= -3.0 and values.max() < 5.0
    assert abs(values.mean() - 1.0) < 0.25 and abs(values.std() - 8 / np.sqrt(12)) < 0.2  # U(a, b) moments
    np.testing.assert_array_equal(np.asarray(random.uniform((2000,), minval=-3.0, maxval=5.0, seed=7)), values)
    assert not np.array_equal(np.asarray(random.uniform((2000,), minval=-3.0, maxval=5.0, seed=8)), values)


def test_normal_has_the_mean_and_spread_asked():
    values = np.asarray(random.normal((4000,), mean=2.0, stddev=0.5, seed=3))
    assert abs(values.mean() - 2.0) < 0.05 and abs(values.std() - 0.5) < 0.05
