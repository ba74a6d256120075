"""Losses that average an element-wise error over each sample's outputs: MSE, MAE, Huber, binary
cross-entropy. For a sample with D outputs, L = (1/D) Σ_d ℓ(p_d, y_d), as Keras computes them.

An output of shape (N, 1) accepts targets of shape (N,), as in Keras.
"""

from __future__ import annotations

import numpy as np

from .errors import ShapeError
from .loss_base import EPSILON, Loss


class ElementwiseLoss(Loss):
    """Base: `elements(p, y)` and its derivative `derivative(p, y)`; means over each sample's outputs."""

    def check_targets(self, y_true, output_shape):
        y = np.asarray(y_true)
        output_shape = tuple(output_shape)
        if y.ndim == 1 and output_shape == (1,):
            y = y[:, None]
        if y.shape[1:] != output_shape:
            raise ShapeError(
                f"{self.name} needs targets of shape (N, {', '.join(map(str, output_shape))}), got {y.shape}"
            )
        if y.dtype.kind not in "fiub":
            raise ValueError(f"{self.name}: targets must be numbers, got dtype {y.dtype}")
        if not np.all(np.isfinite(y)):
            raise ValueError(f"{self.name}: targets contain NaN or infinity")
        return y

    def elements(self, y_pred, y_true):
        """The loss of every output element."""
        raise NotImplementedError

    def derivative(self, y_pred, y_true):
        """d(element loss)/d(y_pred), element-wise."""
        raise NotImplementedError

    def per_sample(self, y_pred, y_true):
        return self.elements(y_pred, y_true).reshape(len(y_pred), -1).mean(axis=1)

    def total(self, y_pred, y_true):
        return float(self.elements(y_pred, y_true).sum() / y_pred[0].size)

    def gradient(self, y_pred, y_true, denominator):
        grad = self.derivative(y_pred, y_true)
        grad *= 1.0 / (y_pred[0].size * denominator)
        return grad


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

    def __init__(self, delta=1.0):
        from . import checks

        self.delta = checks.positive_number(delta, "Huber: delta")

    def elements(self, y_pred, y_true):
        error = np.abs(y_pred - y_true)
        return np.where(error <= self.delta, 0.5 * error**2, self.delta * (error - 0.5 * self.delta))

    def derivative(self, y_pred, y_true):
        return np.clip(y_pred - y_true, -self.delta, self.delta)

    def get_config(self):
        return {"name": self.name, "delta": self.delta}


class BinaryCrossentropy(ElementwiseLoss):
    """ℓ = -(y log p + (1 - y) log(1 - p)) with p clipped to [ε, 1 - ε].

    With `from_logits=True` the outputs are logits z and p = sigmoid(z); then
    ℓ = max(z, 0) - z y + log(1 + e^-|z|) (no overflow) and dℓ/dz = sigmoid(z) - y.
    """

    name = "binary_crossentropy"

    def __init__(self, from_logits=False):
        self.from_logits = bool(from_logits)

    def check_targets(self, y_true, output_shape):
        y = super().check_targets(y_true, output_shape)
        if y.size and (y.min() < 0 or y.max() > 1):
            raise ValueError(f"{self.name}: targets must be in [0, 1] (labels 0/1 or probabilities)")
        return y

    def elements(self, y_pred, y_true):
        if self.from_logits:
            return np.maximum(y_pred, 0) - y_pred * y_true + np.log1p(np.exp(-np.abs(y_pred)))
        p = np.clip(y_pred, EPSILON, 1 - EPSILON)
        return -(y_true * np.log(p) + (1 - y_true) * np.log(1 - p))

    def derivative(self, y_pred, y_true):
        if self.from_logits:
            return 0.5 * (np.tanh(0.5 * y_pred) + 1) - y_true
        p = np.clip(y_pred, EPSILON, 1 - EPSILON)
        return (p - y_true) / (p * (1 - p))

    def get_config(self):
        return {"name": self.name, "from_logits": self.from_logits}
