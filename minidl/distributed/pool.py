"""Data-parallel training and inference on a pool of worker processes.

Every batch is cut into N near-equal shards. The parent computes shard 0 itself and N-1 worker
processes compute the others, each with a replica of the model whose weights *are* the parent's
weights (one shared-memory buffer) and whose gradient buffer is its own row of a shared
(N, parameters) array; each writes its shard's share of the batch's mean gradient straight into its
row. The parent adds the rows and takes one optimizer step on the shared weights, which every
replica sees at once. The training data is put in shared memory once per `fit`; a step sends each
worker only a few numbers, and the batch's sample indices travel through a shared array too. So the
mathematics is that of one process (up to float summation order) and almost nothing is copied.

Why the parent computes a shard instead of only coordinating: a parent that just waits pays a
process wake-up and a pipe round trip per worker per step without overlapping them with any work
(measured here: 0.8 ms a step, 8 % of a LeNet step); computing shard 0 while the workers compute
theirs hides that latency and needs one process fewer.
"""

from __future__ import annotations

import multiprocessing as mp
import signal
import sys
import time
import warnings
from multiprocessing import connection, resource_tracker

import numpy as np

from .. import checks
from . import replica
from .base import Runner, RunnerSource, StepTimings, shard_bounds
from .resources import available_cpus
from .shared import SharedArray
from .worker import shard_gradient, worker_main

# How often a waiting parent checks that its workers are alive (the sentinels also wake it at once).
POLL_SECONDS = 1.0


class WorkerError(RuntimeError):
    """A worker process raised an exception or died; the message names the worker and the cause."""


def _user_stacklevel() -> int:
    """The `warnings.warn` stacklevel of the first caller outside minidl, so a warning names the user's line.

    `fit(workers=N)` reaches the pool through several minidl modules and contextlib; a fixed
    stacklevel would point at one of them instead.
    """
    frame, level = sys._getframe(1), 1
    while frame is not None and frame.f_globals.get("__name__", "").partition(".")[0] in ("minidl", "contextlib"):
        frame, level = frame.f_back, level + 1
    return level


class WorkerPool(RunnerSource):
    """N computing processes — this one and N-1 persistent workers — for `fit(..., workers=pool)`.

    Use as `with WorkerPool(N) as pool: model.fit(..., workers=pool)` to reuse it across calls.
    Every process limits its BLAS library to `threads_per_worker` threads (default 1) while it
    computes, so N processes on N cores do not fight over them. Worker k computes shard k (1..N-1).
    """

    def __init__(self, workers: int, threads_per_worker: int = 1, start_method: str | None = None):
        workers = checks.positive_int(workers, "workers")
        threads_per_worker = checks.positive_int(threads_per_worker, "threads_per_worker")
        cpus = available_cpus()
        if workers * threads_per_worker > cpus:
            warnings.warn(
                f"{workers} workers x {threads_per_worker} BLAS thread(s) on {cpus} CPU(s) "
                "oversubscribes the machine: expect it to be slower than fewer workers",
                RuntimeWarning,
                stacklevel=_user_stacklevel(),
            )
        self.workers, self.threads_per_worker = int(workers), int(threads_per_worker)
        self.timings = StepTimings()
        context = mp.get_context(start_method)
        # Workers must share the parent's tracker of shared memory, or each would start its own and
        # report the parent's segments as leaked when it exits.
        resource_tracker.ensure_running()
        self.processes, self.connections = [], []
        self.attached: PoolRunner | None = None
        # Workers sent a message whose answer was never read (a call cut short by an error or Ctrl-C).
        self.unanswered: set[int] = set()
        try:
            for index in range(1, self.workers):
                parent_end, child_end = context.Pipe()
                process = context.Process(
                    target=worker_main,
                    args=(child_end, index, self.threads_per_worker),
                    name=f"minidl-worker-{index}",
                    daemon=True,
                )
                process.start()
                child_end.close()
                self.processes.append(process)
                self.connections.append(parent_end)
        except BaseException:
            self.close()
            raise

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    def runner(self, model, data=None, owns_pool=False) -> PoolRunner:
        """Attach `model` (and optionally training data (x, y)) to the workers for one fit/evaluate/predict.

        The workers hold one model at a time, so a runner still attached is closed first.
        """
        if not self.processes:
            raise RuntimeError("this WorkerPool is closed")
        self.detach()
        self.timings = StepTimings()
        self.attached = PoolRunner(self, model, data, owns_pool)
        return self.attached

    def detach(self):
        """Close the runner attached last, if any: its model gets private buffers again."""
        runner, self.attached = self.attached, None
        if runner is not None:
            runner.close()

    # ----- messaging -----
    def call_all(self, messages) -> list:
        """Send one message per worker process, wait for every answer; raise WorkerError on a fault."""
        self.send_all(messages)
        return self.collect_all()

    def send_all(self, messages):
        """Send one message per worker process (answers still owed from a call cut short are dropped first)."""
        self._collect()
        for index, (conn, message) in enumerate(zip(self.connections, messages)):
            self.unanswered.add(index)
            try:
                conn.send(message)
            except OSError:
                self._raise_dead(index)

    def collect_all(self) -> list:
        """The answers to `send_all`, in worker order; raise WorkerError naming a worker that failed."""
        replies = self._collect()
        failed = [index for index in sorted(replies) if replies[index][0] == "error"]
        if failed:
            others = f"\n(workers {[i + 1 for i in failed[1:]]} raised too)" if len(failed) > 1 else ""
            index = failed[0]
            raise WorkerError(
                f"worker {index + 1} (pid {self.processes[index].pid}) raised:\n{replies[index][1]}{others}"
            )
        return [replies[index][1] for index in range(len(self.processes))]

    def _collect(self) -> dict:
        """Wait for the answer of every worker in `unanswered`, noticing at once a worker that dies."""
        replies = {}
        while self.unanswered:
            by_object = {self.connections[i]: i for i in self.unanswered}
            sentinels = {self.processes[i].sentinel: i for i in self.unanswered}
            ready = connection.wait([*by_object, *sentinels], timeout=POLL_SECONDS)
            for item in ready:
                if item in by_object:
                    index = by_object[item]
                    try:
                        replies[index] = item.recv()
                    except (EOFError, OSError):
                        self._raise_dead(index)
                    self.unanswered.discard(index)
            for item in ready:
                if item in sentinels and sentinels[item] in self.unanswered:
                    self._raise_dead(sentinels[item])
        return replies

    def _raise_dead(self, index):
        process = self.processes[index]
        process.join(timeout=0.1)
        code = process.exitcode
        cause = f"was killed by signal {-code}" if code is not None and code < 0 else f"exited with code {code}"
        hint = " (SIGKILL: often the out-of-memory killer)" if code == -signal.SIGKILL else ""
        raise WorkerError(f"worker {index + 1} (pid {process.pid}) {cause}{hint}")

    def close(self):
        """Detach the model, stop every worker (politely, then by force) and wait for them; safe to call twice."""
        try:
            self.detach()
        finally:
            for conn in self.connections:
                try:
                    conn.send(("stop",))
                except (OSError, ValueError):
                    pass
            for process in self.processes:
                process.join(timeout=2)
                if process.is_alive():
                    process.kill()
                    process.join(timeout=2)
            for conn in self.connections:
                conn.close()
            self.processes, self.connections, self.unanswered = [], [], set()


