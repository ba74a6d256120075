"""Activation layers: ReLU, LeakyReLU, Sigmoid, Tanh, Softmax, Linear, and Keras's `Activation`.

Each element-wise activation keeps its output from the forward pass, because every derivative here
is cheapest written in terms of the output. Dense and Conv2D use these same classes for
`activation="..."`; there they may work in place on a fresh pre-activation (`inplace=True`), saving
one array per step. `Activation("relu")` is Keras's layer that applies a named activation; it
wraps one of these classes.

For all of them, forward maps x (N, ...) to y = f(x) of the same shape, and backward maps
dL/dy (N, ...) to dL/dx = dL/dy * f'(x) (Softmax: the Jacobian-vector product over its last axis).
Written with g = dL/dy and ⊙ for the entry-wise product, the chain rule of every element-wise
activation is

    dL/dx = g ⊙ f'(x),   with f' expressed through the output: y(1 − y) for the sigmoid,
                         1 − y² for tanh, [y > 0] for ReLU
"""

from __future__ import annotations

import warnings

import numpy as np

from .. import activations as functions
from .. import ops
from ..errors import lookup
from ..ops.tape import Tape, Tensor, paused, recording, value_of
from ..utils.checks import finite_number
from .base import Layer


class ElementwiseActivation(Layer):
    """Base for the activation functions (ReLU, Sigmoid, ...); `inplace` lets forward overwrite its input.

    Subclasses give `apply` (f) and `derivative_times` (grad * f', written with the output y).
    """

    takes_unknown_dims = True
    supports_masking = True

    def __init__(self, name=None, input_shape=None, inplace=False, **kwargs):
        super().__init__(name=name, input_shape=input_shape, **kwargs)
        self.inplace = inplace
        self.last_output = None  # y of the last training forward, for backward

    def forward(self, x, training=False):
        out = self.apply(x, x if self.inplace else None)
        if training:
            self.last_output = out
        return out

    def backward(self, grad):
        return self.derivative_times(grad, self.last_output)

    def apply(self, x, out):
        """Return f(x), written into `out` when it is given."""
        raise NotImplementedError

    def derivative_times(self, grad, y):
        """Return grad * f'(x), using the output y = f(x); may overwrite `grad`."""
        raise NotImplementedError


class Linear(ElementwiseActivation):
    """The identity: y = x, dL/dx = g."""

    def apply(self, x, out):
        return x

    def derivative_times(self, grad, y):
        return grad


def _scratch(owner, like, dtype=None, kind="derivative"):
    """An array shaped like `like` from a buffer kept on `owner` and reused across steps.

    Derivatives need one temporary the size of the layer's output; allocating it fresh every step
    costs page faults. The buffer is an ndarray attribute, so it is not pickled (recreated on demand).
    `kind="zeros"` is a separate buffer made of zeros, which callers only read, so it stays zero.
    """
    dtype, key = np.dtype(dtype or like.dtype), f"_{kind}_buffer"
    flat = getattr(owner, key, None)
    if flat is None or flat.size < like.size or flat.dtype != dtype:
        flat = (np.zeros if kind == "zeros" else np.empty)(like.size, dtype=dtype)
        setattr(owner, key, flat)
    return flat[: like.size].reshape(like.shape)


class ReLU(ElementwiseActivation):
    """Rectified linear unit: y = max(x, 0), dL/dx = g · [y > 0]   (x, y, g: (N, ...)).

    At x = 0 exactly, where max(x, 0) has no derivative, the gradient is taken as 0 (a subgradient).
    """

    def apply(self, x, out):
        # Against an array of zeros: NumPy's maximum with a scalar 0 measured 2.6-4.5x slower here.
        return np.maximum(x, _scratch(self, x, kind="zeros"), out=out)

    def derivative_times(self, grad, y):
        mask = _scratch(self, y, bool)
        np.greater(y, 0, out=mask)
        return np.multiply(grad, mask, out=grad)


