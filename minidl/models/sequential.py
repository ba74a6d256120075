"""Sequential: a stack of layers, each feeding the next — and the fastest path through a step.

`forward_backward` runs the layers forward in order, the loss, and the layers' backward passes in
reverse, passing arrays from one to the next: no tape, no graph. Layers below the first one with
weights skip their input gradient (`needs_input_grad`), since nothing below is trained. A mask made
by a layer (`Embedding(mask_zero=True)`) goes to the layers after it, as Keras passes it
(minidl/layers/masking.py); it lives only within one forward pass.
"""

from __future__ import annotations

import numpy as np

from .. import metrics
from ..errors import ShapeError
from ..layers import Layer
from ..layers import context as training_contexts
from ..layers.input import InputLayer, is_input
from ..layers.masking import call_with_mask, forward_with_mask
from ..ops.symbolic import KerasTensor
from ..utils import naming
from .model import Model


class Sequential(Model, kind="sequential"):
    """A stack of layers (`keras.Sequential`; also what `Model()` without inputs or a `call` makes).

    Args:
        layers: layers to add in order (a `keras.Input` first fixes the input shape; a model's
            layers are added, shared).
        name, seed, dtype, trainable: as for `Model`.
    """

    def __init__(self, layers=None, name=None, seed=None, dtype="float32", trainable=True, **kwargs):
        if isinstance(layers, KerasTensor):
            raise TypeError(
                "Sequential takes a list of layers; for a model from inputs to outputs use "
                "keras.Model(inputs=..., outputs=...)"
            )
        super().__init__(name=name or naming.unique_name("sequential"), seed=seed, dtype=dtype, trainable=trainable,
                         **kwargs)  # fmt: skip
        self._layers: list[Layer] = []
        self.declared_input = None  # the shape of an `Input` added before the first layer
        for layer in layers or []:
            self.add(layer)

    @property
    def layers(self) -> list[Layer]:
        return list(self._layers)

    def weight_layers(self) -> list[Layer]:
        return [inner for layer in self._layers for inner in layer.weight_layers()]

    # ----- building -----
    def add(self, layer: Layer):
        """Append a layer, a `keras.Input` (fixes the input shape) or a whole model (its layers, shared)."""
        if is_input(layer) or isinstance(layer, InputLayer):
            if self._layers:
                raise ValueError(f"model {self.name!r}: an Input can only be added before the first layer")
            shape = layer.shape[1:] if isinstance(layer, KerasTensor) else layer.input_shape
            self.declared_input = tuple(shape)
            return self
        if isinstance(layer, KerasTensor):
            raise TypeError(f"Model.add expects a Layer, an Input or a Model, got the symbolic tensor {layer!r}")
        if isinstance(layer, Sequential):
            return self._add_model(layer)
        if not isinstance(layer, Layer):
            raise TypeError(f"Model.add expects a Layer, an Input or a Model, got {type(layer).__name__}")
        if any(existing is layer for existing in self._layers):
            raise ValueError(f"layer {layer.name!r} is already in model {self.name!r}")
        previous = self._layers[-1].output_shape if self._layers else self._first_input_shape(layer)
        declared = layer.input_shape
        self._layers.append(layer)
        if previous is not None:
            try:
                self._build_layer(layer, previous)
            except ShapeError:
                # Leave model and layer as they were, so a corrected layer (or this one) can be added next.
                self._layers.pop()
                layer.input_shape, layer.built = declared, False
                raise
        if self.loss is not None:
            self.training_loss = self.loss_for_training(self.loss)
        return self

    def _add_model(self, other: Sequential):
        """Keras nests the model; minidl adds its layers (shared objects, so weights stay the same arrays'
        values). Train the outer model afterwards: it takes the layers' weights into its own vectors."""
        if other is self:
            raise ValueError(f"model {self.name!r} cannot be added to itself")
        if not self._layers and other.input_shape is not None:
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
                layer.build_weights(input_shape, rng=self._init_rng, dtype=self.dtype)
            if isinstance(layer.output_shape, list):
                raise ShapeError(
                    f"layer {layer.name!r} returns several tensors (return_state=True or merge_mode=None): "
                    "a Sequential model passes one tensor from layer to layer; use it in a functional model"
                )
        except ShapeError as error:
            position = next(i for i, existing in enumerate(self._layers, 1) if existing is layer)
            raise ShapeError(f"cannot add layer {position} to model {self.name!r}: {error}") from None
        self.pack()

    def after_pack(self):
        # dL/dx is needed only above the first layer with weights: below it nothing is left to train.
        with_weights = [bool(each.params) for each in self._layers]
        for index, each in enumerate(self._layers):
            each.needs_input_grad = any(with_weights[:index])

    def build(self, input_shape):
        """Build every layer for `input_shape` (without batch axis; Keras's `(None, ...)` accepted)."""
        shape = tuple(input_shape)
        shape, fresh = (shape[1:] if shape and shape[0] is None else shape), []
        try:
            for layer in self._layers:
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
        return bool(self._layers) and all(layer.built for layer in self._layers)

    @built.setter
    def built(self, value):
        pass  # a Sequential is built when its layers are

    @property
    def input_shape(self):
        """The shape of one input sample (no batch axis), None before the model is built."""
        return self._layers[0].input_shape if self._layers else None

    @input_shape.setter
    def input_shape(self, value):
        pass

    @property
    def output_shape(self):
        """The shape of one output sample (no batch axis), None before the model is built."""
        return self._layers[-1].output_shape if self._layers else None

    @output_shape.setter
    def output_shape(self, value):
        pass

    def pop(self, rebuild=True):
        """Remove and return the last layer (Keras's `model.pop()`); the weights of the others are kept."""
        if not self._layers:
            raise TypeError(f"model {self.name!r} has no layers to pop")
        layer = self._layers.pop()
        self.pack()
        if self.loss is not None and self._layers:
            self.training_loss = self.loss_for_training(self.loss)
        return layer

    def output_layer(self):
        return self._layers[-1] if self._layers else None

    # ----- one step -----
    def call(self, inputs, training=None):
        """The layers one after the other (on tensors inside another model's step: each recorded)."""
        x, mask = inputs, None
        for layer in self._layers:
            x, mask = call_with_mask(layer, x, mask, training=training)
        return x

    def forward(self, x, training=False):
        """Run the layers on a batch and return the output (`training`: False, or a TrainingContext)."""
        mask = None
        with training_contexts.stepping(training if training else training_contexts.INFERENCE):
            for layer in self._layers:
                x, mask = forward_with_mask(layer, x, training, mask)
        return x

    def forward_backward(self, x, y, sample_weight, denominator, step=0, positions=None, input_gradient=False):
        """One batch (or shard of a batch) through the stack and back; see `Model.forward_backward`."""
        holders = self.own_storage()
        if input_gradient and self._layers:
            first, self._layers[0].needs_input_grad = self._layers[0].needs_input_grad, True
        positions = np.arange(len(x)) if positions is None else positions
        context = self.training_context(step, positions)
        out = self.forward(x, training=context)
        if sample_weight is None:
            loss_sum = self.training_loss.total(out, y)
        else:
            loss_sum = float(self.training_loss.per_sample(out, y) @ sample_weight)
        sums = metrics.metric_sums(self.compiled_metrics, out, y)
        grad = self.training_loss.gradient(out, y, denominator)
        if sample_weight is not None:
            grad *= sample_weight.reshape(-1, *([1] * (grad.ndim - 1))).astype(grad.dtype, copy=False)
        for layer in reversed(self._layers):
            grad = layer.backward(grad)
            if grad is None:  # a layer that needs no input gradient: no weights below it
                break
        loss_sum += self.penalties(len(x), denominator, holders)
        self.freeze_gradients(holders)
        if input_gradient:
            self._layers[0].needs_input_grad = first
            return loss_sum, sums, grad
        return loss_sum, sums
