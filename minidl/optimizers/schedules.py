"""Learning-rate schedules (`minidl.optimizers.schedules`): the rate as a function of the step.

An optimizer given a schedule as `learning_rate` asks it for the rate before every update, with the
number of updates done so far (0 for the first), as Keras does.
"""

from __future__ import annotations

import math

from ..utils import checks


class LearningRateSchedule:
    """Base class: `schedule(step)` returns the learning rate for optimizer step `step` (0-based)."""

    def __call__(self, step):
        raise NotImplementedError

    def get_config(self) -> dict:
        """The constructor arguments."""
        return {}


class ExponentialDecay(LearningRateSchedule):
    """lr(step) = initial_learning_rate * decay_rate ** (step / decay_steps) (an integer power with `staircase`)."""

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False, name=None):
        self.initial_learning_rate = checks.positive_number(
            initial_learning_rate, "ExponentialDecay: initial_learning_rate"
        )
        self.decay_steps = checks.positive_int(decay_steps, "ExponentialDecay: decay_steps")
        self.decay_rate = checks.positive_number(decay_rate, "ExponentialDecay: decay_rate")
        self.staircase = bool(staircase)

    def __call__(self, step):
        power = step / self.decay_steps
        if self.staircase:
            power = math.floor(power)
        return self.initial_learning_rate * self.decay_rate**power

    def get_config(self):
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "decay_steps": self.decay_steps,
            "decay_rate": self.decay_rate,
            "staircase": self.staircase,
        }


class PiecewiseConstantDecay(LearningRateSchedule):
    """values[0] while step <= boundaries[0], values[1] while step <= boundaries[1], ..., values[-1] after."""

    def __init__(self, boundaries, values, name=None):
        boundaries, values = list(boundaries), list(values)
        if len(values) != len(boundaries) + 1:
            raise ValueError(
                f"PiecewiseConstantDecay: needs one more value than boundaries, got {len(boundaries)} "
                f"boundaries and {len(values)} values"
            )
        self.boundaries = [checks.non_negative_int(b, "PiecewiseConstantDecay: boundary") for b in boundaries]
        if self.boundaries != sorted(self.boundaries):
            raise ValueError(f"PiecewiseConstantDecay: boundaries must increase, got {self.boundaries}")
        self.values = [checks.positive_number(v, "PiecewiseConstantDecay: value") for v in values]

    def __call__(self, step):
        for boundary, value in zip(self.boundaries, self.values):
            if step <= boundary:
                return value
        return self.values[-1]

    def get_config(self):
        return {"boundaries": self.boundaries, "values": self.values}


SCHEDULES = {cls.__name__: cls for cls in (ExponentialDecay, PiecewiseConstantDecay)}


def from_config(config: dict) -> LearningRateSchedule:
    """Rebuild a schedule from `{"class": name, "config": {...}}`."""
    if config.get("class") not in SCHEDULES:
        raise ValueError(f"unknown learning-rate schedule {config.get('class')!r}; known: {sorted(SCHEDULES)}")
    return SCHEDULES[config["class"]](**config["config"])