class Sigmoid(ElementwiseActivation):
    """Logistic sigmoid: y = 1 / (1 + e^(−x)) = (1 + tanh(x/2)) / 2, dL/dx = g · y · (1 − y)."""

    def apply(self, x, out):
        # Written with tanh so that large |x| neither overflows nor warns.
        out = np.multiply(x, 0.5, out=out)
        np.tanh(out, out=out)
        out += 1
        out *= 0.5
        return out

    def derivative_times(self, grad, y):
        slope = np.subtract(1, y, out=_scratch(self, y))
        slope *= y
        grad *= slope
        return grad


class Tanh(ElementwiseActivation):
    """Hyperbolic tangent: y = tanh(x), dL/dx = g · (1 − y²)."""

    def apply(self, x, out):
        return np.tanh(x, out=out)

    def derivative_times(self, grad, y):
        slope = np.multiply(y, y, out=_scratch(self, y))
        np.subtract(1, slope, out=slope)
        grad *= slope
        return grad


class Softmax(ElementwiseActivation):
    """Softmax over the last axis (K classes), computed stably (max subtracted):

        y_k = exp(x_k − m) / Σ_j exp(x_j − m),   m = max_j x_j          x, y: (N, ..., K)
        dy_j/dx_k = y_j (δ_jk − y_k),  so  dL/dx_k = y_k · (g_k − Σ_j g_j · y_j)

    As a model's last layer before a cross-entropy, the model (`Model.compile`) sets
    `backward_done_by_loss`: the loss then hands back the gradient with respect to this layer's input,
    `(p - y) / batch`, and this layer passes it through.
    """

    def __init__(self, name=None, input_shape=None, inplace=False, **kwargs):
        super().__init__(name=name, input_shape=input_shape, inplace=inplace, **kwargs)
        self.backward_done_by_loss = False

    def apply(self, x, out):
        y = ops.softmax(x, axis=-1)
        if out is None:
            return y
        out[...] = y
        return out

    def derivative_times(self, grad, y):
        if self.backward_done_by_loss:
            return grad
        return y * (grad - (grad * y).sum(axis=-1, keepdims=True))


class LeakyReLU(ElementwiseActivation):
    """Keras's LeakyReLU: f(x) = x for x >= 0, negative_slope * x for x < 0 (slope >= 0, default 0.3).

    Backward: dL/dx = dL/dy * (1 if y > 0 else negative_slope); with a slope >= 0, y > 0 exactly
    when x > 0, so the output suffices. `alpha=` (Keras 2's name) is accepted with a warning, as
    Keras 3 does.
    """

    def __init__(self, negative_slope=0.3, name=None, input_shape=None, inplace=False, alpha=None, **kwargs):
        super().__init__(name=name, input_shape=input_shape, inplace=inplace, **kwargs)
        if alpha is not None:
            warnings.warn("LeakyReLU: argument `alpha` is deprecated, use `negative_slope`", stacklevel=2)
            negative_slope = alpha
        self.negative_slope = finite_number(negative_slope, "LeakyReLU: negative_slope", minimum=0)

    def apply(self, x, out):
        negative = np.minimum(x, 0)
        negative *= self.negative_slope
        out = np.maximum(x, 0, out=out)
        out += negative
        return out

    def derivative_times(self, grad, y):
        grad *= np.where(y > 0, 1, self.negative_slope).astype(grad.dtype, copy=False)
        return grad

    def get_config(self):
        return {**super().get_config(), "negative_slope": self.negative_slope}


class OpActivation(ElementwiseActivation):
    """An activation computed by a differentiable op of `minidl.ops` (GELU, ELU, SiLU, softplus) or by any
    function of x written with ops: forward is the function, backward what the op (or the tape) gives.

        forward: y = f(x);   backward: dL/dx = vector-Jacobian product of f at x with g = dL/dy
    """

    def __init__(self, function=None, name=None, input_shape=None, inplace=False, **kwargs):
        super().__init__(name=name, input_shape=input_shape, inplace=False, **kwargs)  # it needs x, not only y
        self.function = function if function is not None else type(self).function

    def forward(self, x, training=False):
        if not training:
            with paused():
                return np.asarray(value_of(self.function(x)), dtype=x.dtype)
        self._tape, self._input = Tape(), Tensor(x)
        with recording(self._tape):
            self._output = self.function(self._input)
        return np.asarray(value_of(self._output), dtype=x.dtype)

    def backward(self, grad):
        if not isinstance(self._output, Tensor):
            return np.zeros_like(grad)
        return self._tape.backward([self._output], [grad]).get(id(self._input), np.zeros_like(grad)).astype(grad.dtype)


