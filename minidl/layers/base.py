"""Layer: the unit every network is built from.

A layer knows three things: what output shape it makes from an input shape (`build`), how to
compute its output (`forward`) and how to turn the gradient of its output into the gradient of its
input while filling in the gradients of its own weights (`backward`). Shapes never include the
batch axis. Layers know nothing of files, processes or the terminal.

Weights come in two kinds, as in Keras: trainable ones in `params` (each with a gradient in `grads`,
updated by the optimizer) and non-trainable state in `states` (no gradient; the layer itself updates
it during training, e.g. BatchNormalization's moving averages). A model may rebind `params` and
`grads` to views of its flat buffers, so a layer only ever writes weights in place or through
`self.params[name]`, and keeps no private reference to a weight array across calls.
"""

from __future__ import annotations

import numpy as np

from .. import initializers
from ..errors import ShapeError
from ..utils import naming


class Layer:
    """Base class for all layers.

    Subclasses implement `compute_output_shape(input_shape)` (validating the input shape),
    optionally `create_weights(input_shape)` (calling `add_weight`), `forward` and `backward`.
    Weights live in `params`, their gradients in `grads` (same names, same shapes); `backward`
    writes into `grads` in place, because the model may have packed them into one flat buffer.
    Non-trainable arrays live in `states` (see `add_weight(..., trainable=False)`).

    The contract, in equations. A layer is a function y = f(x; θ) applied to a batch:

        forward(x, training):  x: (N, *input_shape)  ->  y: (N, *output_shape)
        backward(g):           g = dL/dy: (N, *output_shape)  ->  dL/dx: (N, *input_shape)
                               and, for every trainable weight θ = params[name],
                               grads[name] = dL/dθ = Σ_n Σ_out g[n, out] · dy[n, out]/dθ   (θ's shape)

    `backward` uses what the last forward pass with a truthy `training` kept (its input or output),
    *fills* `grads[name]` (overwrites, never adds: nobody zeroes them between steps) and returns
    dL/dx, or None when `needs_input_grad` is False. A model chains these: the g of one layer is the
    dL/dx returned by the layer after it. `minidl.gradcheck.check_gradients(layer, x)` verifies a
    layer against this contract with central differences; docs/your-own-layer.md writes one.

    A layer is callable as in Keras: `layer(x)` builds it from `x` on first use and runs inference;
    `layer(x, training=True)` runs it as during training. `training` may be any truthy object (the
    training loop passes a context object), so layers test it with `if training:`.
    """

    # True for layers whose training output for one sample depends on the other samples of the batch
    # (BatchNormalization): splitting a batch across workers would then change the mathematics.
    batch_dependent = False

    def __init__(self, name: str | None = None, input_shape=None):
        self.name = name or naming.name_for(self)
        self.input_shape = tuple(input_shape) if input_shape is not None else None
        self.output_shape = None
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}
        self.states: dict[str, np.ndarray] = {}
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
        self.params, self.grads, self.states = {}, {}, {}
        self.create_weights(input_shape)
        self.built = True
        return self.output_shape

    def compute_output_shape(self, input_shape):
        """Return the output shape for `input_shape`, raising ShapeError if the layer cannot take it."""
        return input_shape

    def create_weights(self, input_shape):
        """Create this layer's weights with `add_weight` (layers without weights do nothing)."""

    def add_weight(self, name, shape, initializer, fan_in=1, fan_out=1, trainable=True):
        """Create a weight: trainable into `params` with a zeroed gradient, otherwise into `states`.

        Non-trainable state has no gradient and is never touched by the optimizer; the layer updates
        it itself, in place (`self.states[name][...] = ...`).
        """
        init = initializers.get(initializer)
        if name in self.params or name in self.states:
            raise ValueError(f"layer {self.name!r} already has a weight named {name!r}")
        value = init(tuple(shape), fan_in, fan_out, self._rng, self.dtype)
        if not trainable:
            self.states[name] = value
            return value
        self.params[name] = value
        self.grads[name] = np.zeros(shape, dtype=self.dtype)
        return value

    def count_params(self) -> int:
        """Number of numbers in this layer's weights, trainable and not (as Keras counts them)."""
        return int(sum(w.size for w in self.weights))

    # ----- weights as Keras lists them -----
    @property
    def trainable_weights(self) -> list[np.ndarray]:
        """The trainable weight arrays (live, not copies), in creation order."""
        return list(self.params.values())

    @property
    def non_trainable_weights(self) -> list[np.ndarray]:
        """The non-trainable state arrays (live, not copies), in creation order."""
        return list(self.states.values())

    @property
    def weights(self) -> list[np.ndarray]:
        """Trainable weights, then non-trainable ones: Keras's order."""
        return self.trainable_weights + self.non_trainable_weights

    def weight_items(self) -> list[tuple[str, np.ndarray]]:
        """(name, live array) of every weight, in `weights` order: the one list every weight copy walks."""
        return [*self.params.items(), *self.states.items()]

    def get_weights(self) -> list[np.ndarray]:
        """Copies of the weights, trainable then non-trainable (BatchNormalization: gamma, beta,
        moving_mean, moving_variance; Dense: kernel, bias)."""
        return [np.array(array, copy=True) for array in self.weights]

    def set_weights(self, weights):
        """Overwrite the weights in place from a list shaped like `get_weights()`; checked first."""
        slots = self.weight_items()
        weights = list(weights)
        if not self.built:
            raise ValueError(f"layer {self.name!r} is not built yet: call it on data (or add it to a model) first")
        if len(weights) != len(slots):
            names = ", ".join(name for name, _ in slots) or "none"
            raise ValueError(
                f"layer {self.name!r} has {len(slots)} weight arrays ({names}) but set_weights got {len(weights)}"
            )
        arrays = [self.checked_weight(name, current, new) for (name, current), new in zip(slots, weights)]
        for (_, current), new in zip(slots, arrays):
            current[...] = new

    def checked_weight(self, name, current, new) -> np.ndarray:
        """`new` as an array that may replace weight `name` (of `current`'s shape), or a clear error."""
        new = np.asarray(new)
        if new.shape != current.shape:
            raise ShapeError(f"weight {name!r} of layer {self.name!r} has shape {current.shape}, got {new.shape}")
        if new.dtype.kind not in "fiub":
            raise TypeError(f"weight {name!r} of layer {self.name!r} must hold numbers, got dtype {new.dtype}")
        return new

    # ----- computing -----
    def __call__(self, x, training=False):
        """Keras's `layer(x)`: build from `x`'s shape (batch axis excluded) if needed, check, run.

        Inference by default; `training=True` (or a truthy training context) runs the training
        computation and keeps what `backward` needs. `x` is converted to the layer's dtype.
        """
        x = np.asarray(x)
        if x.dtype.kind not in "fiub":
            raise TypeError(f"layer {self.name!r} takes arrays of numbers, got dtype {x.dtype}")
        if x.ndim == 0:
            raise ShapeError(f"layer {self.name!r} takes a batch of samples (batch, ...), got a scalar")
        if not self.built:
            self.build(x.shape[1:], dtype=self.dtype)
        x = x.astype(self.dtype, copy=False)
        self.check_input(x)
        return self.forward(x, training)

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
        """Pickle settings and weights only, not what the last forward pass kept for backward.

        Weights survive because they sit in dictionaries (`params`, `grads`, `states`), never as
        bare array attributes; arrays kept directly on the layer are caches of the last forward pass.
        """
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
