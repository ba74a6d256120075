"""`keras.ops`'s NumPy-like functions, each an `Op` with its backward beside its forward.

Notation: g = dL/d(output), of the output's shape; every backward returns dL/d(input) for each
positional input, of that input's shape (gradients of broadcast inputs summed back by `unbroadcast`).
On NumPy arrays these are NumPy's functions; on tensors a tape records them (see `tape.py`).
"""

from __future__ import annotations

import numpy as np

from .operation import Op, unbroadcast
from .symbolic import KerasTensor
from .tape import OPERATORS, Tensor, value_of


def _shape(value):
    return np.shape(value)


# ----- arithmetic -----
class Add(Op):
    """z = x + y;   dL/dx = g,  dL/dy = g."""

    def forward(self, x, y):
        self.shapes = _shape(x), _shape(y)
        return np.add(x, y)

    def backward(self, g):
        return unbroadcast(g, self.shapes[0]), unbroadcast(g, self.shapes[1])


class Subtract(Op):
    """z = x − y;   dL/dx = g,  dL/dy = −g."""

    def forward(self, x, y):
        self.shapes = _shape(x), _shape(y)
        return np.subtract(x, y)

    def backward(self, g):
        return unbroadcast(g, self.shapes[0]), unbroadcast(-g, self.shapes[1])


class Multiply(Op):
    """z = x ⊙ y;   dL/dx = g ⊙ y,  dL/dy = g ⊙ x."""

    def forward(self, x, y):
        self.x, self.y = x, y
        return np.multiply(x, y)

    def backward(self, g):
        return unbroadcast(g * self.y, _shape(self.x)), unbroadcast(g * self.x, _shape(self.y))


class Divide(Op):
    """z = x / y;   dL/dx = g / y,  dL/dy = −g ⊙ x / y²."""

    def forward(self, x, y):
        self.x, self.y = x, y
        return np.divide(x, y)

    def backward(self, g):
        return unbroadcast(g / self.y, _shape(self.x)), unbroadcast(-g * self.x / np.square(self.y), _shape(self.y))


class Power(Op):
    """z = x^p;   dL/dx = g ⊙ p x^(p−1),  dL/dp = g ⊙ z ⊙ log x."""

    def forward(self, x, p):
        self.x, self.p = x, p
        self.z = np.power(x, p)
        return self.z

    def backward(self, g):
        dx = unbroadcast(g * self.p * np.power(self.x, np.subtract(self.p, 1)), _shape(self.x))
        with np.errstate(divide="ignore", invalid="ignore"):
            dp = unbroadcast(g * self.z * np.log(self.x), _shape(self.p))
        return dx, dp


class Negative(Op):
    """z = −x;   dL/dx = −g."""

    def forward(self, x):
        return np.negative(x)

    def backward(self, g):
        return (-g,)


class Matmul(Op):
    """z = x @ y over the last two axes (x: (..., n, k), y: (..., k, m), z: (..., n, m));
    dL/dx = g @ yᵀ,  dL/dy = xᵀ @ g  (a 1-D operand is a row or a column, as in NumPy)."""

    def forward(self, x, y):
        self.x, self.y = np.asarray(x), np.asarray(y)
        return np.matmul(self.x, self.y)

    def backward(self, g):
        x = self.x[None, :] if self.x.ndim == 1 else self.x
        y = self.y[:, None] if self.y.ndim == 1 else self.y
        if self.x.ndim == 1:
            g = np.expand_dims(g, -2)
        if self.y.ndim == 1:
            g = np.expand_dims(g, -1)
        dx = np.matmul(g, np.swapaxes(y, -1, -2))
        dy = np.matmul(np.swapaxes(x, -1, -2), g)
        dx = dx.reshape(dx.shape[:-2] + (dx.shape[-1],)) if self.x.ndim == 1 else dx
        dy = dy.reshape(dy.shape[:-1]) if self.y.ndim == 1 else dy
        return unbroadcast(dx, self.x.shape), unbroadcast(dy, self.y.shape)


# ----- element-wise functions -----
class Exp(Op):
    """z = eˣ;   dL/dx = g ⊙ z."""

    def forward(self, x):
        self.z = np.exp(x)
        return self.z

    def backward(self, g):
        return (g * self.z,)


class Log(Op):
    """z = log x;   dL/dx = g / x."""

    def forward(self, x):
        self.x = x
        return np.log(x)

    def backward(self, g):
        return (g / self.x,)


