"""Where a batch's gradient is computed: this process, a pool of worker processes, or MPI ranks.

The training loops talk only to a `Runner` (see `base.py` for the contract); `runner_for` picks one
from `fit(..., workers=N, backend=...)`. `WorkerPool` (pool.py) and `MPIBackend` (mpi.py) can also
be created by the user and passed as `workers=` to reuse them across calls.
"""

from .base import Runner, RunnerSource, StepTimings, shard_bounds
from .choose import make_runner, runner_for
from .faults import WorkerError
from .local import LocalRunner
from .mpi import MPIBackend, import_mpi
from .pool import WorkerPool
from .resources import available_cpus, blas_threads, default_threads

__all__ = [
    "LocalRunner",
    "MPIBackend",
    "Runner",
    "RunnerSource",
    "StepTimings",
    "WorkerError",
    "WorkerPool",
    "available_cpus",
    "blas_threads",
    "default_threads",
    "import_mpi",
    "make_runner",
    "runner_for",
    "shard_bounds",
]
