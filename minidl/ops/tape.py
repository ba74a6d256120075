"""The tape: reverse-mode differentiation of whatever runs while it records.

While a model trains through code it did not write the backward of — a custom layer's `call`, a
subclassed model, a functional graph, a loss written with `minidl.ops` — every operation on a
`Tensor` appends one *record* to the active tape: the operation, its input tensors and its output
tensors. `Tape.backward` then walks the records last to first, asking each one for the
vector-Jacobian product of its inputs (dL/dinput from dL/doutput), and adds up the gradients of a
tensor used several times. A trainable `Variable` (a layer's weight) collects its gradient into the
layer's `grads`, which are views into the model's flat gradient vector. Outside a tape, or on plain
NumPy arrays, the operations just compute: the tape costs nothing where nothing records.

    x ──op₁──▶ a ──op₂──▶ b ──op₃──▶ loss          forward: records [op₁, op₂, op₃]
    dL/dx ◀── op₁ᵀ ◀── dL/da ◀── op₂ᵀ ◀── dL/db ◀── op₃ᵀ ◀── 1     backward: the records reversed
"""

from __future__ import annotations

import contextlib

import numpy as np

OPERATORS: dict = {}  # Python operator -> the op of that meaning; ops/numpy.py fills it as it loads
# NumPy's ufuncs behind Python's binary operators, by the name of the op of the same meaning.
BINARY_OPERATORS = ("add", "subtract", "multiply", "divide", "matmul", "power", "greater", "greater_equal", "less",
                    "less_equal")  # fmt: skip


class Arithmetic:
    """Python's operators as the ops of the same meaning (`a + b` is `ops.add(a, b)`), for tensors on a
    tape and symbolic tensors alike. The ops live in ops/numpy.py, which builds on this module, so they
    are found in `OPERATORS` (filled when ops/numpy.py loads) rather than imported here."""

    def __add__(self, other):
        return OPERATORS["add"](self, other)

    def __radd__(self, other):
        return OPERATORS["add"](other, self)

    def __sub__(self, other):
        return OPERATORS["subtract"](self, other)

    def __rsub__(self, other):
        return OPERATORS["subtract"](other, self)

    def __mul__(self, other):
        return OPERATORS["multiply"](self, other)

    def __rmul__(self, other):
        return OPERATORS["multiply"](other, self)

    def __truediv__(self, other):
        return OPERATORS["divide"](self, other)

    def __rtruediv__(self, other):
        return OPERATORS["divide"](other, self)

    def __matmul__(self, other):
        return OPERATORS["matmul"](self, other)

    def __rmatmul__(self, other):
        return OPERATORS["matmul"](other, self)

    def __pow__(self, other):
        return OPERATORS["power"](self, other)

    def __neg__(self):
        return OPERATORS["negative"](self)

    def __gt__(self, other):
        return OPERATORS["greater"](self, other)

    def __ge__(self, other):
        return OPERATORS["greater_equal"](self, other)

    def __lt__(self, other):
        return OPERATORS["less"](self, other)

    def __le__(self, other):
        return OPERATORS["less_equal"](self, other)

    def __getitem__(self, key):
        return OPERATORS["get_item"](self, key)

    @property
    def T(self):
        return OPERATORS["transpose"](self, None)

    def reshape(self, *shape):
        return OPERATORS["reshape"](self, shape[0] if len(shape) == 1 else shape)


class Tensor(Arithmetic):
    """A value taking part in a differentiated computation: a NumPy array that a tape can follow.

    `requires_grad` is True when the value depends on something being trained (a weight, or an input
    whose gradient is asked for); the tape skips what does not. Arithmetic operators, indexing,
    `.shape`, `.dtype` and `np.asarray(tensor)` work as on the array.
    """

    __array_priority__ = 100  # `array * tensor` gives the tensor's answer, not NumPy's

    def __init__(self, value, requires_grad=True):
        self.value = value
        self.requires_grad = requires_grad

    shape = property(lambda self: self.value.shape)
    dtype = property(lambda self: self.value.dtype)
    ndim = property(lambda self: self.value.ndim)
    size = property(lambda self: self.value.size)

    def __len__(self):
        return len(self.value)

    def __array__(self, dtype=None, copy=None):
        return self.value if dtype is None else self.value.astype(dtype)

    def numpy(self):
        """The value as a NumPy array."""
        return np.asarray(self.value)

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        """NumPy's functions on a tensor. Python's operators with an array on the left (`array * tensor`)
        arrive here and stay ops. Any other NumPy function would compute on the values and drop the tape's
        thread, so a trained weight before it would silently get no gradient: on a tape it is refused."""
        if method == "__call__" and len(inputs) == 2 and not kwargs and ufunc.__name__ in BINARY_OPERATORS:
            return OPERATORS[ufunc.__name__](*inputs)
        if active_tape() is not None and any(is_tracked(x) for x in inputs):
            raise NotImplementedError(
                f"np.{ufunc.__name__} on a tensor being differentiated is not supported by minidl (NumPy "
                f"functions are not recorded, so the gradient would be lost): use minidl.ops (keras.ops) instead"
            )
        return getattr(ufunc, method)(*[value_of(x) for x in inputs], **kwargs)

    def __repr__(self):
        return f"<Tensor shape={self.shape} dtype={self.dtype} requires_grad={self.requires_grad}>"


