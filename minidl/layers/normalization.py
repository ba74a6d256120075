"""BatchNormalization: normalise each feature (channel) by batch statistics while training.

Notation: the input x has the batch axis and the normalised axes; `axis` (default -1, the
channels) names the axes that keep their own statistics, every other axis (batch, height, width)
is reduced over. With x (N, F) after Dense, each of the F features is normalised over the N
samples; with x (N, H, W, C) after Conv2D, each of the C channels over the M = N*H*W values.
gamma, beta, moving_mean and moving_variance have the shape of the kept axes ((F,) or (C,)).

Training forward (batch statistics, biased variance as Keras computes it):
    mu = mean(x),  var = mean((x - mu)^2)                         over the M reduced values
    x_hat = (x - mu) / sqrt(var + epsilon),  y = gamma * x_hat + beta
    moving_mean     <- moving_mean * momentum + mu * (1 - momentum)
    moving_variance <- moving_variance * momentum + var * (1 - momentum)
Inference forward (the moving statistics; the batch does not matter):
    y = gamma * (x - moving_mean) / sqrt(moving_variance + epsilon) + beta
Backward (of the training forward), with g = dL/dy and s = 1 / sqrt(var + epsilon):
    dL/dbeta = sum(g),  dL/dgamma = sum(g * x_hat)                   shape (C,)
    dL/dx = gamma * s * (g - mean(g) - x_hat * mean(g * x_hat))      shape of x
The input gradient couples the samples of a batch (through mu and var), so the layer is
`batch_dependent`: splitting a batch across workers would change the result.
"""

from __future__ import annotations

import numbers

import numpy as np

from ..errors import ShapeError
from ..utils.checks import finite_number, positive_number
from .base import Layer


def _axes_argument(axis):
    """Keras's `axis`: an int or a list of ints, as a tuple."""
    axes = [axis] if isinstance(axis, numbers.Integral) else axis
    try:
        axes = tuple(axes)
    except TypeError:
        axes = ()
    if not axes or not all(isinstance(a, numbers.Integral) and not isinstance(a, bool) for a in axes):
        raise ValueError(f"BatchNormalization: axis must be an int or a list of ints, got {axis!r}")
    return tuple(int(a) for a in axes)