class Sqrt(Op):
    """z = √x;   dL/dx = g / (2 z)."""

    def forward(self, x):
        self.z = np.sqrt(x)
        return self.z

    def backward(self, g):
        return (g / (2 * self.z),)


class Square(Op):
    """z = x²;   dL/dx = 2 g ⊙ x."""

    def forward(self, x):
        self.x = x
        return np.square(x)

    def backward(self, g):
        return (2 * g * self.x,)


class Absolute(Op):
    """z = |x|;   dL/dx = g ⊙ sign(x)  (0 at x = 0)."""

    def forward(self, x):
        self.x = x
        return np.abs(x)

    def backward(self, g):
        return (g * np.sign(self.x),)


class Sin(Op):
    """z = sin x;   dL/dx = g ⊙ cos x."""

    def forward(self, x):
        self.x = x
        return np.sin(x)

    def backward(self, g):
        return (g * np.cos(self.x),)


class Cos(Op):
    """z = cos x;   dL/dx = −g ⊙ sin x."""

    def forward(self, x):
        self.x = x
        return np.cos(x)

    def backward(self, g):
        return (-g * np.sin(self.x),)


class Tanh(Op):
    """z = tanh x;   dL/dx = g ⊙ (1 − z²)."""

    def forward(self, x):
        self.z = np.tanh(x)
        return self.z

    def backward(self, g):
        return (g * (1 - np.square(self.z)),)


class Maximum(Op):
    """z = max(x, y) entry by entry;   dL/dx = g where x ≥ y,  dL/dy = g where y > x."""

    def forward(self, x, y):
        self.x, self.y = x, y
        return np.maximum(x, y)

    def backward(self, g):
        first = np.greater_equal(self.x, self.y)
        return unbroadcast(g * first, _shape(self.x)), unbroadcast(g * ~first, _shape(self.y))


class Minimum(Op):
    """z = min(x, y) entry by entry;   dL/dx = g where x ≤ y,  dL/dy = g where y < x."""

    def forward(self, x, y):
        self.x, self.y = x, y
        return np.minimum(x, y)

    def backward(self, g):
        first = np.less_equal(self.x, self.y)
        return unbroadcast(g * first, _shape(self.x)), unbroadcast(g * ~first, _shape(self.y))


class Clip(Op):
    """z = min(max(x, low), high);   dL/dx = g where low ≤ x ≤ high, else 0."""

    def forward(self, x, x_min, x_max):
        self.inside = (x >= x_min) & (x <= x_max)
        return np.clip(x, x_min, x_max)

    def backward(self, g):
        return g * self.inside, None, None


class Where(Op):
    """z = x where condition else y;   dL/dx = g ⊙ condition,  dL/dy = g ⊙ ¬condition."""

    def forward(self, condition, x, y):
        self.condition = np.asarray(condition, dtype=bool)
        self.shapes = _shape(x), _shape(y)
        return np.where(self.condition, x, y)

    def backward(self, g):
        return (
            None,
            unbroadcast(np.where(self.condition, g, 0), self.shapes[0]),
            unbroadcast(np.where(self.condition, 0, g), self.shapes[1]),
        )


# ----- reductions -----
def _axes(axis, ndim):
    if axis is None:
        return tuple(range(ndim))
    return tuple(a % ndim for a in ((axis,) if isinstance(axis, int) else axis))


def _expand_reduced(g, shape, axis, keepdims):
    """`g` of a reduction's output reshaped so it broadcasts against the input of `shape`."""
    if keepdims:
        return g
    return np.reshape(g, [1 if i in _axes(axis, len(shape)) else d for i, d in enumerate(shape)])


class Sum(Op):
    """z = Σ x over `axis`;   dL/dx = g, repeated along the summed axes."""

    def forward(self, x, axis=None, keepdims=False):
        self.shape, self.axis, self.keepdims = _shape(x), axis, keepdims
        return np.sum(x, axis=axis, keepdims=keepdims)

    def backward(self, g):
        return (np.broadcast_to(_expand_reduced(g, self.shape, self.axis, self.keepdims), self.shape).copy(),)


