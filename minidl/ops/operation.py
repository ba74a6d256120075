"""Operation: what layers and ops have in common — each call is symbolic, recorded or plain.

Called on a symbolic tensor (`keras.Input` and what follows from it), an operation adds a `Node` to
the graph and returns symbolic tensors of the output's shape. Called on a `Tensor` while a tape
records (training code minidl did not write the backward of), it computes and records how to go
back. Called on NumPy arrays, it just computes. `Op` (ops/*.py) and `Layer` (layers/base.py) define
what computing and going back mean for them.
"""

from __future__ import annotations

import numpy as np

from .symbolic import KerasTensor, Node, any_symbolic, flatten, shape_from_stand_in, stand_in
from .tape import Tensor, active_tape, is_tracked, paused, value_of


class Operation:
    """Base of `Op` and `Layer`: dispatches a call to `symbolic_call` or `eager_call`."""

    def __call__(self, *args, **kwargs):
        if any_symbolic((args, kwargs)):
            return self.symbolic_call(*args, **kwargs)
        return self.eager_call(*args, **kwargs)

    def symbolic_call(self, *args, **kwargs):
        """Record a node; its outputs' shapes come from running the operation once on zeros."""
        inputs = [t for t in flatten((args, kwargs)) if isinstance(t, KerasTensor)]
        values = {id(t): stand_in(t) for t in inputs}
        from .symbolic import substitute

        concrete_args, concrete_kwargs = substitute((args, kwargs), values)
        with paused():
            result = self.eager_call(*concrete_args, **concrete_kwargs)
        batch_unknown = any(t.shape and t.shape[0] is None for t in inputs)
        results = result if isinstance(result, (list, tuple)) else [result]
        outputs = [
            KerasTensor(shape_from_stand_in(np.shape(r), batch_unknown), np.asarray(r).dtype, index=i)
            for i, r in enumerate(results)
        ]
        node = Node(self, args, kwargs, outputs)
        for output in outputs:
            output.node = node
        return type(result)(outputs) if isinstance(result, (list, tuple)) else outputs[0]

    def eager_call(self, *args, **kwargs):
        raise NotImplementedError

    def __getstate__(self):
        """Pickle settings only, not arrays a forward pass kept for its backward."""
        return {key: value for key, value in self.__dict__.items() if not isinstance(value, (np.ndarray, Tensor))}


class Op(Operation):
    """A differentiable function: `forward(*arrays, **settings)` and `backward(grad) -> input grads`.

    `forward` may keep on `self` what `backward` needs (each call uses a fresh op object). `backward`
    returns one gradient per positional input (None where there is none), of that input's shape, and
    never changes `grad` in place. Ops with `differentiable = False` (argmax, comparisons, shapes) are
    never recorded.
    """

    differentiable = True

    def eager_call(self, *args, **kwargs):
        tape = active_tape()
        record = tape is not None and self.differentiable and any(is_tracked(a) for a in args)
        out = self.forward(*[value_of(a) for a in args], **kwargs)
        if not record:
            return out
        result = Tensor(out)
        tape.record(lambda grads: self.backward(grads[0]), args, [result])
        return result

    def forward(self, *values, **kwargs):
        raise NotImplementedError

    def backward(self, grad):
        raise NotImplementedError


def unbroadcast(grad, shape):
    """Sum `grad` over the axes NumPy broadcast to reach it, so it has `shape` again."""
    shape = tuple(shape)
    if grad.shape == shape:
        return grad
    extra = grad.ndim - len(shape)
    summed = grad.sum(axis=tuple(range(extra))) if extra > 0 else grad
    axes = tuple(i for i, d in enumerate(shape) if d == 1 and summed.shape[i] != 1)
    return summed.sum(axis=axes, keepdims=True) if axes else summed
