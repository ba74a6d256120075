"""RMSprop and Adagrad, as Keras 3 computes them, on the model's flat parameter vector."""

from __future__ import annotations

import numpy as np

from .optimizer_base import Optimizer


class RMSprop(Optimizer):
    """v = ρ v + (1 - ρ) g²; Δ = lr g / sqrt(v + ε) (centered: v - ḡ² + ε, ḡ = ρ ḡ + (1 - ρ) g);
    w -= Δ, or with momentum m = μ m + Δ; w -= m."""

    name = "rmsprop"
    state_names = ("velocity", "average_gradient", "moment")

    def __init__(self, learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7, centered=False):
        super().__init__(learning_rate)
        self.rho = self._check("rho", rho, minimum=0, maximum=1, open_maximum=True)
        self.momentum = self._check("momentum", momentum, minimum=0, maximum=1, open_maximum=True)
        self.epsilon = self._check("epsilon", epsilon, minimum=0, open_minimum=True)
        self.centered = bool(centered)
        self.velocity = self.average_gradient = self.moment = None

    def step(self, params, grads):
        lr = self.learning_rate
        self.iterations += 1
        if self.velocity is None:
            self.velocity = np.zeros_like(params)
            self.average_gradient = np.zeros_like(params) if self.centered else None
            self.moment = np.zeros_like(params) if self.momentum else None
        self.velocity *= self.rho
        self.velocity += (1 - self.rho) * grads * grads
        denominator = self.velocity + self.epsilon
        if self.centered:
            self.average_gradient *= self.rho
            self.average_gradient += (1 - self.rho) * grads
            denominator -= self.average_gradient**2
        increment = lr * grads / np.sqrt(denominator)
        if self.momentum:
            self.moment *= self.momentum
            self.moment += increment
            increment = self.moment
        params -= increment

    def get_config(self):
        return {
            **super().get_config(),
            "rho": self.rho,
            "momentum": self.momentum,
            "epsilon": self.epsilon,
            "centered": self.centered,
        }


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
