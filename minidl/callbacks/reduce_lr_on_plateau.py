"""ReduceLROnPlateau: divide the learning rate when a monitored metric stops improving."""

from __future__ import annotations

from ..utils import checks
from .monitor import MonitorCallback


class ReduceLROnPlateau(MonitorCallback):
    """After `patience` epochs without an improvement of `monitor` (by more than `min_delta`), sets
    lr = max(lr * factor, min_lr), then waits `cooldown` epochs before watching again (Keras's rule).

    The rate the epoch used is added to its logs as `learning_rate` (before any reduction), as in Keras.
    """

    def __init__(
        self,
        monitor="val_loss",
        factor=0.1,
        patience=10,
        verbose=0,
        mode="auto",
        min_delta=1e-4,
        cooldown=0,
        min_lr=0.0,
    ):
        super().__init__(monitor=monitor, mode=mode, min_delta=min_delta)
        self.factor = checks.finite_number(
            factor, "ReduceLROnPlateau: factor", minimum=0, maximum=1, open_minimum=True, open_maximum=True
        )
        self.patience = checks.non_negative_int(patience, "ReduceLROnPlateau: patience")
        self.cooldown = checks.non_negative_int(cooldown, "ReduceLROnPlateau: cooldown")
        self.min_lr = checks.finite_number(min_lr, "ReduceLROnPlateau: min_lr", minimum=0)
        self.verbose = verbose

    def on_train_begin(self, logs=None):
        self.reset()
        self.wait = self.cooldown_counter = 0

    def on_epoch_end(self, epoch, logs=None):
        logs = logs if logs is not None else {}
        logs["learning_rate"] = self.model.optimizer.learning_rate  # the rate this epoch used
        current = self.current(logs)
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.wait = 0
        if self.improved(current):
            self.wait = 0
        elif self.cooldown_counter <= 0:
            self.wait += 1
            if self.wait >= self.patience:
                old = self.model.optimizer.learning_rate
                new = max(old * self.factor, self.min_lr)
                if new < old and new > 0:
                    self.model.optimizer.learning_rate = new
                    if self.verbose:
                        print(f"\nEpoch {epoch + 1}: ReduceLROnPlateau reducing learning rate to {new}.")
                self.cooldown_counter, self.wait = self.cooldown, 0
