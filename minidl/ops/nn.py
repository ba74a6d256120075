"""`keras.ops`'s neural-network functions: activations, softmax, one-hot — each an `Op` with its backward.

Notation as in `numpy.py`: g = dL/d(output), and each backward returns dL/d(input). These are the one
home of the numerics they compute: the layers and losses call `softmax` and `log_softmax` from here.
"""

from __future__ import annotations

import math

import numpy as np

from .operation import Op
from .tape import value_of


class Relu(Op):
    """z = max(x, 0);   dL/dx = g ⊙ [x > 0]."""

    def forward(self, x):
        self.x = x
        return np.maximum(x, 0)

    def backward(self, g):
        return (g * (self.x > 0),)


class Sigmoid(Op):
    """z = 1 / (1 + e⁻ˣ) = (1 + tanh(x/2)) / 2 (no overflow);   dL/dx = g ⊙ z (1 − z)."""

    def forward(self, x):
        self.z = 0.5 * (np.tanh(0.5 * np.asarray(x)) + 1)
        return self.z

    def backward(self, g):
        return (g * self.z * (1 - self.z),)


class Softplus(Op):
    """z = log(1 + eˣ), computed as max(x, 0) + log(1 + e^−|x|);   dL/dx = g ⊙ sigmoid(x)."""

    def forward(self, x):
        self.x = np.asarray(x)
        return np.maximum(self.x, 0) + np.log1p(np.exp(-np.abs(self.x)))

    def backward(self, g):
        return (g * 0.5 * (np.tanh(0.5 * self.x) + 1),)


class Silu(Op):
    """z = x · sigmoid(x) (swish);   dL/dx = g ⊙ (s + x s (1 − s)),  s = sigmoid(x)."""

    def forward(self, x):
        self.x = np.asarray(x)
        self.s = 0.5 * (np.tanh(0.5 * self.x) + 1)
        return self.x * self.s

    def backward(self, g):
        return (g * (self.s + self.x * self.s * (1 - self.s)),)


class LeakyRelu(Op):
    """z = x for x ≥ 0, slope · x below;   dL/dx = g, or g · slope below 0."""

    def forward(self, x, negative_slope=0.2):
        self.x, self.slope = np.asarray(x), negative_slope
        return np.where(self.x >= 0, self.x, negative_slope * self.x)

    def backward(self, g):
        return (np.where(self.x >= 0, g, self.slope * g),)


class Elu(Op):
    """z = x for x > 0, α (eˣ − 1) below;   dL/dx = g, or g · α eˣ below 0."""

    def forward(self, x, alpha=1.0):
        self.x, self.alpha = np.asarray(x), alpha
        return np.where(self.x > 0, self.x, alpha * np.expm1(np.minimum(self.x, 0)))

    def backward(self, g):
        return (np.where(self.x > 0, g, g * self.alpha * np.exp(np.minimum(self.x, 0))),)


_erf = np.frompyfunc(math.erf, 1, 1)


class Gelu(Op):
    """Gaussian error linear unit, z = x Φ(x) with Φ the normal distribution function.

    Exact: Φ(x) = (1 + erf(x/√2)) / 2,   dL/dx = g ⊙ (Φ(x) + x φ(x)),  φ(x) = e^(−x²/2) / √(2π).
    `approximate=True` (keras.ops' default): z = x/2 (1 + tanh(u)), u = √(2/π) (x + 0.044715 x³),
    dL/dx = g ⊙ (½ (1 + tanh u) + ½ x (1 − tanh² u) √(2/π) (1 + 3 · 0.044715 x²)).
    (The exact form's erf is Python's `math.erf` per entry: exact, and slower than the approximation.)
    """

    def forward(self, x, approximate=True):
        self.x, self.approximate = np.asarray(x), approximate
        if approximate:
            self.t = np.tanh(math.sqrt(2 / math.pi) * (self.x + 0.044715 * self.x**3))
            return 0.5 * self.x * (1 + self.t)
        self.phi = 0.5 * (1 + _erf(self.x / math.sqrt(2)).astype(self.x.dtype))
        return self.x * self.phi

    def backward(self, g):
        x = self.x
        if self.approximate:
            du = math.sqrt(2 / math.pi) * (1 + 3 * 0.044715 * x**2)
            return (g * (0.5 * (1 + self.t) + 0.5 * x * (1 - self.t**2) * du),)
        density = np.exp(-0.5 * x**2) / math.sqrt(2 * math.pi)
        return (g * (self.phi + x * density),)


class Softmax(Op):
    """z = eˣ / Σ eˣ along `axis` (the maximum subtracted first, so nothing overflows);
    dL/dx = z ⊙ (g − Σ g ⊙ z), the sum along `axis`."""

    def forward(self, x, axis=-1):
        x = np.asarray(x)
        self.axis = axis
        z = np.exp(x - x.max(axis=axis, keepdims=True))
        z /= z.sum(axis=axis, keepdims=True)
        self.z = z
        return z

    def backward(self, g):
        return (self.z * (g - (g * self.z).sum(axis=self.axis, keepdims=True)),)


class LogSoftmax(Op):
    """z = x − m − log Σ e^(x − m) along `axis` (m = max x);   dL/dx = g − softmax(x) ⊙ Σ g."""

    def forward(self, x, axis=-1):
        x = np.asarray(x)
        self.axis = axis
        shifted = x - x.max(axis=axis, keepdims=True)
        z = shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))
        self.z = z
        return z

    def backward(self, g):
        return (g - np.exp(self.z) * g.sum(axis=self.axis, keepdims=True),)


def relu(x):
    """max(x, 0)."""
    return Relu()(x)


def sigmoid(x):
    """1 / (1 + e⁻ˣ), without overflow."""
    return Sigmoid()(x)


def softplus(x):
    """log(1 + eˣ), without overflow."""
    return Softplus()(x)


def silu(x):
    """x · sigmoid(x)."""
    return Silu()(x)


swish = silu


def leaky_relu(x, negative_slope=0.2):
    """x, or negative_slope · x below 0."""
    return LeakyRelu()(x, negative_slope=negative_slope)


def elu(x, alpha=1.0):
    """x, or α (eˣ − 1) below 0."""
    return Elu()(x, alpha=alpha)


def gelu(x, approximate=True):
    """x Φ(x) (tanh approximation by default, as keras.ops.gelu)."""
    return Gelu()(x, approximate=approximate)


def softmax(x, axis=-1):
    """exp(x) / Σ exp(x) along `axis`, with the maximum subtracted first (so nothing overflows)."""
    return Softmax()(x, axis=axis)


def log_softmax(x, axis=-1):
    """log softmax(x) along `axis`, without overflow: (x − max x) − log Σ exp(x − max x)."""
    return LogSoftmax()(x, axis=axis)


def one_hot(x, num_classes, axis=-1, dtype=None):
    """Integer labels -> one-hot rows along a new last axis (not differentiable)."""
    labels = np.asarray(value_of(x), dtype=np.int64)
    result = np.eye(num_classes, dtype=dtype or "float32")[labels]
    return result if axis == -1 else np.moveaxis(result, -1, axis)


__all__ = [
    name for name in dir() if not name.startswith("_") and name.islower() and name not in ("annotations", "math", "np")
]
