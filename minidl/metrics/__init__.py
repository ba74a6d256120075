"""`minidl.metrics`: Keras's metrics — names, classes, functions, and a user's own `Metric` subclasses.

`metric.py` is the base (Keras's update_state / result / reset_state, and the additive statistics the
training loop sums over batches and processes); `accuracy_metrics.py`, `regression_metrics.py`,
`confusion_metrics.py` (precision, recall, AUC) and `reduction_metrics.py` (Mean, Sum) the families.
Names and resolution follow Keras 3: "accuracy" / "acc" become sparse categorical, categorical or binary
accuracy according to the loss, and the History key is the name the user wrote ("acc", "mae", ...).
"""

from __future__ import annotations

import numpy as np

from ..errors import UnknownNameError
from .accuracy_metrics import (
    Accuracy,
    BinaryAccuracy,
    CategoricalAccuracy,
    OutputAccuracy,
    SparseCategoricalAccuracy,
    SparseTopKCategoricalAccuracy,
    TopKCategoricalAccuracy,
)
from .confusion_metrics import AUC, Precision, Recall
from .metric import FunctionMetric, MeanMetricWrapper, Metric
from .reduction_metrics import Mean, Sum
from .regression_metrics import MeanAbsoluteError, MeanSquaredError, RootMeanSquaredError

__all__ = [
    "Metric",
    "MeanMetricWrapper",
    "Accuracy",
    "BinaryAccuracy",
    "CategoricalAccuracy",
    "SparseCategoricalAccuracy",
    "TopKCategoricalAccuracy",
    "SparseTopKCategoricalAccuracy",
    "MeanAbsoluteError",
    "MeanSquaredError",
    "RootMeanSquaredError",
    "Precision",
    "Recall",
    "AUC",
    "Mean",
    "Sum",
    "get",
]

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
        RootMeanSquaredError,
    )
}
NAMED = {"precision": Precision, "recall": Recall, "auc": AUC}
ALIASES = {"mae": "mean_absolute_error", "mse": "mean_squared_error", "rmse": "root_mean_squared_error"}
METRICS = {"accuracy", "acc", *METRIC_CLASSES, *ALIASES, *NAMED}

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


def get(metric, loss) -> Metric:
    """A metric object from a name, a class, an instance or a function (a user's `metric(y_true, y_pred)`),
    for the compiled `loss`."""
    if isinstance(metric, Metric):
        return metric
    if isinstance(metric, type) and issubclass(metric, Metric):
        return metric()
    if callable(metric) and not isinstance(metric, str):
        return FunctionMetric(metric)
    if not isinstance(metric, str):
        raise TypeError(f"metric {metric!r}: give a name, a Metric or a function metric(y_true, y_pred)")
    key = metric.lower()
    if key in ("accuracy", "acc"):
        return accuracy_for(getattr(loss, "name", ""), name=metric)
    if key in ALIASES:
        return METRIC_CLASSES[ALIASES[key]](name=metric)
    if key in METRIC_CLASSES:
        return METRIC_CLASSES[key]()
    if key in NAMED:
        return NAMED[key](name=metric)
    raise UnknownNameError(f"unknown metric(s) [{metric!r}]; known metrics: {sorted(METRICS)}")


def statistics_size(compiled) -> int:
    """How many numbers the compiled metrics' statistics of one batch are, together."""
    return sum(metric.size for metric in compiled)


def metric_sums(compiled, y_pred, y_true, sample_weight=None) -> np.ndarray:
    """Every compiled metric's statistics of the batch, float64 (statistics_size,): they add up over
    batches and over the shards of a batch. The sample weights go to the statistics that take them
    (an output's own loss, in a model with several)."""
    if not compiled:
        return np.zeros(0)
    return np.concatenate(
        [
            metric.statistics(y_pred, y_true, sample_weight)
            if getattr(metric, "takes_sample_weight", False)
            else metric.statistics(y_pred, y_true)
            for metric in compiled
        ]
    )


def results(compiled, sums, samples) -> dict:
    """{metric name: figure} from the summed statistics of `samples` samples."""
    figures, offset = {}, 0
    for metric in compiled:
        figures[metric.name] = metric.result_from(sums[offset : offset + metric.size], samples)
        offset += metric.size
    return figures
