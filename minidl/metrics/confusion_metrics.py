"""Precision, recall and AUC: counts of true and false positives, which add up over batches and shards.

A prediction p counts as positive above a threshold (0.5 by default); with the target y in {0, 1}:
true positives TP = Σ [p > t][y = 1], false positives FP = Σ [p > t][y = 0], false negatives
FN = Σ [p ≤ t][y = 1], true negatives TN = Σ [p ≤ t][y = 0] (over every output entry).

    precision = TP / (TP + FP)        recall = TP / (TP + FN)

AUC keeps the four counts at `num_thresholds` thresholds evenly spaced in [0, 1] and integrates the
ROC curve (recall against the false-positive rate FP / (FP + TN)) by the trapezoidal rule, or the
precision–recall curve with `curve="PR"`.
"""

from __future__ import annotations

import numpy as np

from ..ops.tape import value_of
from .metric import Metric


def _flat(y_true, y_pred):
    y_pred = np.asarray(value_of(y_pred), dtype=np.float64).reshape(-1)
    y_true = np.asarray(value_of(y_true), dtype=np.float64).reshape(-1)
    if y_true.size != y_pred.size:
        raise ValueError(f"precision / recall / AUC: targets of size {y_true.size} for {y_pred.size} predictions")
    return y_true, y_pred


class Precision(Metric):
    """TP / (TP + FP) at `thresholds` (0.5). Keras's `keras.metrics.Precision`."""

    def __init__(self, thresholds=None, top_k=None, class_id=None, name=None, dtype=None):
        super().__init__(name=name, dtype=dtype)
        if top_k is not None or class_id is not None:
            raise NotImplementedError(f"{type(self).__name__}: top_k and class_id are not supported by minidl")
        self.thresholds = 0.5 if thresholds is None else float(thresholds)
        self.true_positives = self.add_variable(name="true_positives")
        self.false_positives = self.add_variable(name="false_positives")
        self.false_negatives = self.add_variable(name="false_negatives")

    def update_state(self, y_true, y_pred, sample_weight=None):
        truth, prediction = _flat(y_true, y_pred)
        positive = prediction > self.thresholds
        self.true_positives.assign_add(np.sum(positive & (truth > 0.5)))
        self.false_positives.assign_add(np.sum(positive & (truth <= 0.5)))
        self.false_negatives.assign_add(np.sum(~positive & (truth > 0.5)))

    def result(self):
        tp, fp = float(self.true_positives.value), float(self.false_positives.value)
        return tp / (tp + fp) if tp + fp else 0.0

    def get_config(self):
        return {"name": self.name, "thresholds": self.thresholds}


class Recall(Precision):
    """TP / (TP + FN) at `thresholds` (0.5). Keras's `keras.metrics.Recall`."""

    def result(self):
        tp, fn = float(self.true_positives.value), float(self.false_negatives.value)
        return tp / (tp + fn) if tp + fn else 0.0


class AUC(Metric):
    """Area under the ROC (or precision–recall) curve, from counts at `num_thresholds` thresholds."""

    def __init__(self, num_thresholds=200, curve="ROC", summation_method="interpolation", name=None,
                 dtype=None, thresholds=None, multi_label=False, num_labels=None, label_weights=None,
                 from_logits=False):  # fmt: skip
        super().__init__(name=name or "auc", dtype=dtype)
        if curve not in ("ROC", "PR"):
            raise ValueError(f"AUC: curve must be 'ROC' or 'PR', got {curve!r}")
        if multi_label or label_weights is not None or thresholds is not None:
            raise NotImplementedError(
                "AUC: multi_label, label_weights and explicit thresholds are not supported by minidl"
            )
        self.num_thresholds, self.curve, self.from_logits = int(num_thresholds), curve, bool(from_logits)
        self.summation_method = summation_method
        epsilon = 1e-7
        inner = np.linspace(0, 1, self.num_thresholds)[1:-1]
        self.edges = np.concatenate([[-epsilon], inner, [1 + epsilon]])
        shape = (self.num_thresholds,)
        self.true_positives = self.add_variable(shape=shape, name="true_positives")
        self.false_positives = self.add_variable(shape=shape, name="false_positives")
        self.true_negatives = self.add_variable(shape=shape, name="true_negatives")
        self.false_negatives = self.add_variable(shape=shape, name="false_negatives")

    def update_state(self, y_true, y_pred, sample_weight=None):
        truth, prediction = _flat(y_true, y_pred)
        if self.from_logits:
            prediction = 0.5 * (np.tanh(0.5 * prediction) + 1)
        positive = truth > 0.5
        # How many positives / negatives score above each threshold, from one sort (not one pass per threshold).
        above = lambda scores: len(scores) - np.searchsorted(np.sort(scores), self.edges, side="right")  # noqa: E731
        tp, fp = above(prediction[positive]), above(prediction[~positive])
        self.true_positives.assign_add(tp)
        self.false_positives.assign_add(fp)
        self.false_negatives.assign_add(positive.sum() - tp)
        self.true_negatives.assign_add((~positive).sum() - fp)

    def result(self):
        tp, fp = self.true_positives.value, self.false_positives.value
        tn, fn = self.true_negatives.value, self.false_negatives.value
        with np.errstate(divide="ignore", invalid="ignore"):
            recall = np.where(tp + fn > 0, tp / (tp + fn), 0.0)
            if self.curve == "ROC":
                x, y = np.where(fp + tn > 0, fp / (fp + tn), 0.0), recall
            else:
                x, y = recall, np.where(tp + fp > 0, tp / (tp + fp), 1.0)
        # thresholds ascend, so x descends: integrate from the last point to the first
        return float(np.sum((x[:-1] - x[1:]) * (y[:-1] + y[1:]) / 2))

    def get_config(self):
        return {"name": self.name, "num_thresholds": self.num_thresholds, "curve": self.curve}
