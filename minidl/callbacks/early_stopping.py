"""EarlyStopping: stop training when a monitored metric stops improving."""

from __future__ import annotations

from ..utils import checks
from .monitor import MonitorCallback


class EarlyStopping(MonitorCallback):
    """Stops training when `monitor` has not improved by `min_delta` for `patience` epochs (Keras's rule).

    Epochs before `start_from_epoch` are not watched. With `baseline`, training also stops if the
    metric has not beaten it after `patience` epochs. With `restore_best_weights`, the weights of the
    best epoch are put back when it stops. `stopped_epoch` is the (0-based) epoch it stopped at, 0 if
    it never did; `verbose=1` prints when it stops and restores.
    """

    def __init__(
        self,
        monitor="val_loss",
        min_delta=0.0,
        patience=0,
        verbose=0,
        mode="auto",
        baseline=None,
        restore_best_weights=False,
        start_from_epoch=0,
    ):
        super().__init__(monitor=monitor, mode=mode, min_delta=min_delta)
        self.patience = checks.non_negative_int(patience, "EarlyStopping: patience")
        self.start_from_epoch = checks.non_negative_int(start_from_epoch, "EarlyStopping: start_from_epoch")
        self.baseline = None if baseline is None else checks.finite_number(baseline, "EarlyStopping: baseline")
        self.verbose, self.restore_best_weights = verbose, restore_best_weights
        self.stopped_epoch = 0
        self.best_epoch = 0

    def on_train_begin(self, logs=None):
        self.reset()
        if self.baseline is not None:
            self.best = self.sign * self.baseline
        self.wait, self.best_weights, self.stopped_epoch, self.best_epoch = 0, None, 0, 0

    def on_epoch_end(self, epoch, logs=None):
        if epoch < self.start_from_epoch:
            return
        current = self.current(logs)
        if self.restore_best_weights and self.best_weights is None:
            # Keras keeps the first watched epoch's weights, so there is always something to restore.
            self.best_weights = self.model.get_weights()
        self.wait += 1
        if self.improved(current):
            self.wait, self.best_epoch = 0, epoch
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True
            self.model.stop_reason = f"early stopping: {self.monitor} did not improve for {self.wait} epochs"
            if self.restore_best_weights and self.best_weights is not None:
                if self.verbose:
                    print(f"Restoring model weights from the end of the best epoch: {self.best_epoch + 1}.")
                self.model.set_weights(self.best_weights)

    def on_train_end(self, logs=None):
        if self.stopped_epoch > 0 and self.verbose:
            print(f"Epoch {self.stopped_epoch + 1}: early stopping")
