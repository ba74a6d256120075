"""Layer: the unit every network is built from.

A layer knows what output shape it makes from an input shape, how to compute its output, and how to
turn the gradient of its output into the gradient of its input while filling in the gradients of its
own weights. Shapes never include the batch axis. Layers know nothing of files, processes or the
terminal.

There are two ways to write one, and both train:

- **Built-in** (every layer in this package): `compute_output_shape`, `build` (creating weights with
  `add_weight`), `forward(x, training)` and a hand-written, gradient-checked `backward(grad)`.
- **Keras's way** (a user's custom layer): `build(input_shape)` and `call(inputs, training=None)`
  written with `minidl.ops`. Its backward comes from the tape (`minidl.ops.tape`): the ops it ran
  are recorded while it trains and replayed backwards.

Weights come in two kinds, as in Keras: trainable ones in `params` (each with a gradient in `grads`,
updated by the optimizer) and non-trainable state in `states` (no gradient; the layer itself updates
it during training, e.g. BatchNormalization's moving averages). A model rebinds `params` and `grads`
to views of its flat buffers, so a layer only ever writes weights in place or through
`self.params[name]`, and keeps no private reference to a weight array across calls.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import math
import weakref

import numpy as np

from .. import constraints, initializers, regularizers
from ..errors import ModelFileError, ShapeError
from ..ops.operation import Operation
from ..ops.symbolic import KerasTensor, Node, flatten, shape_from_stand_in, stand_in, substitute
from ..ops.tape import Tape, Tensor, active_tape, paused, recording, value_of
from ..ops.variable import Variable
from ..utils import checks, naming
from . import context as training_contexts


class Layer(Operation):
    """Base class for all layers.

    The contract of a built-in layer, in equations. A layer is a function y = f(x; θ) of a batch:

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
    `layer(x, training=True)` runs it as during training; `layer(keras_tensor)` records a node of a
    functional graph. `training` may be any truthy object (the training loop passes a context
    object), so layers test it with `if training:`.

    Masks, as in Keras: `compute_mask(inputs, previous_mask)` gives the mask of the output ((N, T)
    booleans, or None); a built-in layer that uses one takes `mask` in `forward`. Models hand masks
    from layer to layer (minidl/layers/masking.py); layers called one by one attach them to their output.
    """

    # True for layers whose training output for one sample depends on the other samples of the batch
    # (BatchNormalization): splitting a batch across workers would then change the mathematics.
    batch_dependent = False
    # True for layers that take None (unknown, e.g. a sequence's length) in their input shape; the
    # size is then read from each batch.
    takes_unknown_dims = False
    # Keras's masking: True for layers that pass their input's mask on (see `compute_mask`).
    supports_masking = False
    # What `training` is when the layer is called on its own, outside a model, without it (Keras's default).
    training_default = False

    def __init__(self, name: str | None = None, input_shape=None, trainable=True, dtype=None, **kwargs):
        for key in kwargs:
            if key not in ("autocast", "input_dim", "batch_input_shape", "batch_size"):
                raise TypeError(f"{type(self).__name__}: unexpected argument {key!r}")
        if input_shape is None and kwargs.get("input_dim") is not None:
            input_shape = (kwargs["input_dim"],)
        self.name = name or naming.name_for(self)
        self.input_shape = tuple(input_shape) if input_shape is not None else None
        self.output_shape = None
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}
        self.states: dict[str, np.ndarray] = {}
        self.regularizers: dict = {}  # weight name -> regularizer adding its penalty to the loss
        self.built = False
        self.trainable = bool(trainable)
        self.dtype = np.dtype(dtype).type if dtype is not None else np.float32
        # The first layer of a model has no use for the gradient of its input; skipping it saves time.
        self.needs_input_grad = True
        self.added_losses: list = []  # what `add_loss` received during the last call
        self.flat_owner = None  # the model whose flat vectors this layer's weights are views into
        self.inbound_nodes: list[Node] = []  # its calls on symbolic tensors, first first (Keras's layer.output)

    # ----- building -----
    def build_weights(
        self, input_shape, rng: np.random.Generator | None = None, dtype=None, allocate=True, call_extras=((), {})
    ):
        """Fix the input shape, create the weights (through `build`) and return the output shape.

        With `allocate=False`, `add_weight` records zero-byte placeholders instead of arrays: how an
        untrusted file's architecture is checked before anything is allocated. `call_extras` (args,
        kwargs): what a custom layer's `call` takes after its first argument (`layer(targets, logits)`),
        for running it once to find its output shape; symbolic tensors among them stand for zeros.
        """
        input_shape = _shape_tuple(input_shape)
        if not self.custom and not self.takes_unknown_dims and None in _flat_dims(input_shape):
            raise ShapeError(
                f"layer {self.name!r} ({type(self).__name__}) needs every input dimension known, got {input_shape}"
            )
        if self.input_shape is not None and not _same_shape(self.input_shape, input_shape):
            raise ShapeError(
                f"layer {self.name!r} was declared with input_shape={self.input_shape} but receives {input_shape}"
            )
        self.dtype = np.dtype(dtype if dtype is not None else self.dtype).type
        self._rng = rng if rng is not None else initializers.default_rng()
        self._allocate = allocate
        if self.built or not self.custom:  # a custom layer may have made weights in __init__: keep them
            self.params, self.grads, self.states, self.regularizers = {}, {}, {}, {}
        if not self.custom:
            self.output_shape = _shape_tuple(self.compute_output_shape(input_shape))
        self.input_shape = input_shape
        # Keras hands a custom layer's build the shape with its batch axis, (None, ...).
        self.build(_with_batch(input_shape) if self.custom else input_shape)
        self.built = True
        if self.custom:
            self.output_shape = self._inferred_output_shape(input_shape, *call_extras)
        return self.output_shape

    def build(self, input_shape):
        """Create this layer's weights with `add_weight` (Keras's hook; layers without weights do nothing)."""

    def compute_output_shape(self, input_shape):
        """Return the output shape for `input_shape`, raising ShapeError if the layer cannot take it."""
        return input_shape

    def add_weight(self, shape=None, initializer=None, dtype=None, trainable=True, autocast=True, regularizer=None,
                   constraint=None, aggregation="none", overwrite_with_gradient=False, name=None):  # fmt: skip
        """Create a weight (Keras 3's signature): trainable into `params` with a zeroed gradient, else into
        `states`. Returns the `Variable` a custom layer computes with (`self.kernel = self.add_weight(...)`).

        `initializer` defaults to "glorot_uniform" (Keras's default), fans taken from the shape as Keras
        does. Non-trainable state has no gradient and is never touched by the optimizer; the layer updates
        it itself, in place (`self.states[name][...] = ...`).
        """
        shape = tuple(int(d) for d in (shape or ()))
        name = name or f"weight_{len(self.params) + len(self.states)}"
        if name in self.params or name in self.states:
            raise ValueError(f"layer {self.name!r} already has a weight named {name!r}")
        dtype = np.dtype(dtype or self.dtype).type
        if _placeholders:
            _placeholders[-1].count(self, name, shape)
            self._allocate = False
        if getattr(self, "_allocate", True):
            rng = getattr(self, "_rng", None)
            value = initializers.initial_value(initializer or "glorot_uniform", shape, dtype, rng)
        else:
            value = np.broadcast_to(np.zeros((), dtype), shape)
        trainable = bool(trainable)
        if trainable:
            self.params[name] = value
            self.grads[name] = np.zeros(shape, dtype=dtype) if getattr(self, "_allocate", True) else value
            if regularizer is not None:
                self.regularizers[name] = regularizers.get(regularizer)
            if constraint is not None:  # projected after every optimizer step (minidl.constraints.apply)
                self.weight_constraints = {
                    **getattr(self, "weight_constraints", {}),
                    name: constraints.get(constraint, f"{type(self).__name__}: constraint of {name!r}"),
                }
        else:
            self.states[name] = value
        return Variable(name=name, trainable=trainable, layer=self)

    def count_params(self) -> int:
        """Number of numbers in this layer's weights, trainable and not (as Keras counts them)."""
        return int(sum(w.size for w in self.weights))

    # ----- weights as Keras lists them -----
    # Keras's tracking: a layer's lists hold its own weights, then those of the layers it holds as
    # attributes (`weight_layers`), each layer's trainable weights before its non-trainable ones.
    @property
    def trainable_weights(self) -> list[np.ndarray]:
        """The trainable weight arrays (live, not copies), in creation order (none of a frozen layer)."""
        return [w for layer in self.weight_layers() if layer.trainable for w in layer.params.values()]

    @property
    def non_trainable_weights(self) -> list[np.ndarray]:
        """The non-trainable arrays (live): the states, and every weight of a frozen layer."""
        return [
            w
            for layer in self.weight_layers()
            for w in [*([] if layer.trainable else layer.params.values()), *layer.states.values()]
        ]

    @property
    def weights(self) -> list[np.ndarray]:
        """Trainable weights, then non-trainable ones, layer by layer: Keras's order."""
        return [array for _, _, array in self.tracked_weights()]

    def weight_items(self) -> list[tuple[str, np.ndarray]]:
        """(name, live array) of this layer's own weights (not its sub-layers'): the one list every weight
        copy walks, layer by layer."""
        return [*self.params.items(), *self.states.items()]

    def tracked_weights(self) -> list[tuple[Layer, str, np.ndarray]]:
        """(layer, name, live array) of every weight in `weights`: this layer's and its sub-layers'."""
        return [(layer, name, array) for layer in self.weight_layers() for name, array in layer.weight_items()]

    def get_weights(self) -> list[np.ndarray]:
        """Copies of the weights, trainable then non-trainable (BatchNormalization: gamma, beta,
        moving_mean, moving_variance; Dense: kernel, bias)."""
        return [np.array(array, copy=True) for array in self.weights]

    def set_weights(self, weights):
        """Overwrite the weights in place from a list shaped like `get_weights()`; checked first."""
        slots = self.tracked_weights()
        weights = list(weights)
        if not self.built:
            raise ValueError(f"layer {self.name!r} is not built yet: call it on data (or add it to a model) first")
        if len(weights) != len(slots):
            names = ", ".join(name for _, name, _ in slots) or "none"
            raise ValueError(
                f"layer {self.name!r} has {len(slots)} weight arrays ({names}) but set_weights got {len(weights)}"
            )
        arrays = [layer.checked_weight(name, current, new) for (layer, name, current), new in zip(slots, weights)]
        for (_, _, current), new in zip(slots, arrays):
            current[...] = new

    def checked_weight(self, name, current, new) -> np.ndarray:
        """`new` as an array that may replace weight `name` (of `current`'s shape), or a clear error."""
        new = np.asarray(new)
        if new.shape != current.shape:
            raise ShapeError(f"weight {name!r} of layer {self.name!r} has shape {current.shape}, got {new.shape}")
        if new.dtype.kind not in "fiub":
            raise TypeError(f"weight {name!r} of layer {self.name!r} must hold numbers, got dtype {new.dtype}")
        return new

    # ----- sub-layers and added losses (Keras's tracking) -----
    @property
    def custom(self) -> bool:
        """True for a layer written Keras's way (`call`), whose backward comes from the tape."""
        return type(self).call is not Layer.call

    def sublayers(self) -> list[Layer]:
        """The layers this one holds as attributes (also in lists, tuples and dicts), in assignment order."""
        found = []
        for key, value in vars(self).items():
            if key == "flat_owner":
                continue
            for item in flatten(value) if isinstance(value, (list, tuple, dict)) else [value]:
                if isinstance(item, Layer) and item is not self and all(item is not f for f in found):
                    found.append(item)
        return found

    def weight_layers(self) -> list[Layer]:
        """This layer and every layer inside it that holds weights of its own, each once.

        A built-in layer is whole (its sub-layers, like an activation, hold nothing); a custom layer
        holds its own `add_weight` weights and those of the layers it keeps as attributes.
        """
        if not self.custom:
            return [self]
        found = [self]
        for layer in self.sublayers():
            for inner in layer.weight_layers():
                if all(inner is not f for f in found):
                    found.append(inner)
        return found

    def add_loss(self, loss):
        """Add a term to the training loss (a scalar, computed with `minidl.ops` during `call`)."""
        self.added_losses.append(loss)

    def reachable_layers(self) -> list[Layer]:
        """This layer and every layer held inside it, at any depth, each once."""
        found, stack = [], [self]
        while stack:
            layer = stack.pop()
            if all(layer is not f for f in found):
                found.append(layer)
                stack.extend(reversed(layer.sublayers()))
        return found

    @property
    def losses(self) -> list:
        """The terms `add_loss` received in the last call (this layer's and its sub-layers'), and the
        penalties of its weights' regularizers, each weight once (an LSTM and its cell share theirs)."""
        terms = [term for layer in self.reachable_layers() for term in layer.added_losses]
        for layer in self.weight_layers():
            terms += [regularizer(layer.params[name]) for name, regularizer in layer.regularizers.items()]
        return terms

    def added_loss_terms(self) -> list:
        """What `add_loss` received in the last call, here and in the layers held inside."""
        return [term for layer in self.reachable_layers() for term in layer.added_losses]

    def clear_losses(self):
        """Forget the added loss terms (before a new forward pass)."""
        for layer in self.reachable_layers():
            layer.added_losses = []

    # ----- computing -----
    def call(self, inputs, *args, **kwargs):
        """Keras's hook for a custom layer's forward pass, written with `minidl.ops`."""
        raise NotImplementedError(f"layer {self.name!r} ({type(self).__name__}) defines neither call() nor forward()")

    def forward(self, x, training=False):
        """Return the layer's output for a batch `x`; with `training`, keep what `backward` needs.

        A custom layer runs its `call` on a tape of its own while training, which its `backward` replays.
        """
        if not self.custom:
            raise NotImplementedError(f"layer {self.name!r} ({type(self).__name__}) defines no forward()")
        self.clear_losses()
        if not training:
            with paused():
                return value_of(self._run_call(x, training))
        self._tape = Tape()
        self._tape_input = Tensor(x)
        with recording(self._tape):
            self._tape_output = self._run_call(self._tape_input, training)
        if self.added_loss_terms():
            raise NotImplementedError(
                f"layer {self.name!r}: add_loss() inside a Sequential model is not supported by minidl; "
                "use the layer in a functional or subclassed model"
            )
        return value_of(self._tape_output)

    def backward(self, grad):
        """Given d(loss)/d(output), fill `grads` and return d(loss)/d(input) (None if not needed).

        `grad` belongs to the layer from here on: it may be overwritten in place. A custom layer
        replays the tape its training forward recorded.
        """
        if not self.custom:
            raise NotImplementedError(f"layer {self.name!r} ({type(self).__name__}) defines no backward()")
        for layer in self.weight_layers():
            for array in layer.grads.values():
                array[...] = 0
        output = self._tape_output
        if not isinstance(output, Tensor):
            return np.zeros_like(self._tape_input.value) if self.needs_input_grad else None
        found = self._tape.backward([output], [grad])
        return found.get(id(self._tape_input), np.zeros_like(self._tape_input.value)) if self.needs_input_grad else None

    def compute_mask(self, inputs, previous_mask):
        """Keras's: the mask of this layer's output, (N, T) booleans or None (minidl/layers/masking.py).

        A layer that supports masking passes its input's mask on; any other drops it.
        """
        return previous_mask if self.supports_masking else None

    def check_input(self, x):
        """Raise a ShapeError naming this layer if a batch does not match its input shape (None: any size)."""
        if not checks.shape_fits(x.shape[1:], self.input_shape):
            raise ShapeError(
                f"layer {self.name!r} expects input of shape (batch, "
                f"{', '.join(map(str, self.input_shape))}) but got {x.shape}"
            )

    # ----- the three ways a layer is called (see minidl.ops.operation) -----
    def eager_call(self, inputs, *args, training=None, mask=None, **kwargs):
        """Keras's `layer(x)` on arrays or tensors: build from the input's shape on first use, then run."""
        training = _resolve_training(training, self.training_default)
        if not self.built:  # in the layer's dtype (float32 unless given), inputs cast to it, as in Keras
            shapes = [np.shape(value_of(x))[1:] for x in _as_list(inputs)]
            batch = np.shape(value_of(_as_list(inputs)[0]))[0]  # a custom call's other tensors: stand-ins too
            extras = _batched_as_symbolic((args, kwargs), batch) if self.custom and (args or kwargs) else ((), {})
            self.build_weights(shapes if isinstance(inputs, (list, tuple)) else shapes[0], call_extras=extras)
        single = not isinstance(inputs, (list, tuple))
        if mask is None and single and not _passing_masks:
            mask = attached_mask(inputs)  # what the layer that made `inputs` attached (Keras's `_keras_mask`)
        if self.custom:
            self.clear_losses()
            out = self._run_call(inputs, training, *args, mask=mask, **kwargs)
        else:
            out = self._built_in_call(inputs, training, mask, kwargs)
        if single and not _passing_masks and not isinstance(out, (list, tuple)):
            attach_mask(out, self.compute_mask(value_of(inputs), None if mask is None else value_of(mask)))
        return out

    def _built_in_call(self, inputs, training, mask, kwargs):
        """`forward` on the inputs' values, recorded on the active tape when an input is a tensor."""
        keywords = self._forward_keywords(kwargs)
        if mask is not None and takes_mask(type(self)):
            keywords["mask"] = value_of(mask)
        extra = [t for t in flatten(kwargs) if isinstance(t, Tensor)]  # e.g. an RNN's initial_state
        tape = active_tape()
        # Recorded when an input is followed, or when it has weights to train (its input may be a plain
        # array: what a weightless custom layer made of the model's input).
        tracked = tape is not None and (
            bool(self.params) or any(isinstance(x, Tensor) for x in _as_list(inputs) + extra)
        )
        values = [self._checked(value_of(x)) for x in _as_list(inputs)]
        arrays = values if isinstance(inputs, (list, tuple)) else values[0]
        if not tracked:
            return self.forward(arrays, training, **keywords)
        return self._recorded_forward(tape, inputs, arrays, training, keywords, extra)

    def _forward_keywords(self, kwargs) -> dict:
        """The keyword arguments of a call that `forward` takes (an RNN's `initial_state`), as arrays."""
        if not kwargs:
            return {}
        accepted = _forward_arguments(type(self))
        unknown = [key for key in kwargs if key not in accepted or key in ("x", "training", "mask")]
        if unknown:
            raise TypeError(f"layer {self.name!r} ({type(self).__name__}) takes no argument {unknown[0]!r}")
        return {key: _values_in(value) for key, value in kwargs.items()}

    def symbolic_call(self, inputs, *args, **kwargs):
        """`layer(keras_tensor)`: build from the symbolic shape, and record a node of the graph."""
        symbolic = _as_list(inputs)
        if not all(isinstance(t, KerasTensor) for t in symbolic):
            raise TypeError(f"layer {self.name!r}: mix of symbolic tensors and arrays in its inputs")
        shapes = [t.shape[1:] for t in symbolic]
        if not self.built:
            floating = np.dtype(symbolic[0].dtype).kind == "f"  # token ids (int32) leave the layer's own dtype
            self.build_weights(
                shapes if isinstance(inputs, (list, tuple)) else shapes[0],
                dtype=symbolic[0].dtype if floating else None,
                call_extras=(args, kwargs),
            )
        elif not self.custom:
            self.compute_output_shape(shapes if isinstance(inputs, (list, tuple)) else shapes[0])  # raises if unfit
        shape = self.output_shape
        many = isinstance(shape, list)
        outputs = [
            KerasTensor((None, *s), np.dtype(self.dtype).name, name=f"{self.name}_output", index=i)
            for i, s in enumerate(shape if many else [shape])
        ]
        node = Node(self, (inputs, *args), kwargs, outputs)
        for output in outputs:
            output.node = node
        self.inbound_nodes.append(node)
        return outputs if many else outputs[0]

    @property
    def input(self):
        """The symbolic tensor(s) of this layer's first call on symbolic tensors (Keras's `layer.input`)."""
        node = self._first_symbolic_call("input")
        return node.args[0] if node.args else node.outputs[0]

    @property
    def output(self):
        """The symbolic output(s) of this layer's first call on symbolic tensors (Keras's `layer.output`):
        how a feature extractor is cut from an existing graph."""
        outputs = self._first_symbolic_call("output").outputs
        return outputs[0] if len(outputs) == 1 else list(outputs)

    def _first_symbolic_call(self, what):
        if not self.inbound_nodes:
            raise AttributeError(
                f"layer {self.name!r} has never been called on symbolic tensors (keras.Input and what follows), "
                f"so it has no {what}"
            )
        return self.inbound_nodes[0]

    def _checked(self, x):
        x = np.asarray(x)
        if x.dtype.kind not in "fiub":
            raise TypeError(f"layer {self.name!r} takes arrays of numbers, got dtype {x.dtype}")
        if x.ndim == 0:
            raise ShapeError(f"layer {self.name!r} takes a batch of samples (batch, ...), got a scalar")
        return x.astype(self.dtype, copy=False) if x.dtype.kind != "f" or x.dtype != self.dtype else x

    def _recorded_forward(self, tape, inputs, arrays, training, keywords, extra):
        """Run `forward` on the tensors' values and record its `backward` on the tape.

        `keywords` go to `forward` too (a mask, an initial state); `extra` are the tensors among them,
        whose gradients `backward` then returns after the inputs' (as a list).
        """
        calls = tape.uses.get(id(self), 0)
        if calls:  # shared: the previous call's cache is about to be overwritten; keep a copy of it
            tape.snapshots[(id(self), calls - 1)] = self.cache_state()
        tape.uses[id(self)] = calls + 1
        out = self.forward(arrays, training, **keywords)
        needs = any(isinstance(x, Tensor) and x.requires_grad for x in _as_list(inputs) + extra)
        many = isinstance(out, (list, tuple))
        results = [Tensor(o, requires_grad=needs or bool(self.params)) for o in (out if many else [out])]
        shared = tape.uses  # read at backward time: the call count is final by then

        def backward(grads):
            snapshot = tape.snapshots.pop((id(self), calls), None)
            if snapshot is not None:
                self.restore_cache_state(snapshot)
            again = id(self) in tape.backward_seen
            tape.backward_seen.add(id(self))
            before = [g.copy() for g in self.grads.values()] if again else None
            flag, self.needs_input_grad = self.needs_input_grad, needs
            try:
                result = self.backward(grads if many else grads[0])
            finally:
                self.needs_input_grad = flag
            if before is not None:
                for array, previous in zip(self.grads.values(), before):
                    array += previous
            result = list(result) if isinstance(inputs, (list, tuple)) or extra else [result]
            if shared.get(id(self), 1) > 1:
                result = [None if r is None else np.array(r, copy=True) for r in result]
            return result

        tape.record(backward, _as_list(inputs) + extra, results)
        return results if many else results[0]

    def _run_call(self, inputs, training, *args, mask=None, **kwargs):
        """Call `call` with the arguments its signature takes (Keras passes `training` / `mask` only then)."""
        accepts = _call_arguments(type(self))
        if "training" in accepts:
            kwargs["training"] = training
        if mask is not None and "mask" in accepts:
            kwargs["mask"] = mask
        return self.call(inputs, *args, **kwargs)

    def _inferred_output_shape(self, input_shape, args=(), kwargs=None):
        """A custom layer's output shape: its `compute_output_shape` if it has one, else its `call` run once
        on zeros (the batch and unknown sizes stood in for, and read back as unknown), with `args` and
        `kwargs` after them (their symbolic tensors as zeros too)."""
        if type(self).compute_output_shape is not Layer.compute_output_shape:
            shape = _shape_tuple(self.compute_output_shape(_with_batch(input_shape)))
            return [s[1:] for s in shape] if isinstance(shape, list) else shape[1:]
        shapes = input_shape if isinstance(input_shape, list) else [input_shape]
        zeros = [stand_in(KerasTensor((None, *s), np.dtype(self.dtype).name)) for s in shapes]
        symbolic = [t for t in flatten((args, kwargs or {})) if isinstance(t, KerasTensor)]
        args, kwargs = substitute((args, kwargs or {}), {id(t): stand_in(t) for t in symbolic})
        with paused():
            out = self._run_call(zeros if isinstance(input_shape, list) else zeros[0], False, *args, **kwargs)
        outs = out if isinstance(out, (list, tuple)) else [out]
        found = [shape_from_stand_in(np.shape(value_of(o)))[1:] for o in outs]
        self.clear_losses()
        return found if isinstance(out, (list, tuple)) else found[0]

    # ----- per-call caches, for a layer called twice in one step -----
    def cache_state(self) -> list:
        """What the last forward kept for backward (this layer's and its sub-layers' arrays), copied."""
        saved = []
        for layer in self.reachable_layers():
            state = {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in vars(layer).items()}
            saved.append((layer, state))
        return saved

    def restore_cache_state(self, saved):
        """Put back what `cache_state` copied."""
        for obj, state in saved:
            vars(obj).update(state)

    def __getstate__(self):
        """Pickle settings and weights only, not what the last forward pass kept for backward.

        Weights survive because they sit in dictionaries (`params`, `grads`, `states`), never as
        bare array attributes; arrays kept directly on the layer are caches of the last forward pass.
        """
        return {
            key: value
            for key, value in self.__dict__.items()
            if not _cache(value) and key not in ("added_losses", "flat_owner", "inbound_nodes")
        }

    def __setstate__(self, state):
        self.__dict__.update(state)
        self.added_losses, self.flat_owner, self.inbound_nodes = [], None, []

    # ----- describing -----
    def get_config(self) -> dict:
        """The constructor arguments that rebuild this layer (used by save/load and statistics)."""
        config = {"name": self.name}
        if self.input_shape is not None and not isinstance(self.input_shape, list):
            config["input_shape"] = list(self.input_shape)
        if not self.trainable:
            config["trainable"] = False
        return config

    @classmethod
    def from_config(cls, config):
        """A new layer from `get_config()`'s dictionary (Keras's classmethod)."""
        return cls(**config)

    def __repr__(self):
        arguments = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items() if k != "name")
        return f"{type(self).__name__}({arguments})"


class _Placeholders:
    """What `placeholder_weights` counts: weights are zero-byte views while the total stays under a limit."""

    def __init__(self, limit):
        self.limit, self.total = limit, 0

    def count(self, layer, name, shape):
        self.total += math.prod(shape)
        if self.total > self.limit:
            raise ModelFileError(
                f"{type(layer).__name__} {layer.name!r} weight {name!r} of shape {shape} brings the model over "
                f"{self.limit:,} parameters"
            )


_placeholders: list[_Placeholders] = []


@contextlib.contextmanager
def placeholder_weights(limit):
    """Within the block every new weight is a zero-byte placeholder, and their total is held under `limit`:
    how a file's architecture is built to learn its weights' shapes before anything is allocated."""
    _placeholders.append(_Placeholders(limit))
    try:
        yield _placeholders[-1]
    finally:
        _placeholders.pop()


def placeholders_active() -> bool:
    """Whether weights are being made as placeholders now."""
    return bool(_placeholders)


def _cache(value) -> bool:
    """Whether an attribute holds what a forward pass kept (arrays, tensors, a tape) — not a weight's handle."""
    return isinstance(value, (np.ndarray, Tape)) or (isinstance(value, Tensor) and not isinstance(value, Variable))


def _as_list(inputs):
    return list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]


