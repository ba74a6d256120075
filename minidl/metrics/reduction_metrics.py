"""Mean and Sum: metrics of any values, as Keras's `keras.metrics.Mean` / `Sum`."""

from __future__ import annotations

import numpy as np

from ..ops.tape import value_of
from .metric import Metric


class Mean(Metric):
    """The (weighted) mean of every value given: total = Σ w v, count = Σ w, result = total / count."""

    def __init__(self, name="mean", dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.total_value = self.add_variable(name="total")
        self.count = self.add_variable(name="count")

    def update_state(self, values, sample_weight=None):
        values = np.asarray(value_of(values), dtype=np.float64)
        weights = (
            np.ones_like(values)
            if sample_weight is None
            else np.broadcast_to(
                np.asarray(value_of(sample_weight), dtype=np.float64).reshape(
                    np.shape(sample_weight) + (1,) * (values.ndim - np.ndim(sample_weight))
                ),
                values.shape,
            )
        )
        self.total_value.assign_add(np.sum(values * weights))
        self.count.assign_add(np.sum(weights))

    def result(self):
        count = float(self.count.value)
        return float(self.total_value.value) / count if count else 0.0


class Sum(Metric):
    """The sum of every value given."""

    def __init__(self, name="sum", dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.total_value = self.add_variable(name="total")

    def update_state(self, values, sample_weight=None):
        values = np.asarray(value_of(values), dtype=np.float64)
        if sample_weight is not None:
            values = values * np.asarray(value_of(sample_weight), dtype=np.float64)
        self.total_value.assign_add(np.sum(values))

    def result(self):
        return float(self.total_value.value)
