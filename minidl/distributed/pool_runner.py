"""PoolRunner: one model attached to a WorkerPool for one fit, evaluate or predict (see pool.py).

What the runner holds in shared memory: the weights (one buffer every replica reads), one gradient
row per piece of a step (see `pieces.py`), the batch's sample indices, and — through the pool's cache
— the training set and the last inputs predicted on (a fit's validation set is copied once, not once
per epoch). x is one array or, for a model with several inputs, a tuple of them: each is its own
shared array. A batch that is not rows of the training set (a generator's or a PyDataset's) is
copied into batch buffers reused step after step (`data.BatchBuffers`; the workers are told their
names only when they are made anew), and the step's message tells the workers to compute on them.

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
from . import pieces, replica
from .base import Runner, StepTimings, shard_bounds
from .data import BatchBuffers, data_key, data_specs, flat, from_flat
from .faults import CLEANUP_SECONDS, CLOSE_SECONDS, WorkerError, pool_timeout
from .pieces import claims, compute_pieces, piece_bounds
from .resources import available_cpus, thread_limit
from .shared import SharedArray
from .worker import write_outputs

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
        self.data = data  # the training set attached (x, y, sample weights or None), or None
        self.batch = BatchBuffers()  # a training batch of its own (a generator's), for the workers
        self.predicted = BatchBuffers()  # inputs of one batch to predict on
        self.predictions = BatchBuffers()  # the outputs predictions are written into, kept from call to call
        self.private_buffers = (model.parameters, model.gradients)
        self.bound = False
        self.rows: SharedArray | None = None  # one gradient row per piece, made at the first step
        self.steps_sent = 0  # training steps handed to the workers (a step's number tags its answers)
        self.step_open = False  # a step was cut short (Ctrl-C, an error): its answers are still owed
        self.balance, self.spin = pieces.BALANCE, pieces.SPIN_SECONDS
        self.speeds = np.full(pool.workers, np.nan)  # each process's samples per second ("speed" balance)
        # The batch is cut for as many processes as can compute at once: more workers than CPUs take
        # the same pieces (so such a pool computes what a pool of `available_cpus()` computes).
        self.cut_for = min(pool.workers, available_cpus())
        # Known to the pool (whose close() closes it) and to the caller before it holds anything.
        with deferred_signals():
            pool.attached = self
            if opened is not None:
                opened.append(self)
            self.thread_limit = thread_limit(self.threads_per_worker)
        try:
            parameters = SharedArray.copy_of(model.parameters, keep=self.shared)
            with deferred_signals():
                replica.bind(model, parameters.array, np.zeros_like(model.gradients))
                self.bound = True
            data_specs, self.indices = None, None
            if data is not None:
                data_specs = self._data_specs(data)
                self.indices = SharedArray((arrays.count(data[0]),), np.int64, keep=self.shared)
            pool.call_all(
                [
                    (
                        "attach",
                        replica.blueprint(model),
                        parameters.spec,
                        data_specs,
                        self.indices.spec if self.indices else None,
                        self.threads_per_worker,
                        self.spin,
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
        were forked holding the same arrays (`data_key`), else the specs of shared copies (`data_specs`)."""
        if self.pool.inherited is not None and self.pool.inherited_key == data_key(data):
            return "inherited"
        shared = iter(self.pool.data.get("train", [a for a in flat(data) if a is not None]))
        return data_specs(data[0], data[1], [None if a is None else next(shared).spec for a in flat(data)])

    def timeout_for(self, seconds) -> float:
        """How long to wait for the workers' answers to a step whose own pieces took `seconds`."""
        if self.failing:
            return CLEANUP_SECONDS
        recent = [*self.recent_steps, seconds] if seconds else list(self.recent_steps)
        return pool_timeout(self.pool, self.step_timeout, statistics.median(recent) if recent else 0.0)

    def gradients(self, x, y, sample_weight, indices, step):
        """The batch's mean gradient into model.gradients; (loss sum, metric sums).

        The batch is cut into pieces (`pieces.piece_bounds`) that this process and the workers take
        from a queue as each becomes free; the pieces' rows are added in piece order. (To be measured
        against, `pieces.BALANCE` "speed" shares the pieces out before the step in proportion to each
        process's measured speed, and "equal" cuts one equal shard per process.)
        """
        started = time.perf_counter()
        pool, batch = self.pool, len(indices)
        assigning = self.balance in ("speed", "equal")
        if self.balance == "equal":
            bounds = piece_bounds(batch, self.workers, per_process=1)
        else:
            bounds = piece_bounds(batch, self.cut_for)
        edges = (0, *(hi for _, hi in bounds))
        rows = self._rows_for(len(bounds))
        if self.step_open:  # the last step was cut short: wait out its answers (its pieces are void)
            pool.collect_all(self.timeout_for(0.0), check=False)
        self.step_open = True
        self.steps_sent += 1
        number, wait = self.steps_sent, self.timeout_for(0.0)
        data = self.data
        of_its_own = data is None or not (x is data[0] and y is data[1] and sample_weight is data[2])
        if of_its_own:  # not rows of the training set (a generator's batch): its copy in the batch buffers
            held, held_rows = self._hold_batch(x, y, sample_weight, indices), None
        else:  # rows of the training set the workers hold: only the indices travel
            self.indices.array[:batch] = indices
            held, held_rows = (x, y, sample_weight), indices
        if assigning:
            speeds = self.speeds if self.balance == "speed" else np.ones(self.workers)
            queue, assigned = 0, pieces.assign_by_speed(bounds, speeds)
            for index, numbers in enumerate(assigned[1:]):
                if numbers:
                    pool.send(index, ("gradient", queue, step, edges, of_its_own, numbers), tag=number)
            own = assigned[0]
        else:
            queue = pool.post_pieces(number, len(bounds), wait)
            message = ("gradient", queue, step, edges, *((True,) if of_its_own else ()))
            for index in range(len(pool.processes)):
                pool.send(index, message, tag=number)
            own = claims(pool.queues[queue][0].fileno())
        done = {0: compute_pieces(self.model, held, held_rows, bounds, own, rows, step)}
        # The step is over when every piece is computed: a worker that came too late to take one
        # answers later, and nobody waits for it (a split made before the step waits for all it gave pieces to).
        expected = {i + 1 for i, numbers in enumerate(assigned[1:]) if numbers} if assigning else set()
        wait = self.timeout_for(sum(piece[3] for piece in done[0]))
        deadline, computed = time.monotonic() + wait, len(done[0])
        while computed < len(bounds) or not expected <= done.keys():
            if not pool.unanswered:  # cannot happen while the queues work as described; never spin on it
                pool.broken = f"{len(bounds) - computed} piece(s) of a step were taken and never computed"
                raise WorkerError(f"the worker pool is unusable: {pool.broken}")
            for index, tag, reply in pool.receive(deadline, wait, self.spin):
                if reply[0] == "error":
                    pool.raise_worker_error(index, reply[1])
                if tag == number:
                    done[index + 1] = reply[1]
                    computed += len(reply[1])
        self.step_open = False
        by_piece = {piece[0]: piece for results in done.values() for piece in results}
        total = rows[0]
        for piece in range(1, len(bounds)):
            total += rows[piece]
        replica.bind_gradients(self.model, total)
        seconds = time.perf_counter() - started
        per_process = [done.get(process, []) for process in range(self.workers)]
        self.timings.add(
            seconds,
            [sum(piece[3] for piece in results) for results in per_process],
            pieces=[len(results) for results in per_process],
            cpu_seconds=[sum(piece[4] for piece in results) for results in per_process],
        )
        if self.balance == "speed":
            self._measure_speeds(bounds, per_process)
        self.recent_steps.append(seconds)
        if self.first_step_seconds is None:
            self.first_step_seconds = seconds
        loss = sum(by_piece[piece][1] for piece in range(len(bounds)))
        return loss, sum(by_piece[piece][2] for piece in range(len(bounds)))

    def _hold_batch(self, x, y, sample_weight, indices) -> tuple:
        """Rows `indices` of (x, y, sample weights) copied into the batch buffers; the copies, as (x, y,
        sample weights or None). Buffers made anew (the first batch, a larger one) are shown to the workers."""
        made = self.batch.place([*arrays.parts(x), *arrays.parts(y), sample_weight], indices)
        specs = data_specs(x, y, self.batch.specs())
        if made:
            self.pool.call_all([("use_batch", specs)] * len(self.pool.processes), self.timeout_for(0.0))
        return from_flat(self.batch.views(len(indices)), specs)

    def _rows_for(self, count) -> np.ndarray:
        """The gradient rows of `count` pieces (made, or made larger, and shown to the workers when needed)."""
        if self.rows is None or len(self.rows.array) < count:
            size = self.model.parameters.size
            rows = SharedArray((count, size), self.model.dtype, keep=self.shared)
            self.pool.call_all([("use_rows", rows.spec)] * len(self.pool.processes), self.timeout_for(0.0))
            with deferred_signals():
                replica.bind_gradients(self.model, rows.array[0])
                old, self.rows = self.rows, rows
            if old is not None:
                self.shared.remove(old)
                old.release()
        return self.rows.array

    def _measure_speeds(self, bounds, per_process):
        """Smooth each process's samples per second of this step into `speeds` (the "speed" balance)."""
        for process, results in enumerate(per_process):
            seconds = sum(piece[3] for piece in results)
            if seconds > 0:
                samples = sum(bounds[piece[0]][1] - bounds[piece[0]][0] for piece in results)
                before = self.speeds[process]
                speed = samples / seconds
                self.speeds[process] = speed if np.isnan(before) else 0.7 * before + 0.3 * speed

    def predict(self, x, batch_size):
        """Outputs for `x` (a list of them for a model with several outputs): every process predicts a
        contiguous slice (this one the first).

        Inputs of more than one batch stay in the pool's shared memory after the call, so predicting
        again on the same arrays (a fit's validation set, every epoch) copies nothing; one batch (a
        generator's) is copied into buffers reused call after call.
        """
        n, parts, several = arrays.count(x), arrays.parts(x), isinstance(x, tuple)
        if n <= batch_size:
            self.predicted.place(parts)
            inputs = self.predicted.shared
        else:
            inputs = self.pool.data.get("inputs", parts)
        several_outputs = isinstance(self.model.output_shape, list)
        shapes = self.model.output_shape if several_outputs else [self.model.output_shape]
        if any(None in shape for shape in shapes):  # a sequence's length: known from one sample's output
            sample = self.model.predict_in_batches(arrays.take(x, slice(0, 1)), 1)
            shapes = [out.shape[1:] for out in (sample if several_outputs else [sample])]
        # Kept between calls: creating a segment each epoch would cost time, and a SIGKILL between its
        # creation and its registration with the resource tracker would leave it behind.
        outs = self.predictions.reserve([(n, *shape) for shape in shapes], self.model.dtype)
        (lo, hi), *others = shard_bounds(n, self.workers)
        specs, out_specs = tuple(shared.spec for shared in inputs), tuple(out.spec for out in outs)
        started = time.perf_counter()
        self.pool.send_all(
            [("predict", specs, several, out_specs, a, b, batch_size) for a, b in others], self.timeout_for(0.0)
        )
        if hi > lo:
            mine = arrays.from_parts([shared.array[lo:hi] for shared in inputs], several)
            write_outputs([out.array for out in outs], lo, hi, self.model.predict_in_batches(mine, batch_size))
        self.pool.collect_all(self.timeout_for(time.perf_counter() - started))
        copies = [out.array[:n].copy() for out in outs]
        return copies if several_outputs else copies[0]

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
                    self.batch.release()
                    self.predicted.release()
                    self.predictions.release()
                    if self.owns_pool:
                        self.pool.close()
