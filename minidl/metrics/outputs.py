"""The figures of one output of a model with several: its own loss and its metrics, named `<output>_<name>`.

Both keep minidl's additive statistics (summed over batches and over the shards of a batch): an
output's loss as the sum of its samples' losses (weighted by the sample weights, as the loss is),
a metric as the metric's own statistics of that output.
"""

from __future__ import annotations

import numpy as np

from ..ops.tape import value_of


class OutputLoss:
    """The log `<output>_loss`: output k's own loss (not weighted), as a statistic summed over batches."""

    size = 1
    takes_sample_weight = True

    def __init__(self, loss, index, output_name):
        self.loss, self.index, self.name = loss, index, f"{output_name}_loss"

    def statistics(self, y_pred, y_true, sample_weight=None) -> np.ndarray:
        values = self.loss.per_sample(value_of(y_pred[self.index]), y_true[self.index])
        return np.array([values.sum() if sample_weight is None else values @ sample_weight], dtype=np.float64)

    def result_from(self, statistics, samples) -> float:
        return float(statistics[0]) / samples


class OutputMetric:
    """A metric of output k, logged as `<output>_<metric>`; its statistics are those of the metric."""

    def __init__(self, metric, index, output_name):
        self.metric, self.index, self.name = metric, index, f"{output_name}_{metric.name}"
        self.size = metric.size

    def statistics(self, y_pred, y_true) -> np.ndarray:
        return self.metric.statistics(value_of(y_pred[self.index]), y_true[self.index])

    def result_from(self, statistics, samples) -> float:
        return self.metric.result_from(statistics, samples)
