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


# ----- AdamW, RMSprop, Adagrad, the learning rate and schedules -----
def test_adamw_is_adam_after_decoupled_decay():
    lr, wd = 0.01, 0.1
    reference, w = optimizers.Adam(lr), W0.copy()
    for g in GRADS:
        w *= 1 - lr * wd
        reference.step(w, g.copy())
    np.testing.assert_allclose(_run(optimizers.AdamW(lr, weight_decay=wd)), w, rtol=1e-14)


@pytest.mark.parametrize("momentum, centered", [(0.0, False), (0.5, False), (0.0, True), (0.5, True)])
def test_rmsprop(momentum, centered):
    lr, rho, eps = 0.01, 0.9, 1e-7
    w, v, mg, m = W0.copy(), np.zeros(3), np.zeros(3), np.zeros(3)
    for g in GRADS:
        v = rho * v + (1 - rho) * g * g
        denominator = v + eps
        if centered:
            mg = rho * mg + (1 - rho) * g
            denominator = denominator - mg * mg
        increment = lr * g / np.sqrt(denominator)
        if momentum:
            m = momentum * m + increment
            increment = m
        w = w - increment
    got = _run(optimizers.RMSprop(lr, rho=rho, momentum=momentum, epsilon=eps, centered=centered))
    np.testing.assert_allclose(got, w, rtol=1e-13)


def test_adagrad():
    lr, eps = 0.1, 1e-7
    w, a = W0.copy(), np.full(3, 0.1)
    for g in GRADS:
        a = a + g * g
        w = w - lr * g / np.sqrt(a + eps)
    np.testing.assert_allclose(_run(optimizers.Adagrad(lr)), w, rtol=1e-14)


def test_learning_rate_can_be_read_and_set_between_steps():
    sgd = optimizers.SGD(0.1)
    w = W0.copy()
    sgd.step(w, GRADS[0].copy())
    sgd.learning_rate = 0.01
    assert sgd.learning_rate == 0.01
    sgd.step(w, GRADS[1].copy())
    np.testing.assert_allclose(w, W0 - 0.1 * GRADS[0] - 0.01 * GRADS[1], rtol=1e-15)
    sgd.learning_rate = np.float32(0.5)
    assert sgd.learning_rate == 0.5 and isinstance(sgd.learning_rate, float)
    for bad in (0, -1.0, float("nan"), float("inf"), "fast"):
        with pytest.raises(ValueError, match="SGD: learning_rate"):
            sgd.learning_rate = bad


def test_schedules_drive_the_rate():
    decay = optimizers.schedules.ExponentialDecay(0.1, decay_steps=2, decay_rate=0.5)
    stairs = optimizers.schedules.ExponentialDecay(0.1, decay_steps=2, decay_rate=0.5, staircase=True)
    assert [decay(s) for s in (0, 1, 2, 4)] == pytest.approx([0.1, 0.1 * 0.5**0.5, 0.05, 0.025])
    assert [stairs(s) for s in (0, 1, 2, 3)] == pytest.approx([0.1, 0.1, 0.05, 0.05])
    sgd = optimizers.SGD(learning_rate=decay)
    w = W0.copy()
    for g in GRADS:
        sgd.step(w, g.copy())
    expected = W0 - sum(decay(step) * g for step, g in enumerate(GRADS))
    np.testing.assert_allclose(w, expected, rtol=1e-14)
    assert sgd.learning_rate == pytest.approx(decay(3))
    again = optimizers.get(sgd.get_config())
    assert isinstance(again._learning_rate, optimizers.schedules.ExponentialDecay)
    piecewise = optimizers.schedules.PiecewiseConstantDecay([2, 4], [1.0, 0.5, 0.1])
    assert [piecewise(s) for s in range(6)] == [1.0, 1.0, 1.0, 0.5, 0.5, 0.1]
    with pytest.raises(ValueError, match="one more value than boundaries"):
        optimizers.schedules.PiecewiseConstantDecay([2, 4], [1.0, 0.5])


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: optimizers.Adam(beta_1=1.0), "Adam: beta_1"),
        (lambda: optimizers.Adam(epsilon=0), "Adam: epsilon"),
        (lambda: optimizers.SGD(momentum=float("nan")), "SGD: momentum"),
        (lambda: optimizers.RMSprop(rho=-0.1), "RMSprop: rho"),
        (lambda: optimizers.AdamW(weight_decay=-1), "AdamW: weight_decay"),
        (lambda: optimizers.Adagrad(initial_accumulator_value=float("inf")), "Adagrad: initial_accumulator_value"),
        (lambda: optimizers.schedules.ExponentialDecay(0.1, 0, 0.5), "decay_steps"),
    ],
)
def test_argument_checks(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_optimizers_by_name_and_class():
    for name, cls in [("rmsprop", optimizers.RMSprop), ("adamw", optimizers.AdamW), ("adagrad", optimizers.Adagrad)]:
        assert isinstance(optimizers.get(name), cls)
        assert isinstance(optimizers.get(cls), cls)
        assert type(optimizers.get(cls().get_config())) is cls


@pytest.mark.parametrize(
    "make",
    [
        lambda: optimizers.SGD(0.1, momentum=0.9),
        lambda: optimizers.Adam(0.01),
        lambda: optimizers.AdamW(0.01),
        lambda: optimizers.RMSprop(0.01, momentum=0.5, centered=True),
        lambda: optimizers.Adagrad(0.1),
    ],
)
def test_state_round_trip_continues_exactly(make):
    """get_state / set_state (what saving stores): a fresh optimizer given the state continues bit for bit."""
    first, w = make(), W0.copy()
    for g in GRADS[:2]:
        first.step(w, g.copy())
    second, w2 = make(), w.copy()
    second.set_state(first.get_state())
    first.step(w, GRADS[2].copy())
    second.step(w2, GRADS[2].copy())
    np.testing.assert_array_equal(w, w2)
    with pytest.raises(ValueError, match="iterations must be a non-negative integer"):
        second.set_state({"iterations": -1})
