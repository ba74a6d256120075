"""Shared by the statistics tests: a tiny model, its data, one tracked `fit`, and reading what it saved."""

from __future__ import annotations

import json
import re

import numpy as np

from minidl import Model
from minidl.callbacks import Callback
from minidl.layers import Dense
from minidl.stats import StatisticsTracker

SAMPLES, FEATURES, BATCH, EPOCHS = 20, 8, 8, 2


def make_model(seed=0, name="tiny"):
    model = Model([Dense(3, activation="softmax", input_shape=(FEATURES,))], name=name, seed=seed)
    return model.compile("sgd", "sparse_categorical_crossentropy")


def data(seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(SAMPLES, FEATURES)).astype("float32"), rng.integers(0, 3, SAMPLES)


def train(out_dir, seed=0, callbacks=(), verbose=False, model_name=None, tensorboard_dir=None, **fit_args):
    """Fit the tiny model once with a tracker writing to `out_dir`; returns (tracker, history)."""
    tracker = StatisticsTracker(
        model_name=model_name, out_dir=out_dir, dataset="random", verbose=verbose, tensorboard_dir=tensorboard_dir
    )
    x, y = data(seed)
    history = make_model(seed).fit(
        x,
        y,
        batch_size=BATCH,
        epochs=fit_args.pop("epochs", EPOCHS),
        verbose=0,
        callbacks=[tracker, *callbacks],
        **fit_args,
    )
    return tracker, history


def runs_in(path):
    document = json.loads(path.read_text())
    assert document["format"] == "minidl-stats" and document["version"] == 1
    return document["runs"]


def text_row(averages: str, label: str) -> str:
    """The first line of averages.txt starting with `label:` (after indentation)."""
    match = re.search(rf"^\s+{re.escape(label)}:(.*)$", averages, re.MULTILINE)
    assert match, f"no {label!r} line in:\n{averages}"
    return match.group(1).strip()


class RaiseAt(Callback):
    """Raises `error` after training step `step` of epoch `epoch`."""

    def __init__(self, error, epoch, step):
        super().__init__()
        self.error, self.at, self.epoch = error, (epoch, step), None

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if (self.epoch, batch) == self.at:
            raise self.error


class StopAfterFirstEpoch(Callback):
    def on_epoch_end(self, epoch, logs=None):
        self.model.stop_training = True
        self.model.stop_reason = "enough"
