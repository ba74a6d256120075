"""Dropout: gradient check with fixed noise, inference pass-through, rate and mask properties."""

import numpy as np
import pytest

from minidl.gradcheck import build_float64 as build
from minidl.gradcheck import check_gradients
from minidl.layers import Dropout
from minidl.layers.context import TrainingContext


def _fixed(n, seed=7, step=3):
    """The context a model's training step would pass: it fixes the mask."""
    return TrainingContext(step=step, positions=np.arange(n), seed=seed)


@pytest.mark.parametrize("shape", [(10,), (4, 3, 2)])
def test_dropout_gradients_in_training(shape, rng):
    layer = build(Dropout(0.4), shape)
    dx = check_gradients(layer, rng.standard_normal((3, *shape))).assert_ok().input_gradient
    assert np.any(dx == 0), "some units should have been dropped"


def test_dropout_is_identity_at_inference(rng):
    layer = build(Dropout(0.5), (8,))
    x = rng.standard_normal((4, 8))
    np.testing.assert_array_equal(layer.forward(x), x)
    np.testing.assert_array_equal(layer.backward(np.ones((4, 8))), np.ones((4, 8)))


def test_dropout_zeroes_and_scales(rng):
    rate = 0.25
    layer = build(Dropout(rate), (1000,))
    x = np.ones((20, 1000))
    out = layer.forward(x, training=_fixed(20))
    kept = out != 0
    np.testing.assert_allclose(out[kept], 1 / (1 - rate))
    assert abs((1 - kept.mean()) - rate) < 0.02
    assert abs(out.mean() - 1.0) < 0.03


def test_dropout_mask_is_fixed_by_training_context(rng):
    layer = build(Dropout(0.5), (50,))
    x = rng.standard_normal((6, 50))
    first = layer.forward(x, training=_fixed(6))
    again = layer.forward(x, training=_fixed(6))
    np.testing.assert_array_equal(first, again)
    other_step = layer.forward(x, training=_fixed(6, step=4))
    assert not np.array_equal(first, other_step)


def test_dropout_mask_depends_on_sample_position_not_batch_split(rng):
    """Samples 3..5 of a batch get the same mask whether computed in the whole batch or in a shard."""
    layer = build(Dropout(0.5), (40,))
    x = rng.standard_normal((6, 40))
    whole = layer.forward(x, training=TrainingContext(step=0, positions=np.arange(6), seed=1))
    shard = layer.forward(x[3:], training=TrainingContext(step=0, positions=np.arange(3, 6), seed=1))
    np.testing.assert_array_equal(whole[3:], shard)


def test_standalone_dropout_draws_new_masks_each_step(rng):
    layer = build(Dropout(0.5), (64,))
    x = np.ones((2, 64))
    assert not np.array_equal(layer.forward(x, training=True), layer.forward(x, training=True))


def test_rate_zero_is_identity(rng):
    layer = build(Dropout(0.0), (5,))
    x = rng.standard_normal((2, 5))
    np.testing.assert_array_equal(layer.forward(x, training=True), x)


@pytest.mark.parametrize("rate", [-0.1, 1.0, 1.5])
def test_dropout_rejects_bad_rate(rate):
    with pytest.raises(ValueError, match="rate"):
        Dropout(rate)


@pytest.mark.parametrize("rate", [0.5, 0.1, 1 / 3, 0.7, 0.999, 2.0**-53])
@pytest.mark.parametrize("seed, step", [(0, 0), (7, 123), (123456, 2**31 + 5)])
def test_integer_keep_test_is_the_uniform_threshold(rate, seed, step):
    """hashed_keep compares the hash's integers; it must keep exactly the units hashed_uniform >= rate keeps."""
    from minidl.random import hashed_keep, hashed_uniform

    positions = np.arange(5, 69)
    expected = hashed_uniform(seed, step, positions, 300) >= rate
    np.testing.assert_array_equal(hashed_keep(seed, step, positions, 300, rate), expected)
    assert 0 < expected.mean() < 1 or rate in (0.999, 2.0**-53)


def test_hashed_uniform_is_uniform_and_fixed():
    from minidl.random import hashed_uniform

    u = hashed_uniform(3, 9, np.arange(200), 500)
    assert u.min() >= 0 and u.max() < 1 and abs(u.mean() - 0.5) < 0.005
    np.testing.assert_array_equal(u, hashed_uniform(3, 9, np.arange(200), 500))
    assert not np.array_equal(u, hashed_uniform(3, 10, np.arange(200), 500))
