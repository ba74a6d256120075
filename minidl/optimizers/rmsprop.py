"""RMSprop: steps scaled by a running mean of the squared gradient (centered and with momentum)."""

from __future__ import annotations

import numpy as np

from .optimizer import Optimizer


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
