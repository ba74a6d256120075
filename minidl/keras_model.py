"""Keras's conveniences around a Model's stack of layers, kept out of `model.py` so it stays slim.

Each function takes the model as its first argument; `Model` binds several of them as methods
(`get_layer`, `pop`, `__call__`, the weight lists). Also here: what minidl refuses, with the
`NotImplementedError` a user sees (custom `train_step`, subclassed `call`, Keras-only arguments).
"""

from __future__ import annotations

import numpy as np

from . import flat, losses, metrics
from .errors import ShapeError
from .input import Input
from .layers.context import TrainingContext

# Keras arguments that change nothing minidl computes, accepted so programs run unchanged.
IGNORED_COMPILE = {"run_eagerly", "steps_per_execution", "jit_compile", "auto_scale_loss"}
UNSUPPORTED_COMPILE = {
    "loss_weights": "loss_weights (models with several outputs)",
    "weighted_metrics": "weighted_metrics",
}


def check_constructor_kwargs(kwargs):
    """Accept Keras's `trainable=True`; refuse what minidl cannot do, naming it."""
    for key, value in kwargs.items():
        if key == "trainable" and value:
            continue
        raise NotImplementedError(f"Model/Sequential argument {key}={value!r} is not supported by minidl")


def check_compile_kwargs(kwargs):
    """Ignore Keras's execution knobs; refuse loss_weights / weighted_metrics with a clear error."""
    for key, value in kwargs.items():
        if key in UNSUPPORTED_COMPILE:
            if value:
                raise NotImplementedError(f"compile: {UNSUPPORTED_COMPILE[key]} is not supported by minidl")
        elif key not in IGNORED_COMPILE:
            raise TypeError(f"compile() got an unexpected keyword argument {key!r}")


def refuse_custom_steps(model):
    """Subclasses overriding Keras's `train_step` / `test_step` / `predict_step` / `call` are refused."""
    cls = type(model)
    for hook in ("train_step", "test_step", "predict_step", "call"):
        if hook in vars(cls) or any(
            hook in vars(base) for base in cls.__mro__[1:] if base.__module__ != "minidl.model"
        ):
            what = "a subclassed model's own call()" if hook == "call" else f"a custom {hook}"
            raise NotImplementedError(
                f"{what} is not supported by minidl (it has no automatic differentiation): "
                "build a Sequential model from minidl layers"
            )


def resolve_metrics(loss, requested):
    """The compiled metric objects; None means "accuracy" for a cross-entropy, nothing otherwise."""
    if requested is None:
        requested = ["accuracy"] if isinstance(loss, losses.CLASSIFICATION_LOSSES) else []
    elif isinstance(requested, (str, metrics.Metric)) or callable(requested) and not isinstance(requested, type):
        requested = [requested]
    if isinstance(requested, dict):
        raise NotImplementedError("compile: metrics as a dict (models with several outputs) is not supported by minidl")
    return [metrics.get(item, loss) for item in requested]


# ----- building -----
def add_special(model, item) -> bool:
    """Handle `model.add(Input(...))` and `model.add(other_model)`; False for an ordinary layer."""
    if isinstance(item, Input):
        if model.layers:
            raise ValueError(f"model {model.name!r}: an Input can only be added before the first layer")
        model.declared_input = item.input_shape
        return True
    if hasattr(item, "layers") and hasattr(item, "forward_backward"):
        if item is model:
            raise ValueError(f"model {model.name!r} cannot be added to itself")
        # Keras nests the model; minidl adds its layers (shared objects, so weights stay the same
        # arrays' values). Train the outer model afterwards: the inner one's flat buffers are left behind.
        if not model.layers and item.input_shape is not None:
            model.declared_input = item.input_shape
        for layer in item.layers:
            model.add(layer)
        return True
    return False


def pending_input(model, first_layer):
    """The input shape for the first layer: its own `input_shape`, or an `Input` added before it."""
    declared = getattr(model, "declared_input", None)
    if first_layer.input_shape is not None and declared is not None and tuple(first_layer.input_shape) != declared:
        raise ShapeError(
            f"model {model.name!r}: Input shape {declared} differs from the first layer's input_shape "
            f"{tuple(first_layer.input_shape)}"
        )
    return first_layer.input_shape or declared


def without_batch_axis(shape):
    """`(None, 28, 28, 1)` (Keras's build shape) or `(28, 28, 1)` -> `(28, 28, 1)`."""
    shape = tuple(shape)
    return shape[1:] if shape and shape[0] is None else shape


