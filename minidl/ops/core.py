"""`keras.ops`'s core functions: converting between tensors and NumPy arrays.

minidl computes with NumPy: a tensor outside a tape *is* a NumPy array, and a `Tensor` on a tape
holds one (`.value`).
"""

from __future__ import annotations

import numpy as np

from .symbolic import KerasTensor
from .tape import Tensor


def convert_to_numpy(x):
    """`x` as a NumPy array (a tensor's value)."""
    if isinstance(x, KerasTensor):
        np.asarray(x)  # raises the symbolic tensor's one-line explanation
    return np.asarray(x.value if isinstance(x, Tensor) else x)


def convert_to_tensor(x, dtype=None, sparse=None):
    """`x` as a tensor: a tensor stays itself, anything else becomes an array (of `dtype` if given)."""
    if isinstance(x, (Tensor, KerasTensor)):
        return x
    return np.asarray(x, dtype=dtype)


def is_tensor(x):
    """Whether `x` is one of minidl's tensors (an array, a tape's Tensor or a symbolic tensor)."""
    return isinstance(x, (np.ndarray, Tensor, KerasTensor))
