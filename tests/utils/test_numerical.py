"""minidl.utils.numerical: the finite-values check that runs on every fit / evaluate / predict input."""

from __future__ import annotations

import numpy as np
import pytest

from minidl.utils.numerical import all_finite


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("where", [0, 65535, 65536, 200_000 - 1])
def test_one_bad_number_anywhere_is_found(bad, where):
    x = np.ones((200_000,), dtype=np.float32)
    x[where] = bad
    assert not all_finite(x.reshape(1000, 200))


def test_finite_data_passes_whatever_its_size_and_layout():
    rng = np.random.default_rng(0)
    assert all_finite(rng.standard_normal((3, 28, 28, 1)))
    assert all_finite(rng.standard_normal((70_001,)).astype(np.float32))
    assert all_finite(np.zeros((0, 5)))
    strided = rng.standard_normal((100, 50))[:, ::2]  # not contiguous
    assert all_finite(strided)
    strided[7, 3] = np.nan
    assert not all_finite(strided)
