"""Softmax, cross-entropy and their fused gradient: minidl's layers and losses equal the loop reference."""

import numpy as np
import pytest

from minidl import Model, losses, reference
from minidl.gradcheck import build_float64
from minidl.layers import Dense, ReLU, Softmax
from minidl.optimizers import SGD


@pytest.mark.parametrize("seed", range(3))
def test_softmax_and_its_backward_equal_reference(seed):
    rng = np.random.default_rng(seed)
    n, classes = int(rng.integers(1, 6)), int(rng.integers(2, 7))
    z = rng.standard_normal((n, classes)) * 3
    layer = build_float64(Softmax(), (classes,))
    p = layer.forward(z.copy(), training=True)
    np.testing.assert_allclose(p, reference.softmax(z), rtol=1e-12, atol=1e-15)
    g = rng.standard_normal((n, classes))
    np.testing.assert_allclose(layer.backward(g.copy()), reference.softmax_backward(p, g), rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("sparse", [True, False], ids=["sparse_labels", "one_hot"])
@pytest.mark.parametrize("seed", range(3))
def test_fused_softmax_cross_entropy_equals_reference(sparse, seed):
    """A model ending in softmax, compiled with a cross-entropy, hands the last Dense (p − t)/N."""
    rng = np.random.default_rng(seed)
    n, inputs, classes = int(rng.integers(2, 7)), 4, int(rng.integers(2, 6))
    model = Model(seed=seed, dtype="float64")
    model.add(Dense(classes, activation="softmax", input_shape=(inputs,)))
    # SGD with learning rate 1: one step subtracts exactly the batch gradient from the weights.
    model.compile(optimizer=SGD(1.0), loss="sparse_categorical_crossentropy" if sparse else "categorical_crossentropy")
    x, labels = rng.standard_normal((n, inputs)), rng.integers(0, classes, n)
    t = np.eye(classes)[labels]
    W, b = model.get_weights()
    model.train_on_batch(x, labels if sparse else t)
    kernel, bias = (before - after for before, after in zip((W, b), model.get_weights()))

    z = reference.dense_forward(x, W, b)
    p = reference.softmax(z)
    assert model.loss.total(p, labels if sparse else t) / n == pytest.approx(reference.cross_entropy(p, t), rel=1e-12)
    dz = reference.softmax_cross_entropy_backward(p, t)
    _, dW, db = reference.dense_backward(x, W, dz)
    np.testing.assert_allclose(kernel, dW, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(bias, db, rtol=1e-10, atol=1e-14)
    # The fused gradient is the unfused chain: softmax_backward of dL/dp = −t / (N p).
    np.testing.assert_allclose(dz, reference.softmax_backward(p, -t / (n * p)), rtol=1e-10, atol=1e-14)


def test_cross_entropy_with_soft_targets_equals_reference():
    """Soft targets (rows summing to 1, not one-hot) through a softmax model: same gradients as the loops."""
    rng = np.random.default_rng(5)
    model = Model(seed=5, dtype="float64")
    model.add(Dense(4, activation="softmax", input_shape=(3,)))
    model.compile(optimizer=SGD(1.0), loss="categorical_crossentropy")
    x, t = rng.standard_normal((5, 3)), reference.softmax(rng.standard_normal((5, 4)))
    W, b = model.get_weights()
    model.train_on_batch(x, t)
    dW = W - model.get_weights()[0]
    dz = reference.softmax_cross_entropy_backward(reference.softmax(reference.dense_forward(x, W, b)), t)
    np.testing.assert_allclose(dW, reference.dense_backward(x, W, dz)[1], rtol=1e-10, atol=1e-14)


def test_cross_entropy_gradient_with_soft_targets_equals_reference():
    rng = np.random.default_rng(5)
    p = reference.softmax(rng.standard_normal((3, 4)))
    t = reference.softmax(rng.standard_normal((3, 4)))
    loss = losses.CategoricalCrossentropy()
    paired = losses.SoftmaxCrossEntropy(loss)  # what `losses.for_output` makes after a final softmax
    np.testing.assert_allclose(paired.gradient(p, t, 3), reference.softmax_cross_entropy_backward(p, t), rtol=1e-12)
    logits = np.log(p)  # softmax(log p) = p: the from_logits form gives the same gradient
    from_logits = losses.CategoricalCrossentropy(from_logits=True)
    np.testing.assert_allclose(
        from_logits.gradient(logits, t, 3), reference.softmax_cross_entropy_backward(p, t), rtol=1e-10
    )


def test_relu_equals_reference():
    rng = np.random.default_rng(0)
    z, g = rng.standard_normal((3, 5)), rng.standard_normal((3, 5))
    layer = build_float64(ReLU(), (5,))
    np.testing.assert_array_equal(layer.forward(z.copy(), training=True), reference.relu_forward(z))
    np.testing.assert_array_equal(layer.backward(g.copy()), reference.relu_backward(z, g))
