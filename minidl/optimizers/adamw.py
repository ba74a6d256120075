"""AdamW: Adam with weight decay applied to the weights directly, not through the gradient."""

from __future__ import annotations

from .adam import Adam


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter), as Keras: w -= lr * weight_decay * w, then Adam."""

    name = "adamw"

    def __init__(self, learning_rate=0.001, weight_decay=0.004, beta_1=0.9, beta_2=0.999, epsilon=1e-7):
        super().__init__(learning_rate, beta_1, beta_2, epsilon)
        self.weight_decay = self._check("weight_decay", weight_decay, minimum=0)

    def step(self, params, grads):
        params *= 1.0 - self.learning_rate * self.weight_decay
        super().step(params, grads)

    def get_config(self):
        return {**super().get_config(), "weight_decay": self.weight_decay}
