"""What the machine offers a run: CPUs this process may use and its BLAS library's thread count."""

from __future__ import annotations

import os


def available_cpus() -> int:
    """CPUs this process may run on (its affinity mask where the OS has one, else all of them)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


_controllers: dict[int, object] = {}


def thread_controller():
    """This process's threadpoolctl controller, made once: finding the libraries costs ~0.4-3 ms a call.

    Kept per process id, so a forked worker finds its own; it knows the libraries loaded when it was
    made (NumPy's BLAS is loaded with minidl, before any run asks).
    """
    from threadpoolctl import ThreadpoolController

    controller = _controllers.get(os.getpid())
    if controller is None:
        controller = _controllers[os.getpid()] = ThreadpoolController()
    return controller


def blas_threads() -> int:
    """How many threads this process's BLAS library uses now (1 when threadpoolctl sees none)."""
    counts = [pool.get("num_threads", 1) for pool in thread_controller().info() if pool.get("user_api") == "blas"]
    return max(counts) if counts else 1


# Measured on LeNet-5 (batch 128) on the 2-vCPU machine (`bench_layers.py --threads-table`
# and `bench_parallel.py`): a second BLAS thread changed an idle machine's step by -10 % to +40 % from
# run to run, and made it 3-3.7x slower when one other busy process competed for the cores, because
# OpenBLAS threads spin while they wait. One thread per process is the safe choice.
DEFAULT_THREADS = 1


def default_threads() -> int:
    """BLAS threads each computing process uses unless told otherwise (`threads=` / `--threads`)."""
    return DEFAULT_THREADS


class _Unchanged:
    """The limit that was not needed: nothing to restore."""

    def restore_original_limits(self):
        pass


def thread_limit(threads):
    """Limit this process's BLAS (and OpenMP) libraries to `threads` (None: the default).

    `.restore_original_limits()` on the result undoes it. Libraries already at `threads` are not
    told again: after a fork, OpenBLAS answers any new thread count by starting its helper threads
    afresh, and those spin for ~0.1 s against the other processes of a pool (measured here: the
    first steps of a 2-process pool 2-5x slower).
    """
    from ..utils import checks

    threads = default_threads() if threads is None else checks.positive_int(threads, "threads")
    controller = thread_controller()
    if all(pool.get("num_threads") == threads for pool in controller.info()):
        return _Unchanged()
    return controller.limit(limits=threads)
