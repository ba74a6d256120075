"""Learning-rate schedules (`minidl.optimizers.schedules`): the rate as a function of the step.

An optimizer given a schedule as `learning_rate` asks it for the rate before every update, with the
number of updates done so far (t = 0 for the first), as Keras does. Subclass `LearningRateSchedule`
(`__call__(step)`, and `get_config()` to save it) for a schedule of your own. With η₀ the initial rate:

    ExponentialDecay:    η₀ · r^(t / T)                      (⌊t / T⌋ with staircase)
    InverseTimeDecay:    η₀ / (1 + r · t / T)                (⌊t / T⌋ with staircase)
    PolynomialDecay:     (η₀ − η_end) · (1 − min(t, T) / T)^p + η_end
                         (cycle: T · max(1, ⌈t / T⌉) in place of T, and t not capped)
    CosineDecay:         η₀ · ((1 − α) · ½(1 + cos(π · min(t, T) / T)) + α)
                         with warmup: η₀ + (η_w − η₀) · t / W for t < W, then the cosine from η_w
                         over t − W
    CosineDecayRestarts: the cosine over periods T, T·t_mul, T·t_mul², ..., the i-th from η₀ · m_mul^i
    PiecewiseConstantDecay: values[i] while t <= boundaries[i], values[-1] after
"""

from __future__ import annotations

import math

from ..utils import checks


class LearningRateSchedule:
    """Base class: `schedule(step)` returns the learning rate for optimizer step `step` (0-based).

    A subclass overrides `__call__`; to be saved with a model it also gives `get_config()`, the
    constructor arguments that `from_config` passes back.
    """

    def __call__(self, step):
        raise NotImplementedError(f"learning-rate schedule {type(self).__name__!r} must override __call__(self, step)")

    def get_config(self) -> dict:
        """The constructor arguments."""
        return {}

    @classmethod
    def from_config(cls, config):
        """The schedule `cls(**config)`."""
        return cls(**config)


class ExponentialDecay(LearningRateSchedule):
    """lr(step) = initial_learning_rate * decay_rate ** (step / decay_steps) (an integer power with `staircase`)."""

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False, name="ExponentialDecay"):
        self.initial_learning_rate = checks.positive_number(
            initial_learning_rate, "ExponentialDecay: initial_learning_rate"
        )
        self.decay_steps = checks.positive_int(decay_steps, "ExponentialDecay: decay_steps")
        self.decay_rate = checks.positive_number(decay_rate, "ExponentialDecay: decay_rate")
        self.staircase, self.name = bool(staircase), name

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
            "name": self.name,
        }


class PiecewiseConstantDecay(LearningRateSchedule):
    """values[0] while step <= boundaries[0], values[1] while step <= boundaries[1], ..., values[-1] after."""

    def __init__(self, boundaries, values, name="PiecewiseConstant"):
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
        self.name = name

    def __call__(self, step):
        for boundary, value in zip(self.boundaries, self.values):
            if step <= boundary:
                return value
        return self.values[-1]

    def get_config(self):
        return {"boundaries": self.boundaries, "values": self.values, "name": self.name}


class InverseTimeDecay(LearningRateSchedule):
    """lr(step) = initial_learning_rate / (1 + decay_rate * step / decay_steps) (floored ratio with `staircase`)."""

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False, name="InverseTimeDecay"):
        self.initial_learning_rate = checks.positive_number(
            initial_learning_rate, "InverseTimeDecay: initial_learning_rate"
        )
        self.decay_steps = checks.positive_int(decay_steps, "InverseTimeDecay: decay_steps")
        self.decay_rate = checks.finite_number(decay_rate, "InverseTimeDecay: decay_rate", minimum=0)
        self.staircase, self.name = bool(staircase), name

    def __call__(self, step):
        ratio = step / self.decay_steps
        if self.staircase:
            ratio = math.floor(ratio)
        return self.initial_learning_rate / (1 + self.decay_rate * ratio)

    def get_config(self):
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "decay_steps": self.decay_steps,
            "decay_rate": self.decay_rate,
            "staircase": self.staircase,
            "name": self.name,
        }


class PolynomialDecay(LearningRateSchedule):
    """From initial_learning_rate to end_learning_rate in decay_steps along (1 - t/T)^power (see the module doc)."""

    def __init__(
        self,
        initial_learning_rate,
        decay_steps,
        end_learning_rate=0.0001,
        power=1.0,
        cycle=False,
        name="PolynomialDecay",
    ):
        self.initial_learning_rate = checks.positive_number(
            initial_learning_rate, "PolynomialDecay: initial_learning_rate"
        )
        self.decay_steps = checks.positive_int(decay_steps, "PolynomialDecay: decay_steps")
        self.end_learning_rate = checks.finite_number(
            end_learning_rate, "PolynomialDecay: end_learning_rate", minimum=0
        )
        self.power = checks.finite_number(power, "PolynomialDecay: power", minimum=0)
        self.cycle, self.name = bool(cycle), name

    def __call__(self, step):
        period = self.decay_steps
        if self.cycle:
            period *= max(1, math.ceil(step / self.decay_steps))
        else:
            step = min(step, period)
        fraction = step / period
        return (self.initial_learning_rate - self.end_learning_rate) * (1 - fraction) ** self.power + (
            self.end_learning_rate
        )

    def get_config(self):
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "decay_steps": self.decay_steps,
            "end_learning_rate": self.end_learning_rate,
            "power": self.power,
            "cycle": self.cycle,
            "name": self.name,
        }


