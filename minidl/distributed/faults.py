"""How the pool notices trouble: the error it raises and the deadlines it keeps.

A worker that raised, died or stopped answering becomes a `WorkerError` naming it. How long to wait
for an answer: `step_timeout` when one was set (on `fit` or `WorkerPool`), else max(30 s, 50 x the
median step) — generous, because a busy shared machine can slow one process down many times over,
but finite, so a stopped (SIGSTOP) or deadlocked worker is reported instead of waited for forever.
"""

from __future__ import annotations

# How often a waiting parent checks that its workers are alive (the sentinels also wake it at once).
POLL_SECONDS = 1.0
# The shortest automatic step timeout, and how many median steps a worker may take before it is
# declared stuck: generous, because a busy shared machine can slow one process down many times over.
MIN_STEP_TIMEOUT, STEP_TIMEOUT_FACTOR = 30.0, 50
# After Ctrl-C or an error, how long clean-up waits for workers still computing before killing them.
CLEANUP_SECONDS = 1.0
# How long closing waits for idle workers to acknowledge (they answer in milliseconds when healthy).
CLOSE_SECONDS = 5.0
# Messages up to this size are written with Ctrl-C held back: a pipe takes them in one write, at once.
ATOMIC_MESSAGE_BYTES = 16384


class WorkerError(RuntimeError):
    """A worker process raised an exception, died or stopped answering; the message names the worker.

    `worker_traceback` holds the worker's own traceback when it raised (None when it died or hung).
    """

    def __init__(self, message, worker_traceback=None):
        super().__init__(message)
        self.worker_traceback = worker_traceback


def automatic_timeout(step_seconds: float) -> float:
    """The default step timeout for steps that take `step_seconds`: max(30 s, 50 x the step)."""
    return max(MIN_STEP_TIMEOUT, STEP_TIMEOUT_FACTOR * step_seconds)


def is_stopped(pid) -> bool:
    """Whether process `pid` is stopped (state T in /proc; False where /proc is missing)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rpartition(")")[2].split()[0] in ("T", "t")
    except (OSError, IndexError):
        return False


def pool_timeout(pool, runner_timeout, step_seconds) -> float:
    """The wait allowed for an answer: the runner's or pool's setting, else derived from `step_seconds`."""
    setting = runner_timeout if runner_timeout is not None else pool.step_timeout
    return setting if setting is not None else automatic_timeout(step_seconds)