def call(model, x, training=False):
    """Keras's `model(x)`: the outputs for a batch, inference by default (`training=True` allowed)."""
    x = np.asarray(x)
    if x.dtype.kind not in "fiub":
        raise TypeError(f"model {model.name!r} takes arrays of numbers, got dtype {x.dtype}")
    if not model.built:
        model.build(x.shape[1:])
    if x.ndim != len(model.input_shape) + 1 or x.shape[1:] != model.input_shape:
        raise ShapeError(f"model {model.name!r} expects input of shape (batch, *{model.input_shape}), got {x.shape}")
    x = x.astype(model.dtype, copy=False)
    if training:
        step = model.optimizer.iterations if model.optimizer else 0
        training = TrainingContext(step=step, positions=np.arange(len(x)), seed=model.seed, layers=tuple(model.layers))
    return model.forward(x, training)


# ----- weights -----
def _states(layer):
    return list(getattr(layer, "states", {}).values())


def trainable_weights(model):
    """Every trainable array (live views of the flat vector), layer by layer."""
    return [w for layer in model.layers for w in layer.params.values()]


def non_trainable_weights(model):
    """Every non-trainable state array (e.g. BatchNormalization's moving statistics)."""
    return [w for layer in model.layers for w in _states(layer)]


def weights(model):
    """Keras's `model.weights`: per layer its trainable weights, then its non-trainable ones."""
    return [w for layer in model.layers for w in [*layer.params.values(), *_states(layer)]]


def set_weights(model, new_weights):
    """Overwrite every weight in place, after checking the count and every shape."""
    slots = [
        (layer, key, array)
        for layer in model.layers
        for key, array in [*layer.params.items(), *getattr(layer, "states", {}).items()]
    ]
    new_weights = list(new_weights)
    if len(new_weights) != len(slots):
        raise ValueError(f"model {model.name!r} has {len(slots)} weight arrays, got {len(new_weights)}")
    for (layer, key, current), new in zip(slots, new_weights):
        if np.shape(new) != current.shape:
            raise ShapeError(f"weight {key!r} of layer {layer.name!r} has shape {current.shape}, got {np.shape(new)}")
    for (_, _, current), new in zip(slots, new_weights):
        current[...] = new


def get_layer(model, name=None, index=None):
    """A layer by `name` or by `index` (Keras's `model.get_layer`)."""
    if (name is None) == (index is None):
        raise ValueError("get_layer: give exactly one of name= or index=")
    if index is not None:
        if not isinstance(index, (int, np.integer)) or not -len(model.layers) <= index < len(model.layers):
            raise ValueError(f"get_layer: index {index!r} is out of range for {len(model.layers)} layers")
        return model.layers[index]
    for layer in model.layers:
        if layer.name == name:
            return layer
    raise ValueError(f"no layer named {name!r} in model {model.name!r}; layers: {[la.name for la in model.layers]}")


def pop(model, rebuild=True):
    """Remove and return the last layer (Keras's `model.pop()`); the weights of the others are kept."""
    if not model.layers:
        raise TypeError(f"model {model.name!r} has no layers to pop")
    layer = model.layers.pop()
    flat.pack(model)
    if model.loss is not None and model.layers:
        model.training_loss = losses.for_output(model.loss, model.layers)
    return layer


def predict_in_batches(model, x, batch_size):
    """Outputs for `x` in batches, in this process (every runner's workers call this too)."""
    out = np.empty((len(x), *model.output_shape), model.dtype)
    for start in range(0, len(x), batch_size):
        out[start : start + batch_size] = model.forward(x[start : start + batch_size], training=False)
    return out


def test_on_batch(model, x, y, sample_weight=None, return_dict=False):
    """Loss and metrics of one batch, without training."""
    return model.evaluate(x, y, len(x), 0, sample_weight=sample_weight, return_dict=return_dict)


def predict_on_batch(model, x):
    """The model's outputs for one batch."""
    return model.predict(x, batch_size=len(x), verbose=0)


def save_weights(model, filepath, overwrite=True):
    """Write the weights through `minidl.saving.save_weights` (see it for the formats)."""
    saving_function("save_weights")(model, filepath)


def load_weights(model, filepath, skip_mismatch=False):
    """Read weights written by `save_weights` into this (built) model (`minidl.saving.load_weights`)."""
    saving_function("load_weights")(model, filepath)


def saving_function(name):
    """`minidl.saving.<name>`, or a NotImplementedError if this build has no such function yet."""
    from . import saving

    function = getattr(saving, name, None)
    if function is None:
        raise NotImplementedError(f"minidl.saving.{name} is not available in this version of minidl")
    return function