class BatchNormalization(Layer):
    """Keras's BatchNormalization; the equations are in this module's docstring.

    gamma and beta are trainable (`params`); moving_mean and moving_variance are non-trainable
    state (`states`) updated in place by every training forward. `get_weights()` lists them in
    Keras's order: gamma, beta, moving_mean, moving_variance (without gamma if `scale=False`,
    without beta if `center=False`).
    """

    batch_dependent = True

    def __init__(
        self,
        axis=-1,
        momentum=0.99,
        epsilon=1e-3,
        center=True,
        scale=True,
        beta_initializer="zeros",
        gamma_initializer="ones",
        moving_mean_initializer="zeros",
        moving_variance_initializer="ones",
        beta_regularizer=None,
        gamma_regularizer=None,
        beta_constraint=None,
        gamma_constraint=None,
        renorm=False,
        synchronized=False,
        name=None,
        input_shape=None,
        **kwargs,
    ):
        super().__init__(name=name, input_shape=input_shape, **kwargs)
        self.axis = _axes_argument(axis)
        self.momentum = finite_number(momentum, "BatchNormalization: momentum", minimum=0, maximum=1)
        self.epsilon = positive_number(epsilon, "BatchNormalization: epsilon")
        for flag, value in (("center", center), ("scale", scale), ("synchronized", synchronized)):
            if not isinstance(value, bool):
                raise ValueError(f"BatchNormalization: {flag} must be True or False, got {value!r}")
        self.center, self.scale, self.synchronized = center, scale, synchronized
        unsupported = {
            "beta_regularizer": beta_regularizer,
            "gamma_regularizer": gamma_regularizer,
            "beta_constraint": beta_constraint,
            "gamma_constraint": gamma_constraint,
        }
        for argument, value in unsupported.items():
            if value is not None:
                raise NotImplementedError(f"BatchNormalization: {argument} is not supported by minidl (leave it None)")
        if renorm:
            raise NotImplementedError(
                "BatchNormalization: renorm=True (batch renormalization) is not supported by minidl"
            )
        # synchronized only matters for multi-device TensorFlow in Keras; here one process sees the whole batch.
        self.beta_initializer, self.gamma_initializer = beta_initializer, gamma_initializer
        self.moving_mean_initializer = moving_mean_initializer
        self.moving_variance_initializer = moving_variance_initializer

    # ----- shapes -----
    def compute_output_shape(self, input_shape):
        rank = len(input_shape) + 1
        kept = []
        for a in self.axis:
            full = a + rank if a < 0 else a
            if not 1 <= full < rank:
                raise ShapeError(
                    f"layer {self.name!r} (BatchNormalization): axis {a} is not a feature axis of an input "
                    f"of shape (batch, {', '.join(map(str, input_shape))})"
                )
            kept.append(full)
        if len(set(kept)) != len(kept):
            raise ShapeError(f"layer {self.name!r} (BatchNormalization): axis {list(self.axis)} repeats an axis")
        kept = tuple(sorted(kept))
        self._reduced = tuple(i for i in range(rank) if i not in kept)
        self._param_shape = tuple(input_shape[a - 1] for a in kept)
        self._broadcast = tuple(input_shape[i - 1] if i in kept else 1 for i in range(rank))
        # Kept axes at the end (the usual axis=-1): the input is then a (M, C) matrix, reduced by a product.
        self._trailing = kept == tuple(range(rank - len(kept), rank))
        return input_shape

    def build(self, input_shape):
        shape = self._param_shape
        if self.scale:
            self.gamma = self.add_weight(name="gamma", shape=shape, initializer=self.gamma_initializer)
        if self.center:
            self.beta = self.add_weight(name="beta", shape=shape, initializer=self.beta_initializer)
        self.moving_mean = self.add_weight(
            name="moving_mean", shape=shape, initializer=self.moving_mean_initializer, trainable=False
        )
        self.moving_variance = self.add_weight(
            name="moving_variance", shape=shape, initializer=self.moving_variance_initializer, trainable=False
        )

    def _sum(self, a):
        """Sum of `a` over the reduced axes, shaped to broadcast against the input."""
        if self._trailing:
            matrix = a.reshape(-1, int(np.prod(self._param_shape)))
            return (np.ones(len(matrix), a.dtype) @ matrix).reshape(self._broadcast)
        return a.sum(axis=self._reduced, keepdims=True)

    def _weight(self, name, default):
        """gamma or beta shaped for broadcasting, or the neutral value when disabled."""
        return self.params[name].reshape(self._broadcast) if name in self.params else default

    # ----- computing -----
    def forward(self, x, training=False):
        self.check_input(x)
        gamma, beta = self._weight("gamma", 1), self._weight("beta", 0)
        if not training:
            inverse = 1 / np.sqrt(self.states["moving_variance"].reshape(self._broadcast) + self.epsilon)
            factor = gamma * inverse
            out = x * factor
            out += beta - self.states["moving_mean"].reshape(self._broadcast) * factor
            return out
        count = x.size // int(np.prod(self._param_shape))
        mean = self._sum(x) / count
        centered = x - mean
        variance = self._sum(centered * centered) / count
        self.inverse_std = 1 / np.sqrt(variance + self.epsilon)
        self.x_hat = centered
        self.x_hat *= self.inverse_std
        momentum = self.momentum
        for name, batch_value in (("moving_mean", mean), ("moving_variance", variance)):
            state = self.states[name]
            state *= momentum
            state += (1 - momentum) * batch_value.reshape(state.shape)
        out = self.x_hat * gamma
        out += beta
        return out

    def backward(self, grad):
        count = grad.size // int(np.prod(self._param_shape))
        x_hat = self.x_hat
        grad_sum = self._sum(grad)
        grad_dot = self._sum(grad * x_hat)
        if "gamma" in self.grads:
            self.grads["gamma"][...] = grad_dot.reshape(self._param_shape)
        if "beta" in self.grads:
            self.grads["beta"][...] = grad_sum.reshape(self._param_shape)
        if not self.needs_input_grad:
            return None
        factor = self._weight("gamma", 1) * self.inverse_std
        dx = grad - grad_sum / count
        dx -= x_hat * (grad_dot / count)
        dx *= factor
        return dx

    def get_config(self):
        initializers = {
            key: getattr(self, key)
            for key in (
                "beta_initializer",
                "gamma_initializer",
                "moving_mean_initializer",
                "moving_variance_initializer",
            )
            if isinstance(getattr(self, key), str)  # a function cannot go into JSON; saved weights replace it anyway
        }
        return {
            **super().get_config(),
            "axis": self.axis[0] if len(self.axis) == 1 else list(self.axis),
            "momentum": self.momentum,
            "epsilon": self.epsilon,
            "center": self.center,
            "scale": self.scale,
            **initializers,
        }


