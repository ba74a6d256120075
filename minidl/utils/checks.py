"""Argument checks shared by every public entry point.

Each check returns the value in its canonical Python type or raises a `ValueError` (or `TypeError`)
whose message starts with the argument's name as the caller spells it, e.g.
``"Conv2D: strides must be a positive int or a pair of them, got 0"``. Keeping them in one place
means every layer, optimizer, loop and script words the same mistake the same way.
"""

from __future__ import annotations

import math
import numbers


def _is_int(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def positive_int(value, argument: str) -> int:
    """`value` as an int >= 1."""
    if not _is_int(value) or value < 1:
        raise ValueError(f"{argument} must be a positive integer, got {value!r}")
    return int(value)


def non_negative_int(value, argument: str) -> int:
    """`value` as an int >= 0."""
    if not _is_int(value) or value < 0:
        raise ValueError(f"{argument} must be a non-negative integer, got {value!r}")
    return int(value)


def single_int(value, argument: str) -> int:
    """A 1-D size or stride as Keras takes it, an int or a 1-tuple of one, as an int >= 1."""
    if isinstance(value, (tuple, list)) and len(value) == 1:
        value = value[0]
    return positive_int(value, argument)


def int_pair(value, argument: str) -> tuple[int, int]:
    """An int or a pair of ints, each >= 1, as a pair (Keras accepts both for sizes and strides)."""
    pair = (value, value) if _is_int(value) else value
    try:
        pair = tuple(pair)
    except TypeError:
        pair = ()
    if len(pair) != 2 or not all(_is_int(v) and v >= 1 for v in pair):
        raise ValueError(f"{argument} must be a positive int or a pair of them, got {value!r}")
    return int(pair[0]), int(pair[1])


def finite_number(value, argument: str, *, minimum=None, maximum=None, open_minimum=False, open_maximum=False) -> float:
    """`value` as a finite float within the given bounds (open or closed at each end)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise ValueError(f"{argument} must be a finite number, got {value!r}")
    value = float(value)
    low_bad = minimum is not None and (value <= minimum if open_minimum else value < minimum)
    high_bad = maximum is not None and (value >= maximum if open_maximum else value > maximum)
    if low_bad or high_bad:
        low = "" if minimum is None else ("(" if open_minimum else "[") + f"{minimum:g}"
        high = "" if maximum is None else f"{maximum:g}" + (")" if open_maximum else "]")
        where = f"in {low or '(-inf'}, {high or 'inf)'}"
        raise ValueError(f"{argument} must be {where}, got {value!r}")
    return value


def positive_number(value, argument: str) -> float:
    """A finite float > 0 (learning rates, epsilons)."""
    return finite_number(value, argument, minimum=0, open_minimum=True)


def probability(value, argument: str, *, allow_one=False) -> float:
    """A finite float in [0, 1) (or [0, 1] with `allow_one`): dropout rates, momenta, splits."""
    return finite_number(value, argument, minimum=0, maximum=1, open_maximum=not allow_one)


def boolean(value, argument: str) -> bool:
    """`value` if it is True or False (not 0, 1 or a string)."""
    if not isinstance(value, bool):
        raise ValueError(f"{argument} must be True or False, got {value!r}")
    return value


def unsupported(owner: str, **arguments) -> None:
    """Refuse Keras arguments minidl does not implement (e.g. regularizers) unless they are None."""
    for argument, value in arguments.items():
        if value is not None:
            raise NotImplementedError(f"{owner}: {argument} is not supported by minidl (leave it None)")


def one_of(value, argument: str, choices) -> str:
    """`value` if it is one of `choices` (strings), else an error listing them."""
    if value not in choices:
        raise ValueError(f"{argument} must be one of {', '.join(map(repr, choices))}, got {value!r}")
    return value


def seed(value, argument: str = "seed") -> int | None:
    """None, or an int in [0, 2**63): NumPy's generators refuse negative seeds."""
    if value is None:
        return None
    if not _is_int(value) or not 0 <= value < 2**63:
        raise ValueError(f"{argument} must be None or an integer in [0, 2**63), got {value!r}")
    return int(value)


def channels_last(data_format, layer: str) -> str:
    """Keras's `data_format` argument: None or "channels_last" is what minidl computes.

    "channels_first" is a real Keras layout minidl does not implement, so it raises NotImplementedError.
    """
    if data_format in (None, "channels_last"):
        return "channels_last"
    if data_format == "channels_first":
        raise NotImplementedError(f"{layer}: data_format='channels_first' is not supported (channels-last only)")
    raise ValueError(f"{layer}: data_format must be 'channels_last' or 'channels_first', got {data_format!r}")


def shape_fits(shape, declared) -> bool:
    """True when `shape` is `declared`, a None in `declared` standing for any size (a sequence's length)."""
    shape, declared = tuple(shape), tuple(declared)
    return shape == declared or (len(shape) == len(declared) and all(d in (None, n) for d, n in zip(declared, shape)))


def not_supported(value, argument: str, default=None):
    """Refuse a Keras argument minidl does not implement when it is given (anything but `default`)."""
    if value is not default and value != default:
        raise NotImplementedError(f"{argument}={value!r} is not supported by minidl (only {default!r})")


def flag(value, argument: str) -> bool:
    """`value` if it is True or False (Keras's boolean switches)."""
    if not isinstance(value, bool):
        raise ValueError(f"{argument} must be True or False, got {value!r}")
    return value
