"""Optimizers against hand-computed Keras updates on a small vector."""

import numpy as np
import pytest

from minidl import optimizers
from minidl.errors import UnknownNameError

W0 = np.array([0.5, -1.0, 2.0])
GRADS = [np.array([0.1, -0.2, 0.3]), np.array([-0.4, 0.5, 0.0]), np.array([0.2, 0.2, -0.1])]


def _run(optimizer, steps=None):
    w = W0.copy()
    for g in GRADS[:steps]:
        optimizer.step(w, g.copy())
    return w


def test_sgd_plain():
    np.testing.assert_allclose(_run(optimizers.SGD(0.1), 1), W0 - 0.1 * GRADS[0], rtol=1e-15)
    np.testing.assert_allclose(_run(optimizers.SGD(0.1)), W0 - 0.1 * sum(GRADS), rtol=1e-14)


def test_sgd_momentum():
    lr, m = 0.1, 0.9
    w, v = W0.copy(), np.zeros(3)
    for g in GRADS:
        v = m * v - lr * g
        w = w + v
    np.testing.assert_allclose(_run(optimizers.SGD(lr, momentum=m)), w, rtol=1e-14)
    # Written out: after two steps w = w0 - lr*g0 + (m*(-lr*g0) - lr*g1).
    two = W0 - lr * GRADS[0] + (m * (-lr * GRADS[0]) - lr * GRADS[1])
    np.testing.assert_allclose(_run(optimizers.SGD(lr, momentum=m), 2), two, rtol=1e-14)


def test_sgd_nesterov():
    lr, m = 0.1, 0.9
    w, v = W0.copy(), np.zeros(3)
    for g in GRADS:
        v = m * v - lr * g
        w = w + m * v - lr * g
    np.testing.assert_allclose(_run(optimizers.SGD(lr, momentum=m, nesterov=True)), w, rtol=1e-14)
    one = W0 + m * (-lr * GRADS[0]) - lr * GRADS[0]
    np.testing.assert_allclose(_run(optimizers.SGD(lr, momentum=m, nesterov=True), 1), one, rtol=1e-15)


def test_sgd_decay():
    lr, decay = 0.1, 0.5
    w = W0.copy()
    for t, g in enumerate(GRADS):
        w = w - lr / (1 + decay * t) * g
    optimizer = optimizers.SGD(lr, decay=decay)
    np.testing.assert_allclose(_run(optimizer), w, rtol=1e-14)
    assert optimizer.iterations == 3


def test_sgd_decay_with_momentum():
    lr, m, decay = 0.05, 0.8, 0.1
    w, v = W0.copy(), np.zeros(3)
    for t, g in enumerate(GRADS):
        v = m * v - lr / (1 + decay * t) * g
        w = w + v
    np.testing.assert_allclose(_run(optimizers.SGD(lr, momentum=m, decay=decay)), w, rtol=1e-14)


@pytest.mark.parametrize("beta_1, beta_2, epsilon", [(0.9, 0.999, 1e-7), (0.5, 0.9, 1e-3)])
def test_adam(beta_1, beta_2, epsilon):
    lr = 0.01
    w, m, v = W0.copy(), np.zeros(3), np.zeros(3)
    for t, g in enumerate(GRADS, start=1):
        m = beta_1 * m + (1 - beta_1) * g
        v = beta_2 * v + (1 - beta_2) * g * g
        lr_t = lr * np.sqrt(1 - beta_2**t) / (1 - beta_1**t)
        w = w - lr_t * m / (np.sqrt(v) + epsilon)
    np.testing.assert_allclose(_run(optimizers.Adam(lr, beta_1, beta_2, epsilon)), w, rtol=1e-13)


def test_adam_first_step_moves_by_learning_rate():
    """With bias correction Adam's first step is lr * g / (|g| + eps') for each weight: about lr * sign(g)."""
    w = _run(optimizers.Adam(0.01), 1)
    g = GRADS[0]
    expected = W0 - 0.01 * g / (np.abs(g) + 1e-7 / np.sqrt(1 - 0.999))
    np.testing.assert_allclose(w, expected, rtol=1e-12)


def test_adam_defaults_are_keras():
    adam = optimizers.Adam()
    assert (adam.learning_rate, adam.beta_1, adam.beta_2, adam.epsilon) == (0.001, 0.9, 0.999, 1e-7)
    assert optimizers.SGD().learning_rate == 0.01


def test_step_updates_in_place_and_float32_stays_float32():
    w = W0.astype(np.float32)
    view = w[:]
    optimizers.SGD(0.1, momentum=0.9).step(w, GRADS[0].astype(np.float32))
    assert w.dtype == np.float32
    assert np.shares_memory(view, w)
    np.testing.assert_allclose(view, W0 - 0.1 * GRADS[0], rtol=1e-6)


@pytest.mark.parametrize(
    "factory, match",
    [
        (lambda: optimizers.SGD(0), "learning_rate"),
        (lambda: optimizers.SGD(-1), "learning_rate"),
        (lambda: optimizers.SGD(0.1, momentum=1.0), "momentum"),
        (lambda: optimizers.SGD(0.1, decay=-1), "decay"),
        (lambda: optimizers.Adam(beta_1=1.0), "beta_1"),
    ],
)
def test_bad_settings(factory, match):
    with pytest.raises(ValueError, match=match):
        factory()


def test_lookup_and_config_round_trip():
    assert isinstance(optimizers.get("ADAM"), optimizers.Adam)
    sgd = optimizers.SGD(0.05, momentum=0.9, nesterov=True, decay=0.01)
    again = optimizers.get(sgd.get_config())
    assert isinstance(again, optimizers.SGD)
    assert again.get_config() == sgd.get_config()
    assert optimizers.get(sgd) is sgd
    with pytest.raises(UnknownNameError, match=r"unknown optimizer 'adadelta'.*adam.*sgd"):
        optimizers.get("adadelta")
