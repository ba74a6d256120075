"""Metrics, as sums over samples (not means) so shards of a batch add up exactly.

Each metric's `total(y_pred, y_true)` is the sum over the samples of a per-sample value; the loops
divide by the number of samples. Names and resolution follow Keras 3: `"accuracy"` / `"acc"` become
sparse categorical, categorical or binary accuracy according to the loss, and the History key is
the name the user wrote (`"acc"`, `"mae"`, ...).
"""

from __future__ import annotations

import numpy as np

from .errors import UnknownNameError


class Metric:
    """Base class: `total(y_pred, y_true)` is the sum over the batch of a per-sample value."""

    name = "metric"

    def __init__(self, name=None):
        self.name = name or type(self).name

    def total(self, y_pred, y_true) -> float:
        """Sum over the samples (their mean times the batch size)."""
        raise NotImplementedError

    def __call__(self, y_true, y_pred):
        """Keras's function form: the mean over the batch."""
        y_pred = np.asarray(y_pred)
        return self.total(y_pred, np.asarray(y_true)) / len(y_pred)


def _column(y_true, y_pred):
    """Targets shaped like the outputs: `(N,)` labels for an `(N, 1)` output become `(N, 1)`."""
    return y_true.reshape(y_pred.shape) if y_true.size == y_pred.size else y_true


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


class BinaryAccuracy(Metric):
    """Per sample, the share of outputs on the target's side of `threshold` (0.5, as in Keras)."""

    name = "binary_accuracy"

    def __init__(self, name=None, threshold=0.5):
        super().__init__(name)
        self.threshold = float(threshold)

    def total(self, y_pred, y_true):
        hits = (y_pred > self.threshold) == (_column(y_true, y_pred) > 0.5)
        return float(hits.reshape(len(hits), -1).mean(axis=1).sum())


class TopKCategoricalAccuracy(Metric):
    """Share of samples whose target class is among the `k` largest outputs (one-hot targets)."""

    name = "top_k_categorical_accuracy"

    def __init__(self, k=5, name=None):
        super().__init__(name)
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


class MeanAbsoluteError(Metric):
    """Per sample, the mean over outputs of |p - y|."""

    name = "mean_absolute_error"

    def total(self, y_pred, y_true):
        return float(np.abs(y_pred - _column(y_true, y_pred)).sum() / y_pred[0].size)


class MeanSquaredError(Metric):
    """Per sample, the mean over outputs of (p - y)^2."""

    name = "mean_squared_error"

    def total(self, y_pred, y_true):
        return float(((y_pred - _column(y_true, y_pred)) ** 2).sum() / y_pred[0].size)


METRIC_CLASSES = {
    cls.name: cls
    for cls in (
        SparseCategoricalAccuracy,
        CategoricalAccuracy,
        BinaryAccuracy,
        TopKCategoricalAccuracy,
        SparseTopKCategoricalAccuracy,
        MeanAbsoluteError,
        MeanSquaredError,
    )
}
ALIASES = {"mae": "mean_absolute_error", "mse": "mean_squared_error"}
METRICS = {"accuracy", "acc", *METRIC_CLASSES, *ALIASES}

# Keras's function forms, e.g. `metrics=[keras.metrics.sparse_categorical_accuracy]`.
sparse_categorical_accuracy = SparseCategoricalAccuracy()
categorical_accuracy = CategoricalAccuracy()
binary_accuracy = BinaryAccuracy()
top_k_categorical_accuracy = TopKCategoricalAccuracy()
sparse_top_k_categorical_accuracy = SparseTopKCategoricalAccuracy()
mean_absolute_error = mae = MeanAbsoluteError()
mean_squared_error = mse = MeanSquaredError()


def accuracy_for(loss_name: str, name: str) -> Metric:
    """Keras's rule for "accuracy": the kind of accuracy that fits the loss."""
    if loss_name == "sparse_categorical_crossentropy":
        return SparseCategoricalAccuracy(name=name)
    if loss_name == "binary_crossentropy":
        return BinaryAccuracy(name=name)
    if loss_name == "categorical_crossentropy":
        return CategoricalAccuracy(name=name)
    # Regression losses: Keras compares values exactly; minidl keeps its arg-max / threshold rule.
    return OutputAccuracy(name=name)


class OutputAccuracy(Metric):
    """Accuracy decided by the output's shape: a 0.5 threshold for one output, arg-max otherwise."""

    name = "accuracy"

    def total(self, y_pred, y_true):
        return float(correct_count(y_pred, y_true))


def get(metric, loss) -> Metric:
    """A metric object from a name, a class, an instance or a function form, for the compiled `loss`."""
    if isinstance(metric, Metric):
        return metric
    if isinstance(metric, type) and issubclass(metric, Metric):
        return metric()
    if not isinstance(metric, str):
        raise NotImplementedError(
            f"metric {metric!r}: custom metric functions are not supported by minidl; use one of {sorted(METRICS)}"
        )
    key = metric.lower()
    if key in ("accuracy", "acc"):
        return accuracy_for(getattr(loss, "name", ""), name=metric)
    if key in ALIASES:
        return METRIC_CLASSES[ALIASES[key]](name=metric)
    if key in METRIC_CLASSES:
        return METRIC_CLASSES[key]()
    raise UnknownNameError(f"unknown metric(s) [{metric!r}]; known metrics: {sorted(METRICS)}")


def metric_sums(compiled, y_pred, y_true) -> np.ndarray:
    """Every compiled metric's sum over the batch, as float64 (M,) (M = 0 without metrics): shards add up."""
    return np.array([m.total(y_pred, y_true) for m in compiled], dtype=np.float64)


def correct_count(y_pred, y_true) -> int:
    """How many predictions are right: arg-max against integer or one-hot labels; 0.5 threshold for one output."""
    if y_pred.ndim == 2 and y_pred.shape[1] == 1:
        predicted = (y_pred[:, 0] > 0.5).astype(np.int64)
        truth = y_true.reshape(len(y_true), -1)[:, 0]
        return int((predicted == np.round(truth)).sum())
    predicted = y_pred.argmax(axis=-1)
    truth = y_true if y_true.ndim == 1 else y_true.argmax(axis=-1)
    return int((predicted == truth).sum())
