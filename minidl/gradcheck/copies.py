"""Float64 twins of layers and models for measuring, and the replay that fixes their randomness."""

from __future__ import annotations

import copy
import random

import numpy as np

from ..layers.base import Layer


def build_float64(layer: Layer, input_shape, seed: int = 0) -> Layer:
    """Build `layer` itself in float64 with a seeded generator (for tests that then use it directly)."""
    layer.build_weights(tuple(input_shape), rng=np.random.default_rng(seed), dtype=np.float64)
    return layer


def clone(layer: Layer, memo=None) -> Layer:
    """A deep copy of a layer with every attribute (Layer's pickling drops cached arrays and the
    noise context, which a copy made for measuring must keep)."""
    memo = {} if memo is None else memo
    if id(layer) in memo:
        return memo[id(layer)]
    twin = object.__new__(type(layer))
    memo[id(layer)] = twin
    for key, value in vars(layer).items():
        if key == "flat_owner":
            vars(twin)[key] = None  # the twin belongs to the model that packs it next
            continue
        vars(twin)[key] = clone(value, memo) if isinstance(value, Layer) else copy.deepcopy(value, memo)
    return twin


def copy_weights(layer, twin, input_shape):
    """Copy the trainable weights and the non-trainable state of `layer` into its rebuilt `twin`."""
    for table in ("params", "states"):
        source, target = getattr(layer, table, {}), getattr(twin, table, {})
        for name, value in source.items():
            if name not in target or target[name].shape != np.shape(value):
                raise ValueError(
                    f"layer {layer.name!r}: rebuilding it for input {tuple(input_shape)} gives weight "
                    f"{name!r} of shape {target.get(name, np.empty(0)).shape}, "
                    f"but the layer holds one of shape {np.shape(value)}"
                )
            target[name][...] = value


def float64_copy(layer: Layer, input_shape, seed: int = 0) -> Layer:
    """A float64 twin of `layer` built for `input_shape`, holding the same weights if `layer` has any.

    The twin is a deep copy rebuilt through the layer's own `build` (so `build`/`add_weight`
    run as documented in minidl/layers/base.py), then given the original weights cast to float64.
    An unbuilt layer gets weights from a generator seeded with `seed`. The original is not touched.
    """
    if not isinstance(layer, Layer):
        raise TypeError(f"gradient checks need a minidl Layer, got {type(layer).__name__}")
    twin = clone(layer)
    build_float64(twin, input_shape, seed)
    if layer.built:
        copy_weights(layer, twin, input_shape)
    twin.needs_input_grad = True
    return twin


def float64_model(model):
    """A float64 twin of a minidl Model: the same layers (deep copies) and weights, not compiled."""
    from ..models import Model, Sequential

    if not isinstance(model, Sequential):
        return _float64_graph(model)
    twin = Model(name=model.name, seed=model.seed, dtype="float64")
    for layer in model.layers:
        copied = clone(layer)
        copied.built = False
        twin.add(copied)
    if not model.built:
        raise ValueError(f"model {model.name!r} is not built yet: give its first layer an input_shape")
    for original, copied in zip(model.layers, twin.layers):
        copy_weights(original, copied, original.input_shape)
    for layer in twin.layers:
        layer.needs_input_grad = True
    return twin


def _float64_graph(model):
    """A functional or subclassed model copied whole (its graph, shared layers and all) in float64."""
    if not model.built:
        raise ValueError(f"model {model.name!r} is not built yet: call it on data first")
    twin = copy.deepcopy(model)
    twin.dtype = np.float64
    for layer in [twin, *twin.all_layers()]:
        for inner in layer.reachable_layers():
            inner.dtype = np.float64
            for table in (inner.params, inner.grads, inner.states):
                for name, value in table.items():
                    table[name] = np.array(value, dtype=np.float64)
    for tensor in getattr(twin, "inputs", []):
        tensor.dtype = "float64"
    twin.optimizer, twin.loss = None, None
    twin.pack()
    return twin


class Replay:
    """Make repeated forward passes draw the same random numbers (Dropout masks, a user's noise).

    Snapshots the attributes of the layers (counters such as Dropout's step are rebound, not mutated),
    the state of every NumPy Generator they hold, the values of their non-trainable `states`, and
    NumPy's and Python's global generators;
    `restore()` puts all of them back before each forward pass.
    """

    def __init__(self, layers):
        self.objects = []
        seen = set()
        stack = list(layers)
        while stack:
            obj = stack.pop()
            if id(obj) in seen:
                continue
            seen.add(id(obj))
            state = dict(vars(obj))
            generators = {k: v.bit_generator.state for k, v in state.items() if isinstance(v, np.random.Generator)}
            # Non-trainable state (BatchNormalization's moving averages) is updated in place by a
            # training forward pass: keep its values too.
            arrays = {name: array.copy() for name, array in (state.get("states") or {}).items()}
            self.objects.append((obj, state, generators, arrays))
            stack.extend(v for v in state.values() if isinstance(v, Layer))
            for value in state.values():
                if isinstance(value, (list, tuple)):
                    stack.extend(v for v in value if isinstance(v, Layer))
        self.numpy_state = np.random.get_state()
        self.python_state = random.getstate()

    def restore(self):
        for obj, state, generators, arrays in self.objects:
            for key in [key for key in vars(obj) if key not in state]:
                del vars(obj)[key]  # e.g. a step counter the first forward pass created
            vars(obj).update(state)
            for key, generator_state in generators.items():
                state[key].bit_generator.state = generator_state
            for name, values in arrays.items():
                obj.states[name][...] = values
        np.random.set_state(self.numpy_state)
        random.setstate(self.python_state)
