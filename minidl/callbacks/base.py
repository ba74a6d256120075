"""Callback and CallbackList: objects that observe training through Keras's hook names.

`Model.fit` calls, in order::

    on_train_begin(logs)
      on_epoch_begin(epoch, logs)
        on_train_batch_begin(step, logs) / on_train_batch_end(step, logs)   # every step
        on_test_begin(logs) ... on_test_end(logs)                           # validation, if any
      on_epoch_end(epoch, logs)
    on_train_end(logs)                                                      # always, even on error

`Model.evaluate` calls `on_test_begin`, `on_test_batch_begin` / `on_test_batch_end` per batch and
`on_test_end`; `Model.predict` the same with `on_predict_*` (batch-end logs hold `outputs`).

`params` (set before `on_train_begin`) holds: epochs, steps (per epoch), batch_size, samples,
val_samples, workers, threads_per_worker, backend, ranks, rank, seed, verbose.
Batch logs hold, as in Keras, the running means of the epoch so far — `loss` and each compiled
metric (`accuracy`, `mae`, ...) — plus `size` (the batch's sample count); epoch logs hold the
epoch's means, and `val_loss`, `val_<metric>` when validating. The logs given to `on_train_end` hold
`status` ("finished", "stopped" by a callback, "interrupted" by Ctrl-C, or "failed") and, unless
finished, `error` (the exception's text).

Callbacks only observe, except that setting `model.stop_training = True` ends `fit` after the
current epoch (after the current step for `TerminateOnNaN`).
"""

from __future__ import annotations


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
        """Called before each training step (by default calls Keras's older `on_batch_begin`)."""
        self.on_batch_begin(batch, logs)

    def on_train_batch_end(self, batch, logs=None):
        """Called after each training step (by default calls Keras's older `on_batch_end`)."""
        self.on_batch_end(batch, logs)

    def on_batch_begin(self, batch, logs=None):
        """Keras's older name for `on_train_batch_begin`."""

    def on_batch_end(self, batch, logs=None):
        """Keras's older name for `on_train_batch_end`."""

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

    def on_predict_batch_begin(self, batch, logs=None):
        """Called before each prediction batch."""

    def on_predict_batch_end(self, batch, logs=None):
        """Called after each prediction batch; `logs["outputs"]` holds the batch's outputs."""


class CallbackList:
    """Fans every hook out to a list of callbacks, in order.

    A callback is a `Callback` or any object with `set_model`, `set_params` and the hooks it needs
    (duck typing, as Keras allows); a hook an object lacks is skipped for it.
    """

    def __init__(self, callbacks=None, model=None, params=None, **kwargs):
        self.callbacks = []
        self.model, self.params = model, dict(params or {})
        for callback in callbacks or []:
            self.append(callback)

    def append(self, callback):
        """Add a callback (Keras's CallbackList.append)."""
        if not (hasattr(callback, "set_model") and hasattr(callback, "set_params")):
            raise TypeError(
                f"callbacks must be keras.callbacks.Callback instances (or have set_model / set_params), "
                f"got {type(callback).__name__}"
            )
        callback.set_model(self.model)
        callback.set_params(self.params)
        self.callbacks.append(callback)

    def __getattr__(self, hook):
        if not hook.startswith("on_"):
            raise AttributeError(hook)

        def call_all(*args, **kwargs):
            for callback in self.callbacks:
                method = getattr(callback, hook, None)
                if method is not None:
                    method(*args, **kwargs)

        return call_all
