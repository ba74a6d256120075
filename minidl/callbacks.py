"""Callbacks: objects that observe training through Keras's hook names.

`Model.fit` calls, in order::

    on_train_begin(logs)
      on_epoch_begin(epoch, logs)
        on_train_batch_begin(step, logs) / on_train_batch_end(step, logs)   # every step
        on_test_begin(logs) ... on_test_end(logs)                           # validation, if any
      on_epoch_end(epoch, logs)
    on_train_end(logs)                                                      # always, even on error

`params` (set before `on_train_begin`) holds: epochs, steps (per epoch), batch_size, samples,
val_samples, workers, threads_per_worker, backend, ranks, rank, seed, verbose.
Batch logs hold `loss`, `accuracy` (mean over the batch) and `size`; epoch logs hold `loss`,
`accuracy`, and `val_loss`, `val_accuracy` when validating. The logs given to `on_train_end` hold
`status` ("finished", "stopped" by a callback, "interrupted" by Ctrl-C, or "failed") and, unless
finished, `error` (the exception's text).

Callbacks only observe, except that setting `model.stop_training = True` ends `fit` after the
current epoch (after the current step for `TerminateOnNaN`).
"""

from __future__ import annotations

import math
import os


class Callback:
    """Base class: override the hooks you need; every hook does nothing by default."""

    def __init__(self):
        self.model = None
        self.params: dict = {}

    def set_model(self, model):
        """Attach the model being trained (called by `fit` before any hook)."""
        self.model = model

    def set_params(self, params: dict):
        """Receive the run's settings (see the module docstring for the keys)."""
        self.params = dict(params)

    def on_train_begin(self, logs=None):
        """Called once before the first epoch."""

    def on_train_end(self, logs=None):
        """Called once at the end, also after an error or Ctrl-C."""

    def on_epoch_begin(self, epoch, logs=None):
        """Called at the start of each epoch (0-based)."""

    def on_epoch_end(self, epoch, logs=None):
        """Called after each epoch, with its metrics."""

    def on_train_batch_begin(self, batch, logs=None):
        """Called before each training step."""

    def on_train_batch_end(self, batch, logs=None):
        """Called after each training step."""

    def on_test_begin(self, logs=None):
        """Called before evaluation (and validation in fit)."""

    def on_test_end(self, logs=None):
        """Called after evaluation, with its metrics."""

    def on_test_batch_begin(self, batch, logs=None):
        """Called before each evaluation batch."""

    def on_test_batch_end(self, batch, logs=None):
        """Called after each evaluation batch."""

    def on_predict_begin(self, logs=None):
        """Called before prediction."""

    def on_predict_end(self, logs=None):
        """Called after prediction."""


class CallbackList:
    """Fans every hook out to a list of callbacks, in order."""

    def __init__(self, callbacks, model, params):
        self.callbacks = list(callbacks)
        for callback in self.callbacks:
            callback.set_model(model)
            callback.set_params(params)

    def __getattr__(self, hook):
        if not hook.startswith("on_"):
            raise AttributeError(hook)

        def call_all(*args, **kwargs):
            for callback in self.callbacks:
                getattr(callback, hook)(*args, **kwargs)

        return call_all


class History(Callback):
    """Collects the epoch logs; `fit` returns it. `history` maps each metric to its per-epoch list."""

    def __init__(self):
        super().__init__()
        self.history: dict[str, list[float]] = {}
        self.epoch: list[int] = []

    def on_train_begin(self, logs=None):
        self.history, self.epoch = {}, []

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(float(value))


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


class EarlyStopping(Callback):
    """Stops training when `monitor` has not improved by `min_delta` for `patience` epochs (Keras's rule).

    With `restore_best_weights`, the weights of the best epoch are put back when it stops.
    """

    def __init__(self, monitor="val_loss", min_delta=0.0, patience=0, mode="auto", restore_best_weights=False):
        super().__init__()
        if mode not in ("auto", "min", "max"):
            raise ValueError(f"EarlyStopping: mode must be 'auto', 'min' or 'max', got {mode!r}")
        if mode == "auto":
            mode = "max" if "acc" in monitor else "min"
        self.monitor, self.min_delta, self.patience = monitor, abs(min_delta), patience
        self.sign = 1.0 if mode == "min" else -1.0
        self.restore_best_weights = restore_best_weights
        self.stopped_epoch = None

    def on_train_begin(self, logs=None):
        self.best, self.wait, self.best_weights = math.inf, 0, None

    def on_epoch_end(self, epoch, logs=None):
        if self.monitor not in (logs or {}):
            raise KeyError(
                f"EarlyStopping: metric {self.monitor!r} is not in the epoch logs (available: {sorted(logs or {})})"
            )
        value = self.sign * logs[self.monitor]
        if value < self.best - self.min_delta:
            self.best, self.wait = value, 0
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


class ModelCheckpoint(Callback):
    """Saves the model after each epoch (or only when `monitor` improves, with `save_best_only`).

    `filepath` may contain `{epoch}` and any epoch-log key, e.g. ``"ckpt-{epoch:02d}-{val_loss:.3f}.npz"``.
    """

    def __init__(self, filepath, monitor="val_loss", save_best_only=False, mode="auto"):
        super().__init__()
        if mode == "auto":
            mode = "max" if "acc" in monitor else "min"
        self.filepath, self.monitor, self.save_best_only = os.fspath(filepath), monitor, save_best_only
        self.sign = 1.0 if mode == "min" else -1.0
        self.best = math.inf

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.save_best_only:
            if self.monitor not in logs:
                raise KeyError(
                    f"ModelCheckpoint: metric {self.monitor!r} is not in the epoch logs (available: {sorted(logs)})"
                )
            value = self.sign * logs[self.monitor]
            if not value < self.best:
                return
            self.best = value
        self.model.save(self.filepath.format(epoch=epoch + 1, **logs))
