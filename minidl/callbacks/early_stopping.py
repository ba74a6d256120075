"""EarlyStopping: stop training when a monitored metric stops improving."""

from __future__ import annotations

from .monitor import MonitorCallback


class EarlyStopping(MonitorCallback):
    """Stops training when `monitor` has not improved by `min_delta` for `patience` epochs (Keras's rule).

    With `restore_best_weights`, the weights of the best epoch are put back when it stops.
    """

    def __init__(self, monitor="val_loss", min_delta=0.0, patience=0, mode="auto", restore_best_weights=False):
        super().__init__(monitor=monitor, mode=mode, min_delta=min_delta)
        self.patience = patience
        self.restore_best_weights = restore_best_weights
        self.stopped_epoch = None

    def on_train_begin(self, logs=None):
        self.reset()
        self.wait, self.best_weights = 0, None

    def on_epoch_end(self, epoch, logs=None):
        if self.improved(self.current(logs)):
            self.wait = 0
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            return
        self.wait += 1
        if self.wait >= self.patience:
            self.stopped_epoch = epoch
            self.model.stop_training = True
            self.model.stop_reason = f"early stopping: {self.monitor} did not improve for {self.wait} epochs"
            if self.best_weights is not None:
                self.model.set_weights(self.best_weights)
