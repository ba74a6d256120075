"""Where a training step's time goes: gradient computation vs everything else, recorded with each run.

`StatisticsTracker` times whole steps. To split them, the scripts hand `fit` a worker provider that
times the gradient computation itself: for one process, the forward + backward pass; for a worker
pool or MPI, the slowest process's forward + backward of its shard (what the runners already measure
in their `timings`). The rest of a step - sending work, waiting, summing the gradient rows, the
optimizer update - is what parallelism adds or cannot divide ("communication and update").

`RecordSplit` adds to the run record, before the tracker saves it:

* ``timings.compute_time`` - seconds of gradient computation over the run's timed steps,
  ``timings.compute_steps`` - how many steps that covers;
* ``timings.startup_time`` - seconds to start the worker processes (0 for one process);
* ``exchange`` - the gradient's size in bytes and the measured rate (bytes/s) at which this machine
  adds one gradient row into another (`measure_reduce_rate`), the cost model of the pool's reduction.

A run made without these (plain `fit` with a tracker) simply lacks them; the summary then says
"not recorded".
"""

from __future__ import annotations

import contextlib
import time

import numpy as np

from minidl.callbacks import Callback
from minidl.distributed import LocalRunner, MPIBackend, Runner, RunnerSource, WorkerPool


class _TimedLocalRunner(Runner):
    """The one-process runner with its `gradients` calls timed (same contract as the runner it wraps)."""

    def __init__(self, runner, timer):
        self.runner, self.timer = runner, timer
        self.workers, self.threads_per_worker = runner.workers, runner.threads_per_worker
        self.timings = runner.timings  # fit hands it to the callbacks (TensorBoard's per-step figures)

    def gradients(self, x, y, sample_weight, indices, step):
        started = time.perf_counter()
        result = self.runner.gradients(x, y, sample_weight, indices, step)
        self.timer.add(time.perf_counter() - started)
        return result

    def predict(self, x, batch_size):
        return self.runner.predict(x, batch_size)

    def close(self):
        self.runner.close()


class StepTimer(RunnerSource):
    """What `fit` gets as `workers` (via `.workers`) and what the split is read from afterwards."""

    def __init__(self, threads=None):
        self.threads = threads  # BLAS threads per process (None: minidl's default)
        self.workers = None  # what to pass as fit(workers=...)
        self.startup_time = 0.0
        self.compute_time = 0.0
        self.compute_steps = 0
        self._source = None  # a pool or MPI backend whose `timings` hold the split

    def add(self, seconds):
        """One step's gradient computation (one-process runs)."""
        self.compute_time += seconds
        self.compute_steps += 1

    def runner(self, model, data=None):
        """fit's hook for one process: a timed LocalRunner."""
        return _TimedLocalRunner(LocalRunner(model, self.threads), self)

    def totals(self):
        """(compute seconds, steps) so far: the runner's own timings for pools and MPI."""
        if self._source is not None and self._source.timings is not None:
            return self._source.timings.compute_seconds, self._source.timings.steps
        return self.compute_time, self.compute_steps


@contextlib.contextmanager
def timed_workers(workers: int, backend: str = "pool", threads=None):
    """A StepTimer whose `.workers` is what to pass to fit: itself (1 process), a started WorkerPool
    (closed on the way out, whatever happens) or an MPIBackend; each process uses `threads` BLAS threads."""
    timer = StepTimer(threads)
    if backend == "mpi":
        timer.workers = timer._source = MPIBackend(threads_per_rank=threads, expected_ranks=workers)
        yield timer
        return
    if workers == 1:
        timer.workers = timer
        yield timer
        return
    started = time.perf_counter()
    pool = WorkerPool(workers, threads_per_worker=threads)
    timer.startup_time = time.perf_counter() - started
    timer.workers = timer._source = pool
    try:
        yield timer
    finally:
        pool.close()


def measure_reduce_rate(size: int, dtype="float32", repeats: int = 7) -> float:
    """Bytes per second at which this machine adds one array of `size` numbers into another (median of
    `repeats` timings): what the pool's parent does once per extra worker each step."""
    target = np.zeros(size, dtype)
    row = np.ones(size, dtype)
    np.add(target, row, out=target)  # touch the pages once
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        np.add(target, row, out=target)
        times.append(time.perf_counter() - started)
    return size * np.dtype(dtype).itemsize / max(float(np.median(times)), 1e-9)


class RecordSplit(Callback):
    """Adds the compute / start-up split and the exchange measurement to `tracker`'s run record at the
    end of training (must come before the tracker in the callback list, so the tracker saves it)."""

    def __init__(self, timer: StepTimer, tracker):
        super().__init__()
        self.timer, self.tracker = timer, tracker

    def on_train_end(self, logs=None):
        run = self.tracker.run
        if run is None:  # MPI ranks other than 0 record nothing
            return
        compute, steps = self.timer.totals()
        run["timings"]["compute_time"] = round(float(compute), 7)
        run["timings"]["compute_steps"] = int(steps)
        run["timings"]["startup_time"] = round(float(self.timer.startup_time), 7)
        size = int(self.model.parameters.size)  # the gradient exchanged: trainable weights only
        dtype = np.dtype(self.model.dtype)
        run["exchange"] = {
            "gradient_bytes": size * dtype.itemsize,
            "reduce_rate": measure_reduce_rate(size, dtype),
            "what": "gradient size, and the bytes/s at which one gradient row is added into another here",
        }
