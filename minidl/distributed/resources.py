"""What the machine offers a run: CPUs this process may use and its BLAS library's thread count."""

from __future__ import annotations

import os


def available_cpus() -> int:
    """CPUs this process may run on (its affinity mask where the OS has one, else all of them)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def blas_threads() -> int:
    """How many threads this process's BLAS library uses now (1 when threadpoolctl sees none)."""
    from threadpoolctl import threadpool_info

    counts = [pool.get("num_threads", 1) for pool in threadpool_info() if pool.get("user_api") == "blas"]
    return max(counts) if counts else 1
