"""GlobalAveragePooling2D and GlobalMaxPooling2D: one number per channel from a whole image.

Channels-last only, like the rest of minidl: input (N, H, W, C), output (N, C), or (N, 1, 1, C)
with `keepdims=True`. Often used in place of Flatten before the classifier of a convnet.
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


GlobalAvgPool2D = GlobalAveragePooling2D
GlobalMaxPool2D = GlobalMaxPooling2D
