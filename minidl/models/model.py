"""Model: a network of layers — what it is. How it learns comes from `Trainer`, its base.

Three kinds, as in Keras: `Sequential` (a stack, `sequential.py`), `Functional` (a graph of layers and
ops called on `keras.Input`, `functional.py`), and a subclass of `Model` whose own `call` uses
layers and ops. `keras.Model(inputs, outputs)` makes a Functional; `keras.Model()` with no `call` of
its own is a Sequential (minidl's older `Model().add(...)`).

All weights of a model live in one flat float vector (`model.parameters`) and all gradients in
another (`model.gradients`); every layer's `params` and `grads` are views into them (`minidl.flat`).
That makes an optimizer step one vectorised update, and lets the parallel runners share weights and
gradients between processes through a single buffer each. A layer shared by two models is a view
into one of them at a time: a model that finds its layers bound elsewhere takes them back first
(`own_storage`), values and all.

One training step is `forward_backward`. A Sequential of built-in layers runs them forward and their
hand-written backward passes in reverse. Any other model runs forward on a tape (`minidl.ops.tape`)
and the tape replays it backward: hand-written backward passes for built-in layers, the ops'
vector-Jacobian products for the rest.
"""

from __future__ import annotations

import os

import numpy as np

from .. import flat, initializers, metrics, saving
from ..layers import Layer
from ..layers import context as training_contexts
from ..layers.activations import Softmax
from ..layers.base import placeholders_active
from ..layers.context import TrainingContext
from ..losses import CrossEntropy, SoftmaxCrossEntropy
from ..ops.symbolic import KerasTensor, Node, any_symbolic, shape_from_stand_in, stand_in
from ..ops.tape import Tape, Tensor, paused, recording, value_of
from ..trainers import Trainer, data
from ..utils import arrays, model_summary, naming, rng