def _cosine(fraction, alpha):
    """(1 − α) · ½(1 + cos(π · fraction)) + α: from 1 at fraction 0 down to α at fraction 1."""
    return (1 - alpha) * 0.5 * (1 + math.cos(math.pi * fraction)) + alpha


class CosineDecay(LearningRateSchedule):
    """Half a cosine from the rate down to alpha times it, after an optional linear warmup (see the module doc).

    With `warmup_target` None there is no warmup and the cosine starts from initial_learning_rate;
    otherwise the rate climbs linearly from initial_learning_rate to warmup_target over warmup_steps,
    then the cosine starts from warmup_target.
    """

    def __init__(
        self, initial_learning_rate, decay_steps, alpha=0.0, name="CosineDecay", warmup_target=None, warmup_steps=0
    ):
        self.initial_learning_rate = checks.finite_number(
            initial_learning_rate, "CosineDecay: initial_learning_rate", minimum=0
        )
        self.decay_steps = checks.positive_int(decay_steps, "CosineDecay: decay_steps")
        self.alpha = checks.finite_number(alpha, "CosineDecay: alpha", minimum=0, maximum=1)
        self.warmup_target = (
            None if warmup_target is None else checks.positive_number(warmup_target, "CosineDecay: warmup_target")
        )
        self.warmup_steps = checks.non_negative_int(warmup_steps, "CosineDecay: warmup_steps")
        self.name = name

    def __call__(self, step):
        if self.warmup_target is None:
            return self.initial_learning_rate * _cosine(min(step, self.decay_steps) / self.decay_steps, self.alpha)
        step = min(step, self.decay_steps + self.warmup_steps)
        if step < self.warmup_steps:
            return self.initial_learning_rate + (self.warmup_target - self.initial_learning_rate) * (
                step / self.warmup_steps
            )
        return self.warmup_target * _cosine((step - self.warmup_steps) / self.decay_steps, self.alpha)

    def get_config(self):
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "decay_steps": self.decay_steps,
            "alpha": self.alpha,
            "name": self.name,
            "warmup_target": self.warmup_target,
            "warmup_steps": self.warmup_steps,
        }


class CosineDecayRestarts(LearningRateSchedule):
    """Cosine decays that restart (SGDR): periods first_decay_steps · t_mul^i, peaks initial_learning_rate · m_mul^i.

    With f = step / first_decay_steps, the period i and the fraction of it done are
        t_mul = 1:  i = ⌊f⌋,  done = f − i
        t_mul ≠ 1:  i = ⌊log(1 − f·(1 − t_mul)) / log(t_mul)⌋,  done = (f − (1 − t_mul^i)/(1 − t_mul)) / t_mul^i
    and lr = initial_learning_rate · ((1 − α) · m_mul^i · ½(1 + cos(π · done)) + α).
    """

    def __init__(self, initial_learning_rate, first_decay_steps, t_mul=2.0, m_mul=1.0, alpha=0.0, name="SGDRDecay"):
        self.initial_learning_rate = checks.positive_number(
            initial_learning_rate, "CosineDecayRestarts: initial_learning_rate"
        )
        self.first_decay_steps = checks.positive_int(first_decay_steps, "CosineDecayRestarts: first_decay_steps")
        self.t_mul = checks.positive_number(t_mul, "CosineDecayRestarts: t_mul")
        self.m_mul = checks.finite_number(m_mul, "CosineDecayRestarts: m_mul", minimum=0)
        self.alpha = checks.finite_number(alpha, "CosineDecayRestarts: alpha", minimum=0, maximum=1)
        self.name = name

    def __call__(self, step):
        fraction = step / self.first_decay_steps
        if self.t_mul == 1.0:
            restart = math.floor(fraction)
            done = fraction - restart
        else:
            remaining = 1 - fraction * (1 - self.t_mul)
            if remaining <= 0:  # t_mul < 1: the periods shrink and all of them end after a finite step count
                raise ValueError(
                    f"CosineDecayRestarts: with t_mul={self.t_mul} every period has ended before step {step}"
                )
            restart = math.floor(math.log(remaining) / math.log(self.t_mul))
            before = (1 - self.t_mul**restart) / (1 - self.t_mul)  # periods completed, in first periods
            done = (fraction - before) / self.t_mul**restart
        cosine = 0.5 * (1 + math.cos(math.pi * done))
        return self.initial_learning_rate * ((1 - self.alpha) * self.m_mul**restart * cosine + self.alpha)

    def get_config(self):
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "first_decay_steps": self.first_decay_steps,
            "t_mul": self.t_mul,
            "m_mul": self.m_mul,
            "alpha": self.alpha,
            "name": self.name,
        }


SCHEDULES = {
    cls.__name__: cls
    for cls in (
        ExponentialDecay,
        PiecewiseConstantDecay,
        InverseTimeDecay,
        PolynomialDecay,
        CosineDecay,
        CosineDecayRestarts,
    )
}


def from_config(config: dict) -> LearningRateSchedule:
    """Rebuild a schedule from `{"class": name, "config": {...}}`."""
    if config.get("class") not in SCHEDULES:
        raise ValueError(
            f"unknown learning-rate schedule {config.get('class')!r}; known: {sorted(SCHEDULES)} "
            "(a schedule of your own cannot be rebuilt from a file: compile the loaded model again with it)"
        )
    return SCHEDULES[config["class"]].from_config(config["config"])
