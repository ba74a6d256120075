"""Weight constraints (`keras.constraints`): projections applied to a weight after every optimizer step.

A constraint maps a weight array w to the nearest array of an allowed set: non-negative numbers,
columns of norm at most c, columns of norm one. Keras applies it after the optimizer updates the
weight; so does minidl (`apply`, called by the training loops after `optimizer.step`). Norms are taken
over `axis` (default 0): for a Dense kernel (in, units) that is each unit's incoming weights; for a
Conv2D kernel (kh, kw, C, F) Keras's documentation advises `axis=[0, 1, 2]`, each filter as a whole.

    MaxNorm(c):   w <- w * clip(‖w‖, 0, c) / (ε + ‖w‖)
    MinMaxNorm:   w <- w * (rate * clip(‖w‖, lo, hi) + (1 - rate) * ‖w‖) / (ε + ‖w‖)
    UnitNorm:     w <- w / (ε + ‖w‖)
    NonNeg:       w <- max(w, 0)
with ‖w‖ the Euclidean norm over `axis` (kept for broadcasting) and ε = 1e-7 (Keras's epsilon).
"""

from __future__ import annotations

import numbers

import numpy as np

from .errors import UnknownNameError
from .utils import checks

EPSILON = 1e-7


def _axis(axis, owner):
    """Keras's `axis`: an int or a list of ints, as an int or a tuple."""
    if isinstance(axis, numbers.Integral) and not isinstance(axis, bool):
        return int(axis)
    try:
        axes = tuple(axis)
    except TypeError:
        axes = ()
    if not axes or not all(isinstance(a, numbers.Integral) and not isinstance(a, bool) for a in axes):
        raise ValueError(f"{owner}: axis must be an int or a list of ints, got {axis!r}")
    return tuple(int(a) for a in axes)


def _norms(w, axis):
    return np.sqrt(np.sum(np.square(w), axis=axis, keepdims=True))


class Constraint:
    """Base class: `constraint(w)` returns the projected weight (the identity here); `get_config()` its arguments."""

    def __call__(self, w):
        return w

    def get_config(self) -> dict:
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


class MaxNorm(Constraint):
    """Scale each slice along `axis` down to Euclidean norm `max_value` when it is longer (see the module doc)."""

    def __init__(self, max_value=2, axis=0):
        self.max_value = checks.finite_number(max_value, "MaxNorm: max_value", minimum=0)
        self.axis = _axis(axis, "MaxNorm")

    def __call__(self, w):
        norms = _norms(w, self.axis)
        return w * (np.clip(norms, 0, self.max_value) / (EPSILON + norms))

    def get_config(self):
        return {"max_value": self.max_value, "axis": self.axis if isinstance(self.axis, int) else list(self.axis)}


class MinMaxNorm(Constraint):
    """Move each slice's norm into [min_value, max_value], by the fraction `rate` (see the module doc)."""

    def __init__(self, min_value=0.0, max_value=1.0, rate=1.0, axis=0):
        self.min_value = checks.finite_number(min_value, "MinMaxNorm: min_value", minimum=0)
        self.max_value = checks.finite_number(max_value, "MinMaxNorm: max_value", minimum=self.min_value)
        self.rate = checks.finite_number(rate, "MinMaxNorm: rate", minimum=0, maximum=1)
        self.axis = _axis(axis, "MinMaxNorm")

    def __call__(self, w):
        norms = _norms(w, self.axis)
        desired = self.rate * np.clip(norms, self.min_value, self.max_value) + (1 - self.rate) * norms
        return w * (desired / (EPSILON + norms))

    def get_config(self):
        axis = self.axis if isinstance(self.axis, int) else list(self.axis)
        return {"min_value": self.min_value, "max_value": self.max_value, "rate": self.rate, "axis": axis}


class NonNeg(Constraint):
    """Negative entries become 0: w <- max(w, 0)."""

    def __call__(self, w):
        return np.maximum(w, 0)


class UnitNorm(Constraint):
    """Scale each slice along `axis` to Euclidean norm 1 (see the module doc)."""

    def __init__(self, axis=0):
        self.axis = _axis(axis, "UnitNorm")

    def __call__(self, w):
        return w / (EPSILON + _norms(w, self.axis))

    def get_config(self):
        return {"axis": self.axis if isinstance(self.axis, int) else list(self.axis)}


# Keras's lower-case aliases (functions in Keras 2, the same classes in Keras 3).
max_norm, min_max_norm, non_neg, unit_norm = MaxNorm, MinMaxNorm, NonNeg, UnitNorm

CONSTRAINTS = {cls.__name__: cls for cls in (MaxNorm, MinMaxNorm, NonNeg, UnitNorm)}
NAMES = {"max_norm": MaxNorm, "min_max_norm": MinMaxNorm, "non_neg": NonNeg, "unit_norm": UnitNorm}


def get(identifier, argument="constraint"):
    """A constraint from None, a name ("max_norm", "NonNeg"), a config dict, a class or a callable.

    Refused with a one-line error naming `argument`: anything else.
    """
    if identifier is None:
        return None
    if isinstance(identifier, str):
        cls = CONSTRAINTS.get(identifier) or NAMES.get(identifier)
        if cls is None:
            known = ", ".join(sorted(CONSTRAINTS) + sorted(NAMES))
            raise UnknownNameError(f"{argument}: unknown constraint {identifier!r}; known: {known}")
        return cls()
    if isinstance(identifier, dict):
        return deserialize(identifier, argument)
    if isinstance(identifier, type) and issubclass(identifier, Constraint):
        return identifier()
    if callable(identifier):
        return identifier
    raise ValueError(f"{argument} must be None, a constraint name, a Constraint or a function, got {identifier!r}")


def serialize(constraint):
    """Keras's form: {"class_name": ..., "config": {...}}, None for None (a plain function: its name)."""
    if constraint is None:
        return None
    if isinstance(constraint, Constraint):
        return {"class_name": type(constraint).__name__, "config": constraint.get_config()}
    return getattr(constraint, "__name__", type(constraint).__name__)


def config_of(**arguments) -> dict:
    """The constraint arguments of a layer's config, serialized: only those that are set (None is the default)."""
    return {argument: serialize(value) for argument, value in arguments.items() if value is not None}


def deserialize(config, argument="constraint"):
    """A constraint from `serialize`'s dict (the built-in classes only)."""
    name = config.get("class_name")
    if name not in CONSTRAINTS:
        raise UnknownNameError(f"{argument}: unknown constraint class {name!r}; known: {sorted(CONSTRAINTS)}")
    settings = config.get("config") or {}
    if not isinstance(settings, dict):
        raise ValueError(f"{argument}: a constraint's 'config' must be a dict, got {settings!r}")
    return CONSTRAINTS[name].from_config(settings)


def of(**weights) -> dict:
    """{weight name: constraint} of the weights that have one (a layer's `weight_constraints`)."""
    return {name: constraint for name, constraint in weights.items() if constraint is not None}


def apply(layers):
    """Project every constrained weight of `layers` in place: the step after each optimizer update.

    A layer lists its constraints in `weight_constraints` ({weight name: constraint}); layers without
    that attribute, or with an empty one, cost one attribute lookup. The weights stay views of the
    model's flat parameter vector: the projection is written into them.
    """
    for layer in layers:
        for name, constraint in getattr(layer, "weight_constraints", {}).items():
            weight = layer.params[name]
            weight[...] = constraint(weight)
