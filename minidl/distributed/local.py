"""LocalRunner: the whole batch computed in this process."""

from __future__ import annotations

import time

from ..utils import arrays
from ..utils.interrupts import deferred_signals
from .base import Runner, StepTimings
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
        self.timings = StepTimings()
        self.startup_seconds = time.perf_counter() - started

    def gradients(self, x, y, sample_weight, indices, step):
        """Mean gradient of the batch `indices` into model.gradients; returns (loss sum, metric sums)."""
        started, cpu = time.perf_counter(), time.thread_time()
        weights = None if sample_weight is None else sample_weight[indices]
        result = self.model.forward_backward(
            arrays.take(x, indices), arrays.take(y, indices), weights, len(indices), step
        )
        seconds = time.perf_counter() - started
        self.timings.add(seconds, seconds, pieces=(1,), cpu_seconds=(time.thread_time() - cpu,))
        if self.first_step_seconds is None:
            self.first_step_seconds = seconds
        return result

    def predict(self, x, batch_size):
        """The model's outputs for `x`, in batches of `batch_size`."""
        return self.model.predict_in_batches(x, batch_size)

    def close(self):
        """Give the BLAS library its previous thread limit back."""
        self.thread_limit.restore_original_limits()
