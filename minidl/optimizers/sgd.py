"""SGD: stochastic gradient descent with momentum, Nesterov's form and decay, on one flat vector.

The model keeps all its weights in one contiguous float array (each layer's weights are views into
it), so an optimizer step is a handful of vectorised operations on the whole network at once. In
the equations θ is that vector, g = dL/dθ the batch's mean gradient (same shape), t the number of
steps taken before this one, and every operation is entry by entry.
"""

from __future__ import annotations

import numpy as np

from .optimizer import Optimizer


class SGD(Optimizer):
    """Stochastic gradient descent, Keras-style: v = m*v - lr*g; w += v (or the Nesterov form).

    `decay` shrinks the rate as lr / (1 + decay * iterations), like Keras's legacy argument.

        η_t = η / (1 + decay · t)
        plain (momentum μ = 0):  θ ← θ − η_t · g
        momentum:                v ← μ · v − η_t · g,   θ ← θ + v
        Nesterov:                v ← μ · v − η_t · g,   θ ← θ + μ · v − η_t · g
    """

    name = "sgd"
    state_names = ("velocity",)

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, decay=0.0):
        super().__init__(learning_rate)
        momentum = self._check("momentum", momentum, minimum=0, maximum=1, open_maximum=True)
        decay = self._check("decay", decay, minimum=0)
        self.momentum, self.nesterov, self.decay = momentum, bool(nesterov), decay
        self.velocity = None

    def step(self, params, grads):
        lr = self.learning_rate / (1.0 + self.decay * self.iterations)
        self.iterations += 1
        scaled = np.multiply(grads, lr, out=self.scratch(params))
        if self.momentum == 0:
            params -= scaled
            return
        if self.velocity is None:
            self.velocity = np.zeros_like(params)
        self.velocity *= self.momentum
        self.velocity -= scaled
        if self.nesterov:
            # w += m*v - lr*g, in two in-place steps through the same buffer.
            params -= scaled
            params += np.multiply(self.velocity, self.momentum, out=scaled)
        else:
            params += self.velocity

    def get_config(self):
        return {**super().get_config(), "momentum": self.momentum, "nesterov": self.nesterov, "decay": self.decay}
