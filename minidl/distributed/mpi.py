"""The MPI backend: the same gradient split as the worker pool, across machines, with mpi4py.

Start K copies of a script with `mpiexec -n K ...` and call `fit(..., backend="mpi")`. Every rank
builds the same model from the same seed, loads the data itself and computes its shard of each batch;
one in-place `Allreduce` (sum) over a single flat buffer — the gradients followed by the shard's loss
sum and correct count — hands every rank the batch's mean gradient and metrics, and every rank takes
the same optimizer step, so the replicas never drift apart. Only rank 0 prints and writes statistics.
"""

from __future__ import annotations

import signal
import sys
import time
import traceback

import numpy as np

from . import replica
from .base import Runner, RunnerSource, StepTimings, shard_bounds
from .resources import blas_threads

INSTALL_HINT = (
    "the MPI backend needs mpi4py and an MPI library: pip install 'minidl[mpi]' "
    "(installs mpi4py and Open MPI's mpiexec), then run under `mpiexec -n K python ...`"
)


def import_mpi():
    """mpi4py's MPI module, or an ImportError that says how to install the `mpi` extra."""
    try:
        from mpi4py import MPI
    except ImportError as error:
        raise ImportError(f"{INSTALL_HINT} ({error})") from None
    return MPI


class MPIRunner(Runner):
    """Computes each batch's gradient with every MPI rank doing its shard (see the module docstring)."""

    def __init__(self, model, data=None, comm=None, threads_per_rank=1):
        from threadpoolctl import threadpool_limits

        self.thread_limit = threadpool_limits(threads_per_rank)
        # Ctrl-C reaches the ranks from mpiexec as SIGTERM: turn it into KeyboardInterrupt, so that
        # rank 0 records the run as interrupted before the job ends.
        self.previous_sigterm = signal.signal(signal.SIGTERM, _interrupt)
        self.MPI = import_mpi()
        self.comm = comm or self.MPI.COMM_WORLD
        self.rank, self.ranks = self.comm.Get_rank(), self.comm.Get_size()
        self.workers = self.ranks
        self.threads_per_worker = blas_threads()
        self.model = model
        self.timings = StepTimings()
        size = model.parameters.size
        # One buffer, one reduction per step: [gradients..., loss sum, correct count].
        self.buffer = np.zeros(size + 2, dtype=model.dtype)
        self.private_gradients = model.gradients
        replica.bind(model, model.parameters, self.buffer[:size])
        # Identical start and shuffling even if the ranks were seeded differently.
        model.seed = self.comm.bcast(model.seed, root=0)
        self.comm.Bcast(model.parameters, root=0)

    def gradients(self, x, y, indices, step):
        """The batch's mean gradient into model.gradients on every rank; returns (loss sum, correct)."""
        started = time.perf_counter()
        lo, hi = shard_bounds(len(indices), self.ranks)[self.rank]
        loss_sum, correct = 0.0, 0
        if hi > lo:
            shard = indices[lo:hi]
            loss_sum, correct = self.model.forward_backward(
                x[shard], y[shard], len(indices), step, positions=np.arange(lo, hi)
            )
        else:
            self.model.gradients[...] = 0
        self.buffer[-2:] = loss_sum, correct
        computed = time.perf_counter()
        self.comm.Allreduce(self.MPI.IN_PLACE, self.buffer, op=self.MPI.SUM)
        self.timings.add(time.perf_counter() - started, computed - started)
        return float(self.buffer[-2]), int(round(float(self.buffer[-1])))

    def predict(self, x, batch_size):
        """Every rank predicts its slice; all slices are gathered on every rank."""
        bounds = shard_bounds(len(x), self.ranks)
        lo, hi = bounds[self.rank]
        row = int(np.prod(self.model.output_shape))
        mine = (
            self.model.predict_in_batches(x[lo:hi], batch_size)
            if hi > lo
            else np.zeros((0, *self.model.output_shape), self.model.dtype)
        )
        out = np.empty((len(x), *self.model.output_shape), self.model.dtype)
        counts = [(b - a) * row for a, b in bounds]
        offsets = [a * row for a, _ in bounds]
        self.comm.Allgatherv(
            np.ascontiguousarray(mine),
            [out, counts, offsets, self.MPI.FLOAT if out.dtype == np.float32 else self.MPI.DOUBLE],
        )
        return out

    def fail(self):
        """A rank that hit an error stops the whole job, so no rank waits forever in a collective."""
        if self.ranks > 1:
            if isinstance(sys.exc_info()[1], KeyboardInterrupt):
                sys.stderr.write(f"[rank {self.rank}] interrupted, stopping all {self.ranks} ranks\n")
                code = 130
            else:
                sys.stderr.write(
                    f"[rank {self.rank}] fatal error, aborting all {self.ranks} ranks:\n{traceback.format_exc()}"
                )
                code = 1
            sys.stderr.flush()
            self.comm.Abort(code)

    def close(self):
        """Give the model its private gradient buffer back (the weights never left it)."""
        self.thread_limit.restore_original_limits()
        signal.signal(signal.SIGTERM, self.previous_sigterm)
        replica.bind(self.model, self.model.parameters, self.private_gradients)


def _interrupt(signum, frame):
    raise KeyboardInterrupt(f"terminated by signal {signum} (Ctrl-C under mpiexec)")


class MPIBackend(RunnerSource):
    """The MPI world as something `fit(..., workers=MPIBackend())` can use; keeps the last run's timings.

    Each rank limits its BLAS library to `threads_per_rank` threads (default 1: one rank per core).
    """

    def __init__(self, comm=None, threads_per_rank=1):
        self.comm, self.threads_per_rank = comm, threads_per_rank
        self.timings = None

    def runner(self, model, data=None) -> MPIRunner:
        """Attach `model` to the ranks for one fit/evaluate/predict."""
        runner = MPIRunner(model, data, self.comm, self.threads_per_rank)
        self.timings = runner.timings
        return runner
