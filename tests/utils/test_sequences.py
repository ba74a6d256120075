"""keras.utils.pad_sequences: Keras's examples, truncation, steps that are vectors, errors, Keras itself."""

import os

import numpy as np
import pytest

from minidl.utils import pad_sequences

SEQUENCES = [[1], [2, 3], [4, 5, 6]]


def test_keras_documented_examples():
    np.testing.assert_array_equal(pad_sequences(SEQUENCES), [[0, 0, 1], [0, 2, 3], [4, 5, 6]])
    np.testing.assert_array_equal(pad_sequences(SEQUENCES, value=-1), [[-1, -1, 1], [-1, 2, 3], [4, 5, 6]])
    np.testing.assert_array_equal(pad_sequences(SEQUENCES, padding="post"), [[1, 0, 0], [2, 3, 0], [4, 5, 6]])
    np.testing.assert_array_equal(pad_sequences(SEQUENCES, maxlen=2), [[0, 1], [2, 3], [5, 6]])
    assert pad_sequences(SEQUENCES).dtype == np.int32


def test_truncating_empty_sequences_and_vectors():
    np.testing.assert_array_equal(pad_sequences(SEQUENCES, maxlen=2, truncating="post"), [[0, 1], [2, 3], [4, 5]])
    np.testing.assert_array_equal(pad_sequences([[], [7]]), [[0], [7]])
    assert pad_sequences([]).shape == (0, 0)
    vectors = pad_sequences([np.ones((2, 3)), np.ones((4, 3))], dtype="float32", padding="post")
    assert vectors.shape == (2, 4, 3) and vectors[0, 2:].sum() == 0
    np.testing.assert_allclose(pad_sequences([[0.5, 1.5]], maxlen=3, dtype="float32"), [[0, 0.5, 1.5]])


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"padding": "middle"}, "pad_sequences: padding"),
        ({"truncating": "both"}, "pad_sequences: truncating"),
        ({"maxlen": 0}, "pad_sequences: maxlen"),
        ({"value": "x"}, "text"),
    ],
)
def test_bad_arguments_are_named(kwargs, match):
    with pytest.raises(ValueError, match=match):
        pad_sequences(SEQUENCES, **kwargs)


def test_bad_sequences_are_named():
    with pytest.raises(ValueError, match=r"sequences\[1\]"):
        pad_sequences([[1], 5])
    with pytest.raises(ValueError, match="one shape"):
        pad_sequences([np.ones((2, 3)), np.ones((2, 4))])


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.parametrize(
    "options", [{}, {"maxlen": 4, "padding": "post"}, {"maxlen": 2, "truncating": "post", "value": 9}]
)
def test_same_as_keras(options, rng):
    os.environ.setdefault("KERAS_BACKEND", "torch")
    keras = pytest.importorskip("keras")
    sequences = [list(rng.integers(1, 50, rng.integers(0, 7))) for _ in range(12)]
    np.testing.assert_array_equal(pad_sequences(sequences, **options), keras.utils.pad_sequences(sequences, **options))
