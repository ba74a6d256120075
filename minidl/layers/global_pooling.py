"""Global pooling: one number per channel from a whole image (2D) or a whole sequence (1D).

Channels-last only, like the rest of minidl: input (N, H, W, C) or (N, T, C), output (N, C), or
(N, 1, 1, C) / (N, 1, C) with `keepdims=True`. Used in place of Flatten before the classifier of a
convnet, or to turn a sequence (of any length) into one vector.
"""

from __future__ import annotations

import numpy as np

from ..errors import ShapeError
from ..utils import checks
from .base import Layer


class GlobalPooling2D(Layer):
    """Shared shape logic: reduce the two spatial axes of (H, W, C) images."""

    def __init__(self, data_format=None, keepdims=False, name=None, input_shape=None, **kwargs):
        super().__init__(name=name, input_shape=input_shape, **kwargs)
        self.data_format = checks.channels_last(data_format, type(self).__name__)
        if not isinstance(keepdims, bool):
            raise ValueError(f"{type(self).__name__}: keepdims must be True or False, got {keepdims!r}")
        self.keepdims = keepdims

    def compute_output_shape(self, input_shape):
        if len(input_shape) != 3:
            raise ShapeError(
                f"layer {self.name!r} ({type(self).__name__}) needs images (height, width, channels), got {input_shape}"
            )
        channels = input_shape[2]
        return (1, 1, channels) if self.keepdims else (channels,)

    def get_config(self):
        return {**super().get_config(), "data_format": self.data_format, "keepdims": self.keepdims}


class GlobalAveragePooling2D(GlobalPooling2D):
    """Mean over height and width for each channel.

    Forward: y[n, c] = (1 / (H W)) * sum_{i, j} x[n, i, j, c]; x (N, H, W, C) -> y (N, C).
    Backward: dL/dx[n, i, j, c] = dL/dy[n, c] / (H W), the same for every pixel; (N, C) -> (N, H, W, C).
    """

    def forward(self, x, training=False):
        self.check_input(x)
        h, w, c = self.input_shape
        out = x.reshape(len(x), h * w, c).mean(axis=1)
        return out.reshape(len(x), *self.output_shape)

    def backward(self, grad):
        h, w, c = self.input_shape
        share = grad.reshape(len(grad), 1, 1, c) * (1.0 / (h * w))
        return np.broadcast_to(share, (len(grad), h, w, c)).copy()


class GlobalMaxPooling2D(GlobalPooling2D):
    """Maximum over height and width for each channel.

    Forward: y[n, c] = max_{i, j} x[n, i, j, c]; x (N, H, W, C) -> y (N, C).
    Backward: dL/dx[n, i, j, c] = dL/dy[n, c] at the first maximal pixel (row-major order) of channel
    c, 0 elsewhere; ties send the gradient to one pixel only, as MaxPool2D does.
    """

    def forward(self, x, training=False):
        self.check_input(x)
        h, w, c = self.input_shape
        flat = x.reshape(len(x), h * w, c)
        where = flat.argmax(axis=1)
        if training:
            self.where = where
        out = np.take_along_axis(flat, where[:, None, :], axis=1)
        return out.reshape(len(x), *self.output_shape)

    def backward(self, grad):
        h, w, c = self.input_shape
        n = len(grad)
        dx = np.zeros((n, h * w, c), dtype=grad.dtype)
        np.put_along_axis(dx, self.where[:, None, :], grad.reshape(n, 1, c), axis=1)
        return dx.reshape(n, h, w, c)


class GlobalPooling1D(Layer):
    """Shared shape logic: reduce the time axis of (T, C) sequences; T may be unknown (None)."""

    takes_unknown_dims = True

    def __init__(self, data_format=None, keepdims=False, name=None, input_shape=None, **kwargs):
        super().__init__(name=name, input_shape=input_shape, **kwargs)
        self.data_format = checks.channels_last(data_format, type(self).__name__)
        self.keepdims = checks.flag(keepdims, f"{type(self).__name__}: keepdims")

    def compute_output_shape(self, input_shape):
        if len(input_shape) != 2 or input_shape[1] is None:
            raise ShapeError(
                f"layer {self.name!r} ({type(self).__name__}) needs sequences (steps, channels), got {input_shape}"
            )
        return (1, input_shape[1]) if self.keepdims else (input_shape[1],)

    def check_input(self, x):
        super().check_input(x)
        if not x.shape[1]:
            raise ShapeError(f"layer {self.name!r} ({type(self).__name__}) needs at least one step, got {x.shape}")

    def get_config(self):
        return {**super().get_config(), "data_format": self.data_format, "keepdims": self.keepdims}


class GlobalAveragePooling1D(GlobalPooling1D):
    """Mean over the steps of each channel; with a mask, over the real steps only (as Keras).

    With m[n, t] = 1 for a real step, 0 for a masked one (all ones without a mask), M_n = Σ_t m[n, t]:
    forward:  y[n, c] = Σ_t m[n, t] · x[n, t, c] / M_n                  x (N, T, C) -> y (N, C)
    backward: dL/dx[n, t, c] = m[n, t] · g[n, c] / M_n
    A sequence with every step masked averages to 0 (Keras divides 0 by 0 there).
    """

    supports_masking = True

    def compute_mask(self, inputs, previous_mask):
        return None

    def forward(self, x, training=False, mask=None):
        self.check_input(x)
        if mask is None:
            weights = np.full((len(x), x.shape[1], 1), 1.0 / x.shape[1], dtype=x.dtype)
        else:
            kept = mask.astype(x.dtype).reshape(len(x), x.shape[1], 1)
            weights = kept / np.maximum(kept.sum(axis=1, keepdims=True), 1)
        if training:
            self.weights_seen = weights
        out = np.matmul(weights.transpose(0, 2, 1), x)  # (N, 1, T) @ (N, T, C): the weighted sum over t
        return out.reshape(len(x), *self.output_shape)

    def backward(self, grad):
        return grad.reshape(len(grad), 1, -1) * self.weights_seen


class GlobalMaxPooling1D(GlobalPooling1D):
    """Maximum over the steps of each channel (a mask is not used, as in Keras).

    forward:  y[n, c] = max_t x[n, t, c]                                 x (N, T, C) -> y (N, C)
    backward: dL/dx[n, t, c] = g[n, c] at the first maximal step t of channel c, 0 elsewhere.
    """

    def forward(self, x, training=False):
        self.check_input(x)
        where = x.argmax(axis=1)
        if training:
            self.where, self.steps = where, x.shape[1]
        out = np.take_along_axis(x, where[:, None, :], axis=1)
        return out.reshape(len(x), *self.output_shape)

    def backward(self, grad):
        n, c = len(grad), self.where.shape[1]
        dx = np.zeros((n, self.steps, c), dtype=grad.dtype)
        np.put_along_axis(dx, self.where[:, None, :], grad.reshape(n, 1, c), axis=1)
        return dx


GlobalAvgPool2D = GlobalAveragePooling2D
GlobalMaxPool2D = GlobalMaxPooling2D
GlobalAvgPool1D = GlobalAveragePooling1D
GlobalMaxPool1D = GlobalMaxPooling1D