class Mean(Op):
    """z = (1/n) Σ x over `axis` (n entries);   dL/dx = g / n, repeated along the averaged axes."""

    def forward(self, x, axis=None, keepdims=False):
        self.shape, self.axis, self.keepdims = _shape(x), axis, keepdims
        return np.mean(x, axis=axis, keepdims=keepdims)

    def backward(self, g):
        count = int(np.prod([self.shape[a] for a in _axes(self.axis, len(self.shape))]))
        return (np.broadcast_to(_expand_reduced(g, self.shape, self.axis, self.keepdims) / count, self.shape).copy(),)


class Max(Op):
    """z = max x over `axis`;   dL/dx = g shared equally by the entries equal to the maximum."""

    def forward(self, x, axis=None, keepdims=False):
        self.x, self.axis, self.keepdims = x, axis, keepdims
        self.z = np.max(x, axis=axis, keepdims=True)
        return self.z if keepdims else np.max(x, axis=axis)

    def backward(self, g):
        hits = self.x == self.z
        share = hits / hits.sum(axis=_axes(self.axis, self.x.ndim), keepdims=True)
        return (share * _expand_reduced(g, self.x.shape, self.axis, self.keepdims),)


class Min(Max):
    """z = min x over `axis`;   dL/dx = g shared equally by the entries equal to the minimum."""

    def forward(self, x, axis=None, keepdims=False):
        self.x, self.axis, self.keepdims = x, axis, keepdims
        self.z = np.min(x, axis=axis, keepdims=True)
        return self.z if keepdims else np.min(x, axis=axis)


# ----- shapes -----
class Reshape(Op):
    """z = x with a new shape;   dL/dx = g reshaped back."""

    def forward(self, x, new_shape):
        self.shape = _shape(x)
        return np.reshape(x, new_shape)

    def backward(self, g):
        return np.reshape(g, self.shape), None


class Transpose(Op):
    """z = x with its axes permuted by `axes` (reversed by default);   dL/dx = g permuted back."""

    def forward(self, x, axes=None):
        self.axes = axes
        return np.transpose(x, axes)

    def backward(self, g):
        inverse = None if self.axes is None else np.argsort(self.axes)
        return np.transpose(g, inverse), None


class ExpandDims(Op):
    """z = x with a new axis of size 1;   dL/dx = g without it."""

    def forward(self, x, axis):
        self.shape = _shape(x)
        return np.expand_dims(x, axis)

    def backward(self, g):
        return np.reshape(g, self.shape), None


class Squeeze(Op):
    """z = x without its axes of size 1 (or `axis`);   dL/dx = g reshaped back."""

    def forward(self, x, axis=None):
        self.shape = _shape(x)
        return np.squeeze(x, axis)

    def backward(self, g):
        return np.reshape(g, self.shape), None


class Concatenate(Op):
    """z = [x₁, x₂, ...] joined along `axis`;   dL/dxᵢ = the slice of g that xᵢ filled."""

    def forward(self, *xs, axis=0):
        self.axis = axis
        self.edges = np.cumsum([np.shape(x)[axis] for x in xs])[:-1]
        return np.concatenate(xs, axis=axis)

    def backward(self, g):
        return tuple(np.split(g, self.edges, axis=self.axis))


class Stack(Op):
    """z = [x₁, x₂, ...] stacked on a new `axis`;   dL/dxᵢ = g's i-th slice along it."""

    def forward(self, *xs, axis=0):
        self.axis = axis
        return np.stack(xs, axis=axis)

    def backward(self, g):
        return tuple(np.moveaxis(g, self.axis, 0))


class GetItem(Op):
    """z = x[key] (slices, integers, index arrays);   dL/dx = g scattered back (added where repeated)."""

    def forward(self, x, key):
        self.shape, self.dtype, self.key = _shape(x), np.asarray(x).dtype, key
        return np.asarray(x)[key]

    def backward(self, g):
        dx = np.zeros(self.shape, dtype=np.result_type(g.dtype, self.dtype))
        np.add.at(dx, self.key, g)
        return dx, None


class Cast(Op):
    """z = x converted to `dtype`;   dL/dx = g converted back (integer inputs get none)."""

    def forward(self, x, dtype):
        self.dtype = np.asarray(x).dtype
        return np.asarray(x).astype(dtype)

    def backward(self, g):
        return (g.astype(self.dtype) if self.dtype.kind == "f" else None), None


# ----- not differentiable: indices, comparisons, constants -----
class _Constant(Op):
    differentiable = False


class Argmax(_Constant):
    def forward(self, x, axis=None, keepdims=False):
        return np.argmax(x, axis=axis, keepdims=keepdims)


