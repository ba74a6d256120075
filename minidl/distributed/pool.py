"""Data-parallel training and inference on a pool of worker processes.

Every training batch is cut into pieces (see `pieces.py`). This process and N-1 worker processes
take the pieces from a queue as each becomes free, and nobody waits for one that comes too late to
take any. Each holds a replica of the model whose weights *are* the parent's weights (one
shared-memory buffer) and writes each piece's share of the batch's mean gradient into that piece's
row of a shared array. The parent
adds the rows in piece order and takes one optimizer step on the shared weights, which every
replica sees at once. The training data is put in shared memory once per pool (see `data.py`); a
step sends each worker only a few numbers, and the batch's sample indices travel through a shared
array too. So the mathematics is that of one process (up to float summation order), a run does not
depend on which process computed which piece, and almost nothing is copied. The runner that does
this for one fit / evaluate / predict is in `pool_runner.py`.

Why the parent computes too instead of only coordinating: a parent that just waits pays a process
wake-up and a pipe round trip per worker per step without overlapping them with any work
(measured here: 0.8 ms a step, 8 % of a LeNet step); computing pieces while the workers wake up hides
that latency and needs one process fewer.

No hangs: every wait for an answer has a deadline (`step_timeout`; by default derived from the
measured step time), a dead worker is noticed through its sentinel at once, and a message is written
to a pipe whole or not at all (`interrupts.deferred_signals`). A pool whose pipes may hold half a
message or an answer nobody will read is *broken*: it is closed instead of being used again.
"""

from __future__ import annotations

import collections
import contextlib
import multiprocessing as mp
import os
import pickle
import signal
import sys
import time
import warnings
from multiprocessing import connection, resource_tracker