class Model(Trainer, Layer):
    """A network: a Sequential stack, a Functional graph, or a subclass with its own `call`.

    Args:
        name: the model's name (default "sequential", "functional", or the subclass's snake_case name).
        seed: fixes the initial weights (built by the model), every epoch's shuffle and the random
            draws of training (Dropout, `minidl.random`) (default: the seed of
            `minidl.utils.set_random_seed`, else a random one).
        dtype: "float32" (default) or "float64" (the gradient checks use it).
        trainable: Keras's argument; only True is supported.
    """

    kinds: dict = {}  # "sequential" / "functional" -> the class `Model(...)` makes (each registers itself)

    def __init_subclass__(cls, kind=None, **kwargs):
        super().__init_subclass__(**kwargs)
        if kind is not None:
            Model.kinds[kind] = cls

    def __new__(cls, *args, **kwargs):
        if cls is Model:
            functional = "inputs" in kwargs or "outputs" in kwargs or (args and any_symbolic(args[0]))
            return object.__new__(Model.kinds["functional" if functional else "sequential"])
        return object.__new__(cls)

    def __init__(self, name=None, seed=None, dtype="float32", trainable=True, **kwargs):
        if not isinstance(name, (str, type(None))):
            raise TypeError(f"Model: name must be a string, got {type(name).__name__}")
        if not trainable:
            raise NotImplementedError(f"Model argument trainable={trainable!r} is not supported by minidl")
        Trainer.__init__(self)
        Layer.__init__(self, name=name or naming.name_for(self), **kwargs)
        self.seed = rng.model_seed(seed)
        self.dtype = np.dtype(dtype).type
        self._init_rng = np.random.default_rng(self.seed)
        self.completed_epochs = 0  # epochs trained in all: the position of the shuffle sequence
        self.parameters = np.zeros(0, self.dtype)
        self.gradients = np.zeros(0, self.dtype)

    # ----- what every model answers -----
    @property
    def layers(self) -> list[Layer]:
        """The layers, in order (a subclassed model's: the ones it holds as attributes)."""
        return [layer for layer in self.sublayers()]

    @property
    def custom(self) -> bool:
        return False  # a model computes through its own forward / call, never a layer's tape

    def weight_layers(self) -> list[Layer]:
        """Every layer holding weights of its own, each once, in order (nested models looked into)."""
        found = []
        for layer in self.layers:
            for inner in layer.weight_layers():
                if all(inner is not f for f in found):
                    found.append(inner)
        return found

    @property
    def input_names(self) -> list[str]:
        """The names of the model's inputs (one for a Sequential or subclassed model)."""
        return ["input"]

    @property
    def output_names(self) -> list[str]:
        """The names of the model's outputs, as the logs of a model with several name them (Keras's
        `output_1`, `output_2`, ... for a subclassed model)."""
        shape = self.output_shape
        return [f"output_{i + 1}" for i in range(len(shape))] if isinstance(shape, list) else ["output"]

    @property
    def built(self):
        return getattr(self, "_built", False)

    @built.setter
    def built(self, value):
        self._built = value

    def build(self, input_shape):
        """Build a subclassed model's layers by running `call` once on zeros of `input_shape`."""
        shapes = input_shape if isinstance(input_shape, list) else [input_shape]
        shapes = [tuple(s)[1:] if s and s[0] is None else tuple(s) for s in shapes]
        zeros = [stand_in(KerasTensor((None, *s), np.dtype(self.dtype).name)) for s in shapes]
        with paused(), initializers.drawing_from(self._init_rng):
            out = self._run_call(tuple(zeros) if len(zeros) > 1 else zeros[0], False)
        self._input_shapes = shapes
        outs = [
            shape_from_stand_in(np.shape(value_of(o)))[1:] for o in (out if isinstance(out, (list, tuple)) else [out])
        ]
        self.output_shape = outs if isinstance(out, (list, tuple)) else outs[0]  # a list: several outputs
        self.built = True
        self.pack()
        return self.output_shape

    @property
    def input_shape(self):
        shapes = getattr(self, "_input_shapes", None)
        return None if shapes is None else (shapes[0] if len(shapes) == 1 else shapes)

    @input_shape.setter
    def input_shape(self, value):
        pass  # Layer.__init__ sets it; a model's input shape comes from its layers

    def pack(self):
        """Move every weight into fresh flat vectors owned by this model (gradients zeroed)."""
        if placeholders_active():
            return  # an untrusted file's architecture being measured: nothing is allocated
        flat.pack(self, self.weight_layers())
        self.after_pack()

    def after_pack(self):
        """Called after the weights moved (a Sequential sets which layers need their input's gradient)."""

    def own_storage(self) -> list[Layer]:
        """Make sure this model's flat vectors hold its layers' weights (another model may have taken a
        shared layer since); repacks, keeping every value, when one does not. Returns the layers holding
        weights, which the rest of the step reuses."""
        holders = self.weight_layers()
        if any(
            getattr(layer, "flat_owner", None) is not self for layer in holders if layer.params
        ) or flat.parameter_count(holders) != len(self.parameters):
            self.pack()
        return holders

    # ----- one step -----
    def call(self, inputs, training=None):
        """The forward pass of a subclassed model (Keras's hook): layers and `minidl.ops` on `inputs`."""
        raise NotImplementedError(f"model {self.name!r} ({type(self).__name__}) defines no call()")

    def __call__(self, *args, **kwargs):
        # On arrays from outside any model's pass: Keras's `model(x)`. Inside one (this model nested in
        # another), a layer of that pass: it follows the pass's training mode.
        if args and not any_symbolic(args) and not isinstance(args[0], Tensor) and training_contexts.current() is None:
            return self.predict_batch(args[0], kwargs.get("training"))
        return Layer.__call__(self, *args, **kwargs)

    def predict_batch(self, x, training=None):
        """Keras's `model(x)` on arrays: the outputs for a batch.

        `training=True` runs the layers as in a training step, False as in `predict`; None (not given)
        leaves each layer its own default, as Keras does: inference, except that the random
        augmentation layers augment (a fresh draw per call).
        """
        x = data.check_inputs(self, x, "input")
        self.own_storage()
        if training is None and any(layer.training_default for layer in self.all_layers()):
            with training_contexts.stepping(training_contexts.LAYER_DEFAULTS):
                out = self.call(x, training=None)
            return [value_of(o) for o in out] if isinstance(out, list) else value_of(out)
        if training:
            step = self.optimizer.iterations if self.optimizer else 0
            training = self.training_context(step, np.arange(arrays.count(x)))
        return self.forward(x, training or False)

    def eager_call(self, inputs, *args, training=None, mask=None, **kwargs):
        """The model used as a layer on tensors or arrays (inside another model's pass): its call, recorded."""
        if not self.built:
            self.build(one_or_many([(None, *np.shape(value_of(x))[1:]) for x in arrays.parts(inputs)]))
        return self._run_call(inputs, training, **kwargs)

    def symbolic_call(self, inputs, *args, **kwargs):
        """The model called on symbolic tensors: one node of the caller's graph."""
        symbolic = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
        if not self.built:
            self.build(one_or_many([t.shape for t in symbolic]))
        shape = self.output_shape
        outputs = [KerasTensor((None, *shape), np.dtype(self.dtype).name, name=f"{self.name}_output")]
        node = Node(self, (inputs, *args), kwargs, outputs)
        outputs[0].node = node
        self.inbound_nodes.append(node)
        return outputs[0]

    def loss_holders(self) -> list[Layer]:
        """The layers that may add a loss term in `call`: the custom ones (and the model itself), found once."""
        found = getattr(self, "_loss_holders", None)
        if found is None or getattr(self, "_loss_holders_of", None) != len(self.all_layers()):
            found = [layer for layer in self.reachable_layers() if layer.custom or layer is self]
            self._loss_holders, self._loss_holders_of = found, len(self.all_layers())
        return found

    def training_context(self, step, positions) -> TrainingContext:
        """The identity of one training step: what random layers draw from."""
        return TrainingContext(step=step, positions=positions, seed=self.seed, layers=tuple(self.all_layers()))

    def all_layers(self) -> list[Layer]:
        """Every layer of the model, nested ones included, each once (the order fixes random streams)."""
        found, seen, stack = [], set(), list(reversed(self.layers))
        while stack:
            layer = stack.pop()
            if id(layer) in seen:
                continue
            found.append(layer)
            seen.add(id(layer))
            inner = layer.layers if isinstance(layer, Model) else layer.sublayers() if layer.custom else []
            stack.extend(reversed(inner))
        return found

    def forward(self, x, training=False):
        """The outputs for a batch (`training`: False, or a TrainingContext); `losses` then holds what
        `add_loss` received in this call only, as in Keras."""
        for layer in self.loss_holders():
            layer.added_losses = []
        with training_contexts.stepping(training if training else training_contexts.INFERENCE):
            return value_of(self._run_call(x, training))

    def forward_backward(self, x, y, sample_weight, denominator, step=0, positions=None, input_gradient=False):
        """One batch (or shard of a batch) through the network and back; returns (loss sum, metric sums).

        Leaves in `self.gradients` d(Σ_i w_i · loss_i)/d(weights) / `denominator` (w_i = 1 without
        `sample_weight`), plus the gradient of the regularization penalties and added losses, scaled by
        this shard's share of the batch (len(x) / denominator), so the shards of a batch add up to the
        batch's gradient — which is how the distributed runners split a batch. `positions` are the
        samples' places in the whole batch (default 0..len(x)-1), `step` the optimizer step: with the
        model's seed they fix random draws (Dropout) however the batch is split. Metric sums: float64,
        additive over shards (see `minidl.metrics`). With `input_gradient` (for gradient checks), dL/dx is
        returned too, as a third value.
        """
        weighted = self.own_storage()
        n = arrays.count(x)
        positions = np.arange(n) if positions is None else positions
        context = self.training_context(step, positions)
        self.gradients[...] = 0
        tape = Tape()
        wanted = bool(input_gradient)
        inputs = tuple(Tensor(part, wanted) for part in x) if isinstance(x, tuple) else Tensor(x, wanted)
        holders = self.loss_holders()
        with recording(tape), training_contexts.stepping(context):
            for layer in holders:
                layer.added_losses = []
            output = self._run_call(inputs, context)
            loss_sum, seed = self.training_loss.sum_and_gradient(output, y, sample_weight, denominator)
            added = [term for layer in holders for term in layer.added_losses]
        several = isinstance(output, (list, tuple))  # a model with several outputs: one seed each
        predicted = [value_of(o) for o in output] if several else value_of(output)
        sums = metrics.metric_sums(self.compiled_metrics, predicted, y, sample_weight)
        outputs, seeds = (list(output), list(seed)) if several else ([output], [seed])
        for term in added:
            loss_sum += float(value_of(term)) * n  # a batch-level term, counted once per sample seen
            outputs.append(term)
            seeds.append(np.full(np.shape(value_of(term)), n / denominator))
        pairs = [(t, s) for t, s in zip(outputs, seeds) if isinstance(t, Tensor)]
        found = tape.backward([t for t, _ in pairs], [s for _, s in pairs]) if pairs else {}
        loss_sum += self.penalties(n, denominator, weighted)
        self.freeze_gradients(weighted)
        if input_gradient:
            parts = inputs if isinstance(inputs, tuple) else (inputs,)
            grads = tuple(found.get(id(t), np.zeros_like(t.value)) for t in parts)
            return loss_sum, sums, grads if isinstance(inputs, tuple) else grads[0]
        return loss_sum, sums

    def penalties(self, samples, denominator, holders) -> float:
        """The regularizers' penalty P of this step, as `samples` · P for the loss sum; adds
        (samples / denominator) · dP/dw to the gradients of `holders`, the layers holding weights (so the
        shards of a batch add up to dP/dw)."""
        total, share = 0.0, samples / denominator
        for layer in holders:
            for name, regularizer in layer.regularizers.items():
                weight = layer.params[name]
                total += regularizer(weight)
                layer.grads[name] += (share * regularizer.gradient(weight)).astype(weight.dtype, copy=False)
        return total * samples

    def freeze_gradients(self, holders):
        """Zero the gradients of the `holders` with `trainable = False` (Keras's freezing)."""
        for layer in holders:
            if not layer.trainable:
                for array in layer.grads.values():
                    array[...] = 0

    def loss_for_training(self, loss):
        """The one place where a final softmax and a cross-entropy meet.

        If the layer making the output ends in a softmax and `loss` is a cross-entropy on probabilities,
        returns a `SoftmaxCrossEntropy` and tells that softmax its backward is done by the loss (the
        gradient with respect to its input is (p − y) / batch); every other softmax keeps its own
        derivative. Otherwise returns `loss` unchanged.
        """
        for layer in self.all_layers():
            softmax = getattr(layer, "activation", layer)
            if isinstance(softmax, Softmax):
                softmax.backward_done_by_loss = False
        last = self.output_layer()
        last = getattr(last, "activation", last)
        if isinstance(last, Softmax) and isinstance(loss, CrossEntropy) and not loss.from_logits:
            last.backward_done_by_loss = True
            return SoftmaxCrossEntropy(loss)
        return loss

    def output_layer(self) -> Layer | None:
        """The layer whose output is the model's (None when ops or a subclass's code come last)."""
        return None

    def predict_in_batches(self, x, batch_size):
        """Outputs for `x` in batches, in this process (every runner's workers call this too)."""
        self.own_storage()
        if None in self.output_shape:  # a sequence's length, known from x: the batches' outputs joined
            starts = range(0, arrays.count(x), batch_size)
            return np.concatenate([self.forward(arrays.take(x, slice(s, s + batch_size))) for s in starts])
        out = np.empty((arrays.count(x), *self.output_shape), self.dtype)
        for start in range(0, arrays.count(x), batch_size):
            batch = arrays.take(x, slice(start, start + batch_size))
            out[start : start + batch_size] = self.forward(batch, training=False)
        return out

    # ----- weights -----
    def count_params(self) -> int:
        """Total number of weights, trainable and not (as Keras counts them)."""
        return int(sum(w.size for w in self.weights))

    def set_weights(self, weights):
        """Replace all weights in place; the count and every shape are checked before anything changes."""
        slots = self.tracked_weights()
        weights = list(weights)
        if len(weights) != len(slots):
            raise ValueError(f"model {self.name!r} has {len(slots)} weight arrays, got {len(weights)}")
        checked = [layer.checked_weight(key, current, new) for (layer, key, current), new in zip(slots, weights)]
        for (_, _, current), new in zip(slots, checked):
            current[...] = new

    def save_weights(self, filepath, overwrite=True):
        """Write the weights and optimizer state (`x.weights.h5`, Keras's format, or `x.weights.npz`).

        Args:
            filepath: the file to write; its name ends in `.weights.h5` or `.weights.npz`.
            overwrite: False refuses an existing file (`FileExistsError`) and leaves it as it is.
        """
        saving.save_weights(self, filepath, overwrite=overwrite)

    def load_weights(self, filepath, skip_mismatch=False):
        """Read weights written by `save_weights` into this (built) model: all of them, or none when the
        file is refused (`ModelFileError`, one line naming the file and the problem).

        Args:
            filepath: a `.weights.h5` or `.weights.npz` file.
            skip_mismatch: only False (minidl refuses a file that does not fit instead of skipping weights).
        """
        if skip_mismatch:
            raise NotImplementedError("load_weights: skip_mismatch=True is not supported by minidl")
        saving.load_weights(self, filepath)

    def get_layer(self, name=None, index=None):
        """A layer by `name` or by `index` (Keras's `model.get_layer`).

        Args:
            name: the layer's name.
            index: its place in `model.layers` (negative counts from the end); give exactly one of the two.
        """
        layers = self.layers
        if (name is None) == (index is None):
            raise ValueError("get_layer: give exactly one of name= or index=")
        if index is not None:
            if not isinstance(index, (int, np.integer)) or not -len(layers) <= index < len(layers):
                raise ValueError(f"get_layer: index {index!r} is out of range for {len(layers)} layers")
            return layers[index]
        for layer in layers:
            if layer.name == name:
                return layer
        raise ValueError(f"no layer named {name!r} in model {self.name!r}; layers: {[la.name for la in layers]}")

    # ----- describing, saving -----
    def summary(self, line_length=None, positions=None, print_fn=None, expand_nested=False, show_trainable=False,
                layer_range=None, console=None):  # fmt: skip
        """Print Keras's table: each layer, its output shape and parameters, then the totals.

        Args:
            line_length: the table's width in characters (default: the terminal's).
            print_fn: a function taking each line of the table (default: the terminal, through rich).
            show_trainable: add Keras's "Trainable" column (Y, N, or - for a layer without weights).
            console: a `rich.console.Console` to print to.
            positions, expand_nested, layer_range: Keras's other layout options, accepted so Keras
                programs run; minidl draws every layer, nested models as one row.
        """
        model_summary.print_summary(self, console, print_fn, show_trainable=show_trainable, line_length=line_length)

    def summary_rows(self) -> list[dict]:
        """One dict per layer: name, class, output shape, parameter count (what `summary` prints)."""
        return model_summary.summary_rows(self)

    def get_config(self) -> dict:
        """Everything needed to rebuild this model without its weights (`minidl.saving.model_config`).

        A subclass of Model overrides it to return its constructor's arguments, as in Keras (this base
        then gives its name, for `super().get_config()`)."""
        if type(self) not in Model.kinds.values():
            return {"name": self.name, "trainable": True}
        return saving.model_config(self)

    @classmethod
    def from_config(cls, config, custom_objects=None):
        """Rebuild (and compile, if it was) a model from `get_config()`; weights are fresh."""
        if cls not in Model.kinds.values() and cls is not Model:  # a subclass: Keras calls it with its config
            return cls(**config)
        return saving.model_from_config(Model, config, custom_objects=custom_objects)

    def to_json(self, **kwargs) -> str:
        """The architecture as JSON text (Keras's `to_json`; `models.model_from_json` reads it)."""
        import json

        return json.dumps(saving.model_config(self), **kwargs)

    def save(self, filepath, overwrite=True, zipped=None):
        """Write architecture (JSON) and weights to one zip file (`.keras` or `.npz`); no pickled objects.

        Args:
            filepath: the file to write, ending in `.keras` (or `.npz`).
            overwrite: False refuses an existing file (`FileExistsError`) and leaves it as it is.
            zipped: Keras's option, accepted; minidl always writes one zip file.
        """
        saving.save_model(self, os.fspath(filepath), overwrite=overwrite)

    @classmethod
    def load(cls, filepath) -> Model:
        """Read a model written by `save`; files holding pickled objects are refused."""
        return saving.load_model(filepath, cls)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}, built={self.built}>"


def one_or_many(shapes: list):
    """The input shape `build` takes: one shape for a model of one input, else the list of them."""
    return shapes[0] if len(shapes) == 1 else shapes