class Argmin(_Constant):
    def forward(self, x, axis=None, keepdims=False):
        return np.argmin(x, axis=axis, keepdims=keepdims)


class Equal(_Constant):
    def forward(self, x, y):
        return np.equal(x, y)


class Greater(_Constant):
    def forward(self, x, y):
        return np.greater(x, y)


class GreaterEqual(_Constant):
    def forward(self, x, y):
        return np.greater_equal(x, y)


class Less(_Constant):
    def forward(self, x, y):
        return np.less(x, y)


class LessEqual(_Constant):
    def forward(self, x, y):
        return np.less_equal(x, y)


class NotEqual(_Constant):
    def forward(self, x, y):
        return np.not_equal(x, y)


class All(_Constant):
    def forward(self, x, axis=None, keepdims=False):
        return np.all(x, axis=axis, keepdims=keepdims)


class Any(_Constant):
    def forward(self, x, axis=None, keepdims=False):
        return np.any(x, axis=axis, keepdims=keepdims)


class Sign(_Constant):
    def forward(self, x):
        return np.sign(x)


class Round(_Constant):
    def forward(self, x, decimals=0):
        return np.round(x, decimals)


class StopGradient(_Constant):
    """z = x, with no gradient flowing back through it."""

    def forward(self, x):
        return np.array(x, copy=True)


# ----- the functions under Keras's names -----
def add(x1, x2):
    """x1 + x2 (broadcast)."""
    return Add()(x1, x2)


def subtract(x1, x2):
    """x1 − x2 (broadcast)."""
    return Subtract()(x1, x2)


def multiply(x1, x2):
    """x1 ⊙ x2 (broadcast)."""
    return Multiply()(x1, x2)


def divide(x1, x2):
    """x1 / x2 (broadcast)."""
    return Divide()(x1, x2)


true_divide = divide


def power(x1, x2):
    """x1 ** x2 (broadcast)."""
    return Power()(x1, x2)


def negative(x):
    """−x."""
    return Negative()(x)


def matmul(x1, x2):
    """The matrix product over the last two axes (batched over the others)."""
    return Matmul()(x1, x2)


def dot(x1, x2):
    """The dot product: `matmul` for vectors and matrices."""
    return Matmul()(x1, x2)


def exp(x):
    """eˣ."""
    return Exp()(x)


def log(x):
    """The natural logarithm."""
    return Log()(x)


def sqrt(x):
    """√x."""
    return Sqrt()(x)


def square(x):
    """x²."""
    return Square()(x)


def absolute(x):
    """|x|."""
    return Absolute()(x)


abs = absolute


def sin(x):
    """sin x."""
    return Sin()(x)


def cos(x):
    """cos x."""
    return Cos()(x)


def tanh(x):
    """tanh x."""
    return Tanh()(x)


def maximum(x1, x2):
    """The larger of x1 and x2, entry by entry."""
    return Maximum()(x1, x2)


def minimum(x1, x2):
    """The smaller of x1 and x2, entry by entry."""
    return Minimum()(x1, x2)


def clip(x, x_min, x_max):
    """x limited to [x_min, x_max]."""
    return Clip()(x, x_min, x_max)


def where(condition, x1=None, x2=None):
    """x1 where `condition`, else x2 (with only a condition: the indices where it holds)."""
    if x1 is None and x2 is None:
        return np.nonzero(value_of(condition))
    return Where()(condition, x1, x2)


def sum(x, axis=None, keepdims=False):
    """Σ x over `axis` (all axes by default)."""
    return Sum()(x, axis=axis, keepdims=keepdims)


def mean(x, axis=None, keepdims=False):
    """The mean of x over `axis` (all axes by default)."""
    return Mean()(x, axis=axis, keepdims=keepdims)


def max(x, axis=None, keepdims=False, initial=None):
    """The largest entry of x over `axis`."""
    return Max()(x, axis=axis, keepdims=keepdims)


amax = max


def min(x, axis=None, keepdims=False, initial=None):
    """The smallest entry of x over `axis`."""
    return Min()(x, axis=axis, keepdims=keepdims)


amin = min


def reshape(x, newshape):
    """x with shape `newshape` (one entry may be −1)."""
    return Reshape()(x, tuple(newshape) if not isinstance(newshape, int) else (newshape,))


