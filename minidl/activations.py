"""`keras.activations`: activation functions by name, usable as `activation=` in any layer.

Each is the differentiable op of the same name (`minidl.ops`). Given to a built-in layer
(`Dense(10, activation=keras.activations.relu)` or `activation="relu"`), the layer uses its own
activation class with a hand-written backward (`minidl.layers.activations`); any other function of x
written with `minidl.ops` works too, differentiated by the tape.
"""

from __future__ import annotations

from . import ops
from .errors import lookup


def relu(x, negative_slope=0.0, max_value=None, threshold=0.0):
    """max(x, 0)."""
    if negative_slope or max_value is not None or threshold:
        raise NotImplementedError("activations.relu: negative_slope, max_value and threshold are not supported")
    return ops.relu(x)


def sigmoid(x):
    """1 / (1 + e⁻ˣ)."""
    return ops.sigmoid(x)


def tanh(x):
    """tanh x."""
    return ops.tanh(x)


def softmax(x, axis=-1):
    """eˣ / Σ eˣ along `axis`."""
    return ops.softmax(x, axis=axis)


def linear(x):
    """x itself."""
    return x


def leaky_relu(x, negative_slope=0.2):
    """x, or negative_slope · x below 0."""
    return ops.leaky_relu(x, negative_slope=negative_slope)


def elu(x, alpha=1.0):
    """x, or α (eˣ − 1) below 0."""
    return ops.elu(x, alpha=alpha)


def gelu(x, approximate=False):
    """x Φ(x) (exact by default, as keras.activations.gelu)."""
    return ops.gelu(x, approximate=approximate)


def silu(x):
    """x · sigmoid(x)."""
    return ops.silu(x)


swish = silu


def softplus(x):
    """log(1 + eˣ)."""
    return ops.softplus(x)


ACTIVATIONS = {f.__name__: f for f in (relu, sigmoid, tanh, softmax, linear, leaky_relu, elu, gelu, silu, softplus)}
ACTIVATIONS["swish"] = silu


def get(identifier):
    """An activation function from a name, a function, or None (linear)."""
    if identifier is None:
        return linear
    if callable(identifier):
        return identifier
    return lookup("activation", identifier, ACTIVATIONS)


def serialize(activation) -> str:
    """The name of an activation function."""
    for name, function in ACTIVATIONS.items():
        if function is activation:
            return name
    return getattr(activation, "__name__", str(activation))


def deserialize(name, custom_objects=None):
    """The activation function of `name`."""
    if custom_objects and name in custom_objects:
        return custom_objects[name]
    return get(name)
