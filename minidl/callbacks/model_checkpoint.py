"""ModelCheckpoint: save the model (or its weights) every epoch or every N batches, or only when it improves."""

from __future__ import annotations

import os
import tempfile

from ..utils import checks
from .monitor import MonitorCallback


class ModelCheckpoint(MonitorCallback):
    """Saves the model after each epoch, as Keras's ModelCheckpoint.

    `filepath` may contain `{epoch}` (1-based) and any log key, e.g. ``"ckpt-{epoch:02d}-{val_loss:.3f}.keras"``.
    `save_best_only`: only when `monitor` beats its best (the file then holds the best model).
    `save_weights_only`: `model.save_weights` instead of `model.save`. `save_freq`: "epoch", or an
    integer N to save every N training batches (then `{batch}` may appear in the name too).
    `verbose=1` prints a line whenever it saves (and why it did not, with `save_best_only`).
    """

    def __init__(
        self,
        filepath,
        monitor="val_loss",
        verbose=0,
        save_best_only=False,
        save_weights_only=False,
        mode="auto",
        save_freq="epoch",
        initial_value_threshold=None,
    ):
        super().__init__(monitor=monitor, mode=mode)
        self.filepath, self.save_best_only = os.fspath(filepath), save_best_only
        self.save_weights_only, self.verbose = save_weights_only, verbose
        if save_freq != "epoch":
            save_freq = checks.positive_int(save_freq, "ModelCheckpoint: save_freq (an integer or 'epoch')")
        self.save_freq = save_freq
        self.initial_value_threshold = initial_value_threshold
        self.epoch, self.batches_seen = 0, 0

    def on_train_begin(self, logs=None):
        check_writable(self.filepath)  # before the first step, not after the first epoch
        self.reset()
        if self.initial_value_threshold is not None:
            self.best = self.sign * checks.finite_number(self.initial_value_threshold, "initial_value_threshold")
        self.batches_seen = 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self.save_freq != "epoch":
            self.batches_seen += 1
            if self.batches_seen % self.save_freq == 0:
                self.save(self.epoch, batch, logs or {})

    def on_epoch_end(self, epoch, logs=None):
        if self.save_freq == "epoch":
            self.save(epoch, None, logs or {})

    def save(self, epoch, batch, logs):
        """Write the model (or weights) if due; the file name is formatted with the epoch and logs."""
        values = {k: v for k, v in logs.items() if k not in ("epoch", "batch")}
        path = self.filepath.format(epoch=epoch + 1, batch=None if batch is None else batch + 1, **values)
        if self.save_best_only:
            before = self.best
            current = self.current(logs)
            if not self.improved(current):
                if self.verbose:
                    print(f"\nEpoch {epoch + 1}: {self.monitor} did not improve from {self.sign * before:.5f}")
                return
            if self.verbose:
                print(
                    f"\nEpoch {epoch + 1}: {self.monitor} improved from {self.sign * before:.5f} to "
                    f"{current:.5f}, saving {'weights' if self.save_weights_only else 'model'} to {path}"
                )
        elif self.verbose:
            print(f"\nEpoch {epoch + 1}: saving {'weights' if self.save_weights_only else 'model'} to {path}")
        if self.save_weights_only:
            self.model.save_weights(path)
        else:
            self.model.save(path)


def check_writable(filepath):
    """Fail at once, in one line naming the path, if checkpoints cannot be written where `filepath` says.

    The folder part before any `{...}` placeholder is created if missing (as Keras does) and tried with a
    real temporary file; a `filepath` without placeholders that names a folder is refused.
    """
    if "{" not in filepath and os.path.isdir(filepath):
        raise IsADirectoryError(f"ModelCheckpoint: {filepath} is a folder; give a file name")
    folder = os.path.dirname(filepath.split("{", 1)[0]) or "."
    try:
        os.makedirs(folder, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as error:
        raise OSError(f"ModelCheckpoint: cannot write checkpoints in {folder}: {error.strerror or error}") from None