class Record:
    """One step on the tape: `backward(output_grads) -> input_grads`, with the tensors it connects."""

    __slots__ = ("backward", "inputs", "outputs")

    def __init__(self, backward, inputs, outputs):
        self.backward, self.inputs, self.outputs = backward, inputs, outputs


class Tape:
    """The records of one differentiated computation, in the order it ran."""

    def __init__(self):
        self.records: list[Record] = []
        # For layers called more than once on one tape (shared layers): how often each ran, the cache
        # each earlier call kept (restored before its backward), and which have written gradients.
        self.uses: dict[int, int] = {}
        self.snapshots: dict = {}
        self.backward_seen: set[int] = set()

    def record(self, backward, inputs, outputs):
        """Append a step: `backward` maps the outputs' gradients (a list) to the inputs' gradients (a list)."""
        self.records.append(Record(backward, tuple(inputs), tuple(outputs)))

    def backward(self, outputs, output_grads) -> dict:
        """Propagate `output_grads` (dL/d each of `outputs`) back through every record, last to first.

        Returns {id(tensor): dL/dtensor} for the tensors still holding a gradient at the end (the
        inputs of the computation); trainable `Variable`s add their gradient to their layer's `grads`.
        """
        grads: dict[int, np.ndarray] = {}
        self.backward_seen = set()
        for tensor, grad in zip(outputs, output_grads):
            _accumulate(grads, tensor, np.asarray(grad))
        for record in reversed(self.records):
            out_grads = [grads.pop(id(t), None) for t in record.outputs]
            if all(g is None for g in out_grads):
                continue
            out_grads = [np.zeros_like(t.value) if g is None else g for t, g in zip(record.outputs, out_grads)]
            given = {id(g) for g in out_grads}
            seen: set[int] = set()
            for tensor, grad in zip(record.inputs, record.backward(out_grads)):
                if grad is None or not isinstance(tensor, Tensor) or not tensor.requires_grad:
                    continue
                if id(grad) in given or id(grad) in seen:
                    grad = grad.copy()  # the same array handed to two inputs: each gets its own
                seen.add(id(grad))
                _accumulate(grads, tensor, grad)
        return grads


def _accumulate(grads, tensor, grad):
    """Add `grad` to what `tensor` has collected (a Variable: into its layer's gradient buffer)."""
    if getattr(tensor, "collects_gradient", False):
        tensor.add_gradient(grad)
        return
    if grad.shape != tensor.shape:
        grad = np.broadcast_to(grad, tensor.shape)
    previous = grads.get(id(tensor))
    grads[id(tensor)] = grad if previous is None else previous + grad


_active: list[Tape] = []


def active_tape() -> Tape | None:
    """The tape recording now, or None."""
    return _active[-1] if _active else None


@contextlib.contextmanager
def recording(tape: Tape):
    """Make `tape` record every operation on tensors within the block."""
    _active.append(tape)
    try:
        yield tape
    finally:
        _active.pop()


@contextlib.contextmanager
def paused():
    """Run a block without recording (shape inference, metrics, inference inside training code)."""
    saved = _active[:]
    _active.clear()
    try:
        yield
    finally:
        _active[:] = saved


def is_tracked(value) -> bool:
    """Whether `value` is a tensor a tape would follow."""
    return isinstance(value, Tensor) and value.requires_grad


def value_of(value):
    """The NumPy value of a tensor or variable; anything else unchanged."""
    return value.value if isinstance(value, Tensor) else value
