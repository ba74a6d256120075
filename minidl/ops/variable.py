"""Variable: a weight as Keras code sees it — `layer.kernel`, `metric.true_positives`.

A layer's weights live in its `params` (trainable) and `states` (non-trainable) dictionaries, which a
model rebinds to views of its flat vectors; a Variable made by `Layer.add_weight` looks its array up
there by name each time, so it always sees the model's current storage. On a tape a trainable
Variable is a leaf: the gradient that reaches it is added to the layer's `grads[name]`. A Variable
made on its own (`minidl.Variable(...)`, a metric's `add_variable`) holds its own array.
"""

from __future__ import annotations

import numpy as np

from .tape import Tensor


class Variable(Tensor):
    """Keras's `keras.Variable`: `initializer` (an array, a number, or an initializer with `shape`)."""

    def __init__(self, initializer=None, shape=None, dtype=None, trainable=True, autocast=True, aggregation="none",
                 name=None, *, layer=None):  # fmt: skip
        self.name = name or "variable"
        self.trainable = bool(trainable)
        self.aggregation = aggregation
        self.layer = layer
        if layer is None:
            if callable(initializer) or isinstance(initializer, str):
                from .. import initializers

                value = initializers.initial_value(initializer, tuple(shape or ()), dtype or "float32")
            else:
                value = np.array(0.0 if initializer is None else initializer, dtype=dtype or "float32")
            self._own = value
        super().__init__(None, requires_grad=self.trainable)

    @property
    def value(self):
        """The live array (a view into the model's flat vector, for a layer's weight)."""
        if self.layer is None:
            return self._own
        table = self.layer.params if self.trainable else self.layer.states
        return table[self.name]

    @value.setter
    def value(self, new):  # Tensor.__init__ sets it; a Variable's storage is fixed
        pass

    @property
    def collects_gradient(self):
        return self.trainable and self.layer is not None

    def add_gradient(self, grad):
        """Add dL/d(this weight) to the layer's gradient buffer (a tape's leaf)."""
        self.layer.grads[self.name] += grad

    @property
    def path(self):
        return f"{self.layer.name}/{self.name}" if self.layer is not None else self.name

    def assign(self, value):
        """Overwrite the values in place (the shape stays)."""
        self.value[...] = np.asarray(value.value if isinstance(value, Tensor) else value)
        return self

    def assign_add(self, value):
        """Add to the values in place."""
        self.value[...] += np.asarray(value.value if isinstance(value, Tensor) else value)
        return self

    def assign_sub(self, value):
        """Subtract from the values in place."""
        self.value[...] -= np.asarray(value.value if isinstance(value, Tensor) else value)
        return self

    def __repr__(self):
        return f"<Variable path={self.path} shape={self.shape} dtype={self.dtype}>"
