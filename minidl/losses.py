"""Losses. Each returns the *sum* of per-sample losses and a gradient scaled by a given denominator.

Sums (not means) let a batch split across processes be recombined exactly: the parent adds the
shards' sums and divides by the whole batch size once.
"""

from __future__ import annotations

import numpy as np

from .errors import ShapeError, lookup

_EPSILON = 1e-7


class Loss:
    """Base class: `total(y_pred, y_true)` and `gradient(y_pred, y_true, denominator)`."""

    name = "loss"
    # True when the model's final softmax hands this loss its gradient job (see Softmax).
    fused_with_softmax = False

    def check_targets(self, y_true, output_shape):
        """Validate labels against the model's output shape, raising a clear error; return them as arrays."""
        return np.asarray(y_true)

    def total(self, y_pred, y_true) -> float:
        """Sum over the batch of the per-sample loss."""
        raise NotImplementedError

    def gradient(self, y_pred, y_true, denominator):
        """d(sum of losses)/d(y_pred) divided by `denominator` (the whole batch size)."""
        raise NotImplementedError

    def get_config(self):
        """The loss's name, for save/load and statistics."""
        return {"name": self.name}


class CategoricalCrossentropy(Loss):
    """-sum(y log p) with one-hot (or soft) targets of shape (N, classes)."""

    name = "categorical_crossentropy"

    def check_targets(self, y_true, output_shape):
        y = np.asarray(y_true)
        if y.ndim != 2 or y.shape[1:] != tuple(output_shape):
            raise ShapeError(
                f"{self.name} needs one-hot labels of shape (N, {output_shape[-1]}), got {y.shape}"
                + ("; for integer labels use loss='sparse_categorical_crossentropy'" if y.ndim == 1 else "")
            )
        if not np.all(np.isfinite(y)) or y.min() < 0 or y.max() > 1:
            raise ValueError(f"{self.name}: labels must be finite probabilities (one-hot), found values outside [0, 1]")
        return y

    def total(self, y_pred, y_true):
        return float(-(y_true * np.log(np.clip(y_pred, _EPSILON, 1.0))).sum())

    def gradient(self, y_pred, y_true, denominator):
        """Fused with softmax: d/d(logits) = p * sum(y) - y, i.e. p - y for one-hot rows, exact for any targets."""
        if self.fused_with_softmax:
            return (y_pred * y_true.sum(axis=-1, keepdims=True) - y_true) / denominator
        return -y_true / (np.clip(y_pred, _EPSILON, 1.0) * denominator)


class SparseCategoricalCrossentropy(Loss):
    """-log p[label] with integer labels of shape (N,)."""

    name = "sparse_categorical_crossentropy"

    def check_targets(self, y_true, output_shape):
        y = np.asarray(y_true)
        if y.ndim == 2 and y.shape[1] == 1:
            y = y[:, 0]
        if y.ndim != 1:
            raise ShapeError(
                f"{self.name} needs integer labels of shape (N,), got {y.shape}"
                + ("; for one-hot labels use loss='categorical_crossentropy'" if y.ndim == 2 else "")
            )
        if y.dtype.kind == "f":
            if not np.all(np.isfinite(y)) or np.any(y != np.round(y)):
                raise ValueError(f"{self.name}: labels must be whole class numbers, got non-integer values")
        elif y.dtype.kind not in "iu":
            raise ValueError(f"{self.name}: labels must be integers, got dtype {y.dtype}")
        classes = output_shape[-1]
        if len(y) and (y.min() < 0 or y.max() >= classes):
            raise ValueError(
                f"{self.name}: labels must be in 0..{classes - 1} for a model with {classes} outputs, "
                f"found {int(y.min())}..{int(y.max())}"
            )
        return y.astype(np.int64, copy=False)

    def total(self, y_pred, y_true):
        picked = y_pred[np.arange(len(y_true)), y_true]
        return float(-np.log(np.clip(picked, _EPSILON, 1.0)).sum())

    def gradient(self, y_pred, y_true, denominator):
        rows = np.arange(len(y_true))
        if self.fused_with_softmax:
            grad = y_pred / denominator
            grad[rows, y_true] -= 1.0 / denominator
            return grad
        grad = np.zeros_like(y_pred)
        grad[rows, y_true] = -1.0 / (np.clip(y_pred[rows, y_true], _EPSILON, 1.0) * denominator)
        return grad


class MeanSquaredError(Loss):
    """Mean over outputs of (p - y)^2, per sample."""

    name = "mse"

    def check_targets(self, y_true, output_shape):
        y = np.asarray(y_true)
        if y.shape[1:] != tuple(output_shape):
            raise ShapeError(
                f"{self.name} needs targets of shape (N, {', '.join(map(str, output_shape))}), got {y.shape}"
            )
        if not np.all(np.isfinite(y)):
            raise ValueError(f"{self.name}: targets contain NaN or infinity")
        return y

    def total(self, y_pred, y_true):
        return float(((y_pred - y_true) ** 2).sum() / y_pred[0].size)

    def gradient(self, y_pred, y_true, denominator):
        return (2.0 / (y_pred[0].size * denominator)) * (y_pred - y_true)


LOSSES = {
    "categorical_crossentropy": CategoricalCrossentropy,
    "sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
    "mse": MeanSquaredError,
    "mean_squared_error": MeanSquaredError,
}


def get(loss) -> Loss:
    """A loss from a name or an instance."""
    if isinstance(loss, Loss):
        return loss
    return lookup("loss", loss, LOSSES)()