class PoolRunner(Runner):
    """One model attached to a WorkerPool: the runner `fit`, `evaluate` and `predict` use."""

    def __init__(self, pool: WorkerPool, model, data, owns_pool):
        self.pool, self.model, self.owns_pool = pool, model, owns_pool
        self.closed = False
        self.workers, self.threads_per_worker = pool.workers, pool.threads_per_worker
        self.shared: list[SharedArray] = []
        self.private_buffers = (model.parameters, model.gradients)
        from threadpoolctl import threadpool_limits

        self.thread_limit = threadpool_limits(pool.threads_per_worker)
        try:
            self.parameters = self._share(model.parameters)
            self.gradient_rows = self._share(np.zeros((pool.workers, model.parameters.size), model.dtype))
            # The parent's own shard goes to row 0, which then collects the sum of all rows.
            replica.bind(model, self.parameters.array, self.gradient_rows.array[0])
            self.data = self.indices = None
            if data is not None:
                self.data = [self._share(np.ascontiguousarray(a)) for a in data]
                self.indices = self._share(np.zeros(len(data[0]), np.int64))
            blueprint = replica.blueprint(model)
            pool.call_all(
                [
                    (
                        "attach",
                        blueprint,
                        self.parameters.spec,
                        self.gradient_rows.spec,
                        [a.spec for a in self.data] if self.data else None,
                        self.indices.spec if self.indices else None,
                    )
                ]
                * len(pool.processes)
            )
        except BaseException:
            self.close()
            raise

    def _share(self, values) -> SharedArray:
        shared = SharedArray.copy_of(values)
        self.shared.append(shared)
        return shared

    def gradients(self, x, y, indices, step):
        """The batch's mean gradient into model.gradients (shard 0 here, the rest in the workers); (loss, correct)."""
        started = time.perf_counter()
        batch = len(indices)
        self.indices.array[:batch] = indices
        (lo, hi), *others = shard_bounds(batch, self.workers)
        self.pool.send_all([("gradient", step, a, b, batch) for a, b in others])
        own = shard_gradient(self.model, x, y, indices[lo:hi], lo, batch, step)
        answers = [own, *self.pool.collect_all()]
        rows = self.gradient_rows.array
        if len(rows) > 1:
            rows[0] += rows[1:].sum(axis=0)
        self.pool.timings.add(time.perf_counter() - started, max(a[2] for a in answers))
        return sum(a[0] for a in answers), sum(a[1] for a in answers)

    def predict(self, x, batch_size):
        """Outputs for `x`: every process predicts a contiguous slice (this one the first)."""
        inputs = SharedArray.copy_of(np.ascontiguousarray(x))
        outputs = SharedArray((len(x), *self.model.output_shape), self.model.dtype)
        try:
            (lo, hi), *others = shard_bounds(len(x), self.workers)
            self.pool.send_all([("predict", inputs.spec, outputs.spec, a, b, batch_size) for a, b in others])
            if hi > lo:
                outputs.array[lo:hi] = self.model.predict_in_batches(inputs.array[lo:hi], batch_size)
            self.pool.collect_all()
            return outputs.array.copy()
        finally:
            inputs.release()
            outputs.release()

    def close(self):
        """Detach the workers, give the model private buffers again and free the shared memory; safe twice."""
        if self.closed:
            return
        self.closed = True
        if self.pool.attached is self:
            self.pool.attached = None
        try:
            if self.pool.processes:
                try:
                    self.pool.call_all([("detach",)] * len(self.pool.processes))
                except (WorkerError, OSError):
                    self.pool.close()
        finally:
            self.thread_limit.restore_original_limits()
            replica.bind(self.model, *self.private_buffers)
            for shared in self.shared:
                shared.release()
            self.shared = []
            if self.owns_pool:
                self.pool.close()
