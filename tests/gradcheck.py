"""A small float64 finite-difference gradient checker for layers and losses.

Every layer's backward pass is compared with central differences of the scalar
loss = sum(output * weights), with random fixed `weights`, so every output element matters.
"""

from __future__ import annotations

import numpy as np

EPS = 1e-6
RTOL = 1e-5
ATOL = 1e-7


def numerical_gradient(f, array: np.ndarray, eps: float = EPS) -> np.ndarray:
    """Central differences of the scalar `f()` w.r.t. every entry of `array` (perturbed in place, restored)."""
    if array.dtype != np.float64:
        raise TypeError(f"gradient checks need float64 arrays, got {array.dtype}")
    flat = array.reshape(-1)
    if not np.shares_memory(flat, array):
        raise ValueError("array must be contiguous so it can be perturbed in place")
    grad = np.zeros(array.size)
    for i in range(array.size):
        old = flat[i]
        flat[i] = old + eps
        plus = f()
        flat[i] = old - eps
        minus = f()
        flat[i] = old
        grad[i] = (plus - minus) / (2 * eps)
    return grad.reshape(array.shape)


def assert_gradients_close(analytic, numeric, what: str, rtol: float = RTOL, atol: float = ATOL):
    """Fail with the worst offending entry when analytic and numerical gradients disagree."""
    analytic, numeric = np.asarray(analytic), np.asarray(numeric)
    assert analytic.shape == numeric.shape, f"{what}: gradient shape {analytic.shape} != {numeric.shape}"
    np.testing.assert_allclose(analytic, numeric, rtol=rtol, atol=atol, err_msg=f"{what}: gradient mismatch")


def check_layer(
    layer, x: np.ndarray, rng: np.random.Generator, training: bool = False, rtol: float = RTOL, atol: float = ATOL
):
    """Gradient-check a built float64 layer's input gradient and every `layer.grads[...]` at input `x`.

    The numerical loss is evaluated with `training` (a TrainingContext for Dropout, which fixes its
    noise); the analytic gradient always comes from a training-mode forward (with that context, if given).
    Returns the analytic input gradient (for further assertions).
    """
    assert x.dtype == np.float64
    x = np.ascontiguousarray(x)
    out = layer.forward(x.copy(), training=training or True)
    weights = rng.standard_normal(out.shape)

    def loss():
        return float(np.sum(layer.forward(x.copy(), training=training) * weights))

    assert np.isclose(loss(), float(np.sum(out * weights))), "forward differs between the two modes"
    layer.forward(x.copy(), training=training or True)
    dx = layer.backward(weights.copy())
    analytic = {name: grad.copy() for name, grad in layer.grads.items()}
    assert dx is not None, f"{layer.name}: backward returned no input gradient"
    assert dx.shape == x.shape, f"{layer.name}: input gradient shape {dx.shape} != input {x.shape}"
    assert_gradients_close(dx, numerical_gradient(loss, x), f"{layer.name} input")
    assert set(analytic) == set(layer.params), f"{layer.name}: grads {set(analytic)} != params {set(layer.params)}"
    for name, param in layer.params.items():
        assert_gradients_close(analytic[name], numerical_gradient(loss, param), f"{layer.name} {name}", rtol, atol)
    return dx


def build(layer, input_shape, seed: int = 0):
    """Build `layer` in float64 with a fixed generator and return it."""
    layer.build(input_shape, rng=np.random.default_rng(seed), dtype=np.float64)
    return layer


def _backward_results(layer, x, grad):
    layer.forward(x.copy(), training=True)
    dx = layer.backward(grad.copy())
    return np.array(dx, copy=True), {name: g.copy() for name, g in layer.grads.items()}


def check_layer_state(layer, rng: np.random.Generator, batch=5):
    """Backward must use the last *training* forward: inference passes in between, and batches of
    other sizes before it, must not disturb it (layers may keep and reuse buffers)."""
    shape = layer.input_shape
    x, other, small = (rng.standard_normal((n, *shape)) for n in (batch, batch + 2, 2))
    grad = rng.standard_normal((batch, *layer.output_shape))
    dx, grads = _backward_results(layer, x, grad)
    _backward_results(layer, small, rng.standard_normal((2, *layer.output_shape)))
    layer.forward(x.copy(), training=True)
    layer.forward(other.copy(), training=False)
    layer.forward(small.copy(), training=False)
    again = layer.backward(grad.copy())
    np.testing.assert_array_equal(again, dx, err_msg=f"{layer.name}: input gradient changed")
    for name, g in grads.items():
        np.testing.assert_array_equal(layer.grads[name], g, err_msg=f"{layer.name}: {name} gradient changed")
