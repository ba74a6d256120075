"""ZeroPadding2D and Cropping2D: add rows and columns of zeros around channels-last images, or cut them off.

Each is the other's transpose: the backward pass of padding crops the gradient, that of cropping pads it.
"""

from __future__ import annotations

import numbers

import numpy as np

from ..errors import ShapeError
from ..utils import checks
from .base import Layer


def _is_count(value):
    return isinstance(value, numbers.Integral) and not isinstance(value, bool) and value >= 0


def padding_pairs(padding, argument="ZeroPadding2D: padding"):
    """Keras's padding forms as ((top, bottom), (left, right)): an int, (height, width) or two pairs."""
    if _is_count(padding):
        return (int(padding),) * 2, (int(padding),) * 2
    try:
        parts = tuple(padding)
    except TypeError:
        parts = ()
    if len(parts) == 2 and all(_is_count(p) for p in parts):
        return (int(parts[0]),) * 2, (int(parts[1]),) * 2
    try:
        pairs = tuple(tuple(p) for p in parts)
    except TypeError:
        pairs = ()
    if len(pairs) == 2 and all(len(p) == 2 and all(_is_count(v) for v in p) for p in pairs):
        return (int(pairs[0][0]), int(pairs[0][1])), (int(pairs[1][0]), int(pairs[1][1]))
    raise ValueError(
        f"{argument} must be a non-negative int, a pair (height, width) of them, "
        f"or two pairs ((top, bottom), (left, right)), got {padding!r}"
    )


class ZeroPadding2D(Layer):
    """Surround each image with zeros: `top`/`bottom` rows and `left`/`right` columns.

    Forward: x (N, H, W, C) -> y (N, top+H+bottom, left+W+right, C), y[:, top:top+H, left:left+W] = x
    and zeros elsewhere. Backward: dL/dx = dL/dy[:, top:top+H, left:left+W] (the border's gradient
    falls on constants and is dropped).
    """

    def __init__(self, padding=(1, 1), data_format=None, name=None, input_shape=None, **kwargs):
        super().__init__(name=name, input_shape=input_shape, **kwargs)
        self.padding = padding_pairs(padding)
        self.data_format = checks.channels_last(data_format, "ZeroPadding2D")

    def compute_output_shape(self, input_shape):
        if len(input_shape) != 3:
            raise ShapeError(
                f"layer {self.name!r} (ZeroPadding2D) needs images (height, width, channels), got {input_shape}"
            )
        (h, w, c), ((top, bottom), (left, right)) = input_shape, self.padding
        return (top + h + bottom, left + w + right, c)

    def _inside(self):
        """The slices of the output that hold the input."""
        (h, w, _), ((top, _), (left, _)) = self.input_shape, self.padding
        return slice(None), slice(top, top + h), slice(left, left + w)

    def forward(self, x, training=False):
        self.check_input(x)
        out = np.zeros((len(x), *self.output_shape), dtype=x.dtype)
        out[self._inside()] = x
        return out

    def backward(self, grad):
        if not self.needs_input_grad:
            return None
        return np.ascontiguousarray(grad[self._inside()])

    def get_config(self):
        return {
            **super().get_config(),
            "padding": [list(pair) for pair in self.padding],
            "data_format": self.data_format,
        }


class Cropping2D(Layer):
    """Cut `top`/`bottom` rows and `left`/`right` columns off each image.

    Forward: x (N, H, W, C) -> y = x[:, top:H-bottom, left:W-right] (N, H-top-bottom, W-left-right, C).
    Backward: dL/dx is dL/dy put back in place, zeros on the cut border (N, H, W, C).
    """

    def __init__(self, cropping=((0, 0), (0, 0)), data_format=None, name=None, input_shape=None, **kwargs):
        super().__init__(name=name, input_shape=input_shape, **kwargs)
        self.cropping = padding_pairs(cropping, "Cropping2D: cropping")
        self.data_format = checks.channels_last(data_format, "Cropping2D")

    def compute_output_shape(self, input_shape):
        if len(input_shape) != 3:
            raise ShapeError(
                f"layer {self.name!r} (Cropping2D) needs images (height, width, channels), got {input_shape}"
            )
        (h, w, c), ((top, bottom), (left, right)) = input_shape, self.cropping
        if top + bottom >= h or left + right >= w:
            raise ShapeError(
                f"layer {self.name!r} (Cropping2D): cropping {[list(p) for p in self.cropping]} leaves nothing of "
                f"images of {h}x{w}"
            )
        return (h - top - bottom, w - left - right, c)

    def _kept(self):
        """The slices of the input that the output keeps."""
        (oh, ow, _), ((top, _), (left, _)) = self.output_shape, self.cropping
        return slice(None), slice(top, top + oh), slice(left, left + ow)

    def forward(self, x, training=False):
        self.check_input(x)
        return np.ascontiguousarray(x[self._kept()])

    def backward(self, grad):
        if not self.needs_input_grad:
            return None
        dx = np.zeros((len(grad), *self.input_shape), dtype=grad.dtype)
        dx[self._kept()] = grad
        return dx

    def get_config(self):
        return {
            **super().get_config(),
            "cropping": [list(pair) for pair in self.cropping],
            "data_format": self.data_format,
        }
