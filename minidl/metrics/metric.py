"""Metric: the base of every metric — Keras's `update_state` / `result` / `reset_state`, and the additive
statistics that let a batch's shards be measured in different processes and summed.

A metric's state is a few numbers that add up over samples (a sum and a count; true and false
positives; a histogram over thresholds). `statistics(y_pred, y_true)` gives one batch's contribution as a
float64 vector; the training loop adds the vectors of every batch (and of every shard, wherever it was
computed) and `result_from(statistics, samples)` turns the total into the figure History reports.

Built-in "mean of a per-sample value" metrics define `total(y_pred, y_true)`, the batch's sum. A user's
metric is written as in Keras — `add_variable` in `__init__`, `update_state` with `minidl.ops`, `result`
— and its variables (Keras's `aggregation="sum"`) are its statistics: they add up over shards.
"""

from __future__ import annotations

import numpy as np

from ..ops.tape import paused, value_of
from ..ops.variable import Variable
from ..utils.naming import snake_case


class Metric:
    """Base class. Subclasses define `total(y_pred, y_true)` (the batch's sum of a per-sample value), or —
    Keras's way — create variables with `add_variable` and define `update_state` and `result`."""

    name = None

    def __init__(self, name=None, dtype=None):
        self.name = name or type(self).name or snake_case(type(self).__name__)
        self.dtype = dtype
        self._variables: list[Variable] = []
        self._sum, self._count = 0.0, 0

    # ----- Keras's API -----
    def add_variable(self, shape=(), initializer="zeros", dtype=None, aggregation="sum", name=None) -> Variable:
        """A state variable (summed over shards and batches, as Keras's aggregation="sum")."""
        if aggregation not in ("sum", "none", None):
            raise NotImplementedError(f"metric {self.name!r}: aggregation={aggregation!r} is not supported by minidl")
        if not hasattr(self, "_variables"):
            raise RuntimeError(f"metric {type(self).__name__}: call super().__init__() before add_variable")
        variable = Variable(initializer, shape=shape, dtype=dtype or "float64", trainable=False, name=name)
        self._variables.append(variable)
        return variable

    add_weight = add_variable

    @property
    def variables(self) -> list[Variable]:
        return list(self._variables)

    @property
    def keras_style(self) -> bool:
        """True for a metric written Keras's way (its own `update_state`), whose state is its variables."""
        return type(self).update_state is not Metric.update_state

    def update_state(self, y_true, y_pred, sample_weight=None):
        """Add a batch to the state (built-in metrics: their sum and the sample count)."""
        y_pred, y_true = np.asarray(value_of(y_pred)), np.asarray(value_of(y_true))
        self._sum += self.total(y_pred, y_true)
        self._count += len(y_pred)

    def result(self):
        """The metric over everything given to `update_state` since the last reset."""
        return self._sum / self._count if self._count else 0.0

    def reset_state(self):
        """Forget everything given so far."""
        for variable in self._variables:
            variable.assign(np.zeros_like(variable.value))
        self._sum, self._count = 0.0, 0

    reset_states = reset_state

    def total(self, y_pred, y_true) -> float:
        """Sum over the batch of a per-sample value (built-in metrics)."""
        raise NotImplementedError(f"metric {type(self).__name__} defines neither total() nor update_state()")

    def __call__(self, y_true, y_pred, sample_weight=None):
        """Keras's call: update the state with the batch and return the result."""
        self.update_state(y_true, y_pred, sample_weight)
        return self.result()

    def get_config(self):
        return {"name": self.name}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    # ----- minidl's additive statistics -----
    @property
    def size(self) -> int:
        """How many numbers the statistics of a batch are."""
        return sum(int(np.size(v.value)) for v in self._variables) if self.keras_style else 1

    def statistics(self, y_pred, y_true) -> np.ndarray:
        """One batch's contribution to the state, float64 (size,): adds up over batches and shards."""
        if not self.keras_style:
            return np.array([self.total(y_pred, y_true)], dtype=np.float64)
        saved = [np.array(v.value, copy=True) for v in self._variables]
        try:
            for variable in self._variables:
                variable.assign(np.zeros_like(variable.value))
            with paused():
                self.update_state(y_true, y_pred)
            return np.concatenate([np.ravel(v.value).astype(np.float64) for v in self._variables] or [np.zeros(0)])
        finally:
            for variable, value in zip(self._variables, saved):
                variable.assign(value)

    def result_from(self, statistics, samples) -> float:
        """The figure the summed `statistics` of `samples` samples give."""
        if not self.keras_style:
            return float(statistics[0]) / samples
        saved = [np.array(v.value, copy=True) for v in self._variables]
        try:
            offset = 0
            for variable in self._variables:
                size = int(np.size(variable.value))
                variable.assign(np.reshape(statistics[offset : offset + size], np.shape(variable.value)))
                offset += size
            with paused():
                return float(np.asarray(value_of(self.result())))
        finally:
            for variable, value in zip(self._variables, saved):
                variable.assign(value)


def targets_like(y_true, y_pred):
    """Targets shaped like the outputs: `(N,)` labels for an `(N, 1)` output become `(N, 1)`."""
    return y_true.reshape(y_pred.shape) if y_true.size == y_pred.size else y_true


class FunctionMetric(Metric):
    """A plain function `metric(y_true, y_pred)` (Keras's MeanMetricWrapper): the mean over samples of its
    per-sample values (a scalar it returns counts as the batch's mean)."""

    def __init__(self, function, name=None):
        super().__init__(name=name or getattr(function, "__name__", "metric"))
        self.function = function

    def total(self, y_pred, y_true):
        with paused():
            values = np.asarray(value_of(self.function(y_true, y_pred)), dtype=np.float64)
        if values.ndim == 0:
            return float(values) * len(y_pred)
        return float(values.reshape(len(values), -1).mean(axis=1).sum())


class MeanMetricWrapper(FunctionMetric):
    """Keras's `MeanMetricWrapper(fn, name)`: the mean of `fn(y_true, y_pred)` over samples."""

    def __init__(self, fn, name=None, dtype=None, **kwargs):
        super().__init__(fn, name=name)
