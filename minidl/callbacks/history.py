"""History: the per-epoch logs `fit` returns."""

from __future__ import annotations

from .base import Callback


class History(Callback):
    """Collects the epoch logs; `fit` returns it. `history` maps each metric to its per-epoch list."""

    def __init__(self):
        super().__init__()
        self.history: dict[str, list[float]] = {}
        self.epoch: list[int] = []

    def on_train_begin(self, logs=None):
        self.history, self.epoch = {}, []

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(float(value))
