"""MonitorCallback: what EarlyStopping and ModelCheckpoint share — watching one metric for improvement."""

from __future__ import annotations

import math

from ..utils import checks
from .base import Callback


class MonitorCallback(Callback):
    """Watches `monitor` in the epoch logs; `improved(value)` says whether it beat the best so far.

    `mode` is "min" (lower is better), "max", or "auto": "max" for metrics whose name contains "acc",
    else "min" (Keras's rule). An improvement must beat the best by more than `min_delta`.
    """

    def __init__(self, monitor="val_loss", mode="auto", min_delta=0.0):
        super().__init__()
        checks.one_of(mode, f"{type(self).__name__}: mode", ("auto", "min", "max"))
        if mode == "auto":
            mode = "max" if "acc" in monitor else "min"
        self.monitor, self.mode = monitor, mode
        self.min_delta = abs(checks.finite_number(min_delta, f"{type(self).__name__}: min_delta"))
        self.sign = 1.0 if mode == "min" else -1.0
        self.reset()

    def reset(self):
        """Forget the best value seen."""
        self.best = math.inf  # stored sign-adjusted: lower is always better here

    def current(self, logs) -> float:
        """The monitored value in `logs`, or a KeyError listing what is there."""
        if self.monitor not in (logs or {}):
            raise KeyError(
                f"{type(self).__name__}: metric {self.monitor!r} is not in the epoch logs "
                f"(available: {sorted(logs or {})})"
            )
        return logs[self.monitor]

    def improved(self, value) -> bool:
        """True (and the best updated) if `value` beats the best by more than `min_delta`."""
        value = self.sign * value
        if value < self.best - self.min_delta:
            self.best = value
            return True
        return False
