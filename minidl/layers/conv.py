"""Conv2D: 2-D convolution over channels-last images, computed as one matrix product.

The patches under every kernel position are gathered, transposed, into a matrix `cols` of shape
(kh*kw*C, N*OH*OW): row (i, j, c) holds input channel c shifted by kernel offset (i, j) for every
output pixel. Each of the kh*kw offsets is then one copy into a contiguous block, which measured
2-4x faster than the untransposed layout, and the rows match the kernel's (kh, kw, C, F) order, so
the convolution is `cols.T @ kernel.reshape(kh*kw*C, F)` and the kernel gradient `cols @ grad`.
"""

from __future__ import annotations

import math

import numpy as np

from .. import checks
from ..errors import ShapeError
from . import activations
from .base import Layer


def conv_output_size(size, kernel, stride, padding):
    """Output length and (before, after) padding of one spatial axis, as Keras computes them."""
    if padding == "same":
        out = math.ceil(size / stride)
        total = max((out - 1) * stride + kernel - size, 0)
        return out, (total // 2, total - total // 2)
    return (size - kernel) // stride + 1, (0, 0)


class Conv2D(Layer):
    """2-D convolution: `filters` kernels of `kernel_size`, kernel `(kh, kw, in, filters)`, bias `(filters,)`."""

    def __init__(
        self,
        filters,
        kernel_size,
        strides=1,
        padding="valid",
        activation=None,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        name=None,
        input_shape=None,
    ):
        super().__init__(name=name, input_shape=input_shape)
        if not isinstance(filters, (int, np.integer)) or filters < 1:
            raise ValueError(f"Conv2D: filters must be a positive integer, got {filters!r}")
        if padding not in ("valid", "same"):
            raise ValueError(f"Conv2D: padding must be 'valid' or 'same', got {padding!r}")
        self.filters = int(filters)
        self.kernel_size = checks.int_pair(kernel_size, "Conv2D: kernel_size")
        self.strides = checks.int_pair(strides, "Conv2D: strides")
        self.padding = padding
        self.activation = activations.get(activation, inplace=True)
        self.kernel_initializer, self.bias_initializer = kernel_initializer, bias_initializer

    def compute_output_shape(self, input_shape):
        if len(input_shape) != 3:
            raise ShapeError(f"layer {self.name!r} (Conv2D) needs images (height, width, channels), got {input_shape}")
        (h, w, _), (kh, kw), (sh, sw) = input_shape, self.kernel_size, self.strides
        (oh, self.pad_h), (ow, self.pad_w) = (
            conv_output_size(h, kh, sh, self.padding),
            conv_output_size(w, kw, sw, self.padding),
        )
        if oh < 1 or ow < 1:
            raise ShapeError(
                f"layer {self.name!r} (Conv2D): kernel {self.kernel_size} does not fit "
                f"input {input_shape} with padding={self.padding!r}"
            )
        return (oh, ow, self.filters)

    def create_weights(self, input_shape):
        (kh, kw), channels = self.kernel_size, input_shape[2]
        self.add_weight(
            "kernel",
            (kh, kw, channels, self.filters),
            self.kernel_initializer,
            kh * kw * channels,
            kh * kw * self.filters,
        )
        self.add_weight("bias", (self.filters,), self.bias_initializer)
        self.activation.build(self.output_shape, dtype=self.dtype)

    # ----- forward -----
    def forward(self, x, training=False):
        self.check_input(x)
        n, (oh, ow, f) = len(x), self.output_shape
        cols = self.gather_patches(self.pad(x))
        z = cols.T @ self.params["kernel"].reshape(-1, f)
        z += self.params["bias"]
        if training:
            self.cols, self.batch = cols, n
        return self.activation.forward(z, training).reshape(n, oh, ow, f)

    def pad(self, x):
        """Zero-pad the spatial axes for padding="same" (a no-op for "valid")."""
        if self.pad_h == (0, 0) and self.pad_w == (0, 0):
            return x
        (top, bottom), (left, right) = self.pad_h, self.pad_w
        n, h, w, c = x.shape
        padded = np.zeros((n, h + top + bottom, w + left + right, c), dtype=x.dtype)
        padded[:, top : top + h, left : left + w] = x
        return padded

    def offsets(self):
        """For each kernel offset (i, j): the rows and columns of the padded input it reads."""
        (oh, ow, _), (sh, sw) = self.output_shape, self.strides
        for i in range(self.kernel_size[0]):
            for j in range(self.kernel_size[1]):
                yield i, j, slice(i, i + sh * (oh - 1) + 1, sh), slice(j, j + sw * (ow - 1) + 1, sw)

    def gather_patches(self, padded):
        """The transposed patch matrix (kh*kw*C, N*OH*OW)."""
        n, (oh, ow, _), (kh, kw), c = len(padded), self.output_shape, self.kernel_size, self.input_shape[2]
        cols = np.empty((kh, kw, c, n, oh, ow), dtype=padded.dtype)
        for i, j, rows, columns in self.offsets():
            cols[i, j] = padded[:, rows, columns, :].transpose(3, 0, 1, 2)
        return cols.reshape(kh * kw * c, n * oh * ow)

    # ----- backward -----
    def backward(self, grad):
        (oh, ow, f) = self.output_shape
        grad = self.activation.backward(grad.reshape(-1, f))
        np.matmul(self.cols, grad, out=self.grads["kernel"].reshape(-1, f))
        np.matmul(np.ones(len(grad), grad.dtype), grad, out=self.grads["bias"])
        return self.input_grad(grad) if self.needs_input_grad else None

    def input_grad(self, grad):
        """d(loss)/d(input): for each kernel offset, kernel[i, j] @ grad added onto the pixels it read.

        Works batch-last, (C, H, W, N): each offset's slice is then runs of OW*N contiguous numbers
        rather than runs of OW, and one small product per offset, into a reused buffer, never
        builds the whole (kh*kw*C, N*OH*OW) patch gradient; together 1.8x faster than folding it.
        """
        (h, w, c), (oh, ow, f) = self.input_shape, self.output_shape
        (top, bottom), (left, right) = self.pad_h, self.pad_w
        grad_t = np.ascontiguousarray(grad.reshape(self.batch, oh, ow, f).transpose(3, 1, 2, 0)).reshape(f, -1)
        padded = np.zeros((c, h + top + bottom, w + left + right, self.batch), dtype=grad.dtype)
        patch_grad = np.empty((c, oh, ow, self.batch), dtype=grad.dtype)
        for i, j, rows, columns in self.offsets():
            np.matmul(self.params["kernel"][i, j], grad_t, out=patch_grad.reshape(c, -1))
            padded[:, rows, columns] += patch_grad
        return np.ascontiguousarray(padded[:, top : top + h, left : left + w].transpose(3, 1, 2, 0))

    def get_config(self):
        return {
            **super().get_config(),
            "filters": self.filters,
            "kernel_size": list(self.kernel_size),
            "strides": list(self.strides),
            "padding": self.padding,
            "activation": activations.name_of(self.activation),
        }
