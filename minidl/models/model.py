"""Model: a stack of layers — what the network is. How it learns comes from `Trainer`, its base.

All weights of a model live in one flat float vector (`model.parameters`) and all gradients in
another (`model.gradients`); every layer's `params` and `grads` are views into them (`minidl.flat`).
That makes an optimizer step one vectorised update, and lets the parallel runners share weights and
gradients between processes through a single buffer each.

What happens in one training step is `forward_backward`: the layers forward in order, the loss and
its gradient, the layers backward in reverse. The loops that call it for every batch are the
trainer's (`minidl.trainers`); where it runs, `minidl.distributed`'s.
"""

from __future__ import annotations

import os

import numpy as np

from .. import flat, metrics, saving
from ..errors import ShapeError
from ..layers import Layer
from ..layers.activations import Softmax
from ..layers.context import TrainingContext
from ..layers.input import FUNCTIONAL_API, Input
from ..losses import CrossEntropy, SoftmaxCrossEntropy
from ..trainers import Trainer, data
from ..utils import model_summary, naming, rng


class Model(Trainer):
    """A sequential network (`Sequential` is the same class); `Model(inputs, outputs)` is refused.

    Args:
        layers: layers to add in order (an `Input` first fixes the input shape; a model's layers are
            added, shared).
        name: the model's name (default "sequential", "sequential_1", ...).
        seed: fixes the initial weights, every epoch's shuffle and Dropout's masks (default: the seed
            of `minidl.utils.set_random_seed`, else a random one).
        dtype: "float32" (default) or "float64" (the gradient checks use it).
        trainable: Keras's argument; only True is supported.
    """

    def __init__(
        self, layers=None, name=None, seed=None, dtype="float32", *, inputs=None, outputs=None, trainable=True
    ):
        functional = inputs is not None or outputs is not None or isinstance(layers, Input)
        if functional or not isinstance(name, (str, type(None))):
            raise NotImplementedError(FUNCTIONAL_API)
        if not trainable:
            raise NotImplementedError(f"Model/Sequential argument trainable={trainable!r} is not supported by minidl")
        super().__init__()
        self.name = name or naming.unique_name("sequential")
        self.seed = rng.model_seed(seed)
        self.dtype = np.dtype(dtype).type
        self._init_rng = np.random.default_rng(self.seed)
        self.layers: list[Layer] = []
        self.declared_input = None  # the shape of an `Input` added before the first layer
        self.completed_epochs = 0  # epochs trained in all: the position of the shuffle sequence
        self.parameters = np.zeros(0, self.dtype)
        self.gradients = np.zeros(0, self.dtype)
        for layer in layers or []:
            self.add(layer)

    # ----- building -----
    def add(self, layer: Layer):
        """Append a layer, a `minidl.Input` (fixes the input shape) or a whole model (its layers, shared)."""
        if isinstance(layer, Input):
            if self.layers:
                raise ValueError(f"model {self.name!r}: an Input can only be added before the first layer")
            self.declared_input = layer.input_shape
            return self
        if isinstance(layer, Model):
            return self._add_model(layer)
        if not isinstance(layer, Layer):
            raise TypeError(f"Model.add expects a Layer, an Input or a Model, got {type(layer).__name__}")
        if any(existing is layer for existing in self.layers):
            raise ValueError(f"layer {layer.name!r} is already in model {self.name!r}")
        previous = self.layers[-1].output_shape if self.layers else self._first_input_shape(layer)
        declared = layer.input_shape
        self.layers.append(layer)
        if previous is not None:
            try:
                self._build_layer(layer, previous)
            except ShapeError:
                # Leave model and layer as they were, so a corrected layer (or this one) can be added next.
                self.layers.pop()
                layer.input_shape, layer.built = declared, False
                raise
        if self.loss is not None:
            self.training_loss = self.loss_for_training(self.loss)
        return self

    def _add_model(self, other: Model):
        """Keras nests the model; minidl adds its layers (shared objects, so weights stay the same arrays'
        values). Train the outer model afterwards: the inner one's flat buffers are left behind."""
        if other is self:
            raise ValueError(f"model {self.name!r} cannot be added to itself")
        if not self.layers and other.input_shape is not None:
            self.declared_input = other.input_shape
        for layer in other.layers:
            self.add(layer)
        return self

    def _first_input_shape(self, first_layer):
        """The input shape for the first layer: its own `input_shape`, or an `Input` added before it."""
        declared = self.declared_input
        if first_layer.input_shape is not None and declared is not None and tuple(first_layer.input_shape) != declared:
            raise ShapeError(
                f"model {self.name!r}: Input shape {declared} differs from the first layer's input_shape "
                f"{tuple(first_layer.input_shape)}"
            )
        return first_layer.input_shape or declared

    def _build_layer(self, layer, input_shape):
        try:
            # A layer built for this shape (one of a nested model's) keeps its weights.
            if not (layer.built and layer.input_shape == tuple(input_shape) and layer.dtype == self.dtype):
                layer.build(input_shape, rng=self._init_rng, dtype=self.dtype)
        except ShapeError as error:
            position = next(i for i, existing in enumerate(self.layers, 1) if existing is layer)
            raise ShapeError(f"cannot add layer {position} to model {self.name!r}: {error}") from None
        flat.pack(self)
        # dL/dx is needed only above the first layer with weights: below it nothing is left to train.
        with_weights = [bool(each.params) for each in self.layers]
        for index, each in enumerate(self.layers):
            each.needs_input_grad = any(with_weights[:index])

    def build(self, input_shape):
        """Build every layer for `input_shape` (without batch axis; Keras's `(None, ...)` accepted)."""
        shape = tuple(input_shape)
        shape, fresh = (shape[1:] if shape and shape[0] is None else shape), []
        try:
            for layer in self.layers:
                if not layer.built:
                    fresh.append((layer, layer.input_shape))
                    self._build_layer(layer, shape)
                shape = layer.output_shape
        except ShapeError:
            # Unbuild what this call built, so data of the right shape can still build the model later.
            for layer, declared in fresh:
                layer.input_shape, layer.built = declared, False
            raise
        return shape

    @property
    def built(self):
        return bool(self.layers) and all(layer.built for layer in self.layers)

    @property
    def input_shape(self):
        """The shape of one input sample (no batch axis), None before the model is built."""
        return self.layers[0].input_shape if self.layers else None

    @property
    def output_shape(self):
        """The shape of one output sample (no batch axis), None before the model is built."""
        return self.layers[-1].output_shape if self.layers else None

    def pop(self, rebuild=True):
        """Remove and return the last layer (Keras's `model.pop()`); the weights of the others are kept."""
        if not self.layers:
            raise TypeError(f"model {self.name!r} has no layers to pop")
        layer = self.layers.pop()
        flat.pack(self)
        if self.loss is not None and self.layers:
            self.training_loss = self.loss_for_training(self.loss)
        return layer

    def get_layer(self, name=None, index=None):
        """A layer by `name` or by `index` (Keras's `model.get_layer`)."""
        if (name is None) == (index is None):
            raise ValueError("get_layer: give exactly one of name= or index=")
        if index is not None:
            if not isinstance(index, (int, np.integer)) or not -len(self.layers) <= index < len(self.layers):
                raise ValueError(f"get_layer: index {index!r} is out of range for {len(self.layers)} layers")
            return self.layers[index]
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise ValueError(f"no layer named {name!r} in model {self.name!r}; layers: {[la.name for la in self.layers]}")

    # ----- one step -----
    def __call__(self, x, training=False):
        """Keras's `model(x)`: the outputs for a batch, inference by default (`training=True` allowed)."""
        x = data.check_inputs(self, x, "input")
        if training:
            step = self.optimizer.iterations if self.optimizer else 0
            training = TrainingContext(
                step=step, positions=np.arange(len(x)), seed=self.seed, layers=tuple(self.layers)
            )
        return self.forward(x, training)

    def forward(self, x, training=False):
        """Run the layers on a batch and return the output (`training`: False, or a TrainingContext)."""
        for layer in self.layers:
            x = layer.forward(x, training)
        return x

    def forward_backward(self, x, y, sample_weight, denominator, step=0, positions=None):
        """One batch (or shard of a batch) through the network and back; returns (loss sum, metric sums).

        Leaves in `self.gradients` d(Σ_i w_i · loss_i)/d(weights) / `denominator` (w_i = 1 without
        `sample_weight`). With `denominator` the whole batch size, the gradients of a batch's shards add
        up to the batch's mean gradient — which is how the distributed runners split a batch.
        `positions` are the samples' places in the whole batch (default 0..len(x)-1), `step` the
        optimizer step: with the model's seed they fix Dropout's masks however the batch is split.
        Metric sums: float64 (M,), one per compiled metric, so shards add up.
        """
        positions = np.arange(len(x)) if positions is None else positions
        context = TrainingContext(step=step, positions=positions, seed=self.seed, layers=tuple(self.layers))
        out = self.forward(x, training=context)
        if sample_weight is None:
            loss_sum = self.training_loss.total(out, y)
        else:
            loss_sum = float(self.training_loss.per_sample(out, y) @ sample_weight)
        sums = metrics.metric_sums(self.compiled_metrics, out, y)
        grad = self.training_loss.gradient(out, y, denominator)
        if sample_weight is not None:
            grad *= sample_weight.reshape(-1, *([1] * (grad.ndim - 1))).astype(grad.dtype, copy=False)
        for layer in reversed(self.layers):
            grad = layer.backward(grad)
            if grad is None:  # a layer that needs no input gradient: no weights below it
                break
        return loss_sum, sums

    def loss_for_training(self, loss):
        """The one place where a final softmax and a cross-entropy meet.

        If the last layer ends in a softmax and `loss` is a cross-entropy on probabilities, returns a
        `SoftmaxCrossEntropy` and tells that softmax its backward is done by the loss (the gradient
        with respect to its input is (p − y) / batch); every other softmax keeps its own derivative.
        Otherwise returns `loss` unchanged.
        """
        for layer in self.layers:
            softmax = getattr(layer, "activation", layer)
            if isinstance(softmax, Softmax):
                softmax.backward_done_by_loss = False
        last = getattr(self.layers[-1], "activation", self.layers[-1]) if self.layers else None
        if isinstance(last, Softmax) and isinstance(loss, CrossEntropy) and not loss.from_logits:
            last.backward_done_by_loss = True
            return SoftmaxCrossEntropy(loss)
        return loss

    def predict_in_batches(self, x, batch_size):
        """Outputs for `x` in batches, in this process (every runner's workers call this too)."""
        out = np.empty((len(x), *self.output_shape), self.dtype)
        for start in range(0, len(x), batch_size):
            out[start : start + batch_size] = self.forward(x[start : start + batch_size], training=False)
        return out

    # ----- weights -----
    def count_params(self) -> int:
        """Total number of weights, trainable and not (as Keras counts them)."""
        return int(self.parameters.size + sum(w.size for w in self.non_trainable_weights))

    @property
    def weights(self):
        """Keras's `model.weights`: per layer its trainable weights, then its non-trainable ones (live)."""
        return [w for layer in self.layers for w in layer.weights]

    @property
    def trainable_weights(self):
        """Every trainable array (live views of the flat vector), layer by layer."""
        return [w for layer in self.layers for w in layer.trainable_weights]

    @property
    def non_trainable_weights(self):
        """Every non-trainable state array (e.g. BatchNormalization's moving statistics)."""
        return [w for layer in self.layers for w in layer.non_trainable_weights]

    def get_weights(self) -> list[np.ndarray]:
        """Copies of all weights in layer order (Keras's shapes; per layer trainable then non-trainable)."""
        return [np.array(w, copy=True) for w in self.weights]

    def set_weights(self, weights):
        """Replace all weights in place; the count and every shape are checked before anything changes."""
        slots = [(layer, key, array) for layer in self.layers for key, array in layer.weight_items()]
        weights = list(weights)
        if len(weights) != len(slots):
            raise ValueError(f"model {self.name!r} has {len(slots)} weight arrays, got {len(weights)}")
        arrays = [layer.checked_weight(key, current, new) for (layer, key, current), new in zip(slots, weights)]
        for (_, _, current), new in zip(slots, arrays):
            current[...] = new

    def save_weights(self, filepath, overwrite=True):
        """Write the weights and optimizer state (`x.weights.npz`, or `x.weights.h5`; see `minidl.saving`)."""
        saving.save_weights(self, filepath, overwrite=overwrite)

    def load_weights(self, filepath, skip_mismatch=False):
        """Read weights written by `save_weights` into this (built) model."""
        if skip_mismatch:
            raise NotImplementedError("load_weights: skip_mismatch=True is not supported by minidl")
        saving.load_weights(self, filepath)

    # ----- describing, saving -----
    def summary(self, line_length=None, positions=None, print_fn=None, expand_nested=False, show_trainable=False,
                layer_range=None, console=None):  # fmt: skip
        """Print Keras's table: each layer, its output shape and parameters, then the totals."""
        model_summary.print_summary(self, console, print_fn)

    def summary_rows(self) -> list[dict]:
        """One dict per layer: name, class, output shape, parameter count (what `summary` prints)."""
        return model_summary.summary_rows(self)

    def get_config(self) -> dict:
        """Everything needed to rebuild this model without its weights (`minidl.saving.model_config`)."""
        return saving.model_config(self)

    @classmethod
    def from_config(cls, config, custom_objects=None):
        """Rebuild (and compile, if it was) a model from `get_config()`; weights are fresh."""
        return saving.model_from_config(cls, config)

    def save(self, filepath, overwrite=True, zipped=None):
        """Write architecture (JSON) and weights to one zip file (`.keras` or `.npz`); no pickled objects.

        With `overwrite=False` an existing file is refused (`FileExistsError`) and left as it is.
        """
        saving.save_model(self, os.fspath(filepath), overwrite=overwrite)

    @classmethod
    def load(cls, filepath) -> Model:
        """Read a model written by `save`; files holding pickled objects are refused."""
        return saving.load_model(filepath, cls)


Sequential = Model
saving.use_model_class(Model)
