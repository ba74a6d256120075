"""Optimizers: SGD (momentum, Nesterov, decay) and Adam, updating one flat parameter vector.

The model keeps all its weights in one contiguous float array (each layer's weights are views
into it), so an optimizer step is a handful of vectorised operations on the whole network at once.
In the equations θ is that vector, g = dL/dθ the batch's mean gradient (same shape), t the number
of steps taken before this one, and every operation is entry by entry.
"""

from __future__ import annotations

import numpy as np

from .errors import lookup


class Optimizer:
    """Base class: `step(params, grads)` updates `params` in place from the mean gradient `grads`."""

    name = "optimizer"

    def __init__(self, learning_rate):
        if not learning_rate > 0:
            raise ValueError(f"{type(self).__name__}: learning_rate must be positive, got {learning_rate!r}")
        self.learning_rate = float(learning_rate)
        self.iterations = 0

    def step(self, params: np.ndarray, grads: np.ndarray):
        """Apply one update; `params` and `grads` are the model's flat vectors."""
        raise NotImplementedError

    def scratch(self, params):
        """A work array like `params`, reused by every step (a fresh one would cost page faults each step)."""
        work = getattr(self, "_work", None)
        if work is None or work.shape != params.shape or work.dtype != params.dtype:
            work = self._work = np.empty_like(params)
        return work

    def get_config(self) -> dict:
        """Name and settings, for save/load and statistics."""
        return {"name": self.name, "learning_rate": self.learning_rate}

    def get_state(self) -> dict:
        """What `step` has accumulated (step count, moments), for an exact resume; arrays are copies."""
        return {"iterations": self.iterations}

    def set_state(self, state: dict):
        """Take over a state from `get_state` (e.g. read from a file), so the next step continues it."""
        iterations = state["iterations"]
        if isinstance(iterations, bool) or not isinstance(iterations, (int, np.integer)) or iterations < 0:
            raise ValueError(f"{type(self).__name__}: iterations must be a non-negative integer, got {iterations!r}")
        self.iterations = int(iterations)

    def _copy_state_arrays(self, state, names):
        for name in names:
            value = state.get(name)
            setattr(self, name, None if value is None else np.array(value, copy=True))


class SGD(Optimizer):
    """Stochastic gradient descent, Keras-style: v = m*v - lr*g; w += v (or the Nesterov form).

    `decay` shrinks the rate as lr / (1 + decay * iterations), like Keras's legacy argument.

        η_t = η / (1 + decay · t)
        plain (momentum μ = 0):  θ ← θ − η_t · g
        momentum:                v ← μ · v − η_t · g,   θ ← θ + v
        Nesterov:                v ← μ · v − η_t · g,   θ ← θ + μ · v − η_t · g
    """

    name = "sgd"

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, decay=0.0):
        super().__init__(learning_rate)
        if not 0 <= momentum < 1:
            raise ValueError(f"SGD: momentum must be in [0, 1), got {momentum!r}")
        if decay < 0:
            raise ValueError(f"SGD: decay must be >= 0, got {decay!r}")
        self.momentum, self.nesterov, self.decay = float(momentum), bool(nesterov), float(decay)
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

    def get_state(self):
        """Step count (it sets the decayed rate) and the momentum velocity (None before the first step)."""
        velocity = None if self.velocity is None else self.velocity.copy()
        return {**super().get_state(), "velocity": velocity}

    def set_state(self, state):
        super().set_state(state)
        self._copy_state_arrays(state, ("velocity",))


class Adam(Optimizer):
    """Adam (Kingma & Ba) with bias correction; defaults as in Keras.

        m ← β₁ · m + (1 − β₁) · g                 (running mean of the gradient)
        v ← β₂ · v + (1 − β₂) · g²                (running mean of its square)
        θ ← θ − η · √(1 − β₂^t) / (1 − β₁^t) · m / (√v + ε)      t counting this step from 1

    The factor √(1 − β₂^t) / (1 − β₁^t) corrects m and v for starting at zero; ε is added to the
    uncorrected √v, as Keras does.
    """

    name = "adam"

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7):
        super().__init__(learning_rate)
        if not (0 <= beta_1 < 1 and 0 <= beta_2 < 1):
            raise ValueError(f"Adam: beta_1 and beta_2 must be in [0, 1), got {beta_1!r}, {beta_2!r}")
        self.beta_1, self.beta_2, self.epsilon = float(beta_1), float(beta_2), float(epsilon)
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

    def get_state(self):
        """Step count (it sets the bias correction) and both moment estimates (None before the first step)."""
        moments = {name: None if getattr(self, name) is None else getattr(self, name).copy() for name in ("m", "v")}
        return {**super().get_state(), **moments}

    def set_state(self, state):
        super().set_state(state)
        self._copy_state_arrays(state, ("m", "v"))


OPTIMIZERS = {"sgd": SGD, "adam": Adam}


def get(optimizer) -> Optimizer:
    """An optimizer from a name (default settings), a config dict, or an instance."""
    if isinstance(optimizer, Optimizer):
        return optimizer
    if isinstance(optimizer, dict):
        config = dict(optimizer)
        return lookup("optimizer", config.pop("name"), OPTIMIZERS)(**config)
    return lookup("optimizer", optimizer, OPTIMIZERS)()
