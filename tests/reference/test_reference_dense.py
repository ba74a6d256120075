"""The fast Dense equals the loop reference: output, dL/dx, dL/dW and dL/db, in float64."""

import numpy as np
import pytest

from minidl import reference
from minidl.gradcheck import build_float64
from minidl.layers import Dense


@pytest.mark.parametrize("seed", range(4))
def test_dense_equals_reference(seed):
    rng = np.random.default_rng(seed)
    batch, inputs, units = (int(v) for v in rng.integers(1, 9, size=3))
    layer = build_float64(Dense(units), (inputs,), seed=seed)
    layer.params["bias"][...] = rng.standard_normal(units)
    x = rng.standard_normal((batch, inputs))
    W, b = layer.params["kernel"].copy(), layer.params["bias"].copy()

    np.testing.assert_allclose(layer.forward(x, training=True), reference.dense_forward(x, W, b), rtol=1e-12)
    g = rng.standard_normal((batch, units))
    dx = layer.backward(g.copy())
    ref_dx, ref_dW, ref_db = reference.dense_backward(x, W, g)
    np.testing.assert_allclose(dx, ref_dx, rtol=1e-12, atol=1e-12, err_msg="dL/dx")
    np.testing.assert_allclose(layer.grads["kernel"], ref_dW, rtol=1e-12, atol=1e-12, err_msg="dL/dW")
    np.testing.assert_allclose(layer.grads["bias"], ref_db, rtol=1e-12, atol=1e-12, err_msg="dL/db")
