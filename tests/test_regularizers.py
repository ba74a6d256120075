"""Regularizers: the penalty each adds to the loss and its gradient, L1, L2 and L1L2, as kernel_regularizer."""

from __future__ import annotations

import numpy as np
import pytest

from minidl import Model, optimizers, regularizers
from minidl.layers import Dense

W = np.array([[1.0, -2.0], [0.5, 0.0]])


@pytest.mark.parametrize(
    "regularizer, penalty, gradient",
    [
        (regularizers.L1(0.1), 0.1 * 3.5, 0.1 * np.sign(W)),
        (regularizers.L2(0.2), 0.2 * 5.25, 0.4 * W),
        (regularizers.L1L2(l1=0.1, l2=0.2), 0.1 * 3.5 + 0.2 * 5.25, 0.1 * np.sign(W) + 0.4 * W),
    ],
    ids=["L1", "L2", "L1L2"],
)
def test_penalty_and_gradient_are_keras_formulas(regularizer, penalty, gradient):
    """Keras: L1 = l1·Σ|w|, L2 = l2·Σw², L1L2 their sum; the gradient is what SGD adds to a weight's."""
    assert regularizer(W) == pytest.approx(penalty)
    np.testing.assert_allclose(regularizer.gradient(W), gradient)


@pytest.mark.parametrize("name", ["L1", "L1L2"])
def test_an_l1_kernel_regularizer_moves_each_weight_by_lr_l1_sign_w(name):
    """With a zero learning signal (zero inputs, so the data gradient of the kernel is 0), one SGD step moves
    the kernel by -lr·dP/dw alone."""
    regularizer = regularizers.L1(0.5) if name == "L1" else regularizers.L1L2(l1=0.5, l2=0.25)
    model = Model([Dense(2, input_shape=(2,), kernel_regularizer=regularizer)], seed=0, dtype="float64")
    model.compile(optimizers.SGD(0.1), "mse")
    kernel = model.get_weights()[0].copy()
    model.train_on_batch(np.zeros((4, 2)), np.zeros((4, 2)))
    np.testing.assert_allclose(model.get_weights()[0], kernel - 0.1 * regularizer.gradient(kernel), rtol=1e-12)
