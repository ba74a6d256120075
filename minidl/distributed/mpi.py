"""The MPI backend: the same gradient split as the worker pool, across machines, with mpi4py.

Start K copies of a script with `mpiexec -n K ...` and call `fit(..., backend="mpi")`. Every rank
builds the same model from the same seed, loads the data itself and computes its shard of each batch;
two in-place `Allreduce`s (sums), one over the flat gradient buffer and one over a small float64 buffer
holding the shard's loss sum and metric sums, hand every rank the batch's mean gradient and exact
metrics, and every rank takes the same optimizer step, so the replicas never drift apart. Only rank 0
prints and writes statistics.

Started without `mpiexec`, mpi4py would run the script alone as a one-rank "singleton" (and Open MPI
leaves a 16 MB /dev/shm/sm_segment.* behind each time): `launch_problem` says how to launch instead,
before MPI is initialised.

Ctrl-C / SIGTERM (what Open MPI 5's mpiexec forwards to every rank as SIGTERM, about 0.25 s before it
kills them with SIGKILL): every rank leaves the step at once — the reduction is polled, never a
blocking call a signal cannot interrupt —, rank 0 records the run as interrupted, and the other ranks
wait until it has (an early exit of theirs would make mpiexec kill rank 0 half-way). No rank aborts the
job on an interrupt, so there is no per-rank message nor abort banner; an error still aborts it.
"""

from __future__ import annotations

import os
import shlex
import signal
import socket
import sys
import time
import traceback

import numpy as np

from .. import metrics
from ..utils import arrays
from ..utils.interrupts import raise_terminated
from ..utils.terminal import launched_by_mpiexec
from . import replica
from .base import Runner, RunnerSource, StepTimings, shard_bounds
from .resources import blas_threads, thread_limit

INSTALL_HINT = (
    "the MPI backend needs mpi4py and an MPI library: pip install 'minidl[mpi]' "
    "(installs mpi4py and Open MPI's mpiexec), then run under `mpiexec -n K python ...`"
)


# How long ranks other than 0 wait, after an interrupt, for rank 0 to have recorded the run.
RECORDING_WAIT_SECONDS = 10.0
DONE_TAG = 15


def job_cpus(comm) -> int:
    """CPUs the ranks of `comm` may run on together: on each host the union of its ranks' affinity masks,
    summed over the hosts. Not one rank's mask: mpiexec binds each rank to a core of its own, so two
    ranks on two cores see one CPU each. Collective: every rank of `comm` calls it."""
    if hasattr(os, "sched_getaffinity"):
        mine = sorted(os.sched_getaffinity(0))
    else:  # no affinity masks here (macOS): every CPU of the host
        mine = list(range(os.cpu_count() or 1))
    hosts = {}
    for host, cpus in comm.allgather((socket.gethostname(), mine)):
        hosts.setdefault(host, set()).update(cpus)
    return sum(len(cpus) for cpus in hosts.values())


def launched_ranks() -> int | None:
    """How many ranks the launcher started, when its environment says so."""
    for name in ("OMPI_COMM_WORLD_SIZE", "PMI_SIZE"):
        if os.environ.get(name, "").isdigit():
            return int(os.environ[name])
    return None


def launch_problem(workers=1, argv=None) -> str | None:
    """Why this process cannot run `workers` MPI ranks as it was started, with the command that would; None if fine."""
    workers = workers if isinstance(workers, int) and not isinstance(workers, bool) else 1
    ranks = launched_ranks()
    argv = list(sys.argv if argv is None else argv)
    command = shlex.join([os.path.basename(sys.executable), *argv]) if argv and argv[0] else "python your_script.py"
    if not launched_by_mpiexec():
        return (
            f"this process was not started by mpiexec, so it would train alone as a single MPI rank; "
            f"launch it as: mpiexec -n {max(workers, 2)} {command}"
        )
    if workers > 1 and ranks is not None and ranks != workers:
        return (
            f"{workers} workers were asked for but mpiexec started {ranks} rank(s); "
            f"launch it as: mpiexec -n {workers} {command}"
        )
    return None


def require_mpi4py():
    """An ImportError that says how to install the `mpi` extra when mpi4py is missing (MPI is not started)."""
    try:
        import mpi4py  # noqa: F401  (the package only: `mpi4py.MPI` would initialise MPI)
    except ImportError as error:
        raise ImportError(f"{INSTALL_HINT} ({error})") from None


def import_mpi():
    """mpi4py's MPI module, or an ImportError that says how to install the `mpi` extra."""
    try:
        from mpi4py import MPI
    except ImportError as error:
        raise ImportError(f"{INSTALL_HINT} ({error})") from None
    return MPI


