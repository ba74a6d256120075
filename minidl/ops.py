"""`minidl.ops`: the handful of Keras 3 `keras.ops` an MNIST program uses, on NumPy arrays.

minidl computes with NumPy, so a "tensor" is a NumPy array and these are NumPy's functions under
Keras's names; `convert_to_numpy` / `convert_to_tensor` are `np.asarray`.
"""

from __future__ import annotations

import numpy as np

from .utils import checks

abs = np.abs
absolute = np.abs
add = np.add
all = np.all
any = np.any
arange = np.arange
argmax = np.argmax
argmin = np.argmin
clip = np.clip
concatenate = np.concatenate
equal = np.equal
exp = np.exp
expand_dims = np.expand_dims
log = np.log
matmul = np.matmul
max = np.max
maximum = np.maximum
mean = np.mean
min = np.min
minimum = np.minimum
multiply = np.multiply
ones = np.ones
reshape = np.reshape
sqrt = np.sqrt
square = np.square
squeeze = np.squeeze
stack = np.stack
subtract = np.subtract
sum = np.sum
tanh = np.tanh
transpose = np.transpose
where = np.where
zeros = np.zeros


def convert_to_numpy(x):
    """`x` as a NumPy array (minidl's tensors already are)."""
    return np.asarray(x)


def convert_to_tensor(x, dtype=None):
    """`x` as an array (of `dtype` if given)."""
    return np.asarray(x, dtype=dtype)


def cast(x, dtype):
    """`x` converted to `dtype`."""
    return np.asarray(x).astype(dtype)


def shape(x):
    """The shape of `x` as a tuple."""
    return np.shape(x)


def relu(x):
    """max(x, 0)."""
    return np.maximum(x, 0)


def sigmoid(x):
    """1 / (1 + e^-x), without overflow."""
    return 0.5 * (np.tanh(0.5 * np.asarray(x)) + 1)


def log_softmax(x, axis=-1):
    """log softmax(x) along `axis`, without overflow: (x − max x) − log Σ exp(x − max x)."""
    x = np.asarray(x)
    shifted = x - x.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


def softmax(x, axis=-1):
    """exp(x) / Σ exp(x) along `axis`, with the maximum subtracted first (so nothing overflows)."""
    x = np.asarray(x)
    shifted = np.exp(x - x.max(axis=axis, keepdims=True))
    shifted /= shifted.sum(axis=axis, keepdims=True)
    return shifted


def one_hot(x, num_classes, dtype="float32"):
    """Integer labels -> one-hot rows."""
    return np.eye(num_classes, dtype=dtype)[np.asarray(x, dtype=np.int64)]


def top_k(x, k, sorted=True):
    """(values, indices) of the `k` largest entries along the last axis, always largest first (so
    `sorted=False`, which lets Keras return them in any order, is satisfied too); ties keep index order."""
    x = np.asarray(x)
    indices = np.argsort(-x, axis=-1, kind="stable")[..., : checks.positive_int(k, "top_k: k")]
    return np.take_along_axis(x, indices, axis=-1), indices
