"""Placeholder replaced by the worker pool."""


class WorkerPool:
    """Not yet."""
