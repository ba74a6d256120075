"""Functional: a model from `keras.Input` to outputs, through the layers and ops called on the way.

`keras.Model(inputs, outputs)` follows each output's `node` back to the inputs and keeps the nodes in
an order where every node comes after the nodes it takes tensors from (a topological order). Running
the model walks that order, computing each node from the values of its inputs; a tensor several
nodes take (a fan-out, a residual connection) is computed once and read by each. While training the
walk records on a tape, so backward is the same walk reversed, with the gradients of a fanned-out
tensor added up. A layer called twice (shared) keeps one cache per call.

Masks go along the graph as in Keras: a layer whose `compute_mask` gives one (`Embedding(mask_zero=
True)`, `Masking`, and the layers that pass their input's on) attaches it to the tensor it made, and
the next layer called on that tensor alone gets it as `mask=` (minidl/layers/masking.py). Masks live
only within one walk of the graph.
"""

from __future__ import annotations

import numpy as np

from ..layers import Layer
from ..layers import context as training_contexts
from ..layers.input import InputLayer, is_input
from ..layers.masking import call_with_mask
from ..ops.symbolic import KerasTensor, substitute
from ..ops.tape import value_of
from ..utils import arrays, naming
from .model import Model


class Functional(Model, kind="functional"):
    """Keras's functional model: `Model(inputs, outputs)`.

    Args:
        inputs: what `keras.Input` returned — one, a list, or a dict {name: input}.
        outputs: the symbolic tensor(s) the model computes — one or a list.
        name, seed, dtype, trainable: as for `Model` (the dtype is the inputs').
    """

    def __init__(self, inputs, outputs, name=None, seed=None, dtype=None, trainable=True, **kwargs):
        self.input_structure = inputs
        self.inputs = _listed(inputs, "inputs")
        self.outputs = _listed(outputs, "outputs")
        for tensor in self.inputs:
            if not is_input(tensor):
                raise ValueError(
                    f"Model: inputs must be what keras.Input() returned, got {tensor!r} (the output of "
                    f"{type(tensor.node.operation).__name__ if tensor.node else 'nothing'})"
                )
        self.nodes = _ordered_nodes(self.outputs, self.inputs)
        floating = [t.dtype for t in self.inputs if np.dtype(t.dtype).kind == "f"]
        dtype = dtype or (floating[0] if floating else "float32")  # token ids (int32) computed with in float32
        super().__init__(name=name or naming.unique_name("functional"), seed=seed, dtype=dtype, trainable=trainable,
                         **kwargs)  # fmt: skip
        self._layers = [tensor.node.operation for tensor in self.inputs]
        for node in self.nodes:
            if isinstance(node.operation, Layer) and all(node.operation is not known for known in self._layers):
                self._layers.append(node.operation)
        for layer in self._layers:
            if isinstance(layer, Layer) and layer.dtype != self.dtype and layer.params:
                raise ValueError(
                    f"Model: layer {layer.name!r} holds {np.dtype(layer.dtype).name} weights but the inputs are "
                    f"{np.dtype(self.dtype).name}: give keras.Input the dtype the model computes in"
                )
        self.built = True
        self.pack()

    # ----- what the graph is -----
    @property
    def layers(self) -> list[Layer]:
        """The input layers, then every layer of the graph once, in the order the graph runs them."""
        return list(self._layers)

    @property
    def input_names(self) -> list[str]:
        return [tensor.node.operation.name for tensor in self.inputs]

    @property
    def output_names(self) -> list[str]:
        """The name of the layer that makes each output (`output_<i>` for an op's), each name once."""
        names = []
        for i, tensor in enumerate(self.outputs):
            operation = tensor.node.operation
            name = operation.name if isinstance(operation, Layer) else f"output_{i + 1}"
            names.append(name if name not in names else f"{name}_{i + 1}")
        return names

    @property
    def input(self):
        """The model's input tensor (a list when there are several), as Keras's `model.input`."""
        return self.inputs[0] if len(self.inputs) == 1 else list(self.inputs)

    @property
    def output(self):
        """The model's output tensor (a list when there are several), as Keras's `model.output`."""
        return self.outputs[0] if len(self.outputs) == 1 else list(self.outputs)

    @property
    def input_shape(self):
        shapes = [tuple(t.shape[1:]) for t in self.inputs]
        return shapes[0] if len(shapes) == 1 else shapes

    @input_shape.setter
    def input_shape(self, value):
        pass

    @property
    def output_shape(self):
        shapes = [tuple(t.shape[1:]) for t in self.outputs]
        return shapes[0] if len(shapes) == 1 else shapes

    @output_shape.setter
    def output_shape(self, value):
        pass

    def output_layer(self):
        if len(self.outputs) != 1:
            return None
        operation = self.outputs[0].node.operation
        return operation if isinstance(operation, Layer) and not isinstance(operation, Model) else None

    def build(self, input_shape):
        return self.output_shape  # a functional model is built when it is made

    # ----- running it -----
    def call(self, inputs, training=None):
        """Walk the graph: each node computed from its inputs' values (recorded, on tensors in training)."""
        given = (
            arrays.parts(inputs)
            if isinstance(inputs, tuple)
            else list(inputs)
            if isinstance(inputs, list)
            else [inputs]
        )
        if len(given) != len(self.inputs):
            raise ValueError(f"model {self.name!r} takes {len(self.inputs)} input(s), got {len(given)}")
        values = {id(tensor): value for tensor, value in zip(self.inputs, given)}
        masks: dict = {}  # id(symbolic tensor) -> the mask of its value (Keras's `_keras_mask`)
        for node in self.nodes:
            result = _run(node, values, masks)
            results = result if isinstance(result, (list, tuple)) else [result]
            for tensor, value in zip(node.outputs, results):
                values[id(tensor)] = value
        out = [values[id(t)] for t in self.outputs]
        return out[0] if len(out) == 1 else out

    def predict_in_batches(self, x, batch_size):
        if len(self.outputs) == 1 and None not in self.output_shape:
            return super().predict_in_batches(x, batch_size)
        self.own_storage()
        batches = [
            self.forward(arrays.take(x, slice(s, s + batch_size))) for s in range(0, arrays.count(x), batch_size)
        ]
        if len(self.outputs) == 1:
            return np.concatenate(batches)
        return [np.concatenate([b[i] for b in batches]) for i in range(len(self.outputs))]

    def forward(self, x, training=False):
        with training_contexts.stepping(training if training else training_contexts.INFERENCE):
            return _values(self.call(x, training=training))

    # ----- describing -----
    def connections(self) -> dict[int, list[str]]:
        """For every layer (by id), Keras's "Connected to" entries: `name[call][output]` of each input."""
        calls: dict[int, int] = {}
        produced: dict[int, str] = {}
        for tensor in self.inputs:
            produced[id(tensor)] = f"{tensor.node.operation.name}[0][0]"
        connected: dict[int, list[str]] = {}
        for node in self.nodes:
            operation = node.operation
            call = calls.get(id(operation), 0)
            calls[id(operation)] = call + 1
            entries = connected.setdefault(id(operation), [])
            entries += [produced.get(id(t), "?") for t in node.inputs]
            label = operation.name if isinstance(operation, Layer) else naming.snake_case(type(operation).__name__)
            for index, tensor in enumerate(node.outputs):
                produced[id(tensor)] = f"{label}[{call}][{index}]"
        return connected