class GELU(OpActivation):
    """Gaussian error linear unit, y = x Φ(x), exact (Keras's `activation="gelu"`); see `minidl.ops.gelu`."""

    @staticmethod
    def function(x):
        return functions.gelu(x)


class ELU(OpActivation):
    """y = x for x > 0, eˣ − 1 below; see `minidl.ops.elu`."""

    @staticmethod
    def function(x):
        return functions.elu(x)


class SiLU(OpActivation):
    """y = x · sigmoid(x) (swish); see `minidl.ops.silu`."""

    @staticmethod
    def function(x):
        return functions.silu(x)


class Softplus(OpActivation):
    """y = log(1 + eˣ); see `minidl.ops.softplus`."""

    @staticmethod
    def function(x):
        return functions.softplus(x)


# Keras's activation function "leaky_relu" has slope 0.2, while its LeakyReLU layer defaults to 0.3.
KERAS_LEAKY_SLOPE = 0.2


def _keras_leaky_relu(inplace=False):
    """The activation `activation="leaky_relu"` names."""
    return LeakyReLU(KERAS_LEAKY_SLOPE, inplace=inplace)


ACTIVATIONS = {
    "relu": ReLU,
    "sigmoid": Sigmoid,
    "tanh": Tanh,
    "softmax": Softmax,
    "linear": Linear,
    "leaky_relu": _keras_leaky_relu,
    "gelu": GELU,
    "elu": ELU,
    "silu": SiLU,
    "swish": SiLU,
    "softplus": Softplus,
}


def get(activation, inplace=False):
    """An activation layer from a name ("relu", ...), None (linear), a class or an instance."""
    if activation is None:
        return Linear(inplace=inplace)
    if isinstance(activation, ElementwiseActivation):
        return activation
    if isinstance(activation, type) and issubclass(activation, ElementwiseActivation):
        return activation(inplace=inplace)
    if callable(activation):  # keras.activations.relu, ops.tanh, or a user's function of x
        name = functions.serialize(activation)
        if name in ACTIVATIONS and functions.ACTIVATIONS.get(name) is activation:
            return ACTIVATIONS[name](inplace=inplace)
        return OpActivation(activation)
    return lookup("activation", activation, ACTIVATIONS)(inplace=inplace)


def name_of(activation: ElementwiseActivation) -> str | None:
    """The registered name of an activation instance (None for the identity; a user's function by its name)."""
    if type(activation) is OpActivation:
        return functions.serialize(activation.function)
    if type(activation) is LeakyReLU and activation.negative_slope == KERAS_LEAKY_SLOPE:
        return "leaky_relu"
    for name, cls in ACTIVATIONS.items():
        if type(activation) is cls:
            return None if name == "linear" else name
    raise ValueError(
        f"activation {type(activation).__name__} has no registered name"
        + (
            " (only slope 0.2 is 'leaky_relu'; use a LeakyReLU layer after the Dense)"
            if type(activation) is LeakyReLU
            else ""
        )
    )


class Activation(Layer):
    """Keras's `Activation(activation)` layer: applies a named activation ("relu", "softmax", ...).

    Forward: y = f(x), shape (N, ...) kept; backward: dL/dx = dL/dy * f'(x), computed by the wrapped
    activation (`self.activation`, one of the classes above, never working in place on the input).
    A final `Activation("softmax")` fuses with a cross-entropy loss exactly as a Softmax layer does,
    because the model looks at a layer's `activation` attribute.
    """

    takes_unknown_dims = True
    supports_masking = True

    def __init__(self, activation, name=None, input_shape=None, **kwargs):
        super().__init__(name=name, input_shape=input_shape, **kwargs)
        self.activation = get(activation)

    def build(self, input_shape):
        self.activation.build_weights(input_shape, dtype=self.dtype)

    def forward(self, x, training=False):
        self.check_input(x)
        return self.activation.forward(x, training)

    def backward(self, grad):
        return self.activation.backward(grad)

    def get_config(self):
        return {**super().get_config(), "activation": name_of(self.activation) or "linear"}
