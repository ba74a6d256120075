"""TerminateOnNaN: stop at the first step whose loss is not a finite number."""

from __future__ import annotations

import math

from .base import Callback


class TerminateOnNaN(Callback):
    """Stops training at once when a step's loss is NaN or infinite, naming the epoch and step."""

    def __init__(self):
        super().__init__()
        self.epoch = 0
        self.message = None

    def on_train_begin(self, logs=None):
        self.epoch, self.message = 0, None

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(loss):
            self.message = (
                f"loss became {loss} at epoch {self.epoch + 1}, step {batch + 1}: "
                "training stopped (try a smaller learning rate)"
            )
            self.model.stop_training = True
            self.model.stop_reason = self.message
