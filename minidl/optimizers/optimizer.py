"""Optimizer: the base every optimizer shares — the learning rate (a number or a schedule) and checks.

`learning_rate` is a property: reading it gives the rate of the next update (a schedule's value at
the current step), and callbacks may set it between steps, as in Keras.
"""

from __future__ import annotations

import numpy as np

from ..utils import checks
from . import schedules


class Optimizer:
    """Base class: `step(params, grads)` updates `params` in place from the mean gradient `grads`."""

    name = "optimizer"
    # The arrays `step` accumulates (moments, velocities): what `get_state` / `set_state` carry.
    state_names: tuple[str, ...] = ()

    def __init__(self, learning_rate):
        self.iterations = 0
        self.learning_rate = learning_rate

    @property
    def learning_rate(self) -> float:
        """The rate of the next update (a schedule's value at `iterations`); settable between steps."""
        rate = self._learning_rate
        return rate if isinstance(rate, float) else float(rate(self.iterations))

    @learning_rate.setter
    def learning_rate(self, value):
        if callable(value):
            self._learning_rate = value
            return
        value = getattr(value, "item", lambda: value)()  # a NumPy scalar or 0-d array
        self._learning_rate = checks.positive_number(value, f"{type(self).__name__}: learning_rate")

    def scratch(self, params):
        """A work array like `params`, reused by every step (a fresh one would cost page faults each step)."""
        work = getattr(self, "_work", None)
        if work is None or work.shape != params.shape or work.dtype != params.dtype:
            work = self._work = np.empty_like(params)
        return work

    def _check(self, name, value, **bounds):
        return checks.finite_number(value, f"{type(self).__name__}: {name}", **bounds)

    def step(self, params: np.ndarray, grads: np.ndarray):
        """Apply one update; `params` and `grads` are the model's flat vectors."""
        raise NotImplementedError

    def get_config(self) -> dict:
        """Name and settings, for save/load and statistics (a schedule as {"class", "config"})."""
        rate = self._learning_rate
        if isinstance(rate, schedules.LearningRateSchedule):
            rate = {"class": type(rate).__name__, "config": rate.get_config()}
        elif not isinstance(rate, float):
            rate = self.learning_rate  # a plain function: only its current value can be saved
        return {"name": self.name, "learning_rate": rate}

    def get_state(self) -> dict:
        """What `step` has accumulated (step count and `state_names` arrays, copied), for an exact resume."""
        arrays = {name: getattr(self, name, None) for name in self.state_names}
        return {"iterations": self.iterations, **{k: None if v is None else v.copy() for k, v in arrays.items()}}

    def set_state(self, state: dict):
        """Take over a state from `get_state` (e.g. read from a file), so the next step continues it."""
        iterations = state["iterations"]
        if isinstance(iterations, bool) or not isinstance(iterations, (int, np.integer)) or iterations < 0:
            raise ValueError(f"{type(self).__name__}: iterations must be a non-negative integer, got {iterations!r}")
        self.iterations = int(iterations)
        for name in self.state_names:
            value = state.get(name)
            setattr(self, name, None if value is None else np.array(value, copy=True))
