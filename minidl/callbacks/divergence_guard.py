"""DivergenceGuard: a warning when training does not learn, naming the learning rate.

A learning rate far too large rarely ends in NaN (cross-entropy on clipped probabilities stays
finite): the loss just stays high, or climbs, and the accuracy sits at chance. This callback, on in
every `fit` (like TerminateOnNaN), watches for the two signs and says so once:

- after the model's first epoch of at least 8 steps, the mean loss of its last quarter of steps is above
  the loss of its first batch (by 5 %: a loss that merely stays level, as on labels that cannot be
  learned, is not named). The last quarter, not the whole epoch, since a loss that learns can rise for a
  few steps before it falls; in shorter epochs the first batch says too little, and only 3x above it counts;
- at any step the epoch's running loss is 10x the first batch's.
"""

from __future__ import annotations

import math

from .base import Callback

GROWTH = 10.0
STEPS_TO_JUDGE = 8  # an epoch shorter than this is judged only on a clear rise
EPOCH_GROWTH, SHORT_EPOCH_GROWTH = 1.05, 3.0


class DivergenceGuard(Callback):
    """Collects one warning (`message`) when the loss has not fallen after the first epoch or grew 10x."""

    def __init__(self):
        super().__init__()
        self.first_loss = self.message = None
        self.fresh, self.steps = False, 0
        self.running = []  # the epoch's running mean loss after each step (Keras's batch logs)

    def on_train_begin(self, logs=None):
        self.first_loss = self.message = None
        self.fresh, self.steps = getattr(self.model, "completed_epochs", 0) == 0, 0  # a model's first epoch
        self.running = []

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is None or not math.isfinite(loss) or self.message:
            return
        self.steps += 1
        if self.fresh:
            self.running.append(loss)
        if self.first_loss is None:
            self.first_loss = loss
        elif self.first_loss > 0 and loss > GROWTH * self.first_loss:
            self.message = self._say(f"the loss grew from {self.first_loss:.4g} to {loss:.4g} (over {GROWTH:g}x)")

    def on_epoch_end(self, epoch, logs=None):
        loss = (logs or {}).get("loss")
        if self.fresh and not self.message and self.first_loss is not None and loss is not None and math.isfinite(loss):
            if self.steps >= STEPS_TO_JUDGE:
                late, judged = self._last_quarter(), "mean of the epoch's last quarter"
                rose = late > self.first_loss * EPOCH_GROWTH
            else:
                late, judged = loss, "epoch mean"
                rose = late > self.first_loss * SHORT_EPOCH_GROWTH
            if rose:
                self.message = self._say(
                    f"the loss rose during the first epoch (first batch {self.first_loss:.4g}, {judged} {late:.4g})"
                )
        self.fresh = False

    def _last_quarter(self):
        """The mean batch loss of the epoch's last quarter of steps, from the running means (batches of one size)."""
        n = len(self.running)
        m = n - max(1, n // 4)
        return (self.running[-1] * n - self.running[m - 1] * m) / (n - m)

    def _say(self, what):
        rate = getattr(getattr(self.model, "optimizer", None), "learning_rate", None)
        named = f"learning rate {rate:g}" if isinstance(rate, (int, float)) else "learning rate"
        return f"{what}: training may be diverging — the {named} may be too high"
