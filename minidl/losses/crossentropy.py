"""The cross-entropies: categorical, sparse categorical and binary, on probabilities or logits.

Each returns the *sum* of per-sample losses and a gradient scaled by a given denominator (see
`minidl.losses.loss`). With predictions p (N, K), targets y and the denominator D (the whole batch
size): `total` = Σ_n ℓ(p[n], y[n]) and `gradient` = dℓ/dp / D, of p's shape, so the gradients of a
batch's shards add up to the gradient of the batch's mean loss.
"""

from __future__ import annotations

import numpy as np

from ..errors import ShapeError
from ..ops import log_softmax, softmax
from .loss import EPSILON, ElementwiseLoss, Loss


class CrossEntropy(Loss):
    """Cross-entropy between targets y and predicted class probabilities p: L = -Σ_k y_k log p_k per sample.

    With `from_logits=True` the model's outputs are logits z (no final softmax) and p = softmax(z) is
    formed here. Then the gradient with respect to the logits is, for a batch of B samples::

        dL/dz = (p * Σ_k y_k - y) / B        (= (p - y) / B for one-hot rows)

    because d(-Σ_k y_k log p_k)/dz_j = -y_j + p_j Σ_k y_k: the softmax's Jacobian and the log's 1/p
    cancel. That is why softmax + cross-entropy are one idea: a model ending in a softmax trained with
    a cross-entropy on probabilities is computed through this same formula (see `for_output`).
    """

    def __init__(self, from_logits=False, label_smoothing=0.0, axis=-1, reduction="sum_over_batch_size", name=None,
                 dtype=None, ignore_class=None):  # fmt: skip
        super().__init__(name=name, reduction=reduction)
        if label_smoothing or axis != -1 or ignore_class is not None:
            raise NotImplementedError(
                f"{type(self).__name__}: label_smoothing, axis and ignore_class are not supported by minidl"
            )
        self.from_logits = bool(from_logits)

    def check_output(self, output_shape):
        """The model must give one vector of class scores per sample (not one per step or pixel)."""
        if len(tuple(output_shape)) != 1:
            raise ShapeError(
                f"{self.name} needs the model to output (N, classes), got (N, {', '.join(map(str, output_shape))}); "
                "add Flatten() or a global pooling layer before the last Dense"
            )

    def probabilities_and_log(self, y_pred):
        """(p, log p) from the model's outputs, whether they are logits or probabilities."""
        if self.from_logits:
            log_p = log_softmax(y_pred)
            return np.exp(log_p), log_p
        return y_pred, np.log(np.clip(y_pred, EPSILON, 1.0))

    def logit_gradient(self, p, y_true, denominator):
        """(p * Σ_k y_k - y) / denominator: the gradient with respect to the logits, given p = softmax(z)."""
        raise NotImplementedError

    def gradient(self, y_pred, y_true, denominator):
        if self.from_logits:
            return self.logit_gradient(softmax(y_pred), y_true, denominator)
        return self.probability_gradient(y_pred, y_true, denominator)

    def probability_gradient(self, p, y_true, denominator):
        """-y / (p * denominator): the gradient with respect to probabilities (clipped away from 0)."""
        raise NotImplementedError

    def get_config(self):
        return {"name": self.name, "from_logits": self.from_logits}


class CategoricalCrossentropy(CrossEntropy):
    """Cross-entropy with one-hot (or soft) targets of shape (N, classes): L = -Σ_k y_k log p_k.

    total                = −Σ_n Σ_k y[n, k] · log p[n, k]       (p clipped to [1e-7, 1])
    gradient (p)         = −y / (p · D)                           (N, K)
    gradient (logits z)  = (p · Σ_k y[n, k] − y) / D              (N, K), p = softmax(z)
    """

    name = "categorical_crossentropy"

    def check_targets(self, y_true, output_shape):
        self.check_output(output_shape)
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
        return float(-(y_true * self.probabilities_and_log(y_pred)[1]).sum())

    def per_sample(self, y_pred, y_true):
        return -(y_true * self.probabilities_and_log(y_pred)[1]).sum(axis=-1)

    def logit_gradient(self, p, y_true, denominator):
        return (p * y_true.sum(axis=-1, keepdims=True) - y_true) / denominator

    def probability_gradient(self, p, y_true, denominator):
        return -y_true / (np.clip(p, EPSILON, 1.0) * denominator)


