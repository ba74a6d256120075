"""Weight initialisers: Glorot/He uniform and normal, zeros, ones (functions, and Keras's class forms).

Each takes `(shape, fan_in, fan_out, rng, dtype)` so layers decide what fan means for them
(for a kernel (kh, kw, in, out): fan_in = kh*kw*in, fan_out = kh*kw*out).
"""

from __future__ import annotations

import numpy as np

from . import flat
from .errors import lookup


def glorot_uniform(shape, fan_in, fan_out, rng, dtype):
    """Uniform in ±sqrt(6 / (fan_in + fan_out)): keeps activation variance steady for tanh/sigmoid."""
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, size=shape).astype(dtype)


def he_uniform(shape, fan_in, fan_out, rng, dtype):
    """Uniform in ±sqrt(6 / fan_in): the variance-preserving choice for ReLU."""
    limit = np.sqrt(6.0 / fan_in)
    return rng.uniform(-limit, limit, size=shape).astype(dtype)


def glorot_normal(shape, fan_in, fan_out, rng, dtype):
    """Normal with std sqrt(2 / (fan_in + fan_out))."""
    return (rng.standard_normal(size=shape) * np.sqrt(2.0 / (fan_in + fan_out))).astype(dtype)


def he_normal(shape, fan_in, fan_out, rng, dtype):
    """Normal with std sqrt(2 / fan_in)."""
    return (rng.standard_normal(size=shape) * np.sqrt(2.0 / fan_in)).astype(dtype)


def zeros(shape, fan_in, fan_out, rng, dtype):
    """All zeros (the default for biases)."""
    return np.zeros(shape, dtype=dtype)


def ones(shape, fan_in, fan_out, rng, dtype):
    """All ones (BatchNormalization's gamma and moving variance)."""
    return np.ones(shape, dtype=dtype)


INITIALIZERS = {f.__name__: f for f in (glorot_uniform, glorot_normal, he_uniform, he_normal, zeros, ones)}


class Initializer:
    """Keras's class form, e.g. `initializers.HeNormal()`: a named initialiser (seeds come from the model)."""

    key = "zeros"

    def __init__(self, seed=None):
        self.seed = seed

    def __call__(self, shape, fan_in, fan_out, rng, dtype):
        return INITIALIZERS[self.key](shape, fan_in, fan_out, rng, dtype)


def _initializer_class(class_name, key):
    return type(class_name, (Initializer,), {"key": key, "__doc__": f"Keras's {class_name}: see `{key}`."})


GlorotUniform = _initializer_class("GlorotUniform", "glorot_uniform")
GlorotNormal = _initializer_class("GlorotNormal", "glorot_normal")
HeUniform = _initializer_class("HeUniform", "he_uniform")
HeNormal = _initializer_class("HeNormal", "he_normal")
Zeros = _initializer_class("Zeros", "zeros")
Ones = _initializer_class("Ones", "ones")


def get(name_or_function):
    """Resolve an initialiser given by name (Keras's snake_case or class name) or as a function.

    Inside `flat.placeholder_weights()` (a model about to be loaded) it is `zeros`, once the name is known.
    """
    if callable(name_or_function):
        function = name_or_function
    else:
        if isinstance(name_or_function, str) and name_or_function in globals() and name_or_function[0].isupper():
            name_or_function = globals()[name_or_function].key
        function = lookup("initializer", name_or_function, INITIALIZERS)
    return zeros if flat.placeholders() else function
