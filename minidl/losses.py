"""Losses under Keras's names, as classes, strings and functions; the cross-entropies live here.

Each returns the *sum* of per-sample losses and a gradient scaled by a given denominator (see
`minidl.loss_base`); the element-wise ones (MSE, MAE, Huber, binary cross-entropy) are in
`minidl.elementwise_losses`. Keras's function forms, e.g.
`losses.sparse_categorical_crossentropy(y_true, y_pred, from_logits=False)`, return per-sample losses.

With predictions p (N, K), targets y and the denominator D (the whole batch size): `total` =
Σ_n ℓ(p[n], y[n]) and `gradient` = dℓ/dp / D, of p's shape, so the gradients of a batch's shards add up
to the gradient of the batch's mean loss.
"""

from __future__ import annotations

import numpy as np

from .elementwise_losses import BinaryCrossentropy, Huber, MeanAbsoluteError, MeanSquaredError
from .errors import ShapeError, lookup
from .layers.activations import Softmax
from .loss_base import EPSILON as _EPSILON
from .loss_base import Loss

__all__ = [
    "Loss",
    "CategoricalCrossentropy",
    "SparseCategoricalCrossentropy",
    "BinaryCrossentropy",
    "MeanSquaredError",
    "MeanAbsoluteError",
    "Huber",
]


def log_softmax(logits):
    """log softmax(z) over the last axis, computed without overflow: (z - max z) - log Σ exp(z - max z)."""
    shifted = logits - logits.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def softmax(logits):
    """softmax(z) = exp(z) / Σ exp(z) over the last axis, with the maximum subtracted first."""
    return np.exp(log_softmax(logits))


class CrossEntropy(Loss):
    """Cross-entropy between targets y and predicted class probabilities p: L = -Σ_k y_k log p_k per sample.

    With `from_logits=True` the model's outputs are logits z (no final softmax) and p = softmax(z) is
    formed here. Then the gradient with respect to the logits is, for a batch of B samples::

        dL/dz = (p * Σ_k y_k - y) / B        (= (p - y) / B for one-hot rows)

    because d(-Σ_k y_k log p_k)/dz_j = -y_j + p_j Σ_k y_k: the softmax's Jacobian and the log's 1/p
    cancel. That is why softmax + cross-entropy are one idea: a model ending in a softmax trained with
    a cross-entropy on probabilities is computed through this same formula (see `for_output`).
    """

    def __init__(self, from_logits=False):
        self.from_logits = bool(from_logits)

    def probabilities_and_log(self, y_pred):
        """(p, log p) from the model's outputs, whether they are logits or probabilities."""
        if self.from_logits:
            log_p = log_softmax(y_pred)
            return np.exp(log_p), log_p
        return y_pred, np.log(np.clip(y_pred, _EPSILON, 1.0))

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
        return -y_true / (np.clip(p, _EPSILON, 1.0) * denominator)


class SparseCategoricalCrossentropy(CrossEntropy):
    """Cross-entropy with integer labels c of shape (N,): L = -log p_c (y is the one-hot row of c).

    total                = −Σ_n log p[n, c[n]]                    (p clipped to [1e-7, 1])
    gradient (p)         = −[k = c[n]] / (p[n, k] · D)            (N, K)
    gradient (logits z)  = (p[n, k] − [k = c[n]]) / D             (N, K), p = softmax(z)
    """

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
        return float(self.per_sample(y_pred, y_true).sum())

    def per_sample(self, y_pred, y_true):
        rows = np.arange(len(y_true))
        if self.from_logits:
            return -log_softmax(y_pred)[rows, y_true]
        return -np.log(np.clip(y_pred[rows, y_true], _EPSILON, 1.0))

    def logit_gradient(self, p, y_true, denominator):
        grad = p / denominator
        grad[np.arange(len(y_true)), y_true] -= 1.0 / denominator
        return grad

    def probability_gradient(self, p, y_true, denominator):
        rows = np.arange(len(y_true))
        grad = np.zeros_like(p)
        grad[rows, y_true] = -1.0 / (np.clip(p[rows, y_true], _EPSILON, 1.0) * denominator)
        return grad


class SoftmaxCrossEntropy(Loss):
    """A cross-entropy on probabilities, placed after the model's final softmax, seen as one step.

    The model computes p = softmax(z) as its output; this loss's value is the wrapped cross-entropy's
    on p, and its gradient is the one with respect to the *logits* z, (p * Σ y - y) / B (see
    `CrossEntropy`), so the final softmax passes it through unchanged. Exact where p underflows to 0,
    and one subtraction instead of a division and a Jacobian product. Made only by `for_output`.
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


def for_output(loss: Loss, layers) -> Loss:
    """The loss to train `layers` with: the one place where a final softmax and a cross-entropy meet.

    If the last layer ends in a softmax and `loss` is a cross-entropy on probabilities, returns a
    `SoftmaxCrossEntropy` and tells that softmax its backward is done by the loss; every other softmax
    keeps its own derivative. Otherwise returns `loss` unchanged.
    """
    softmaxes = [getattr(layer, "activation", layer) for layer in layers]
    softmaxes = [s for s in softmaxes if isinstance(s, Softmax)]
    for softmax_layer in softmaxes:
        softmax_layer.backward_done_by_loss = False
    last = getattr(layers[-1], "activation", layers[-1]) if layers else None
    if isinstance(last, Softmax) and isinstance(loss, CrossEntropy) and not loss.from_logits:
        last.backward_done_by_loss = True
        return SoftmaxCrossEntropy(loss)
    return loss


CLASSIFICATION_LOSSES = (CrossEntropy, BinaryCrossentropy, SoftmaxCrossEntropy)

LOSSES = {
    "categorical_crossentropy": CategoricalCrossentropy,
    "sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
    "binary_crossentropy": BinaryCrossentropy,
    "mse": MeanSquaredError,
    "mean_squared_error": MeanSquaredError,
    "mae": MeanAbsoluteError,
    "mean_absolute_error": MeanAbsoluteError,
    "huber": Huber,
}


def _per_sample_function(cls, name):
    def function(y_true, y_pred, **options):
        loss = cls(**options)
        y_pred = np.asarray(y_pred)
        return loss.per_sample(y_pred.astype(np.float64), loss.check_targets(y_true, y_pred.shape[1:]))

    function.__name__ = function.__qualname__ = name
    function.__doc__ = f"Keras's function form of {cls.__name__}: the loss of every sample, shape (N,)."
    function.loss_class = cls
    return function


categorical_crossentropy = _per_sample_function(CategoricalCrossentropy, "categorical_crossentropy")
sparse_categorical_crossentropy = _per_sample_function(SparseCategoricalCrossentropy, "sparse_categorical_crossentropy")
binary_crossentropy = _per_sample_function(BinaryCrossentropy, "binary_crossentropy")
mean_squared_error = mse = _per_sample_function(MeanSquaredError, "mean_squared_error")
mean_absolute_error = mae = _per_sample_function(MeanAbsoluteError, "mean_absolute_error")
huber = _per_sample_function(Huber, "huber")


def get(loss) -> Loss:
    """A loss from a name, a class, an instance or one of the function forms above."""
    if isinstance(loss, Loss):
        return loss
    if isinstance(loss, type) and issubclass(loss, Loss):
        return loss()
    if callable(loss):
        if hasattr(loss, "loss_class"):
            return loss.loss_class()
        raise NotImplementedError(
            f"custom loss function {getattr(loss, '__name__', loss)!r} is not supported by minidl "
            f"(it has no automatic differentiation); use one of: {', '.join(sorted(LOSSES))}"
        )
    return lookup("loss", loss, LOSSES)()
