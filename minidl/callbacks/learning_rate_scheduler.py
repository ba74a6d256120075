"""LearningRateScheduler: set the optimizer's learning rate at the start of every epoch."""

from __future__ import annotations

from .base import Callback


class LearningRateScheduler(Callback):
    """`schedule(epoch, lr)` (or `schedule(epoch)`) gives the rate for each epoch (0-based), as in Keras.

    The rate used is added to the epoch logs as `learning_rate` (so History records it).
    """

    def __init__(self, schedule, verbose=0):
        super().__init__()
        if not callable(schedule):
            raise TypeError(f"LearningRateScheduler: schedule must be a function, got {type(schedule).__name__}")
        self.schedule, self.verbose = schedule, verbose

    def on_epoch_begin(self, epoch, logs=None):
        current = self.model.optimizer.learning_rate
        try:
            rate = self.schedule(epoch, current)
        except TypeError:  # Keras also accepts a one-argument schedule
            rate = self.schedule(epoch)
        try:
            self.model.optimizer.learning_rate = float(rate)
        except (TypeError, ValueError) as error:
            raise ValueError(f"LearningRateScheduler: the schedule gave {rate!r} for epoch {epoch}: {error}") from None
        if self.verbose:
            print(f"\nEpoch {epoch + 1}: LearningRateScheduler setting learning rate to {float(rate)}.")

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["learning_rate"] = self.model.optimizer.learning_rate
