"""Accuracy, counted (not averaged) so shards of a batch add up exactly."""

from __future__ import annotations

import numpy as np


def correct_count(y_pred, y_true) -> int:
    """How many predictions are right: arg-max against integer or one-hot labels; 0.5 threshold for one output."""
    if y_pred.ndim == 2 and y_pred.shape[1] == 1:
        predicted = (y_pred[:, 0] > 0.5).astype(np.int64)
        truth = y_true.reshape(len(y_true), -1)[:, 0]
        return int((predicted == np.round(truth)).sum())
    predicted = y_pred.argmax(axis=-1)
    truth = y_true if y_true.ndim == 1 else y_true.argmax(axis=-1)
    return int((predicted == truth).sum())


METRICS = {"accuracy", "acc"}
