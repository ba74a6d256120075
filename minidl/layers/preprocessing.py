"""Rescaling and Normalization: Keras's preprocessing layers that bring raw numbers into the range a network wants.

Rescaling applies a fixed scale and offset; Normalization subtracts a mean and divides by a standard
deviation, per feature, learnt from data by `adapt` (or given). Neither has trainable weights.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from ..errors import ShapeError
from ..utils.checks import finite_number
from .base import Layer

EPSILON = 1e-7  # Keras's backend epsilon: the smallest standard deviation Normalization divides by


class Rescaling(Layer):
    """y = x * scale + offset, element-wise, in training and inference alike (no weights).

    Forward: x (N, ...) -> y (N, ...) of the same shape. Backward: dL/dx = scale * dL/dy.
    `Rescaling(1 / 255)` maps [0, 255] pixels to [0, 1]; `Rescaling(1 / 127.5, offset=-1)` to [-1, 1].
    `scale` and `offset` are finite numbers (Keras's floats).
    """

    def __init__(self, scale, offset=0.0, name=None, input_shape=None, **kwargs):
        super().__init__(name=name, input_shape=input_shape, **kwargs)
        self.scale = finite_number(scale, "Rescaling: scale")
        self.offset = finite_number(offset, "Rescaling: offset")

    def forward(self, x, training=False):
        self.check_input(x)
        out = x * self.dtype(self.scale)
        if self.offset:
            out += self.dtype(self.offset)
        return out

    def backward(self, grad):
        if not self.needs_input_grad:
            return None
        grad *= self.dtype(self.scale)
        return grad

    def get_config(self):
        return {**super().get_config(), "scale": self.scale, "offset": self.offset}


class Normalization(Layer):
    """Keras's Normalization: y = (x − mean) / max(√variance, ε), per feature, from given or adapted statistics.

    `axis` names the axes (counted with the batch axis first, -1 the last) that keep their own mean and
    variance; all others, the batch axis included, are pooled. Default -1: one mean per feature of
    (N, F) data, one per channel of (N, H, W, C) images; `axis=None` pools everything (one number).
    The statistics come from `mean` and `variance` given to the constructor, or from `adapt(data)`:
        mean = average of data over the pooled axes,  variance = the same average of (data − mean)²
    (biased, as Keras computes it; adapted data may come in batches, combined exactly).
    With ε = 1e-7 (Keras's epsilon) and s = max(√variance, ε), broadcast over the pooled axes:
        forward   y = (x − mean) / s,    backward  dL/dx = g / s
        invert:   y = mean + x · s,      backward  dL/dx = g · s
    Adapted statistics are non-trainable weights (mean, variance and count, Keras's list), saved and
    loaded with the model; given ones are constants of the configuration.
    """

    def __init__(self, axis=-1, mean=None, variance=None, invert=False, name=None, input_shape=None, **kwargs):
        super().__init__(name=name, input_shape=input_shape, **kwargs)
        if axis is None:
            self.axis = ()
        elif isinstance(axis, numbers.Integral) and not isinstance(axis, bool):
            self.axis = (int(axis),)
        else:
            try:
                self.axis = tuple(axis)
            except TypeError:
                self.axis = None
            if self.axis is None or not all(
                isinstance(a, numbers.Integral) and not isinstance(a, bool) for a in self.axis
            ):
                raise ValueError(f"Normalization: axis must be None, an int or a tuple of ints, got {axis!r}")
            self.axis = tuple(int(a) for a in self.axis)
        if (mean is None) != (variance is None):
            raise ValueError("Normalization: give both mean and variance, or neither (then call adapt)")
        self.input_mean = self.input_variance = None
        if mean is not None:
            self.input_mean, self.input_variance = _statistic(mean, "mean"), _statistic(variance, "variance")
            if self.input_mean.shape != self.input_variance.shape:
                raise ValueError(
                    f"Normalization: mean {self.input_mean.shape} and variance {self.input_variance.shape} "
                    "must have the same shape"
                )
            if self.input_mean.ndim > len(self.axis):
                raise ValueError(
                    f"Normalization: mean of shape {self.input_mean.shape} has more axes than axis={axis!r} keeps"
                )
            if (self.input_variance < 0).any():
                raise ValueError("Normalization: variance must not be negative")
        if not isinstance(invert, bool):
            raise ValueError(f"Normalization: invert must be True or False, got {invert!r}")
        self.invert = invert
        self.adapted = None  # (mean, variance, count) from `adapt`, kept to initialise the weights

    def compute_output_shape(self, input_shape):
        rank = len(input_shape) + 1
        kept = sorted(a + rank if a < 0 else a for a in self.axis)
        if any(not 1 <= a < rank for a in kept) or len(set(kept)) != len(kept):
            raise ShapeError(
                f"layer {self.name!r} (Normalization): axis {self.axis} must name distinct feature axes of "
                f"inputs of shape (batch, {', '.join(map(str, input_shape))})"
            )
        self.kept = tuple(kept)
        self.pooled = tuple(a for a in range(rank) if a not in self.kept)
        self.statistics_shape = tuple(input_shape[a - 1] for a in self.kept)
        self.broadcast_shape = tuple(input_shape[a - 1] if a in self.kept else 1 for a in range(1, rank))
        if self.input_mean is not None:
            given = self.input_mean.shape
            # Keras aligns a given mean's axes with the kept axes from the right; 1s broadcast.
            expected = self.statistics_shape[len(self.statistics_shape) - len(given) :] if given else ()
            if any(g not in (1, e) for g, e in zip(given, expected)):
                raise ShapeError(
                    f"layer {self.name!r} (Normalization): mean of shape {given} does not fit the kept axes "
                    f"{self.statistics_shape} of input {input_shape}"
                )
        return input_shape

    def build(self, input_shape):
        if self.input_mean is not None:
            return
        self.add_weight(name="mean", shape=self.statistics_shape, initializer="zeros", trainable=False)
        self.add_weight(name="variance", shape=self.statistics_shape, initializer="ones", trainable=False)
        self.add_weight(name="count", shape=(), initializer="zeros", trainable=False)
        if self.adapted is not None and self.adapted[0].shape == self.statistics_shape:
            for name, value in zip(("mean", "variance", "count"), self.adapted):
                self.states[name][...] = value

    def statistics(self):
        """(mean, s = max(√variance, ε)), shaped to broadcast against a sample."""
        if self.input_mean is not None:
            mean, variance = self.input_mean, self.input_variance
            shape = (1,) * (len(self.statistics_shape) - mean.ndim) + mean.shape
            mean, variance = mean.reshape(shape), variance.reshape(shape)
            full = [1] * len(self.broadcast_shape)
            for axis, size in zip(self.kept, shape):
                full[axis - 1] = size
            mean, variance = mean.reshape(full), variance.reshape(full)
        else:
            mean = self.states["mean"].reshape(self.broadcast_shape)
            variance = self.states["variance"].reshape(self.broadcast_shape)
        scale = np.maximum(np.sqrt(variance), EPSILON)
        return mean.astype(self.dtype), scale.astype(self.dtype)

    def adapt(self, data, batch_size=None, steps=None):
        """Set mean and variance from `data`: an array (N, ...) or an iterable of such batches.

        Batches are combined exactly (pooled mean, and the pooled variance from each batch's variance
        and the spread of the batch means). Builds the layer from the data's shape if needed.
        """
        if self.input_mean is not None:
            raise ValueError("Normalization.adapt: this layer was given mean and variance; adapt has nothing to set")
        batches = [data] if isinstance(data, np.ndarray) or hasattr(data, "__array__") else data
        total_mean = total_variance = None
        total = 0
        for index, batch in enumerate(batches):
            if steps is not None and index >= steps:
                break
            if isinstance(batch, tuple):  # (x, y) batches: the inputs only
                batch = batch[0]
            batch = np.asarray(batch, dtype=np.float64)
            if batch.dtype.kind not in "fiub" or batch.ndim < 1 or len(batch) == 0:
                raise ValueError(f"Normalization.adapt: data must be numbers of shape (batch, ...), got {batch.shape}")
            if not self.built and total == 0:
                self.build_weights(batch.shape[1:], dtype=self.dtype)
            if batch.shape[1:] != self.input_shape:
                raise ShapeError(
                    f"layer {self.name!r} (Normalization): adapt got batches of shape {batch.shape}, the layer "
                    f"takes (batch, {', '.join(map(str, self.input_shape))})"
                )
            count = batch.size // max(1, math.prod(self.statistics_shape))
            mean = batch.mean(axis=self.pooled)
            variance = batch.var(axis=self.pooled)
            if total == 0:
                total_mean, total_variance = mean, variance
            else:
                weight = count / (total + count)
                new_mean = total_mean + (mean - total_mean) * weight
                total_variance = (total_variance + (total_mean - new_mean) ** 2) * (1 - weight) + (
                    variance + (mean - new_mean) ** 2
                ) * weight
                total_mean = new_mean
            total += count
        if total == 0:
            raise ValueError("Normalization.adapt: no data (an empty iterable of batches)")
        self.adapted = (total_mean, total_variance, np.float64(total))
        for name, value in zip(("mean", "variance", "count"), self.adapted):
            self.states[name][...] = value

    def forward(self, x, training=False):
        self.check_input(x)
        mean, scale = self.statistics()
        return mean + x * scale if self.invert else (x - mean) / scale

    def backward(self, grad):
        if not self.needs_input_grad:
            return None
        _, scale = self.statistics()
        return grad * scale if self.invert else grad / scale

    def get_config(self):
        axis = list(self.axis) if len(self.axis) != 1 else self.axis[0]
        return {
            **super().get_config(),
            "axis": axis if self.axis else None,
            "mean": None if self.input_mean is None else self.input_mean.tolist(),
            "variance": None if self.input_variance is None else self.input_variance.tolist(),
            "invert": self.invert,
        }


def _statistic(value, argument):
    """A given mean or variance as a float64 array of finite numbers."""
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(
            f"Normalization: {argument} must be a number or an array of numbers, got {value!r:.80}"
        ) from None
    if not np.isfinite(array).all():
        raise ValueError(f"Normalization: {argument} must be finite")
    return array