class LayerNormalization(Layer):
    """Keras's LayerNormalization: each sample normalised over its last axis (its features), not the batch.

    For x (N, ..., D), per row r of D features (every position of every sample):
        mu_r = mean(x_r),  var_r = mean((x_r - mu_r)^2),  x_hat = (x_r - mu_r) / sqrt(var_r + epsilon)
        y = gamma * x_hat + beta                                  gamma, beta: (D,)
    Backward, g = dL/dy, s_r = 1 / sqrt(var_r + epsilon):
        dL/dbeta = Σ_rows g,  dL/dgamma = Σ_rows g * x_hat                    (D,)
        dL/dx = s_r * (g' - mean(g') - x_hat * mean(g' * x_hat)),  g' = g * gamma  (per row)
    A sample never meets the others: the layer is the same in training and inference, and splits
    across workers freely.
    """

    takes_unknown_dims = True
    supports_masking = True

    def __init__(self, axis=-1, epsilon=1e-3, center=True, scale=True, rms_scaling=False,
                 beta_initializer="zeros", gamma_initializer="ones", beta_regularizer=None, gamma_regularizer=None,
                 beta_constraint=None, gamma_constraint=None, name=None, input_shape=None, **kwargs):  # fmt: skip
        super().__init__(name=name, input_shape=input_shape, **kwargs)
        if axis not in (-1, [-1], (-1,)):
            raise NotImplementedError(f"LayerNormalization: axis={axis!r} is not supported by minidl (only -1)")
        if rms_scaling or beta_constraint is not None or gamma_constraint is not None:
            raise NotImplementedError("LayerNormalization: rms_scaling and constraints are not supported by minidl")
        self.epsilon = positive_number(epsilon, "LayerNormalization: epsilon")
        for flag, value in (("center", center), ("scale", scale)):
            if not isinstance(value, bool):
                raise ValueError(f"LayerNormalization: {flag} must be True or False, got {value!r}")
        self.center, self.scale = center, scale
        self.beta_initializer, self.gamma_initializer = beta_initializer, gamma_initializer
        self.beta_regularizer, self.gamma_regularizer = beta_regularizer, gamma_regularizer

    def compute_output_shape(self, input_shape):
        if not input_shape or input_shape[-1] is None:
            raise ShapeError(f"layer {self.name!r} (LayerNormalization) needs its last axis known, got {input_shape}")
        return input_shape

    def build(self, input_shape):
        features = (input_shape[-1],)
        if self.scale:
            self.add_weight(name="gamma", shape=features, initializer=self.gamma_initializer,
                            regularizer=self.gamma_regularizer)  # fmt: skip
        if self.center:
            self.add_weight(name="beta", shape=features, initializer=self.beta_initializer,
                            regularizer=self.beta_regularizer)  # fmt: skip

    def forward(self, x, training=False):
        mean = x.mean(axis=-1, keepdims=True)
        centered = x - mean
        inverse_std = 1 / np.sqrt((centered * centered).mean(axis=-1, keepdims=True) + self.epsilon)
        x_hat = centered * inverse_std
        if training:
            self.x_hat, self.inverse_std = x_hat, inverse_std
        out = x_hat * self.params["gamma"] if self.scale else x_hat.copy()
        if self.center:
            out += self.params["beta"]
        return out

    def backward(self, grad):
        x_hat = self.x_hat
        rows = int(np.prod(grad.shape[:-1]))
        if self.scale:
            self.grads["gamma"][...] = (grad * x_hat).reshape(rows, -1).sum(axis=0)
        if self.center:
            self.grads["beta"][...] = grad.reshape(rows, -1).sum(axis=0)
        if not self.needs_input_grad:
            return None
        scaled = grad * self.params["gamma"] if self.scale else grad
        dx = scaled - scaled.mean(axis=-1, keepdims=True)
        dx -= x_hat * (scaled * x_hat).mean(axis=-1, keepdims=True)
        dx *= self.inverse_std
        return dx

    def get_config(self):
        return {**super().get_config(), "epsilon": self.epsilon, "center": self.center, "scale": self.scale}