class SparseCategoricalCrossentropy(CrossEntropy):
    """Cross-entropy with integer labels c of shape (N,): L = -log p_c (y is the one-hot row of c).

    total                = −Σ_n log p[n, c[n]]                    (p clipped to [1e-7, 1])
    gradient (p)         = −[k = c[n]] / (p[n, k] · D)            (N, K)
    gradient (logits z)  = (p[n, k] − [k = c[n]]) / D             (N, K), p = softmax(z)
    """

    name = "sparse_categorical_crossentropy"

    def check_targets(self, y_true, output_shape):
        self.check_output(output_shape)
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
        return float(self.per_sample(y_pred, y_true).sum())

    def per_sample(self, y_pred, y_true):
        rows = np.arange(len(y_true))
        if self.from_logits:
            return -log_softmax(y_pred)[rows, y_true]
        return -np.log(np.clip(y_pred[rows, y_true], EPSILON, 1.0))

    def logit_gradient(self, p, y_true, denominator):
        grad = p / denominator
        grad[np.arange(len(y_true)), y_true] -= 1.0 / denominator
        return grad

    def probability_gradient(self, p, y_true, denominator):
        rows = np.arange(len(y_true))
        grad = np.zeros_like(p)
        grad[rows, y_true] = -1.0 / (np.clip(p[rows, y_true], EPSILON, 1.0) * denominator)
        return grad


class SoftmaxCrossEntropy(Loss):
    """A cross-entropy on probabilities, placed after the model's final softmax, seen as one step.

    The model computes p = softmax(z) as its output; this loss's value is the wrapped cross-entropy's
    on p, and its gradient is the one with respect to the *logits* z, (p * Σ y - y) / B (see
    `CrossEntropy`), so the final softmax passes it through unchanged. Exact where p underflows to 0,
    and one subtraction instead of a division and a Jacobian product. Made only by the model, when
    it compiles (`Model.compile`).
    """

    def __init__(self, loss: CrossEntropy):
        self.loss = loss
        self.name = loss.name

    def check_targets(self, y_true, output_shape):
        return self.loss.check_targets(y_true, output_shape)

    def total(self, y_pred, y_true):
        return self.loss.total(y_pred, y_true)

    def per_sample(self, y_pred, y_true):
        return self.loss.per_sample(y_pred, y_true)

    def gradient(self, y_pred, y_true, denominator):
        return self.loss.logit_gradient(y_pred, y_true, denominator)

    def get_config(self):
        return self.loss.get_config()


class BinaryCrossentropy(ElementwiseLoss):
    """ℓ = -(y log p + (1 - y) log(1 - p)) with p clipped to [ε, 1 - ε].

    With `from_logits=True` the outputs are logits z and p = sigmoid(z); then
    ℓ = max(z, 0) - z y + log(1 + e^-|z|) (no overflow) and dℓ/dz = sigmoid(z) - y.
    """

    name = "binary_crossentropy"

    def __init__(self, from_logits=False, label_smoothing=0.0, axis=-1, reduction="sum_over_batch_size", name=None,
                 dtype=None, ignore_class=None):  # fmt: skip
        super().__init__(name=name, reduction=reduction)
        if label_smoothing or axis != -1 or ignore_class is not None:
            raise NotImplementedError(
                f"{type(self).__name__}: label_smoothing, axis and ignore_class are not supported by minidl"
            )
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
