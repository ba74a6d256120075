"""A functional residual block (Dense, Dense, layers.add, ReLU) equals the loop reference, forward and
backward, in float64: the tape's fan-out sum is the equation's identity path plus Dense path."""

import numpy as np
import pytest

import minidl as keras
from minidl import layers, reference


@pytest.mark.parametrize("seed", range(3))
def test_functional_residual_block_equals_loops(seed):
    rng = np.random.default_rng(seed)
    n, d, width = 5, 4, 6
    inputs = keras.Input(shape=(d,), dtype="float64")
    hidden = layers.Dense(width, activation="relu", dtype="float64")(inputs)
    block = layers.ReLU(dtype="float64")(layers.add([inputs, layers.Dense(d, dtype="float64")(hidden)]))
    model = keras.Model(inputs, block, seed=seed)
    W1, b1, W2, b2 = (rng.standard_normal(w.shape) for w in model.get_weights())
    model.set_weights([W1, b1, W2, b2])
    x, g = rng.standard_normal((n, d)), rng.standard_normal((n, d))

    expected, cache = reference.residual_forward(x, W1, b1, W2, b2)
    np.testing.assert_allclose(model.predict(x, verbose=0), expected, rtol=1e-12, atol=1e-12)

    # Loss Σ y ⊙ g, so dL/dy = g: a custom loss written with ops, differentiated by the tape.
    model.compile("sgd", loss=lambda y_true, y_pred: keras.ops.sum(y_pred * y_true, axis=-1), metrics=[])
    _, _, dx = model.forward_backward(x, g, None, 1, input_gradient=True)
    ref = reference.residual_backward(x, W1, W2, cache, g)
    np.testing.assert_allclose(dx, ref[0], rtol=1e-10, atol=1e-12, err_msg="dL/dx")
    grads = [layer.grads[name] for layer in model.weight_layers() for name in ("kernel", "bias") if layer.params]
    for got, want, what in zip(grads, ref[1:], ("dW1", "db1", "dW2", "db2")):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12, err_msg=what)
