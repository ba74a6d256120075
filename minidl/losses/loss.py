"""Loss: the contract every loss follows, and Keras's `loss_fn(y_true, y_pred)` call.

A loss returns the *sum* of per-sample losses and a gradient scaled by a given denominator. Sums
(not means) let a batch split across processes be recombined exactly: the parent adds the shards'
sums and divides by the whole batch size once.

`ElementwiseLoss` is the base of the losses that average an error over each sample's outputs
(MSE, MAE, Huber, binary cross-entropy): for a sample with D outputs, L = (1/D) Σ_d ℓ(p_d, y_d), as
Keras computes them. An output of shape (N, 1) accepts targets of shape (N,), as in Keras.
"""

from __future__ import annotations

import numpy as np

from ..errors import ShapeError

EPSILON = 1e-7


class Loss:
    """Base class: `per_sample`, `total(y_pred, y_true)` and `gradient(y_pred, y_true, denominator)`.

    Calling a loss as Keras does, `loss_fn(y_true, y_pred, sample_weight=None)`, returns the mean over
    the batch of the (weighted) per-sample losses: Σ w_i L_i / N.
    """

    name = "loss"

    def check_targets(self, y_true, output_shape):
        """Validate labels against the model's output shape, raising a clear error; return them as arrays."""
        return np.asarray(y_true)

    def per_sample(self, y_pred, y_true):
        """The loss of every sample, shape (N,)."""
        raise NotImplementedError

    def total(self, y_pred, y_true) -> float:
        """Sum over the batch of the per-sample loss."""
        return float(self.per_sample(y_pred, y_true).sum())

    def gradient(self, y_pred, y_true, denominator):
        """d(sum of losses)/d(y_pred) divided by `denominator` (the whole batch size)."""
        raise NotImplementedError

    def get_config(self):
        """The loss's name, for save/load and statistics."""
        return {"name": self.name}

    def __call__(self, y_true, y_pred, sample_weight=None):
        y_pred = np.asarray(y_pred)
        if y_pred.ndim < 1 or len(y_pred) == 0:
            raise ValueError(f"{self.name}: y_pred must be a non-empty batch, got shape {y_pred.shape}")
        y_true = self.check_targets(y_true, y_pred.shape[1:])
        if len(y_true) != len(y_pred):
            raise ValueError(f"{self.name}: y_true has {len(y_true)} samples but y_pred has {len(y_pred)}")
        values = self.per_sample(y_pred.astype(np.float64), y_true)
        if sample_weight is not None:
            values = values * np.broadcast_to(np.asarray(sample_weight, np.float64).reshape(-1), values.shape)
        return np.float64(values.sum() / len(values))


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
