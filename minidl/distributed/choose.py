"""Choosing the runner for a call: one explicit decision from `workers=` and `backend=`."""

from __future__ import annotations

import contextlib
import weakref

from ..utils import checks
from ..utils.interrupts import deferred_signals
from .base import Runner, RunnerSource
from .local import LocalRunner

BACKENDS = ("pool", "mpi")

# The WorkerPool each model was last given by its user, so that `evaluate(workers=N)` /
# `predict(workers=N)` reuse it while it is open instead of starting N processes again.
_pools_by_model: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def make_runner(
    model, workers=1, backend="pool", data=None, threads=None, step_timeout=None, opened=None, batch_size=None
) -> Runner:
    """The runner for `workers` / `backend`.

    `workers` is a count (1: this process; N: a worker pool started for this call — or the open pool
    of that size the user passed to an earlier call on this model —, or N MPI ranks) or a
    `RunnerSource` the caller keeps across calls (a `WorkerPool` or an `MPIBackend`).
    `data` is the training set (x, y, sample_weight), which a pool places in shared memory once. `threads`: BLAS
    threads per process (None: `resources.default_threads()`); `step_timeout`: seconds a pool's worker
    may take to answer (None: max(30 s, 50 x the median step)). `opened` (a list) receives, the moment
    they exist, the runner and a pool started for it, so a Ctrl-C at any point cannot orphan them.
    `batch_size` (None: not known yet): a pool of more workers than a batch has samples is refused before
    any process starts, since the extra ones could never compute (and a typo like 10000 would start them).
    """
    opened = [] if opened is None else opened
    if threads is not None:
        threads = checks.positive_int(threads, "threads")
    if step_timeout is not None:
        step_timeout = checks.positive_number(step_timeout, "step_timeout")
    if isinstance(workers, RunnerSource) or workers != 1 or backend == "mpi":
        _refuse_batch_dependent_layers(model)
    from .pool import WorkerPool

    if isinstance(workers, WorkerPool):
        _pools_by_model[model] = workers
        return workers.runner(model, data, threads=threads, step_timeout=step_timeout, opened=opened)
    if isinstance(workers, RunnerSource):
        return _opened(opened, workers.runner(model, data))
    checks.one_of(backend, "backend", BACKENDS)
    if backend == "mpi":
        from .mpi import MPIBackend

        return _opened(opened, MPIBackend(threads_per_rank=threads, expected_ranks=workers).runner(model, data))
    if checks.positive_int(workers, "workers") == 1:
        return LocalRunner(model, threads, opened)
    if batch_size is not None and workers > batch_size:
        raise ValueError(
            f"workers={workers} with batches of {batch_size} samples: {workers - batch_size} worker(s) would "
            f"have nothing to compute at every step; use at most {batch_size} workers, or larger batches"
        )
    kept = _pools_by_model.get(model)
    if kept is not None and kept.workers == workers and not (kept.is_closed or kept.broken or kept.attached):
        return kept.runner(model, data, threads=threads, step_timeout=step_timeout, opened=opened)
    with deferred_signals():  # the pool is in `opened` as soon as it exists (start-up takes milliseconds)
        opened.append(WorkerPool(workers, threads_per_worker=threads, step_timeout=step_timeout, inherit=data))
    return opened[-1].runner(model, data, owns_pool=True, opened=opened)


def _refuse_batch_dependent_layers(model):
    """A layer whose training output depends on the whole batch (BatchNormalization) would see only
    its shard's statistics in each process: different mathematics from one process, so refuse."""
    dependent = [layer.name for layer in model.layers if layer.batch_dependent]
    if dependent:
        raise NotImplementedError(
            f"model {model.name!r} has batch-dependent layers {dependent} (BatchNormalization): training them "
            "with workers > 1 would need synchronised batch statistics, which minidl does not implement; "
            "use workers=1"
        )


def _opened(opened, runner):
    opened.append(runner)
    return runner


@contextlib.contextmanager
def runner_for(model, workers=1, backend="pool", data=None, threads=None, step_timeout=None, batch_size=None):
    """`make_runner` as a context: `fail()` on an exception, `close()` always — also when the exception
    (a Ctrl-C) comes while the runner is still being made."""
    opened = []
    try:
        yield make_runner(model, workers, backend, data, threads, step_timeout, opened, batch_size)
    except BaseException:
        for item in opened:
            if isinstance(item, Runner):
                item.fail()
        raise
    finally:
        with deferred_signals():  # a Ctrl-C now would leave the rest unclosed: it waits (a few seconds at most)
            for item in reversed(opened):
                item.close()
