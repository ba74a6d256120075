"""minidl.ops / minidl.utils: the NumPy-backed helpers a Keras MNIST program calls."""

import numpy as np
import pytest

import minidl


def test_top_k_returns_the_largest_first_with_their_indices():
    values, indices = minidl.ops.top_k([[0.1, 0.7, 0.2, 0.7]], 2)
    np.testing.assert_array_equal(indices, [[1, 3]])  # ties keep index order
    np.testing.assert_allclose(values, [[0.7, 0.7]])
    with pytest.raises(ValueError, match="top_k: k must be a positive integer"):
        minidl.ops.top_k([[1.0]], 0)


def test_normalize_gives_unit_rows_and_leaves_zero_rows_alone():
    out = minidl.utils.normalize(np.array([[3.0, 4.0], [0.0, 0.0]]))
    np.testing.assert_allclose(out, [[0.6, 0.8], [0.0, 0.0]])
    np.testing.assert_allclose(minidl.utils.normalize([[1.0, 3.0]], order=1), [[0.25, 0.75]])
