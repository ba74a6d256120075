"""Seeds: the one place a model's seed comes from.

A model's seed fixes everything random about its training: the initial weights, the shuffle order of
every epoch and Dropout's masks. `Model(seed=...)` gives it; without one, the seed set by `set_seed`
(or Keras's `keras.utils.set_random_seed`) applies, and without that a fresh random one.
"""

from __future__ import annotations

import secrets

from . import checks

_global_seed: int | None = None
_settings = 0  # how many times set_seed was called: each call starts the seeded streams again


def set_seed(seed: int | None):
    """Seed every model created afterwards without an explicit `seed=` (None: random again)."""
    global _global_seed, _settings
    _global_seed = checks.seed(seed, "set_seed: seed")
    _settings += 1


def model_seed(seed=None, argument="Model: seed") -> int:
    """`seed` checked, else the seed of `set_seed`, else a fresh random one (31 bits)."""
    if seed is None:
        seed = _global_seed if _global_seed is not None else secrets.randbits(31)
    return checks.seed(seed, argument)


def global_seed() -> tuple[int | None, int]:
    """(the seed `set_seed` set or None, how many times it was called)."""
    return _global_seed, _settings
