"""Keras's automatic names: a class's snake_case name, then `_1`, `_2`, ... for later instances.

`Conv2D` becomes `conv2d`, `conv2d_1`, ...; `MaxPooling2D` `max_pooling2d`; a `Sequential` model
`sequential`. One counter per base name for the whole process, as in Keras, so names in a summary
read the same as Keras prints them.
"""

from __future__ import annotations

import collections
import re

_used = collections.Counter()


def snake_case(class_name: str) -> str:
    """`BatchNormalization` -> `batch_normalization`, `Conv2D` -> `conv2d` (Keras's spelling)."""
    spaced = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", class_name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", spaced).lower()


def unique_name(base: str) -> str:
    """`base` the first time, then `base_1`, `base_2`, ..."""
    count = _used[base]
    _used[base] += 1
    return base if count == 0 else f"{base}_{count}"


def name_for(obj) -> str:
    """A fresh Keras-style name for an instance of `obj`'s class."""
    return unique_name(snake_case(type(obj).__name__))


def clear_session(free_memory=True):
    """Keras's `keras.utils.clear_session()`: automatic names start again from `conv2d`, `dense`, ...

    Layers and models already made keep their names. `free_memory` is accepted for Keras's signature;
    minidl holds no global graph or device memory to free.
    """
    _used.clear()
