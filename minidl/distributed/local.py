"""LocalRunner: the whole batch computed in this process."""

from __future__ import annotations

from .base import Runner
from .resources import blas_threads


class LocalRunner(Runner):
    """Computes gradients and predictions in the calling process (`workers=1`)."""

    workers = 1

    def __init__(self, model):
        self.model = model
        self.threads_per_worker = blas_threads()

    def gradients(self, x, y, indices, step):
        """Mean gradient of the batch `indices` into model.gradients; returns (loss sum, correct count)."""
        return self.model.forward_backward(x[indices], y[indices], len(indices), step)

    def predict(self, x, batch_size):
        """The model's outputs for `x`, in batches of `batch_size`."""
        return self.model.predict_in_batches(x, batch_size)

    def close(self):
        """Nothing to release."""
