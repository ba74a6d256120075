"""Precision, recall, AUC, Mean and a user's Metric subclass: Keras's API, and statistics that add up over
batches and processes to the figure of the whole set."""

import numpy as np
import pytest

import minidl as keras
from minidl import layers, metrics, ops


def labels_and_scores(n=400, seed=0):
    rng = np.random.default_rng(seed)
    truth = (rng.random(n) < 0.4).astype(float)
    scores = np.clip(0.35 * truth + 0.65 * rng.random(n), 0, 1)
    return truth, scores


def test_precision_and_recall_count_as_defined():
    truth, scores = labels_and_scores()
    positive = scores > 0.5
    tp, fp, fn = np.sum(positive & (truth == 1)), np.sum(positive & (truth == 0)), np.sum(~positive & (truth == 1))
    precision, recall = metrics.Precision(), metrics.Recall()
    for start in range(0, len(truth), 64):  # batch by batch, as fit reports it
        precision.update_state(truth[start : start + 64], scores[start : start + 64])
        recall.update_state(truth[start : start + 64], scores[start : start + 64])
    assert precision.result() == pytest.approx(tp / (tp + fp))
    assert recall.result() == pytest.approx(tp / (tp + fn))
    precision.reset_state()
    assert precision.result() == 0.0


def test_auc_is_the_probability_a_positive_outscores_a_negative():
    truth, scores = labels_and_scores()
    positives, negatives = scores[truth == 1], scores[truth == 0]
    exact = np.mean(positives[:, None] > negatives[None, :]) + 0.5 * np.mean(positives[:, None] == negatives[None, :])
    auc = metrics.AUC(num_thresholds=1000)
    auc.update_state(truth, scores)
    assert auc.result() == pytest.approx(exact, abs=2e-3)
    halves = metrics.AUC(num_thresholds=1000)
    stats = halves.statistics(scores[:150], truth[:150]) + halves.statistics(scores[150:], truth[150:])
    assert halves.result_from(stats, len(truth)) == pytest.approx(auc.result(), abs=1e-12)


def test_mean_is_weighted():
    mean = metrics.Mean()
    mean.update_state([1.0, 2.0, 3.0], sample_weight=[1.0, 0.0, 1.0])
    mean.update_state([10.0])
    assert mean.result() == pytest.approx((1 + 3 + 10) / 3)


class PositivesSeen(keras.metrics.Metric):
    """The guide's custom metric: how many samples were predicted as their true class."""

    def __init__(self, name="positives_seen", **kwargs):
        super().__init__(name=name, **kwargs)
        self.true_positives = self.add_variable(shape=(), initializer="zeros", name="true_positives")

    def update_state(self, y_true, y_pred, sample_weight=None):
        hits = ops.cast(ops.equal(ops.argmax(y_pred, axis=1), ops.reshape(y_true, (-1,))), "float32")
        self.true_positives.assign_add(ops.sum(hits))

    def result(self):
        return self.true_positives.value

    def reset_state(self):
        self.true_positives.assign(0.0)


def test_a_users_metric_reports_in_history_equal_in_one_process_and_two():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((96, 5))
    y = (x[:, 0] > 0).astype(int) + (x[:, 1] > 0)
    histories = []
    for workers in (1, 2):
        model = keras.Sequential([layers.Dense(6, activation="tanh"), layers.Dense(3, activation="softmax")], seed=2)
        model.compile("sgd", "sparse_categorical_crossentropy", metrics=["accuracy", PositivesSeen()])
        histories.append(model.fit(x, y, batch_size=32, epochs=2, verbose=0, workers=workers).history)
    one, two = histories
    assert set(one) == {"loss", "accuracy", "positives_seen"}
    # The count of hits over an epoch is the accuracy times the samples, summed over the epoch's batches.
    np.testing.assert_allclose(one["positives_seen"], np.array(one["accuracy"]) * 96)
    for key in one:
        np.testing.assert_allclose(two[key], one[key], rtol=1e-5)


def test_precision_recall_auc_in_history_equal_in_one_process_and_two():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((128, 4))
    y = (x[:, 0] + 0.5 * x[:, 1] > 0).astype(float)
    histories = []
    for workers in (1, 2):
        model = keras.Sequential([layers.Dense(5, activation="relu"), layers.Dense(1, activation="sigmoid")], seed=4)
        model.compile("adam", "binary_crossentropy", metrics=["precision", "recall", keras.metrics.AUC()])
        histories.append(model.fit(x, y, batch_size=32, epochs=3, verbose=0, workers=workers).history)
    assert set(histories[0]) == {"loss", "precision", "recall", "auc"}
    assert histories[0]["auc"][-1] > 0.7
    for key in histories[0]:
        np.testing.assert_allclose(histories[1][key], histories[0][key], rtol=1e-5)
