"""LocalRunner: the whole batch computed in this process."""

from __future__ import annotations

import time

from .base import Runner
from .interrupts import deferred_signals
from .resources import blas_threads, thread_limit


class LocalRunner(Runner):
    """Computes gradients and predictions in the calling process (`workers=1`).

    Its BLAS library is limited to `threads` threads (None: `resources.default_threads()`, 1) for the
    run and given its previous limit back on `close`.
    """

    workers = 1

    def __init__(self, model, threads=None, opened=None):
        started = time.perf_counter()
        self.model = model
        with deferred_signals():  # a limit set is a limit `close` restores
            self.thread_limit = thread_limit(threads)
            if opened is not None:
                opened.append(self)
        self.threads_per_worker = blas_threads()
        self.startup_seconds = time.perf_counter() - started

    def gradients(self, x, y, indices, step):
        """Mean gradient of the batch `indices` into model.gradients; returns (loss sum, correct count)."""
        if self.first_step_seconds is not None:
            return self.model.forward_backward(x[indices], y[indices], len(indices), step)
        started = time.perf_counter()
        result = self.model.forward_backward(x[indices], y[indices], len(indices), step)
        self.first_step_seconds = time.perf_counter() - started
        return result

    def predict(self, x, batch_size):
        """The model's outputs for `x`, in batches of `batch_size`."""
        return self.model.predict_in_batches(x, batch_size)

    def close(self):
        """Give the BLAS library its previous thread limit back."""
        self.thread_limit.restore_original_limits()
