"""Metrics: each against its definition, Keras's resolution of "accuracy", names and History keys."""

import numpy as np
import pytest

from minidl import losses, metrics
from minidl.errors import UnknownNameError

P = np.array([[0.1, 0.7, 0.2], [0.5, 0.3, 0.2], [0.2, 0.3, 0.5], [0.4, 0.35, 0.25]])
LABELS = np.array([1, 1, 2, 2])


def test_accuracies_against_their_definitions():
    assert metrics.SparseCategoricalAccuracy().total(P, LABELS) == 2
    assert metrics.CategoricalAccuracy().total(P, np.eye(3)[LABELS]) == 2
    # top-2: sample 1's label (p=0.3) is second; sample 3's label (p=0.25) is third.
    assert metrics.SparseTopKCategoricalAccuracy(k=2).total(P, LABELS) == 3
    assert metrics.TopKCategoricalAccuracy(k=2).total(P, np.eye(3)[LABELS]) == 3
    outputs = np.array([[0.9, 0.2], [0.4, 0.6]])
    assert metrics.BinaryAccuracy().total(outputs, np.array([[1, 0], [1, 1]])) == pytest.approx(1.0 + 0.5)
    assert metrics.BinaryAccuracy(threshold=0.0).total(np.array([[-1.0], [2.0]]), np.array([0, 1])) == 2


def test_regression_metrics_take_flat_targets():
    out = np.array([[1.0], [3.0]])
    assert metrics.MeanAbsoluteError().total(out, np.array([0.0, 1.0])) == pytest.approx(1 + 2)
    assert metrics.MeanSquaredError().total(out, np.array([0.0, 1.0])) == pytest.approx(1 + 4)
    assert metrics.mae(np.array([0.0, 1.0]), out) == pytest.approx(1.5)


@pytest.mark.parametrize(
    "loss, kind",
    [
        (losses.SparseCategoricalCrossentropy(), metrics.SparseCategoricalAccuracy),
        (losses.CategoricalCrossentropy(), metrics.CategoricalAccuracy),
        (losses.BinaryCrossentropy(), metrics.BinaryAccuracy),
    ],
)
@pytest.mark.parametrize("name", ["accuracy", "acc"])
def test_accuracy_is_resolved_by_the_loss_and_keeps_its_name(loss, kind, name):
    metric = metrics.get(name, loss)
    assert isinstance(metric, kind) and metric.name == name


def test_names_classes_and_errors():
    assert metrics.get("mae", losses.MeanSquaredError()).name == "mae"
    assert metrics.get("mean_absolute_error", None).name == "mean_absolute_error"
    assert metrics.get(metrics.SparseCategoricalAccuracy, None).name == "sparse_categorical_accuracy"
    assert metrics.get("top_k_categorical_accuracy", None).k == 5
    assert isinstance(metrics.get("precision", None), metrics.Precision)
    with pytest.raises(UnknownNameError, match="f1_scoreish"):
        metrics.get("f1_scoreish", None)
    with pytest.raises(TypeError, match="give a name, a Metric or a function"):
        metrics.get(3, None)
    custom = metrics.get(lambda y_true, y_pred: (y_true - y_pred) ** 2, None)
    np.testing.assert_allclose(custom.statistics(np.array([[1.0, 3.0]]), np.zeros((1, 2))), [5.0])


def test_sums_add_up_over_shards():
    compiled = [metrics.CategoricalAccuracy(), metrics.MeanSquaredError()]
    one_hot = np.eye(3)[LABELS]
    whole = metrics.metric_sums(compiled, P, one_hot)
    parts = metrics.metric_sums(compiled, P[:1], one_hot[:1]) + metrics.metric_sums(compiled, P[1:], one_hot[1:])
    np.testing.assert_allclose(whole, parts, rtol=1e-12)
    assert whole.dtype == np.float64 and whole.shape == (2,)
    assert metrics.metric_sums([], P, LABELS).shape == (0,)