class MPIRunner(Runner):
    """Computes each batch's gradient with every MPI rank doing its shard (see the module docstring)."""

    def __init__(self, model, data=None, comm=None, threads_per_rank=None):
        self.thread_limit = thread_limit(threads_per_rank)
        # mpiexec passes Ctrl-C on as SIGTERM: make it a KeyboardInterrupt (unless the program already
        # handles SIGTERM itself), so that rank 0 records the run as interrupted before the job ends.
        self.previous_sigterm = signal.getsignal(signal.SIGTERM)
        if self.previous_sigterm in (signal.SIG_DFL, None):
            signal.signal(signal.SIGTERM, raise_terminated)
        self.MPI = import_mpi()
        self.comm = comm or self.MPI.COMM_WORLD
        self.rank, self.ranks = self.comm.Get_rank(), self.comm.Get_size()
        self.workers = self.ranks
        self.threads_per_worker = blas_threads()
        self.cpus = job_cpus(self.comm)
        self.model = model
        self.timings = StepTimings()
        # Two reductions per step, started together: the gradients (in the model's dtype) and the
        # figures [loss sum, metric sums...] in float64, so sums of metrics such as MAE stay exact.
        self.gradient_buffer = np.zeros(model.parameters.size, dtype=model.dtype)
        self.figures = np.zeros(1 + metrics.statistics_size(model.compiled_metrics), dtype=np.float64)
        self.private_gradients = model.gradients
        replica.bind(model, model.parameters, self.gradient_buffer)
        # Identical start and shuffling even if the ranks were seeded differently.
        model.seed = self.comm.bcast(model.seed, root=0)
        self.comm.Bcast(model.parameters, root=0)

    def wait(self, request):
        """Complete a non-blocking MPI request, letting a signal (Ctrl-C, SIGTERM) interrupt the wait."""
        while not request.Test():
            pass  # the interpreter runs signal handlers between two tests

    def gradients(self, x, y, sample_weight, indices, step):
        """The batch's mean gradient into model.gradients on every rank; returns (loss sum, metric sums)."""
        started = time.perf_counter()
        lo, hi = shard_bounds(len(indices), self.ranks)[self.rank]
        self.figures[...] = 0
        if hi > lo:
            shard = indices[lo:hi]
            weights = None if sample_weight is None else sample_weight[shard]
            loss_sum, sums = self.model.forward_backward(
                arrays.take(x, shard), arrays.take(y, shard), weights, len(indices), step, positions=np.arange(lo, hi)
            )
            self.figures[0], self.figures[1:] = loss_sum, sums
        else:
            self.model.gradients[...] = 0
        computed = time.perf_counter()
        requests = [
            self.comm.Iallreduce(self.MPI.IN_PLACE, self.gradient_buffer, op=self.MPI.SUM),
            self.comm.Iallreduce(self.MPI.IN_PLACE, self.figures, op=self.MPI.SUM),
        ]
        for request in requests:
            self.wait(request)
        seconds = time.perf_counter() - started
        self.timings.add(seconds, computed - started)
        if self.first_step_seconds is None:
            self.first_step_seconds = seconds
        return float(self.figures[0]), self.figures[1:].copy()

    def predict(self, x, batch_size):
        """Every rank predicts its slice; all slices are gathered on every rank."""
        bounds = shard_bounds(arrays.count(x), self.ranks)
        lo, hi = bounds[self.rank]
        shape = self.model.output_shape
        if None in shape:  # a sequence's length: known from the inputs, so from one sample's output
            shape = self.model.predict_in_batches(arrays.take(x, slice(0, 1)), 1).shape[1:]
        row = int(np.prod(shape))
        mine = (
            self.model.predict_in_batches(arrays.take(x, slice(lo, hi)), batch_size)
            if hi > lo
            else np.zeros((0, *shape), self.model.dtype)
        )
        out = np.empty((arrays.count(x), *shape), self.model.dtype)
        counts = [(b - a) * row for a, b in bounds]
        offsets = [a * row for a, _ in bounds]
        self.comm.Allgatherv(
            np.ascontiguousarray(mine),
            [out, counts, offsets, self.MPI.FLOAT if out.dtype == np.float32 else self.MPI.DOUBLE],
        )
        return out

    def fail(self):
        """Leaving on an exception. An error stops the whole job (no rank may wait forever in a collective);
        an interrupt does not: rank 0 has recorded the run by now and tells the others, who wait for that
        before leaving, since a rank's early exit makes mpiexec kill the rest."""
        if self.ranks == 1:
            return
        if not isinstance(sys.exc_info()[1], KeyboardInterrupt):
            sys.stderr.write(
                f"[rank {self.rank}] fatal error, aborting all {self.ranks} ranks:\n{traceback.format_exc()}"
            )
            sys.stderr.flush()
            self.comm.Abort(1)
        if self.rank == 0:
            requests = [self.comm.isend(True, dest=other, tag=DONE_TAG) for other in range(1, self.ranks)]
            deadline = time.monotonic() + 1.0
            while time.monotonic() < deadline and not all(request.test()[0] for request in requests):
                time.sleep(0.001)
            return
        request, deadline = self.comm.irecv(source=0, tag=DONE_TAG), time.monotonic() + RECORDING_WAIT_SECONDS
        while time.monotonic() < deadline and not request.test()[0]:
            time.sleep(0.01)

    def close(self):
        """Give the model its private gradient buffer back (the weights never left it)."""
        self.thread_limit.restore_original_limits()
        if self.previous_sigterm in (signal.SIG_DFL, None):
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
        replica.bind(self.model, self.model.parameters, self.private_gradients)


class MPIBackend(RunnerSource):
    """The MPI world as something `fit(..., workers=MPIBackend())` can use; keeps the last run's timings.

    Each rank limits its BLAS library to `threads_per_rank` threads (None: `resources.default_threads()`,
    1: one rank per core). Without an explicit `comm`, the process must have been started by mpiexec
    (with `expected_ranks` ranks, when given): otherwise a RuntimeError says how to launch it.
    """

    def __init__(self, comm=None, threads_per_rank=None, expected_ranks=None):
        self.comm, self.threads_per_rank, self.expected_ranks = comm, threads_per_rank, expected_ranks
        self.timings = None

    def runner(self, model, data=None) -> MPIRunner:
        """Attach `model` to the ranks for one fit/evaluate/predict."""
        if self.comm is None:
            problem = launch_problem(self.expected_ranks or 1)
            if problem:
                raise RuntimeError(f"backend='mpi': {problem}")
        runner = MPIRunner(model, data, self.comm, self.threads_per_rank)
        self.timings = runner.timings
        return runner
