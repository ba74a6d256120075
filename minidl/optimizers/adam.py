"""Adam: per-weight step sizes from running means of the gradient and of its square."""

from __future__ import annotations

import numpy as np

from .optimizer import Optimizer


class Adam(Optimizer):
    """Adam (Kingma & Ba) with bias correction; defaults as in Keras.

        m ← β₁ · m + (1 − β₁) · g                 (running mean of the gradient)
        v ← β₂ · v + (1 − β₂) · g²                (running mean of its square)
        θ ← θ − η · √(1 − β₂^t) / (1 − β₁^t) · m / (√v + ε)      t counting this step from 1

    The factor √(1 − β₂^t) / (1 − β₁^t) corrects m and v for starting at zero; ε is added to the
    uncorrected √v, as Keras does.
    """

    name = "adam"
    state_names = ("m", "v")

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7):
        super().__init__(learning_rate)
        self.beta_1 = self._check("beta_1", beta_1, minimum=0, maximum=1, open_maximum=True)
        self.beta_2 = self._check("beta_2", beta_2, minimum=0, maximum=1, open_maximum=True)
        self.epsilon = self._check("epsilon", epsilon, minimum=0, open_minimum=True)
        self.m = self.v = None

    def step(self, params, grads):
        if self.m is None:
            self.m, self.v = np.zeros_like(params), np.zeros_like(params)
        self.iterations += 1
        t = self.iterations
        work = self.scratch(params)
        self.m *= self.beta_1
        self.m += np.multiply(grads, 1 - self.beta_1, out=work)
        self.v *= self.beta_2
        np.multiply(grads, grads, out=work)
        work *= 1 - self.beta_2
        self.v += work
        lr = self.learning_rate * np.sqrt(1 - self.beta_2**t) / (1 - self.beta_1**t)
        np.sqrt(self.v, out=work)
        work += self.epsilon
        np.divide(self.m, work, out=work)
        work *= lr
        params -= work

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon}
