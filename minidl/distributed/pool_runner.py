"""PoolRunner: one model attached to a WorkerPool for one fit, evaluate or predict (see pool.py).

What the runner holds in shared memory: the weights (one buffer every replica reads), one gradient
row per process, the batch's sample indices, and — through the pool's cache — the training set and
the last inputs predicted on (a fit's validation set is copied once, not once per epoch).

Every wait has a deadline: `timeout_for(seconds)` allows max(30 s, 50 x the median step) unless a
step timeout was set. After an exception (`fail`), clean-up waits at most `CLEANUP_SECONDS` for
workers still computing; one that does not answer by then (stopped, stuck) is killed with the pool.
"""

from __future__ import annotations

import statistics
import time
from collections import deque

import numpy as np

from ..utils import arrays
from ..utils.interrupts import deferred_signals
from . import replica
from .base import Runner, StepTimings, shard_bounds
from .faults import CLEANUP_SECONDS, CLOSE_SECONDS, WorkerError, pool_timeout
from .resources import thread_limit
from .shared import SharedArray
from .worker import shard_gradient

RECENT_STEPS = 101  # steps whose median sets the automatic timeout


class PoolRunner(Runner):
    """One model attached to a WorkerPool: the runner `fit`, `evaluate` and `predict` use.

    `startup_seconds`: attaching the model and placing weights and data in shared memory (plus the
    pool's own start-up when the pool was started for this run); `first_step_seconds`: the first
    training step, which pays the workers' first touch of the shared data.
    """

    def __init__(self, pool, model, data, owns_pool, threads=None, step_timeout=None, opened=None):
        started = time.perf_counter()
        self.pool, self.model, self.owns_pool = pool, model, owns_pool
        self.closed, self.failing = False, False
        self.step_timeout = step_timeout
        self.workers = pool.workers
        self.threads_per_worker = pool.threads_per_worker if threads is None else threads
        self.timings = StepTimings()
        self.recent_steps: deque[float] = deque(maxlen=RECENT_STEPS)
        self.first_step_seconds = None
        self.shared: list[SharedArray] = []
        self.private_buffers = (model.parameters, model.gradients)
        self.bound = False
        # Known to the pool (whose close() closes it) and to the caller before it holds anything.
        with deferred_signals():
            pool.attached = self
            if opened is not None:
                opened.append(self)
            self.thread_limit = thread_limit(self.threads_per_worker)
        try:
            parameters = SharedArray.copy_of(model.parameters, keep=self.shared)
            rows = SharedArray((pool.workers, model.parameters.size), model.dtype, keep=self.shared)
            rows.array[...] = 0
            self.gradient_rows = rows
            # The parent's own shard goes to row 0, which then collects the sum of all rows.
            with deferred_signals():
                replica.bind(model, parameters.array, rows.array[0])
                self.bound = True
            data_specs, self.indices = None, None
            if data is not None:
                data_specs = self._data_specs(data)
                self.indices = SharedArray((len(data[0]),), np.int64, keep=self.shared)
            pool.call_all(
                [
                    (
                        "attach",
                        replica.blueprint(model),
                        parameters.spec,
                        rows.spec,
                        data_specs,
                        self.indices.spec if self.indices else None,
                        self.threads_per_worker,
                    )
                ]
                * len(pool.processes),
                self.timeout_for(0.0),
            )
        except BaseException:
            self.failing = True
            self.close()
            raise
        own_start = pool.startup_seconds if owns_pool else 0.0
        self.startup_seconds = own_start + time.perf_counter() - started

    def _data_specs(self, data):
        """How the workers find the training data (x, y, sample weights or None): "inherited" when they
        were forked holding these very arrays, else the specs of shared copies (None for no weights)."""
        inherited = self.pool.inherited
        if inherited is not None and len(inherited) == len(data) and all(a is b for a, b in zip(inherited, data)):
            return "inherited"
        shared = iter(self.pool.data.get("train", tuple(a for a in data if a is not None)))
        return [None if a is None else next(shared).spec for a in data]

    def timeout_for(self, seconds) -> float:
        """How long to wait for the workers' answers to a step whose own shard took `seconds`."""
        if self.failing:
            return CLEANUP_SECONDS
        recent = [*self.recent_steps, seconds] if seconds else list(self.recent_steps)
        return pool_timeout(self.pool, self.step_timeout, statistics.median(recent) if recent else 0.0)

    def gradients(self, x, y, sample_weight, indices, step):
        """The batch's mean gradient into model.gradients (shard 0 here, the rest in workers); (loss, metric sums)."""
        started = time.perf_counter()
        batch = len(indices)
        self.indices.array[:batch] = indices
        (lo, hi), *others = shard_bounds(batch, self.workers)
        wait = self.timeout_for(0.0)
        self.pool.send_all([("gradient", step, a, b, batch) for a, b in others], wait)
        own = shard_gradient(self.model, (x, y, sample_weight), indices[lo:hi], lo, batch, step)
        answers = [own, *self.pool.collect_all(self.timeout_for(own[2]))]
        rows = self.gradient_rows.array
        for row in rows[1:]:
            rows[0] += row
        seconds = time.perf_counter() - started
        self.timings.add(seconds, [a[2] for a in answers])
        self.recent_steps.append(seconds)
        if self.first_step_seconds is None:
            self.first_step_seconds = seconds
        return sum(a[0] for a in answers), sum(a[1] for a in answers)

    def predict(self, x, batch_size):
        """Outputs for `x`: every process predicts a contiguous slice (this one the first).

        The inputs stay in the pool's shared memory after the call, so predicting again on the same
        array (a fit's validation set, every epoch) copies nothing.
        """
        outputs: list[SharedArray] = []
        try:
            (inputs,) = self.pool.data.get("inputs", (x,))
            shape = self.model.output_shape
            if None in shape:  # a sequence's length: known from the inputs, so from one sample's output
                shape = self.model.predict_in_batches(arrays.take(x, slice(0, 1)), 1).shape[1:]
            out = SharedArray((len(x), *shape), self.model.dtype, keep=outputs)
            (lo, hi), *others = shard_bounds(len(x), self.workers)
            started = time.perf_counter()
            self.pool.send_all(
                [("predict", inputs.spec, out.spec, a, b, batch_size) for a, b in others], self.timeout_for(0.0)
            )
            if hi > lo:
                out.array[lo:hi] = self.model.predict_in_batches(inputs.array[lo:hi], batch_size)
            self.pool.collect_all(self.timeout_for(time.perf_counter() - started))
            return out.array.copy()
        finally:
            for shared in outputs:
                shared.release()

    def fail(self):
        """The loop is leaving on an exception: clean-up will not wait long for workers still computing."""
        self.failing = True

    def close(self):
        """Detach the workers, give the model private buffers again and free the shared memory; safe twice.

        Runs whole, with Ctrl-C held back until it is done (a half-done close would orphan processes or
        shared memory), so every wait in it is short: workers that do not answer the detach within
        `CLEANUP_SECONDS` after a failure (else `CLOSE_SECONDS`) are taken as stuck and the pool is
        closed. The pool thus ends up either usable or closed, never half-way.
        """
        with deferred_signals():
            if self.closed:
                return
            self.closed = True
            if self.pool.attached is self:
                self.pool.attached = None
            try:
                if self.pool.processes and not self.pool.broken:
                    wait = CLEANUP_SECONDS if self.failing else min(CLOSE_SECONDS, self.timeout_for(0.0))
                    try:
                        self.pool.call_all([("detach",)] * len(self.pool.processes), wait)
                    except (WorkerError, OSError):
                        self.pool.close()
                elif self.pool.broken:
                    self.pool.close()
            finally:
                try:
                    self.thread_limit.restore_original_limits()
                    if self.bound:
                        replica.bind(self.model, *self.private_buffers)
                finally:
                    for shared in self.shared:
                        shared.release()
                    self.shared = []
                    if self.owns_pool:
                        self.pool.close()
