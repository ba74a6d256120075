"""ProgbarLogger: the progress lines `fit`, `evaluate` and `predict` print, in Keras 3's format.

verbose=1: `Epoch 1/3`, then a bar redrawn in place on a terminal (only its final state when the
output is a file or pipe, also under mpiexec: `minidl.utils.terminal`)::

    469/469 ━━━━━━━━━━━━━━━━━━━━ 3s 7ms/step - accuracy: 0.9000 - loss: 0.3000 - val_accuracy: ...

verbose=2: `Epoch 1/3`, then one line per epoch: `469/469 - 3s - 7ms/step - accuracy: ... - loss: ...`.
Metrics are printed in alphabetical order, as Keras does. The rich live display of earlier minidl
versions is `ProgressBar` (progress.py), for scripts that ask for it.
"""

from __future__ import annotations

import sys
import time

from ..utils import terminal
from .base import Callback

BAR_WIDTH = 20
REDRAW_SECONDS = 0.1


def format_value(value) -> str:
    """Keras's number format: 4 decimals, or scientific notation for tiny values."""
    return f"{value:.4f}" if abs(value) > 1e-3 or value == 0 else f"{value:.4e}"


def format_per_step(seconds) -> str:
    """`7ms/step`, `250us/step` or `2s/step`."""
    if seconds >= 1 or seconds == 0:
        return f"{seconds:.0f}s/step"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.0f}ms/step"
    return f"{seconds * 1e6:.0f}us/step"


def format_logs(logs) -> str:
    """` - accuracy: 0.9000 - loss: 0.3000` for the numeric entries of `logs` (not `size`)."""
    items = sorted((k, v) for k, v in (logs or {}).items() if k != "size" and isinstance(v, (int, float)))
    return "".join(f" - {key}: {format_value(value)}" for key, value in items)


class ProgbarLogger(Callback):
    """Prints Keras's progress lines for one `fit` (or `evaluate` / `predict`, with `mode`)."""

    def __init__(self, verbose=1, mode="train", stream=None):
        super().__init__()
        self.verbose, self.mode, self.stream = verbose, mode, stream
        self.started = self.last_draw = 0.0
        self.total = 0
        self.logs = {}

    @property
    def out(self):
        return self.stream or sys.stdout

    def line(self, done, seconds, logs, final):
        """The progress line after `done` of `self.total` steps."""
        per_step = format_per_step(seconds / max(done, 1))
        if self.verbose == 2:
            text = f"{done}/{self.total} - {seconds:.0f}s - {per_step}"
        else:
            filled = BAR_WIDTH if final else BAR_WIDTH * done // max(self.total, 1)
            text = f"{done}/{self.total} {'━' * filled}{' ' * (BAR_WIDTH - filled)} {seconds:.0f}s {per_step}"
        return text + format_logs(logs)

    def start(self, total):
        self.total, self.started, self.last_draw = total, time.perf_counter(), 0.0

    def progress(self, done, logs):
        """Redraw the bar in place (verbose=1, on a terminal, at most every REDRAW_SECONDS)."""
        if self.verbose != 1 or not terminal.writes_to_terminal(self.out):
            return
        now = time.perf_counter()
        if now - self.last_draw >= REDRAW_SECONDS:
            self.last_draw = now
            self.out.write("\r" + self.line(done, now - self.started, logs, final=False))
            self.out.flush()

    def finish(self, done, logs):
        seconds = time.perf_counter() - self.started
        prefix = "\r" if self.verbose == 1 and terminal.writes_to_terminal(self.out) else ""
        self.out.write(prefix + self.line(done, seconds, logs, final=True) + "\n")
        self.out.flush()

    # ----- fit -----
    def on_epoch_begin(self, epoch, logs=None):
        self.out.write(f"Epoch {epoch + 1}/{self.params['epochs']}\n")
        self.start(self.params["steps"])
        self.done = 0

    def on_train_batch_end(self, batch, logs=None):
        self.done = batch + 1
        self.progress(self.done, logs)

    def on_epoch_end(self, epoch, logs=None):
        self.finish(self.done, logs)

    # ----- evaluate / predict (not the validation inside fit: its figures end the epoch line) -----
    def on_test_begin(self, logs=None):
        if self.mode == "test":
            self.start(self.params["steps"])

    def on_test_batch_end(self, batch, logs=None):
        if self.mode == "test":
            self.done = batch + 1
            self.progress(self.done, logs)

    def on_test_end(self, logs=None):
        if self.mode == "test":
            self.finish(self.params["steps"], logs)

    def on_predict_begin(self, logs=None):
        self.start(self.params["steps"])

    def on_predict_batch_end(self, batch, logs=None):
        self.progress(batch + 1, {})

    def on_predict_end(self, logs=None):
        self.finish(self.params["steps"], {})
