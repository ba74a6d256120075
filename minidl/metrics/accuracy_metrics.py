"""Accuracy metrics: the share of samples (or outputs) predicted right, summed per batch."""

from __future__ import annotations

import numpy as np

from .metric import Metric, targets_like


class SparseCategoricalAccuracy(Metric):
    """Share of samples whose arg-max output is the integer label."""

    name = "sparse_categorical_accuracy"

    def total(self, y_pred, y_true):
        truth = y_true.reshape(len(y_true), -1)[:, 0] if y_true.ndim > 1 else y_true
        return float((y_pred.argmax(axis=-1) == truth).sum())


class CategoricalAccuracy(Metric):
    """Share of samples whose arg-max output is the arg-max of the one-hot target."""

    name = "categorical_accuracy"

    def total(self, y_pred, y_true):
        return float((y_pred.argmax(axis=-1) == y_true.argmax(axis=-1)).sum())


class Accuracy(Metric):
    """Share of entries where the prediction equals the target exactly (Keras's `Accuracy`)."""

    name = "accuracy"

    def total(self, y_pred, y_true):
        hits = np.equal(y_pred, targets_like(y_true, y_pred))
        return float(hits.reshape(len(hits), -1).mean(axis=1).sum())


class BinaryAccuracy(Metric):
    """Per sample, the share of outputs on the target's side of `threshold` (0.5, as in Keras)."""

    name = "binary_accuracy"

    def __init__(self, name=None, dtype=None, threshold=0.5):
        super().__init__(name, dtype)
        self.threshold = float(threshold)

    def total(self, y_pred, y_true):
        hits = (y_pred > self.threshold) == (targets_like(y_true, y_pred) > 0.5)
        return float(hits.reshape(len(hits), -1).mean(axis=1).sum())


class TopKCategoricalAccuracy(Metric):
    """Share of samples whose target class is among the `k` largest outputs (one-hot targets)."""

    name = "top_k_categorical_accuracy"

    def __init__(self, k=5, name=None, dtype=None):
        super().__init__(name, dtype)
        self.k = int(k)

    def labels(self, y_true):
        return y_true.argmax(axis=-1)

    def total(self, y_pred, y_true):
        labels = self.labels(y_true)
        target = y_pred[np.arange(len(y_pred)), labels]
        # Keras counts a sample as a hit when fewer than k outputs are strictly larger than the target's.
        return float(((y_pred > target[:, None]).sum(axis=-1) < self.k).sum())


class SparseTopKCategoricalAccuracy(TopKCategoricalAccuracy):
    """Top-k accuracy with integer labels."""

    name = "sparse_top_k_categorical_accuracy"

    def labels(self, y_true):
        return (y_true.reshape(len(y_true), -1)[:, 0] if y_true.ndim > 1 else y_true).astype(np.int64)


class OutputAccuracy(Metric):
    """Accuracy decided by the output's shape: a 0.5 threshold for one output, arg-max otherwise."""

    name = "accuracy"

    def total(self, y_pred, y_true):
        return float(correct_count(y_pred, y_true))


def correct_count(y_pred, y_true) -> int:
    """How many predictions are right: arg-max against integer or one-hot labels; 0.5 threshold for one output."""
    if y_pred.ndim == 2 and y_pred.shape[1] == 1:
        predicted = (y_pred[:, 0] > 0.5).astype(np.int64)
        truth = y_true.reshape(len(y_true), -1)[:, 0]
        return int((predicted == np.round(truth)).sum())
    predicted = y_pred.argmax(axis=-1)
    truth = y_true if y_true.ndim == 1 else y_true.argmax(axis=-1)
    return int((predicted == truth).sum())
