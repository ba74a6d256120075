"""MaxPool2D and AvgPool2D over channels-last images ("valid" padding).

Both loop over the pool offsets only (4 for 2x2): each offset is one strided view of the input,
so a 2x2 pool is four slices combined element-wise, much faster than reshaping and reducing.
"""

from __future__ import annotations

import numpy as np

from .. import checks
from ..errors import ShapeError
from .base import Layer


class Pooling2D(Layer):
    """Shared shape logic of the pooling layers: windows of `pool_size` moved by `strides`."""

    def __init__(self, pool_size=2, strides=None, padding="valid", name=None, input_shape=None):
        super().__init__(name=name, input_shape=input_shape)
        if padding != "valid":
            raise ValueError(f"{type(self).__name__}: only padding='valid' is supported, got {padding!r}")
        self.pool_size = checks.int_pair(pool_size, f"{type(self).__name__}: pool_size")
        self.strides = checks.int_pair(
            strides if strides is not None else self.pool_size, f"{type(self).__name__}: strides"
        )

    def compute_output_shape(self, input_shape):
        if len(input_shape) != 3:
            raise ShapeError(
                f"layer {self.name!r} ({type(self).__name__}) needs images (height, width, channels), got {input_shape}"
            )
        (h, w, c), (ph, pw), (sh, sw) = input_shape, self.pool_size, self.strides
        oh, ow = (h - ph) // sh + 1, (w - pw) // sw + 1
        if oh < 1 or ow < 1:
            raise ShapeError(
                f"layer {self.name!r} ({type(self).__name__}): pool {self.pool_size} "
                f"is larger than its input {input_shape}"
            )
        return (oh, ow, c)

    def windows(self):
        """For each pool offset, the slices of the input it reads for every output pixel."""
        (oh, ow, _), (sh, sw) = self.output_shape, self.strides
        for i in range(self.pool_size[0]):
            for j in range(self.pool_size[1]):
                yield (slice(None), slice(i, i + sh * (oh - 1) + 1, sh), slice(j, j + sw * (ow - 1) + 1, sw))

    def tiles_input(self):
        """True when the windows cover every input pixel exactly once."""
        return all(
            s == p and (o * s == i)
            for s, p, o, i in zip(self.strides, self.pool_size, self.output_shape, self.input_shape)
        )

    def get_config(self):
        return {**super().get_config(), "pool_size": list(self.pool_size), "strides": list(self.strides)}


class AvgPool2D(Pooling2D):
    """Average of each pool window."""

    def forward(self, x, training=False):
        self.check_input(x)
        windows = self.windows()
        out = x[next(windows)].copy()
        for window in windows:
            out += x[window]
        out *= 1.0 / (self.pool_size[0] * self.pool_size[1])
        return out

    def backward(self, grad):
        grad *= 1.0 / (self.pool_size[0] * self.pool_size[1])
        overlapping = any(s < p for s, p in zip(self.strides, self.pool_size))
        dx = (np.zeros if overlapping or not self.tiles_input() else np.empty)(
            (len(grad), *self.input_shape), dtype=grad.dtype
        )
        for window in self.windows():
            if overlapping:
                dx[window] += grad
            else:
                dx[window] = grad
        return dx


class MaxPool2D(Pooling2D):
    """Maximum of each pool window; the gradient goes to the first maximal input of the window."""

    def forward(self, x, training=False):
        self.check_input(x)
        windows = list(self.windows())
        out = x[windows[0]].copy()
        for window in windows[1:]:
            np.maximum(out, x[window], out=out)
        if training:
            self.x, self.out = x, out
        return out

    def backward(self, grad):
        dx = np.zeros_like(self.x)
        unclaimed = np.ones(self.out.shape, dtype=bool)
        for window in self.windows():
            winner = (self.x[window] == self.out) & unclaimed
            unclaimed &= ~winner
            dx[window] += np.where(winner, grad, 0)
        return dx


MaxPooling2D = MaxPool2D
AveragePooling2D = AvgPool2D
