"""Data-parallel training and inference on a pool of worker processes.

Every batch is cut into N near-equal shards. The parent computes shard 0 itself and N-1 worker
processes compute the others, each with a replica of the model whose weights *are* the parent's
weights (one shared-memory buffer) and whose gradient buffer is its own row of a shared
(N, parameters) array; each writes its shard's share of the batch's mean gradient straight into its
row. The parent adds the rows and takes one optimizer step on the shared weights, which every
replica sees at once. The training data is put in shared memory once per pool (see `data.py`); a
step sends each worker only a few numbers, and the batch's sample indices travel through a shared
array too. So the mathematics is that of one process (up to float summation order) and almost
nothing is copied. The runner that does this for one fit / evaluate / predict is in `pool_runner.py`.

Why the parent computes a shard instead of only coordinating: a parent that just waits pays a
process wake-up and a pipe round trip per worker per step without overlapping them with any work
(measured here: 0.8 ms a step, 8 % of a LeNet step); computing shard 0 while the workers compute
theirs hides that latency and needs one process fewer.

No hangs: every wait for an answer has a deadline (`step_timeout`; by default derived from the
measured step time), a dead worker is noticed through its sentinel at once, and a message is written
to a pipe whole or not at all (`interrupts.deferred_signals`). A pool whose pipes may hold half a
message or an answer nobody will read is *broken*: it is closed instead of being used again.
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import pickle
import signal
import sys
import time
import warnings
from multiprocessing import connection, resource_tracker

from ..utils import checks
from ..utils.interrupts import deferred_signals
from .base import RunnerSource
from .data import SharedDataCache
from .faults import ATOMIC_MESSAGE_BYTES, POLL_SECONDS, WorkerError, is_stopped
from .pool_runner import PoolRunner
from .resources import available_cpus, default_threads, thread_limit
from .worker import worker_main


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

    Use as `with WorkerPool(N) as pool: model.fit(..., workers=pool)` to reuse it across calls; the
    training set passed to several fits is placed in shared memory once. Every process limits its
    BLAS library to `threads_per_worker` threads (default `resources.default_threads()`: 1), so N
    processes on N cores do not fight over them; this process keeps that limit while the pool is open.
    `step_timeout` (seconds, default None: max(30 s, 50 x the median step)) is how long a worker may
    take to answer before `WorkerError`.
    `inherit` (x, y): training data forked workers take over from this process at start, copy-on-write
    (what `fit(workers=N)` does with the pool it starts: no copy into shared memory at all).
    """

    def __init__(
        self, workers: int, threads_per_worker=None, start_method: str | None = None, step_timeout=None, inherit=None
    ):
        started = time.perf_counter()
        workers = checks.positive_int(workers, "workers")
        if threads_per_worker is None:
            threads_per_worker = default_threads()
        threads_per_worker = checks.positive_int(threads_per_worker, "threads_per_worker")
        self.step_timeout = None if step_timeout is None else checks.positive_number(step_timeout, "step_timeout")
        cpus = available_cpus()
        if workers * threads_per_worker > cpus:
            warnings.warn(
                f"{workers} workers x {threads_per_worker} BLAS thread(s) on {cpus} CPU(s) "
                "oversubscribes the machine: expect it to be slower than fewer workers",
                RuntimeWarning,
                stacklevel=_user_stacklevel(),
            )
        self.workers, self.threads_per_worker = int(workers), int(threads_per_worker)
        self.timings = None
        self.data = SharedDataCache()
        context = mp.get_context(start_method)
        # Training data (x, y) known when the pool starts: forked workers inherit it, copy-on-write,
        # instead of it being copied into shared memory (a spawned worker would get it pickled: no).
        self.inherited = tuple(inherit) if inherit is not None and context.get_start_method() == "fork" else None
        self.processes, self.connections = [], []
        self.attached = None
        # Workers sent a message whose answer was not read yet (also after a call cut short).
        self.unanswered: set[int] = set()
        self.broken: str | None = None
        self.is_closed = False
        # This process computes too, so it takes the workers' thread count for the pool's life, and
        # before any fork: a limit set after one makes OpenBLAS start its helper thread again, which
        # spins for ~0.1 s against the workers (measured: the first steps of a pool 2-5x slower).
        with deferred_signals():  # a limit set is a limit `close` restores
            self.thread_limit = thread_limit(self.threads_per_worker)
        try:
            # Workers must share the parent's tracker of shared memory, or each would start its own
            # and report the parent's segments as leaked when it exits.
            resource_tracker.ensure_running()
            for index in range(1, self.workers):
                parent_end, child_end = context.Pipe()
                process = context.Process(
                    target=worker_main,
                    args=(child_end, index, self.threads_per_worker, self.inherited),
                    name=f"minidl-worker-{index}",
                    daemon=True,
                )
                with deferred_signals():  # a started process is always in the list that close() stops
                    process.start()
                    self.processes.append(process)
                    self.connections.append(parent_end)
                child_end.close()
        except BaseException:
            self.close()
            raise
        self.startup_seconds = time.perf_counter() - started

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    def runner(self, model, data=None, owns_pool=False, threads=None, step_timeout=None, opened=None):
        """Attach `model` (and optionally training data (x, y)) to the workers for one fit/evaluate/predict.

        The workers hold one model at a time, so a runner still attached is closed first.
        """
        if self.is_closed:
            raise RuntimeError("this WorkerPool is closed")
        if self.broken:
            raise RuntimeError(f"this WorkerPool is unusable ({self.broken}): close it and start a new one")
        self.detach()
        runner = PoolRunner(self, model, data, owns_pool, threads, step_timeout, opened)
        self.timings = runner.timings
        return runner

    def detach(self):
        """Close the runner attached last, if any: its model gets private buffers again."""
        runner, self.attached = self.attached, None
        if runner is not None:
            runner.close()

    # ----- messaging -----
    def call_all(self, messages, timeout) -> list:
        """Send one message per worker process, wait up to `timeout` s for every answer (see `collect_all`)."""
        self.send_all(messages, timeout)
        return self.collect_all(timeout)

    def send_all(self, messages, timeout):
        """Send one message per worker (answers still owed from a call cut short are read and dropped first)."""
        self._collect(timeout)
        for index, message in enumerate(messages):
            self._send(index, message)

    def _send(self, index, message):
        if self.broken:
            raise WorkerError(f"the worker pool is unusable: {self.broken}")
        data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
        small = len(data) <= ATOMIC_MESSAGE_BYTES
        try:
            with deferred_signals() if small else contextlib.nullcontext():
                self.connections[index].send_bytes(data)
                self.unanswered.add(index)
        except OSError:
            self.broken = f"worker {index + 1} could not be sent a message"
            self._raise_dead(index)
        except BaseException:
            # A large message cut short: the worker may be waiting for the rest of it.
            self.broken = f"a message to worker {index + 1} was interrupted"
            raise

    def collect_all(self, timeout) -> list:
        """The answers to `send_all`, in worker order; WorkerError naming a worker that failed or took too long."""
        replies = self._collect(timeout)
        failed = [index for index in sorted(replies) if replies[index][0] == "error"]
        if failed:
            others = f" (workers {[i + 1 for i in failed[1:]]} raised too)" if len(failed) > 1 else ""
            index = failed[0]
            trace = replies[index][1]
            last = trace.strip().splitlines()[-1] if trace.strip() else "an exception"
            raise WorkerError(
                f"worker {index + 1} (pid {self.processes[index].pid}) raised {last}{others}\n{trace}", trace
            )
        return [replies[index][1] for index in range(len(self.processes))]

    def _collect(self, timeout) -> dict:
        """Wait for the answer of every worker in `unanswered`, noticing at once a worker that dies."""
        replies, deadline = {}, time.monotonic() + timeout
        while self.unanswered:
            left = deadline - time.monotonic()
            if left <= 0:
                self._raise_timeout(min(self.unanswered), timeout)
            by_object = {self.connections[i]: i for i in self.unanswered}
            sentinels = {self.processes[i].sentinel: i for i in self.unanswered}
            ready = connection.wait([*by_object, *sentinels], timeout=min(POLL_SECONDS, left))
            for item in ready:
                if item in by_object:
                    index = by_object[item]
                    with deferred_signals():  # an answer is read whole, and then no longer owed
                        try:
                            replies[index] = item.recv()
                        except (EOFError, OSError):
                            self.broken = f"worker {index + 1} died"
                            self._raise_dead(index)
                        self.unanswered.discard(index)
            for item in ready:
                if item in sentinels and sentinels[item] in self.unanswered:
                    self.broken = f"worker {sentinels[item] + 1} died"
                    self._raise_dead(sentinels[item])
        return replies

    def _raise_dead(self, index):
        process = self.processes[index]
        process.join(timeout=0.1)
        code = process.exitcode
        cause = f"was killed by signal {-code}" if code is not None and code < 0 else f"exited with code {code}"
        hint = " (SIGKILL: often the out-of-memory killer)" if code == -signal.SIGKILL else ""
        raise WorkerError(f"worker {index + 1} (pid {process.pid}) {cause}{hint}")

    def _raise_timeout(self, index, timeout):
        process = self.processes[index]
        self.broken = f"worker {index + 1} stopped answering"
        state = " It is stopped (SIGSTOP or a debugger)." if is_stopped(process.pid) else ""
        raise WorkerError(
            f"worker {index + 1} (pid {process.pid}) has not answered within {timeout:.1f} s.{state} "
            f"Set step_timeout= on fit or WorkerPool if its steps are really that slow."
        )

    def close(self):
        """Detach the model, stop every worker (politely, then by force) and wait for them; safe to call twice.

        Runs whole, with Ctrl-C held back until it is done (at most a few seconds: see `_stop_processes`).
        """
        with deferred_signals():
            self.is_closed = True
            try:
                self.detach()
            finally:
                try:
                    self._stop_processes()
                finally:
                    self.data.release()
                    self.thread_limit.restore_original_limits()

    def _stop_processes(self):
        processes, connections = self.processes, self.connections
        self.processes, self.connections = [], []
        polite = not self.broken and not self.unanswered
        self.unanswered = set()
        try:
            if polite:
                for conn in connections:
                    with contextlib.suppress(OSError, ValueError):
                        conn.send(("stop",))
                deadline = time.monotonic() + 2
                for process in processes:
                    process.join(timeout=max(deadline - time.monotonic(), 0))
        finally:
            for process in processes:
                if process.is_alive():
                    process.kill()
            for process in processes:
                process.join(timeout=2)
            for conn in connections:
                conn.close()
