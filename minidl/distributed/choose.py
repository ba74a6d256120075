"""Choosing the runner for a call: one explicit decision from `workers=` and `backend=`."""

from __future__ import annotations

import contextlib

from .. import checks
from .base import Runner, RunnerSource
from .local import LocalRunner

BACKENDS = ("pool", "mpi")


def make_runner(model, workers=1, backend="pool", data=None) -> Runner:
    """The runner for `workers` / `backend`.

    `workers` is a count (1: this process; N: a worker pool started for this call, or N MPI ranks)
    or a `RunnerSource` the caller keeps across calls (a `WorkerPool` or an `MPIBackend`).
    `data` is the training set (x, y), which a pool places in shared memory once.
    """
    if isinstance(workers, RunnerSource) or workers != 1 or backend == "mpi":
        _refuse_batch_dependent_layers(model)
    if isinstance(workers, RunnerSource):
        return workers.runner(model, data)
    checks.one_of(backend, "backend", BACKENDS)
    if backend == "mpi":
        from .mpi import MPIBackend

        return MPIBackend().runner(model, data)
    if checks.positive_int(workers, "workers") == 1:
        return LocalRunner(model)
    from .pool import WorkerPool

    pool = WorkerPool(workers)
    try:
        return pool.runner(model, data, owns_pool=True)
    except BaseException:
        pool.close()
        raise


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


@contextlib.contextmanager
def runner_for(model, workers=1, backend="pool", data=None):
    """`make_runner` as a context: `fail()` on an exception, `close()` always."""
    runner = make_runner(model, workers, backend, data)
    try:
        yield runner
    except BaseException:
        runner.fail()
        raise
    finally:
        runner.close()