from ..utils import checks
from ..utils.interrupts import deferred_signals
from .base import RunnerSource
from .data import SharedDataCache, as_data, data_key
from .faults import ATOMIC_MESSAGE_BYTES, POLL_SECONDS, WorkerError, is_stopped
from .pool_runner import PoolRunner
from .resources import available_cpus, default_threads, thread_limit
from .worker import look_for_messages, worker_main


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
    `inherit` (x, y) or (x, y, sample_weight), x a list of arrays for several inputs: training data forked
    workers take over from this process at start, copy-on-write (what `fit(workers=N)` does with the pool
    it starts: no copy into shared memory at all); used by a fit given the same arrays, as
    `data.SharedDataCache` tells them (same memory and sampled rows: rows changed in place after the pool
    started, outside the sampled ones, would reach the workers with their old values).
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
        self.inherited = as_data(inherit) if inherit is not None and context.get_start_method() == "fork" else None
        self.inherited_key = None if self.inherited is None else data_key(self.inherited)
        self.processes, self.connections = [], []
        self.attached = None
        # Per worker, the tags of the messages whose answers were not read yet, oldest first (also
        # after a call cut short): answers come back in the order the messages were sent.
        self.owed: list[collections.deque] = []
        # The two queues of a step's pieces (read end, write end): one byte per piece number, taken
        # by whichever process is free; pipes, so a piece is taken by exactly one process.
        self.queues = []
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
            for _ in range(2):
                with deferred_signals():  # a pipe made is a pipe `close` closes
                    self.queues.append(context.Pipe(duplex=False))
                os.set_blocking(self.queues[-1][0].fileno(), False)
            for index in range(1, self.workers):
                parent_end, child_end = context.Pipe()
                process = context.Process(
                    target=worker_main,
                    args=(child_end, index, self.threads_per_worker, self.inherited, [r for r, _ in self.queues]),
                    name=f"minidl-worker-{index}",
                    daemon=True,
                )
                with deferred_signals():  # a started process is always in the list that close() stops
                    process.start()
                    self.processes.append(process)
                    self.connections.append(parent_end)
                    self.owed.append(collections.deque())
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
        """Send one message per worker (answers still owed from earlier messages are read and dropped first)."""
        self.collect_all(timeout, check=False)
        for index, message in enumerate(messages):
            self.send(index, message)

    def send(self, index, message, tag=None):
        """Send `message` to worker `index`; its answer is owed, and comes back tagged `tag` (see `receive`)."""
        if self.broken:
            raise WorkerError(f"the worker pool is unusable: {self.broken}")
        data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
        small = len(data) <= ATOMIC_MESSAGE_BYTES
        try:
            with deferred_signals() if small else contextlib.nullcontext():
                self.connections[index].send_bytes(data)
                self.owed[index].append(tag)
        except OSError:
            self.broken = f"worker {index + 1} could not be sent a message"
            self._raise_dead(index)
        except BaseException:
            # A large message cut short: the worker may be waiting for the rest of it.
            self.broken = f"a message to worker {index + 1} was interrupted"
            raise

    @property
    def unanswered(self) -> set[int]:
        """The workers that owe an answer."""
        return {index for index, owed in enumerate(self.owed) if owed}

    def collect_all(self, timeout, check=True) -> list:
        """Every answer owed, waiting up to `timeout` s; the last one of each worker, in worker order.

        With `check`, WorkerError naming the first worker that raised (its traceback attached).
        """
        deadline = time.monotonic() + timeout
        last = {}
        while self.unanswered:
            for index, _, reply in self.receive(deadline, timeout):
                last[index] = reply
        failed = [index for index in sorted(last) if last[index][0] == "error"]
        if check and failed:
            others = f" (workers {[i + 1 for i in failed[1:]]} raised too)" if len(failed) > 1 else ""
            self.raise_worker_error(failed[0], last[failed[0]][1], others)
        return [last.get(index, (None, None))[1] for index in range(len(self.processes))]

    def receive(self, deadline, timeout, spin=0.0) -> list[tuple[int, object, tuple]]:
        """The answers that have come, as (worker index, tag given to `send`, answer); waits until at
        least one has come, or until `deadline` (time.monotonic(); WorkerError naming a worker that
        owes an answer, `timeout` being what the message says was allowed). A worker that dies is
        noticed at once. `spin` (seconds): look for answers that long before sleeping in the kernel.
        """
        waiting = self.unanswered
        if not waiting:
            return []
        by_object = {self.connections[i]: i for i in waiting}
        sentinels = {self.processes[i].sentinel: i for i in waiting}
        ready = look_for_messages(list(by_object), spin) if spin > 0 else []
        while not ready:
            left = deadline - time.monotonic()
            if left <= 0:
                stopped = [i for i in sorted(waiting) if is_stopped(self.processes[i].pid)]
                self._raise_timeout((stopped or sorted(waiting))[0], timeout)
            ready = connection.wait([*by_object, *sentinels], timeout=min(POLL_SECONDS, left))
        replies = []
        for item in ready:
            if item in by_object:
                index = by_object[item]
                with deferred_signals():  # an answer is read whole, and then no longer owed
                    try:
                        reply = item.recv()
                    except (EOFError, OSError):
                        self.broken = f"worker {index + 1} died"
                        self._raise_dead(index)
                    replies.append((index, self.owed[index].popleft(), reply))
        for item in ready:
            if item in sentinels and self.owed[sentinels[item]]:
                self.broken = f"worker {sentinels[item] + 1} died"
                self._raise_dead(sentinels[item])
        return replies

    def raise_worker_error(self, index, trace, others=""):
        """WorkerError naming worker `index`, which raised: its last traceback line, the traceback attached."""
        last = trace.strip().splitlines()[-1] if trace.strip() else "an exception"
        raise WorkerError(f"worker {index + 1} (pid {self.processes[index].pid}) raised {last}{others}\n{trace}", trace)

    # ----- the pieces of a step -----
    def post_pieces(self, step_number, pieces, timeout) -> int:
        """Put piece numbers 0 .. pieces-1 of training step `step_number` in a queue; returns the queue.

        Steps alternate between two queues, so a worker may still answer the step before (having
        found its queue empty: it came too late to take a piece) while this one runs. Before a queue
        is used again, every worker has answered the step that used it last, and what an interrupted
        step left in it is thrown away.
        """
        queue = step_number % 2
        deadline = time.monotonic() + timeout
        while any(owed and (len(owed) > 1 or owed[0] != step_number - 1) for owed in self.owed):
            for index, _, reply in self.receive(deadline, timeout):
                if reply[0] == "error":
                    self.raise_worker_error(index, reply[1])
        reader, writer = self.queues[queue]
        with contextlib.suppress(BlockingIOError):
            while os.read(reader.fileno(), 65536):
                pass
        os.write(writer.fileno(), bytes(range(pieces)))  # <= PIPE_BUF bytes: written whole, at once
        return queue

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
        processes, connections, queues = self.processes, self.connections, self.queues
        polite = not self.broken and not self.unanswered
        self.processes, self.connections, self.owed, self.queues = [], [], [], []
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
            for conn in [*connections, *(end for pipe in queues for end in pipe)]:
                conn.close()