def _shape_tuple(shape):
    """A shape (tuple of ints, None for unknown sizes), or a list of them for several inputs or outputs."""
    if isinstance(shape, list) and shape and isinstance(shape[0], (tuple, list)):
        return [_shape_tuple(tuple(s)) for s in shape]
    return tuple(None if d is None else int(d) for d in shape)


def _with_batch(shape):
    """Keras's form of a shape: with the batch axis, (None, ...) (a list of them for several inputs)."""
    return [(None, *s) for s in shape] if isinstance(shape, list) else (None, *shape)


def _same_shape(declared, actual) -> bool:
    """Whether `actual` fits `declared` (None in `declared` takes any size)."""
    if declared == actual:  # the common case, in one comparison: this runs for every layer of every step
        return True
    if isinstance(declared, list) or isinstance(actual, list):
        return list(map(tuple, declared)) == list(map(tuple, actual))
    return checks.shape_fits(actual, declared)


def _flat_dims(shape) -> list:
    """The dimensions of a shape, or of every shape in a list of them."""
    return [d for s in shape for d in s] if isinstance(shape, list) else list(shape)


def _resolve_training(training, default=False):
    """Keras's rule: `training=None` inherits the model's (inside a training step: True, with its context;
    inside an inference pass: False); a layer called on its own, or in a model called without `training`,
    gets its class's default (False, except for the random augmentation layers, True as in Keras)."""
    current = training_contexts.current()
    if training is None:
        return default if current is None or current is training_contexts.LAYER_DEFAULTS else (current or False)
    if training is True and current:
        return current
    return training