def _run(node, values, masks):
    """Compute one node; a layer called on one tensor gets that tensor's mask and attaches its output's."""
    operation, inputs = node.operation, node.inputs
    if not isinstance(operation, Layer) or isinstance(operation, Model) or len(inputs) != 1:
        return node.run(values)
    (x, *args), kwargs = substitute((node.args, node.kwargs), values)
    if not isinstance(x, (list, tuple)):
        result, mask = call_with_mask(operation, x, masks.get(id(inputs[0])), *args, **kwargs)
        outputs = mask if isinstance(mask, list) else [mask]
        for tensor, each in zip(node.outputs, outputs):
            if each is not None:
                masks[id(tensor)] = each
        return result
    return operation(x, *args, **kwargs)


def _values(result):
    return [value_of(r) for r in result] if isinstance(result, list) else value_of(result)


def _listed(tensors, what) -> list[KerasTensor]:
    """The symbolic tensors of `inputs` / `outputs`: one, a list or tuple, or a dict (by key order)."""
    if isinstance(tensors, dict):
        tensors = [tensors[key] for key in tensors]
    listed = list(tensors) if isinstance(tensors, (list, tuple)) else [tensors]
    if not listed or not all(isinstance(t, KerasTensor) for t in listed):
        raise TypeError(
            f"Model: {what} must be symbolic tensors (from keras.Input and layers called on it), got {tensors!r}"
        )
    return listed


def _ordered_nodes(outputs, inputs) -> list:
    """The nodes that lead from `inputs` to `outputs`, each after the nodes it takes tensors from.

    Depth first from the outputs; the input layers' own nodes are left out (they compute nothing).
    Raises when an output depends on an `Input` that is not among `inputs`.
    """
    allowed = {id(t) for t in inputs}
    ordered, done, active = [], set(), set()

    def visit(node):
        if id(node) in done:
            return
        if id(node) in active:
            raise ValueError("Model: the graph has a cycle")
        active.add(id(node))
        for tensor in node.inputs:
            if tensor.node is None:
                raise ValueError(f"Model: tensor {tensor!r} was not made by keras.Input or a layer")
            if isinstance(tensor.node.operation, InputLayer):
                if id(tensor) not in allowed:
                    raise ValueError(
                        f"Model: an output depends on input {tensor.node.operation.name!r}, which is not among "
                        f"the model's inputs {[t.node.operation.name for t in inputs]}"
                    )
                continue
            visit(tensor.node)
        active.discard(id(node))
        done.add(id(node))
        ordered.append(node)

    for output in outputs:
        if isinstance(output.node.operation, InputLayer):
            if id(output) not in allowed:
                raise ValueError(f"Model: output {output!r} is an input not among the model's inputs")
            continue
        visit(output.node)
    return ordered
