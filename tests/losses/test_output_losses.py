"""minidl/losses/outputs.py: the loss of a model with several outputs, Σ_k w_k · L_k, its gradient seeds
and its targets (the whole models are trained in tests/trainers/test_compile_utils.py)."""

import numpy as np
import pytest

from minidl import losses
from minidl.losses.outputs import OutputLosses

RNG = np.random.default_rng(6)
SCORES, LOGITS = RNG.standard_normal((5, 1)), RNG.standard_normal((5, 3))
Y_SCORE, Y_CLASS = RNG.standard_normal((5, 1)), RNG.integers(0, 3, 5)


def two_losses(weights=(2.0, 0.5)):
    mse, crossentropy = losses.get("mse"), losses.SparseCategoricalCrossentropy(from_logits=True)
    return OutputLosses([mse, crossentropy], list(weights), ["score", "kind"]), mse, crossentropy


def test_the_sum_and_the_seeds_are_each_outputs_weighted():
    both, mse, crossentropy = two_losses()
    weights = RNG.uniform(0.5, 1.5, 5)
    total, seeds = both.sum_and_gradient([SCORES, LOGITS], (Y_SCORE, Y_CLASS), weights, 5)
    first, second = (
        mse.sum_and_gradient(SCORES, Y_SCORE, weights, 5),
        crossentropy.sum_and_gradient(LOGITS, Y_CLASS, weights, 5),
    )
    assert total == pytest.approx(2.0 * first[0] + 0.5 * second[0])
    np.testing.assert_allclose(seeds[0], 2.0 * first[1])
    np.testing.assert_allclose(seeds[1], 0.5 * second[1])
    expected = 2.0 * mse.per_sample(SCORES, Y_SCORE) + 0.5 * crossentropy.per_sample(LOGITS, Y_CLASS)
    np.testing.assert_allclose(both.per_sample([SCORES, LOGITS], (Y_SCORE, Y_CLASS)), expected)
    assert both.name == "2*mse + 0.5*sparse_categorical_crossentropy"  # what the statistics record


def test_an_output_without_a_loss_gets_a_zero_seed_and_adds_nothing():
    mse = losses.get("mse")
    one = OutputLosses([mse, None], [1.0, 1.0], ["score", "kind"])
    total, seeds = one.sum_and_gradient([SCORES, LOGITS], (Y_SCORE, np.zeros((5, 1), np.uint8)), None, 5)
    assert total == pytest.approx(mse.total(SCORES, Y_SCORE))
    assert not seeds[1].any() and seeds[1].shape == LOGITS.shape


def test_targets_by_list_or_by_name_and_what_is_refused():
    both = two_losses()[0]
    assert both.targets({"kind": Y_CLASS, "score": Y_SCORE}) == (Y_SCORE, Y_CLASS)
    assert both.targets([Y_SCORE, Y_CLASS]) == (Y_SCORE, Y_CLASS)
    with pytest.raises(ValueError, match=r"missing \['kind'\]"):
        both.targets({"score": Y_SCORE})
    with pytest.raises(ValueError, match=r"unknown \['size'\]"):
        both.targets({"score": Y_SCORE, "kind": Y_CLASS, "size": Y_CLASS})
    with pytest.raises(ValueError, match="output 'kind': .*"):
        both.check_targets([Y_SCORE, np.full(5, 7)], [(1,), (3,)])  # class 7 of 3
    with pytest.raises(ValueError, match="no output of .* has a loss"):
        OutputLosses([None, None], [1.0, 1.0], ["score", "kind"])
    with pytest.raises(ValueError, match="loss_weights must be finite, non-negative"):
        OutputLosses([losses.get("mse"), None], [-1.0, 1.0], ["score", "kind"])