_passing_masks: list = []  # non-empty while a Sequential or functional model hands each layer's mask to the next
# Keras's `_keras_mask` for layers called one by one (a subclassed model's call, a layer on its own): the mask
# a layer's output carries, by id of that output, with a weak reference so the entry leaves with the output.
_attached_masks: dict[int, tuple] = {}


def attached_mask(value):
    """The mask the layer that returned `value` attached to it, or None."""
    entry = _attached_masks.get(id(value))
    return entry[1] if entry is not None and entry[0]() is value else None


def attach_mask(value, mask):
    """Attach `mask` to a layer's output `value` (None: forget any mask it carried)."""
    key = id(value)
    if mask is None:
        _attached_masks.pop(key, None)
        return
    try:
        reference = weakref.ref(value, lambda _, key=key: _attached_masks.pop(key, None))
    except TypeError:  # a value that cannot be referenced weakly (a plain number): carries no mask
        return
    _attached_masks[key] = (reference, mask)


@contextlib.contextmanager
def passing_masks():
    """Within the block a model passes masks from layer to layer itself (`masking.call_with_mask`)."""
    _passing_masks.append(True)
    try:
        yield
    finally:
        _passing_masks.pop()


@functools.cache
def _forward_arguments(layer_class) -> frozenset:
    """The argument names of a built-in layer's `forward`."""
    return frozenset(inspect.signature(layer_class.forward).parameters)


