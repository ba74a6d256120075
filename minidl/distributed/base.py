"""The runner contract: what the fit / evaluate / predict loops may ask of whoever computes a batch.

The loops in `minidl.trainers` never know whether the arithmetic runs in this process, in a pool of
worker processes or across MPI ranks. They hold a `Runner` and ask it for two things only:

- `gradients(x, y, sample_weight, indices, step)`: the mean gradient of the batch `indices` of
  (x, y, sample_weight) written into `model.gradients`, returning the batch's loss sum and metric sums;
- `predict(x, batch_size)`: the model's outputs for `x`.

Whatever the runner does, the mathematics is that of one process: the batch is cut into shards, each
shard's gradient is divided by the *whole* batch size, and the shards' gradients are added.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field

import numpy as np


class Runner(abc.ABC):
    """Computes each batch's gradient and the model's predictions for the training loops.

    Attributes every runner sets: `workers` (processes or ranks computing shards), `threads_per_worker`
    (BLAS threads each of them uses), `ranks` / `rank` (1 / 0 except under MPI), `cpus` (CPUs its
    processes may run on together, when that is not this process's own `resources.available_cpus()`:
    MPI ranks are bound to a core each) and `timings`
    (a `StepTimings`, or None when nothing is measured); `startup_seconds` (getting ready before the
    first step: starting processes, placing weights and data in shared memory; 0 in-process) and
    `first_step_seconds` (the first training step, None before it), reported as their own phase.
    """

    workers: int = 1
    threads_per_worker: int = 1
    ranks: int = 1
    rank: int = 0
    cpus: int | None = None
    timings: StepTimings | None = None
    startup_seconds: float = 0.0
    first_step_seconds: float | None = None

    @abc.abstractmethod
    def gradients(self, x, y, sample_weight, indices, step) -> tuple[float, np.ndarray]:
        """Mean gradient of batch `indices` of (x, y, sample_weight) into `model.gradients`.

        Returns (loss sum, metric sums): the batch's Σ_i w_i · loss_i and, per compiled metric, its sum
        over the batch (float64 (M,)); the loop divides both by the samples seen. `sample_weight` is
        None or (N,) float64. `step` is the optimizer's step number: layers with randomness (Dropout)
        draw from it, so a batch gives the same masks however it is split.
        """

    @abc.abstractmethod
    def predict(self, x, batch_size) -> np.ndarray:
        """The model's outputs for `x`, computed `batch_size` samples at a time."""

    @abc.abstractmethod
    def close(self):
        """Release processes, shared memory and thread limits; the model keeps its current weights."""

    def fail(self):  # noqa: B027 (optional: most runners have nothing that could wait)
        """Called (before `close`) when the loop is leaving on an exception; stop whatever could wait forever."""


class RunnerSource(abc.ABC):
    """Something a user keeps across calls and passes as `workers=` (a WorkerPool, an MPIBackend)."""

    @abc.abstractmethod
    def runner(self, model, data=None) -> Runner:
        """Attach `model` (and optionally the training data (x, y, sample_weight)) for one fit / evaluate / predict."""


@dataclass
class StepTimings:
    """Where a run's training steps spent their time: totals, and the last step process by process.

    The trainer hands this object to the callbacks as `params["timings"]` (None when the runner
    measures nothing), so a callback can read each step's figures in `on_train_batch_end`.
    Per process (the parent first), runners that share a step out in pieces also say, for the last
    step and in total: how many pieces each computed, how long each was idle (the step's seconds
    minus its own computing) and how much of its computing it spent off the CPU while other work ran
    (`descheduled`: computing seconds minus CPU seconds) — which tells a process slowed by the
    machine from a pool that waits badly. Runners that do not measure these leave them empty.
    """

    steps: int = 0
    step_seconds: float = 0.0
    compute_seconds: float = 0.0  # per step, the slowest process's forward + backward
    last_step_seconds: float = 0.0  # the last step, as the runner saw it (gradients summed)
    last_compute_seconds: tuple = ()  # the last step's forward + backward, one entry per process
    last_pieces: tuple = ()  # the last step's pieces computed, one entry per process
    last_idle_seconds: tuple = ()  # the last step's seconds each process did not compute
    last_descheduled_seconds: tuple = ()  # of each process's computing in the last step, seconds off the CPU
    pieces: list = field(default_factory=list)  # per process, pieces computed over all steps
    idle_seconds: list = field(default_factory=list)  # per process, over all steps
    descheduled_seconds: list = field(default_factory=list)  # per process, over all steps
    process_compute_seconds: list = field(default_factory=list)  # per process, over all steps

    def add(self, step_seconds, compute_seconds, pieces=None, cpu_seconds=None):
        """Record one step: its seconds and each process's compute seconds (a number, or one per process);
        optionally each process's pieces and the CPU seconds of its computing."""
        per_process = tuple(compute_seconds) if isinstance(compute_seconds, (list, tuple)) else (compute_seconds,)
        self.steps += 1
        self.step_seconds += step_seconds
        self.compute_seconds += max(per_process)
        self.last_step_seconds, self.last_compute_seconds = step_seconds, per_process
        if pieces is None:
            return
        idle = tuple(max(0.0, step_seconds - seconds) for seconds in per_process)
        off_cpu = tuple(max(0.0, wall - cpu) for wall, cpu in zip(per_process, cpu_seconds))
        self.last_pieces, self.last_idle_seconds, self.last_descheduled_seconds = tuple(pieces), idle, off_cpu
        for total, values in (
            (self.pieces, pieces),
            (self.idle_seconds, idle),
            (self.descheduled_seconds, off_cpu),
            (self.process_compute_seconds, per_process),
        ):
            total.extend([0] * (len(values) - len(total)))
            for process, value in enumerate(values):
                total[process] += value

    def communication_share(self) -> float:
        """Fraction of step time spent outside gradient computation (messages, waiting, reduction)."""
        return 1.0 - self.compute_seconds / self.step_seconds if self.step_seconds else 0.0


def shard_bounds(size: int, shards: int) -> list[tuple[int, int]]:
    """Split range(size) into `shards` contiguous, near-equal (lo, hi) pieces (some may be empty)."""
    edges = np.linspace(0, size, shards + 1).round().astype(int)
    return list(zip(edges[:-1].tolist(), edges[1:].tolist()))
