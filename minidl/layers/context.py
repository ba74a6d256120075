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


class Inference:
    """What a model's inference pass makes current: layers called without `training` run in inference mode."""

    def __bool__(self):
        return False


INFERENCE = Inference()


class LayerDefaults:
    """What `model(x)` called without `training` makes current: each layer called without it takes its
    own default (Keras's rule: inference, except the random augmentation layers, which augment)."""

    def __bool__(self):
        return False


LAYER_DEFAULTS = LayerDefaults()

_current: list = []


def current():
    """The context of the training step being computed, `INFERENCE` inside a model's inference pass, or None
    outside any model (a layer called on its own)."""
    return _current[-1] if _current else None


def training_step():
    """The TrainingContext of the step being computed, or None."""
    context = current()
    return context if isinstance(context, TrainingContext) else None


class stepping:
    """Make `context` current for the block (one training step's forward pass)."""

    def __init__(self, context):
        self.context = context

    def __enter__(self):
        _current.append(self.context)
        return self.context

    def __exit__(self, *exc_info):
        _current.pop()
        return False
