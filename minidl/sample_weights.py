"""Sample and class weights for `fit` / `evaluate`, carried inside the targets.

Keras weighs sample i's loss by w_i and divides by the batch size: L = Σ w_i L_i / N. The runners
(this process, worker pools, MPI ranks) move only x and y, so a weighted run packs each sample's
weight as one extra column of its targets (`TargetLayout.pack`); `Model.forward_backward` unpacks
the batch. The metrics are not weighted (Keras's `metrics=`, unlike `weighted_metrics=`).
"""

from __future__ import annotations

import numpy as np


def weights_for(y, sample_weight=None, class_weight=None):
    """The per-sample weights from `sample_weight` (N,) and/or `class_weight` {class: weight}; None if neither."""
    n = len(y)
    weights = None
    if sample_weight is not None:
        weights = np.asarray(sample_weight, dtype=np.float64)
        if weights.ndim == 2 and weights.shape[1] == 1:
            weights = weights[:, 0]
        if weights.shape != (n,):
            raise ValueError(f"sample_weight must have shape ({n},) (one weight per sample), got {weights.shape}")
        if not np.all(np.isfinite(weights)) or weights.min() < 0:
            raise ValueError("sample_weight must hold finite, non-negative numbers")
    if class_weight is not None:
        if not isinstance(class_weight, dict) or not class_weight:
            raise ValueError("class_weight must be a non-empty dict {class index: weight}")
        labels = class_labels(y)
        table = np.ones(max(int(labels.max()), *map(int, class_weight)) + 1)
        for cls, value in class_weight.items():
            if not isinstance(value, (int, float, np.number)) or not np.isfinite(value) or value < 0:
                raise ValueError(f"class_weight[{cls!r}] must be a finite, non-negative number, got {value!r}")
            table[int(cls)] = value
        by_class = table[labels]
        weights = by_class if weights is None else weights * by_class
    return weights


def class_labels(y):
    """Integer classes of the targets: the labels, the one-hot arg-max, or 0/1 for one output."""
    y = np.asarray(y)
    if y.ndim == 1 or (y.ndim == 2 and y.shape[1] == 1):
        return np.round(y.reshape(-1)).astype(np.int64)
    return y.reshape(len(y), -1).argmax(axis=1)


class TargetLayout:
    """How targets of one shape and dtype travel with their weights: as (N, k + 1) floats."""

    def __init__(self, y):
        self.shape, self.dtype = y.shape[1:], y.dtype

    def pack(self, y, weights):
        """[targets flattened | weight] per row, float64 (exact for labels and float32 targets)."""
        return np.concatenate([y.reshape(len(y), -1).astype(np.float64), weights[:, None]], axis=1)

    def unpack(self, packed):
        """(targets in their own shape and dtype, weights) of a batch of packed rows."""
        return packed[:, :-1].reshape(len(packed), *self.shape).astype(self.dtype), packed[:, -1]
