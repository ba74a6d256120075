"""Dropout, with masks that depend only on (seed, step, sample position) — not on how a batch is split.

The mask of sample k of a batch is drawn from a counter-based hash of (seed, step, k, feature)
(`minidl.random.hashed_keep`), so a batch split across several worker processes drops exactly the
units one process would drop.
"""

from __future__ import annotations

import numpy as np

from ..random import hashed_keep
from .base import Layer
from .context import TrainingContext


class Dropout(Layer):
    """During training, zero each unit with probability `rate` and scale the rest by 1/(1-rate).

    With u[n, i] uniform in [0, 1) from `hashed_uniform` (one number per sample n and unit i):

        mask[n, i] = [u[n, i] >= rate] / (1 − rate)
        training:   y = x ⊙ mask,   dL/dx = g ⊙ mask               x, y, g, mask: (N, ...)
        inference:  y = x,          dL/dx = g

    The scaling keeps the expected value unchanged, E[y] = x, so inference needs no correction.
    """

    takes_unknown_dims = True
    supports_masking = True

    def __init__(self, rate, seed=None, name=None, input_shape=None, **kwargs):
        super().__init__(name=name, input_shape=input_shape, **kwargs)
        if not 0 <= rate < 1:
            raise ValueError(f"Dropout: rate must be in [0, 1), got {rate!r}")
        self.rate = float(rate)
        self.seed = seed

    def forward(self, x, training=False):
        self.check_input(x)
        if not training or self.rate == 0:
            self.mask = None
            return x
        if isinstance(training, TrainingContext):
            seed, step, positions = training.seed_for(self), training.step, training.positions
        else:  # a layer used on its own: a fresh mask per call
            seed, step, positions = self.seed or 0, self._next_step(), np.arange(len(x))
        keep = hashed_keep(seed, step, positions, x[0].size, self.rate).reshape(x.shape)
        self.mask = np.divide(keep, 1 - self.rate, dtype=x.dtype)
        return x * self.mask

    def _next_step(self):
        self._standalone_step = getattr(self, "_standalone_step", -1) + 1
        return self._standalone_step

    def backward(self, grad):
        return grad if self.mask is None else grad * self.mask

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "seed": self.seed}
