"""`minidl.utils`: Keras's small helpers (one-hot labels, seeding, normalising) and minidl's own.

The modules here serve the whole package: `checks` (argument checks, one wording for every entry
point), `naming` (Keras's automatic layer names), `interrupts` (Ctrl-C held back over short critical
sections), `model_summary` (Keras's summary table), `numerical` (whole-array checks), `rng` (seeds),
`sequences` (Keras's `pad_sequences`), `temporaries` (files replaced whole; temporaries of killed writers
swept) and `terminal` (whether output ends on a terminal, also under mpiexec, and the rich consoles that
ask it).
"""

from __future__ import annotations

import random

import numpy as np

from . import checks, rng
from .naming import clear_session as clear_session
from .py_dataset import PyDataset
from .sequences import pad_sequences as pad_sequences  # keras.utils.pad_sequences

Sequence = PyDataset  # Keras's older name


def to_categorical(x, num_classes=None):
    """Integer labels (any shape) -> one-hot float32 rows with a new last axis of `num_classes`."""
    labels = np.asarray(x)
    if labels.ndim > 1 and labels.shape[-1] == 1:
        labels = labels[..., 0]
    if labels.size and (labels.dtype.kind not in "iuf" or np.any(labels != np.round(labels)) or labels.min() < 0):
        raise ValueError("to_categorical: labels must be non-negative whole numbers")
    labels = labels.astype(np.int64)
    biggest = int(labels.max()) + 1 if labels.size else 0
    num_classes = biggest if num_classes is None else checks.positive_int(num_classes, "to_categorical: num_classes")
    if biggest > num_classes:
        raise ValueError(f"to_categorical: label {biggest - 1} does not fit num_classes={num_classes}")
    return np.eye(num_classes, dtype=np.float32)[labels]


def set_random_seed(seed):
    """Seed Python's `random`, NumPy's global generator and every minidl model created afterwards."""
    seed = checks.seed(seed, "set_random_seed: seed")
    random.seed(seed)
    np.random.seed(seed % 2**32)
    rng.set_seed(seed)


def normalize(x, axis=-1, order=2):
    """`x` divided by its `order`-norm along `axis` (zero vectors stay zero)."""
    x = np.asarray(x, dtype=np.float32)
    norm = np.linalg.norm(x, ord=order, axis=axis, keepdims=True)
    return np.divide(x, norm, out=np.zeros_like(x), where=norm > 0)
