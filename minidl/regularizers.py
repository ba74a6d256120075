"""`keras.regularizers`: penalties on weights, added to the training loss.

A layer given `kernel_regularizer=L2(0.01)` adds 0.01 · Σ w² to the loss of every step, and
0.02 · w to the kernel's gradient (the model does both, in `forward_backward`). As in Keras the
penalty is added once per batch, on top of the batch's mean loss.
"""

from __future__ import annotations

import numpy as np

from .utils import checks


class Regularizer:
    """Base: `__call__(w)` is the penalty, `gradient(w)` its derivative with respect to w."""

    def __call__(self, w) -> float:
        raise NotImplementedError

    def gradient(self, w) -> np.ndarray:
        raise NotImplementedError

    def get_config(self) -> dict:
        return {}


class L1L2(Regularizer):
    """l1 · Σ |w| + l2 · Σ w²;   d/dw = l1 · sign(w) + 2 l2 · w."""

    def __init__(self, l1=0.0, l2=0.0):
        self.l1 = checks.finite_number(l1, "L1L2: l1", minimum=0)
        self.l2 = checks.finite_number(l2, "L1L2: l2", minimum=0)

    def __call__(self, w):
        w = np.asarray(w)
        return float(self.l1 * np.abs(w).sum() + self.l2 * np.square(w).sum())

    def gradient(self, w):
        return self.l1 * np.sign(w) + 2 * self.l2 * w

    def get_config(self):
        return {"l1": self.l1, "l2": self.l2}


class L1(L1L2):
    """l1 · Σ |w| (Keras's default l1 = 0.01)."""

    def __init__(self, l1=0.01):
        super().__init__(l1=l1)

    def get_config(self):
        return {"l1": self.l1}


class L2(L1L2):
    """l2 · Σ w² (Keras's default l2 = 0.01)."""

    def __init__(self, l2=0.01):
        super().__init__(l2=l2)

    def get_config(self):
        return {"l2": self.l2}


l1, l2, l1_l2 = L1, L2, L1L2
REGULARIZERS = {"L1": L1, "L2": L2, "L1L2": L1L2, "l1": L1, "l2": L2, "l1_l2": L1L2}


def get(identifier) -> Regularizer:
    """A regularizer from an instance, a name ("l2"), or a config {"class_name": ..., "config": {...}}."""
    if isinstance(identifier, Regularizer):
        return identifier
    if isinstance(identifier, dict):
        return REGULARIZERS[identifier["class_name"]](**identifier.get("config", {}))
    if isinstance(identifier, str) and identifier in REGULARIZERS:
        return REGULARIZERS[identifier]()
    raise ValueError(f"unknown regularizer {identifier!r}; use one of L1, L2, L1L2 (or 'l1', 'l2', 'l1_l2')")


def serialize(regularizer) -> dict | None:
    """{"class_name", "config"} of a regularizer (None stays None)."""
    if regularizer is None:
        return None
    regularizer = get(regularizer)
    return {"class_name": type(regularizer).__name__, "config": regularizer.get_config()}


def config_of(**by_argument) -> dict:
    """{argument: serialized regularizer} of those set (a layer's config leaves unset ones out)."""
    return {argument: serialize(value) for argument, value in by_argument.items() if value is not None}
