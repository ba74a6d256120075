"""Layer: the unit every network is built from.

A layer knows three things: what output shape it makes from an input shape (`build`), how to
compute its output (`forward`) and how to turn the gradient of its output into the gradient of its
input while filling in the gradients of its own weights (`backward`). Shapes never include the
batch axis. Layers know nothing of files, processes or the terminal.
"""

from __future__ import annotations

import numpy as np

from .. import initializers
from ..errors import ShapeError
from . import naming


class Layer:
    """Base class for all layers.

    Subclasses implement `compute_output_shape(input_shape)` (validating the input shape),
    optionally `create_weights(input_shape)` (calling `add_weight`), `forward` and `backward`.
    Weights live in `params`, their gradients in `grads` (same names, same shapes); `backward`
    writes into `grads` in place, because the model may have packed them into one flat buffer.
    """

    def __init__(self, name: str | None = None, input_shape=None):
        self.name = name or naming.name_for(self)
        self.input_shape = tuple(input_shape) if input_shape is not None else None
        self.output_shape = None
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}
        self.built = False
        self.dtype = np.float32
        # The first layer of a model has no use for the gradient of its input; skipping it saves time.
        self.needs_input_grad = True

    # ----- building -----
    def build(self, input_shape, rng: np.random.Generator | None = None, dtype=np.float32):
        """Fix the input shape, create the weights and return the output shape (batch axis excluded)."""
        input_shape = tuple(int(d) for d in input_shape)
        if self.input_shape is not None and self.input_shape != input_shape:
            raise ShapeError(
                f"layer {self.name!r} was declared with input_shape={self.input_shape} but receives {input_shape}"
            )
        self.output_shape = tuple(self.compute_output_shape(input_shape))
        self.input_shape = input_shape
        self.dtype = np.dtype(dtype).type
        self._rng = rng if rng is not None else np.random.default_rng()
        self.params, self.grads = {}, {}
        self.create_weights(input_shape)
        self.built = True
        return self.output_shape

    def compute_output_shape(self, input_shape):
        """Return the output shape for `input_shape`, raising ShapeError if the layer cannot take it."""
        return input_shape

    def create_weights(self, input_shape):
        """Create this layer's weights with `add_weight` (layers without weights do nothing)."""

    def add_weight(self, name, shape, initializer, fan_in=1, fan_out=1):
        """Create a weight and its zeroed gradient."""
        init = initializers.get(initializer)
        self.params[name] = init(tuple(shape), fan_in, fan_out, self._rng, self.dtype)
        self.grads[name] = np.zeros(shape, dtype=self.dtype)
        return self.params[name]

    def count_params(self) -> int:
        """Number of trainable numbers in this layer."""
        return int(sum(p.size for p in self.params.values()))

    # ----- computing -----
    def forward(self, x, training=False):
        """Return the layer's output for a batch `x`; with `training`, keep what `backward` needs."""
        raise NotImplementedError

    def backward(self, grad):
        """Given d(loss)/d(output), fill `grads` and return d(loss)/d(input) (None if not needed).

        `grad` belongs to the layer from here on: it may be overwritten in place.
        """
        raise NotImplementedError

    def check_input(self, x):
        """Raise a ShapeError naming this layer if a batch does not match its input shape."""
        if x.ndim != len(self.input_shape) + 1 or x.shape[1:] != self.input_shape:
            raise ShapeError(
                f"layer {self.name!r} expects input of shape (batch, "
                f"{', '.join(map(str, self.input_shape))}) but got {x.shape}"
            )

    def __getstate__(self):
        """Pickle settings and weights only, not what the last forward pass kept for backward."""
        return {key: value for key, value in self.__dict__.items() if not isinstance(value, np.ndarray)}

    # ----- describing -----
    def get_config(self) -> dict:
        """The constructor arguments that rebuild this layer (used by save/load and statistics)."""
        config = {"name": self.name}
        if self.input_shape is not None:
            config["input_shape"] = list(self.input_shape)
        return config

    def __repr__(self):
        arguments = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items() if k != "name")
        return f"{type(self).__name__}({arguments})"
