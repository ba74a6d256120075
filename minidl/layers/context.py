"""TrainingContext: what a training forward pass tells the layers that draw random numbers.

A data-parallel step cuts a batch into shards computed in different processes. For Dropout to drop
exactly the units one process would drop, its mask must depend on *which step* and *which sample of
the whole batch* it is computing, not on which process runs it. The model passes this object as the
`training` argument of `forward`; it is truthy, so every other layer just reads it as `training=True`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class TrainingContext:
    """One training step's identity: optimizer `step`, `positions` of the samples in the whole batch.

    `seed` is the model's seed and `layers` its layers: `seed_for(layer)` gives each layer its own
    random stream (seed * 1000 + the layer's index); a layer not among `layers` gets `seed` itself.
    """

    step: int
    positions: np.ndarray
    seed: int = 0
    layers: tuple = field(default=(), repr=False)

    def __bool__(self):
        return True

    def seed_for(self, layer) -> int:
        """The random-stream seed of `layer` for this model."""
        for index, candidate in enumerate(self.layers):
            if candidate is layer:
                return self.seed * 1000 + index
        return self.seed


_current: list[TrainingContext] = []


def current() -> TrainingContext | None:
    """The context of the training step being computed, or None outside one."""
    return _current[-1] if _current else None


class stepping:
    """Make `context` current for the block (one training step's forward pass)."""

    def __init__(self, context: TrainingContext):
        self.context = context

    def __enter__(self):
        _current.append(self.context)
        return self.context

    def __exit__(self, *exc_info):
        _current.pop()
        return False
