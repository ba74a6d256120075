"""ModelCheckpoint: save the model after each epoch, or only when a monitored metric improves."""

from __future__ import annotations

import os

from .monitor import MonitorCallback


class ModelCheckpoint(MonitorCallback):
    """Saves the model after each epoch (or only when `monitor` improves, with `save_best_only`).

    `filepath` may contain `{epoch}` and any epoch-log key, e.g. ``"ckpt-{epoch:02d}-{val_loss:.3f}.npz"``.
    """

    def __init__(self, filepath, monitor="val_loss", save_best_only=False, mode="auto"):
        super().__init__(monitor=monitor, mode=mode)
        self.filepath, self.save_best_only = os.fspath(filepath), save_best_only

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.save_best_only and not self.improved(self.current(logs)):
            return
        self.model.save(self.filepath.format(epoch=epoch + 1, **logs))