def transpose(x, axes=None):
    """x with its axes permuted (reversed by default)."""
    return Transpose()(x, None if axes is None else tuple(axes))


def expand_dims(x, axis):
    """x with a new axis of size 1 at `axis`."""
    return ExpandDims()(x, axis)


def squeeze(x, axis=None):
    """x without its axes of size 1."""
    return Squeeze()(x, axis)


def concatenate(xs, axis=0):
    """The arrays of `xs` joined along `axis`."""
    return Concatenate()(*xs, axis=axis)


def stack(x, axis=0):
    """The arrays of `x` stacked along a new `axis`."""
    return Stack()(*x, axis=axis)


def get_item(x, key):
    """x[key]."""
    return GetItem()(x, key)


def cast(x, dtype):
    """x converted to `dtype`."""
    return Cast()(x, np.dtype(dtype))


def argmax(x, axis=None, keepdims=False):
    """The index of the largest entry along `axis`."""
    return Argmax()(x, axis=axis, keepdims=keepdims)


def argmin(x, axis=None, keepdims=False):
    """The index of the smallest entry along `axis`."""
    return Argmin()(x, axis=axis, keepdims=keepdims)


def equal(x1, x2):
    """x1 == x2, entry by entry."""
    return Equal()(x1, x2)


def greater(x1, x2):
    """x1 > x2, entry by entry."""
    return Greater()(x1, x2)


def greater_equal(x1, x2):
    """x1 >= x2, entry by entry."""
    return GreaterEqual()(x1, x2)


def less(x1, x2):
    """x1 < x2, entry by entry."""
    return Less()(x1, x2)


def less_equal(x1, x2):
    """x1 <= x2, entry by entry."""
    return LessEqual()(x1, x2)


def not_equal(x1, x2):
    """x1 != x2, entry by entry."""
    return NotEqual()(x1, x2)


def all(x, axis=None, keepdims=False):
    """Whether every entry along `axis` is true."""
    return All()(x, axis=axis, keepdims=keepdims)


def any(x, axis=None, keepdims=False):
    """Whether any entry along `axis` is true."""
    return Any()(x, axis=axis, keepdims=keepdims)


def sign(x):
    """−1, 0 or 1 by the sign of each entry."""
    return Sign()(x)


def round(x, decimals=0):
    """x rounded to `decimals` places."""
    return Round()(x, decimals)


def stop_gradient(variable):
    """x, with no gradient flowing back through it."""
    return StopGradient()(variable)


def ones(shape, dtype=None):
    """An array of ones."""
    return np.ones(shape, dtype=dtype or "float32")


def zeros(shape, dtype=None):
    """An array of zeros."""
    return np.zeros(shape, dtype=dtype or "float32")


def ones_like(x, dtype=None):
    """Ones of x's shape."""
    return np.ones(_shape(value_of(x)), dtype=dtype or _dtype_of(x))


def zeros_like(x, dtype=None):
    """Zeros of x's shape."""
    return np.zeros(_shape(value_of(x)), dtype=dtype or _dtype_of(x))


def arange(start, stop=None, step=1, dtype=None):
    """Evenly spaced values in [start, stop)."""
    return np.arange(start, stop, step, dtype=dtype)


def shape(x):
    """The shape of x as a tuple (None for the unknown sizes of a symbolic tensor)."""
    if isinstance(x, (KerasTensor, Tensor)):
        return tuple(x.shape)
    return np.shape(x)


def _dtype_of(x):
    return x.dtype if isinstance(x, (KerasTensor, Tensor)) else np.asarray(x).dtype


def top_k(x, k, sorted=True):
    """(values, indices) of the `k` largest entries along the last axis, always largest first (so
    `sorted=False`, which lets Keras return them in any order, is satisfied too); ties keep index order."""
    from ..utils import checks

    x = np.asarray(value_of(x))
    indices = np.argsort(-x, axis=-1, kind="stable")[..., : checks.positive_int(k, "top_k: k")]
    return np.take_along_axis(x, indices, axis=-1), indices


OPERATORS.update(
    add=add, subtract=subtract, multiply=multiply, divide=divide, matmul=matmul, power=power, negative=negative,
    get_item=get_item, transpose=transpose, reshape=reshape, greater=greater, greater_equal=greater_equal, less=less,
    less_equal=less_equal,
)  # fmt: skip

__all__ = [name for name in dir() if not name.startswith("_") and name.islower() and name not in ("annotations", "np")]