def takes_mask(layer_class) -> bool:
    """Whether a built-in layer's `forward` has a `mask` argument (Keras looks at `call` the same way)."""
    return "mask" in _forward_arguments(layer_class)


def _batched_as_symbolic(structure, batch):
    """`structure` with each array or tensor of `batch` rows replaced by a symbolic tensor of its shape
    (batch axis unknown), so that a custom layer's `call` runs on stand-ins of one batch size."""
    if isinstance(structure, (list, tuple)):
        return type(structure)(_batched_as_symbolic(item, batch) for item in structure)
    if isinstance(structure, dict):
        return {key: _batched_as_symbolic(item, batch) for key, item in structure.items()}
    value = value_of(structure)
    if isinstance(value, np.ndarray) and value.ndim and value.shape[0] == batch:
        return KerasTensor((None, *value.shape[1:]), value.dtype)
    return structure


def _values_in(structure):
    """`structure` (an array, a tensor, or a list of them) with every tensor replaced by its value."""
    if isinstance(structure, (list, tuple)):
        return [value_of(item) for item in structure]
    return value_of(structure)


_call_arguments_cache: dict = {}


def _call_arguments(cls) -> set:
    """The argument names of `cls.call` (whether it takes `training`, `mask`)."""
    if cls not in _call_arguments_cache:
        parameters = inspect.signature(cls.call).parameters
        takes_all = any(p.kind is p.VAR_KEYWORD for p in parameters.values())
        _call_arguments_cache[cls] = set(parameters) | ({"training", "mask"} if takes_all else set())
    return _call_arguments_cache[cls]
