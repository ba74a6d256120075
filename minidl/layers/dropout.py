"""Dropout, with masks that depend only on (seed, step, sample position) — not on how a batch is split.

The mask of sample k of a batch is drawn from a counter-based hash of (seed, step, k, feature), so a
batch split across several worker processes drops exactly the units one process would drop.
"""

from __future__ import annotations

import math

import numpy as np

from .base import Layer
from .context import TrainingContext

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX_1, _MIX_2 = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)


def hashed_bits(seed: int, step: int, positions: np.ndarray, features: int) -> np.ndarray:
    """53 random bits per (position, feature) as uint64, shape (len(positions), features).

    A counter-based hash of (seed, step, position, feature), computed in place on one array plus one
    scratch array: the hash is a dozen passes over the batch, so temporaries would double its time.
    """
    x = positions.astype(np.uint64)[:, None] * np.uint64(features) + np.arange(features, dtype=np.uint64)
    key = np.array([seed, step], dtype=np.uint64) * np.array([_GOLDEN, 0xD1B54A32D192ED03], dtype=np.uint64)
    x ^= key[:1] ^ (key[1:] + _GOLDEN)
    # splitmix64's finaliser: every input bit affects every output bit.
    shifted = np.right_shift(x, np.uint64(30))
    x ^= shifted
    x *= _MIX_1
    x ^= np.right_shift(x, np.uint64(27), out=shifted)
    x *= _MIX_2
    x ^= np.right_shift(x, np.uint64(31), out=shifted)
    return np.right_shift(x, np.uint64(11), out=x)


def hashed_uniform(seed: int, step: int, positions: np.ndarray, features: int) -> np.ndarray:
    """Uniform numbers in [0, 1), shape (len(positions), features), fixed by (seed, step, position, feature)."""
    return hashed_bits(seed, step, positions, features).astype(np.float64) * (1.0 / (1 << 53))


def hashed_keep(seed: int, step: int, positions: np.ndarray, features: int, rate: float) -> np.ndarray:
    """`hashed_uniform(...) >= rate`, compared on the integers: u = bits / 2^53 >= rate exactly when
    bits >= ceil(rate * 2^53), which skips the conversion to floats (measured 4.5x faster in all)."""
    return hashed_bits(seed, step, positions, features) >= np.uint64(math.ceil(rate * float(1 << 53)))


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

    def __init__(self, rate, seed=None, name=None, input_shape=None):
        super().__init__(name=name, input_shape=input_shape)
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
