"""Model inputs as one array or several: the few things every runner and loop does with them.

A model with one input takes an array; a functional model with several takes a tuple of arrays, one
per input, with the same number of samples. These helpers treat both alike.
"""

from __future__ import annotations


def take(x, index):
    """`x[index]` for an array, or each array's for a tuple of them."""
    return tuple(part[index] for part in x) if isinstance(x, tuple) else x[index]


def count(x) -> int:
    """The number of samples."""
    return len(x[0]) if isinstance(x, tuple) else len(x)


def parts(x) -> tuple:
    """The arrays: (x,) for one input."""
    return x if isinstance(x, tuple) else (x,)


def from_parts(parts, several: bool):
    """x from its arrays: a tuple of them for a model with several inputs, else the one array."""
    return tuple(parts) if several else parts[0]
