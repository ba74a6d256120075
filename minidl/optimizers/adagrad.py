"""Adagrad: steps scaled by the sum of all squared gradients so far."""

from __future__ import annotations

import numpy as np

from .optimizer import Optimizer


class Adagrad(Optimizer):
    """a += g²; w -= lr g / sqrt(a + ε), with a starting at `initial_accumulator_value`."""

    name = "adagrad"
    state_names = ("accumulator",)

    def __init__(self, learning_rate=0.001, initial_accumulator_value=0.1, epsilon=1e-7):
        super().__init__(learning_rate)
        self.initial_accumulator_value = self._check("initial_accumulator_value", initial_accumulator_value, minimum=0)
        self.epsilon = self._check("epsilon", epsilon, minimum=0, open_minimum=True)
        self.accumulator = None

    def step(self, params, grads):
        lr = self.learning_rate
        self.iterations += 1
        if self.accumulator is None:
            self.accumulator = np.full_like(params, self.initial_accumulator_value)
        self.accumulator += grads * grads
        params -= lr * grads / np.sqrt(self.accumulator + self.epsilon)

    def get_config(self):
        return {
            **super().get_config(),
            "initial_accumulator_value": self.initial_accumulator_value,
            "epsilon": self.epsilon,
        }
