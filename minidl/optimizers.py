"""Optimizers: SGD (momentum, Nesterov, decay) and Adam, updating one flat parameter vector.

AdamW is Adam plus decoupled weight decay; RMSprop and Adagrad are in `minidl.more_optimizers`;
learning-rate schedules in
`minidl.optimizers.schedules`.

The model keeps all its weights in one contiguous float array (each layer's weights are views
into it), so an optimizer step is a handful of vectorised operations on the whole network at once.
In the equations θ is that vector, g = dL/dθ the batch's mean gradient (same shape), t the number
of steps taken before this one, and every operation is entry by entry.
"""

from __future__ import annotations

import numpy as np

from . import schedules
from .errors import lookup
from .more_optimizers import Adagrad, RMSprop
from .optimizer_base import Optimizer

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "schedules", "get"]


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


OPTIMIZERS = {"sgd": SGD, "adam": Adam, "adamw": AdamW, "rmsprop": RMSprop, "adagrad": Adagrad}


def get(optimizer) -> Optimizer:
    """An optimizer from a name (default settings), a config dict, a class or an instance."""
    if isinstance(optimizer, Optimizer):
        return optimizer
    if isinstance(optimizer, type) and issubclass(optimizer, Optimizer):
        return optimizer()
    if isinstance(optimizer, dict):
        config = dict(optimizer)
        if isinstance(config.get("learning_rate"), dict):
            config["learning_rate"] = schedules.from_config(config["learning_rate"])
        return lookup("optimizer", config.pop("name"), OPTIMIZERS)(**config)
    return lookup("optimizer", optimizer, OPTIMIZERS)()
