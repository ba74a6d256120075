"""Regression metrics: per-sample errors averaged over a sample's outputs, summed per batch."""

from __future__ import annotations

import numpy as np

from .metric import Metric, targets_like


class MeanAbsoluteError(Metric):
    """Per sample, the mean over outputs of |p - y|."""

    name = "mean_absolute_error"

    def total(self, y_pred, y_true):
        return float(np.abs(y_pred - targets_like(y_true, y_pred)).sum() / y_pred[0].size)


class MeanSquaredError(Metric):
    """Per sample, the mean over outputs of (p - y)^2."""

    name = "mean_squared_error"

    def total(self, y_pred, y_true):
        return float(((y_pred - targets_like(y_true, y_pred)) ** 2).sum() / y_pred[0].size)


class RootMeanSquaredError(Metric):
    """sqrt of the mean squared error over all samples seen (its statistics: the sum of per-sample MSEs)."""

    name = "root_mean_squared_error"

    def total(self, y_pred, y_true):
        return float(((y_pred - targets_like(y_true, y_pred)) ** 2).sum() / y_pred[0].size)

    def result_from(self, statistics, samples):
        return float(np.sqrt(statistics[0] / samples))

    def result(self):
        return float(np.sqrt(super().result()))
