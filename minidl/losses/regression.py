"""The regression losses: mean squared error, mean absolute error and Huber.

Each averages an element-wise error over a sample's D outputs, L = (1/D) Σ_d ℓ(p_d, y_d), as Keras
computes them (`ElementwiseLoss`); with e = p − y, ℓ and its derivative dℓ/dp are in each class.
"""

from __future__ import annotations

import numpy as np

from ..utils import checks
from .loss import ElementwiseLoss


class MeanSquaredError(ElementwiseLoss):
    """ℓ = (p - y)²; dℓ/dp = 2 (p - y).

    total    = Σ_n (1/K) Σ_k (p[n, k] − y[n, k])²        p, y: (N, ...), K = outputs per sample
    gradient = dL/dp = 2 (p − y) / (K · D)
    """

    name = "mse"

    def elements(self, y_pred, y_true):
        return (y_pred - y_true) ** 2

    def total(self, y_pred, y_true):
        return float(((y_pred - y_true) ** 2).sum() / y_pred[0].size)

    def gradient(self, y_pred, y_true, denominator):
        return (2.0 / (y_pred[0].size * denominator)) * (y_pred - y_true)


class MeanAbsoluteError(ElementwiseLoss):
    """ℓ = |p - y|; dℓ/dp = sign(p - y)."""

    name = "mae"

    def elements(self, y_pred, y_true):
        return np.abs(y_pred - y_true)

    def derivative(self, y_pred, y_true):
        return np.sign(y_pred - y_true).astype(y_pred.dtype)


class Huber(ElementwiseLoss):
    """With e = p - y: ℓ = e²/2 where |e| ≤ δ, else δ (|e| - δ/2); dℓ/dp = clip(e, -δ, δ)."""

    name = "huber"

    def __init__(self, delta=1.0, reduction="sum_over_batch_size", name=None, dtype=None):
        super().__init__(name=name, reduction=reduction)
        self.delta = checks.positive_number(delta, "Huber: delta")

    def elements(self, y_pred, y_true):
        error = np.abs(y_pred - y_true)
        return np.where(error <= self.delta, 0.5 * error**2, self.delta * (error - 0.5 * self.delta))

    def derivative(self, y_pred, y_true):
        return np.clip(y_pred - y_true, -self.delta, self.delta)

    def get_config(self):
        return {"name": self.name, "delta": self.delta}
