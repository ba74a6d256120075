"""Conv2DTranspose: the transpose of a convolution, which spreads each input pixel over a kernel-sized patch.

Kernel K (kh, kw, F, C) for F = filters output channels and C input channels (Keras's layout), bias (F,).
Forward, x (N, H, W, C) -> y (N, OH, OW, F): every input pixel adds its weighted kernel to a "full"
output of (H-1)*sh + (kh-1)*dh + 1 rows (and columns alike),
    full[n, y*sh + i*dh, x*sw + j*dw, f] += sum over c of x[n, y, x, c] * K[i, j, f, c]   (every i, j)
    z[n, u, v, f] = full[n, u + top, v + left, f] + bias[f],   y = activation(z)
where `top` / `left` crop what "same" padding cuts (rows past the full output, from `output_padding`,
are zeros). This is exactly the input gradient of a Conv2D with kernel K, so backward is that
Conv2D's forward: with dZ = dY * activation'(z) placed back into a zero full-size array G,
    dX[n, y, x, c] = sum over (i, j, f) of G[n, y*sh + i*dh, x*sw + j*dw, f] * K[i, j, f, c]
    dK[i, j, f, c] = sum over (n, y, x) of G[n, y*sh + i*dh, x*sw + j*dw, f] * x[n, y, x, c]
    dbias = ones @ dZ

Both directions are matrix products, chunk by chunk of images (as Conv2D): forward
x.reshape(rows, C) @ K.reshape(kh*kw*F, C)ᵀ gives every pixel's patch at once, added onto the output
with one slice-add per kernel offset ("col2im"); backward gathers G's patches (rows, kh*kw*F) and
multiplies them by K (kh*kw*F, C) for dX and by x for dK.

Output size and cropping follow Keras: with k' = (k-1)*d + 1, "valid" gives (H-1)*s + max(k', s)
and "same" H*s; with `output_padding` p, (H-1)*s + k' + p ("valid") or (H-1)*s + k' % 2 + p ("same").
"""

from __future__ import annotations

import numpy as np

from ..errors import ShapeError
from ..utils import checks
from .conv import Convolution, add_patches, patch_windows, scratch_array

# Patch bytes per chunk of images, as Conv2D's forward chunks (stays in the core's cache).
_CHUNK_BYTES, _MIN_CHUNK, _MAX_CHUNK = 1 << 20, 4, 32


def transpose_output_size(size, kernel, stride, padding, output_padding, dilation):
    """(output length, rows cropped before it) of one axis, as Keras computes them (see the module doc)."""
    span = (kernel - 1) * dilation + 1
    if padding == "valid":
        extra = max(span, stride) - span if output_padding is None else output_padding
        before, after = span - 1, span - 1 + extra
    else:
        total = stride + span - 2 if output_padding is None else span + span % 2 - 2 + output_padding
        before = min(total // 2 + total % 2, span - 1)
        after = total - before
    return (size - 1) * stride + before + after - span + 2, span - 1 - before


class Conv2DTranspose(Convolution):
    """Transposed 2-D convolution ("deconvolution"); the equations are in the module doc."""

    def __init__(
        self,
        filters,
        kernel_size,
        strides=(1, 1),
        padding="valid",
        output_padding=None,
        data_format=None,
        dilation_rate=(1, 1),
        activation=None,
        use_bias=True,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        kernel_regularizer=None,
        bias_regularizer=None,
        activity_regularizer=None,
        kernel_constraint=None,
        bias_constraint=None,
        name=None,
        input_shape=None,
        **kwargs,
    ):
        super().__init__(
            kernel_size,
            strides,
            padding,
            data_format,
            dilation_rate,
            activation,
            use_bias,
            name,
            input_shape,
            **kwargs,
        )
        self.refuse_strides_with_dilation()
        self.filters = checks.positive_int(filters, "Conv2DTranspose: filters")
        self.output_padding = None
        if output_padding is not None:
            pair = (output_padding, output_padding) if isinstance(output_padding, int) else output_padding
            self.output_padding = tuple(checks.non_negative_int(p, "Conv2DTranspose: output_padding") for p in pair)
            if len(self.output_padding) != 2 or any(p >= s for p, s in zip(self.output_padding, self.strides)):
                raise ValueError(
                    f"Conv2DTranspose: output_padding must be an int or a pair, each smaller than its stride "
                    f"{self.strides}, got {output_padding!r}"
                )
        self.kernel_initializer, self.bias_initializer = kernel_initializer, bias_initializer
        checks.unsupported(
            "Conv2DTranspose",
            kernel_regularizer=kernel_regularizer,
            bias_regularizer=bias_regularizer,
            activity_regularizer=activity_regularizer,
        )
        self.keep_constraints(
            kernel=("kernel_constraint", kernel_constraint), bias=("bias_constraint", bias_constraint)
        )

    def compute_output_shape(self, input_shape):
        if len(input_shape) != 3:
            raise ShapeError(
                f"layer {self.name!r} (Conv2DTranspose) needs images (height, width, channels), got {input_shape}"
            )
        extra = self.output_padding or (None, None)
        (oh, self.top), (ow, self.left) = (
            transpose_output_size(size, k, s, self.padding, p, d)
            for size, k, s, p, d in zip(input_shape[:2], self.kernel_size, self.strides, extra, self.dilation_rate)
        )
        if oh < 1 or ow < 1:
            raise ShapeError(f"layer {self.name!r} (Conv2DTranspose): input {input_shape} gives no output pixels")
        return (oh, ow, self.filters)

    def build(self, input_shape):
        (kh, kw), c, f = self.kernel_size, input_shape[2], self.filters
        self.add_weight(name="kernel", shape=(kh, kw, f, c), initializer=self.kernel_initializer)
        if self.use_bias:
            self.add_weight(name="bias", shape=(f,), initializer=self.bias_initializer)
        self.activation.build_weights(self.output_shape, dtype=self.dtype)

    def full_shape(self, n):
        """(N, rows, columns, F) of the uncropped output: the full spread, and any output padding past it."""
        (h, w, _), (oh, ow, f), (kh, kw) = self.input_shape, self.output_shape, self.kernel_size
        (sh, sw), (dh, dw) = self.strides, self.dilation_rate
        rows = max((h - 1) * sh + (kh - 1) * dh + 1, self.top + oh)
        columns = max((w - 1) * sw + (kw - 1) * dw + 1, self.left + ow)
        return (n, rows, columns, f)

    def chunk_size(self):
        """Images per chunk: about 1 MB of patches (kh*kw*F numbers per input pixel), within 4..32."""
        (h, w, _), (kh, kw), f = self.input_shape, self.kernel_size, self.filters
        per_image = h * w * kh * kw * f * np.dtype(self.dtype).itemsize
        return min(_MAX_CHUNK, max(_MIN_CHUNK, _CHUNK_BYTES // per_image))

    def chunks(self, n):
        size = self.chunk_size()
        return [(start, min(start + size, n)) for start in range(0, n, size)]

    def forward(self, x, training=False):
        """Chunk by chunk: patches = x_rows @ K_flatᵀ, spread onto the full output by col2im; crop, bias, activation."""
        self.check_input(x)
        (h, w, c), (oh, ow, f), (kh, kw) = self.input_shape, self.output_shape, self.kernel_size
        kernel = self.params["kernel"].reshape(kh * kw * f, c)
        full = np.zeros(self.full_shape(len(x)), dtype=self.dtype)
        rows = x.reshape(-1, c)
        for start, stop in self.chunks(len(x)):
            patches = scratch_array(self, "patches", ((stop - start) * h * w, kh * kw * f), self.dtype)
            np.matmul(rows[start * h * w : stop * h * w], kernel.T, out=patches)
            patches = patches.reshape(stop - start, h, w, kh, kw, f)
            add_patches(full[start:stop], patches, self.strides, self.dilation_rate)
        out = np.ascontiguousarray(full[:, self.top : self.top + oh, self.left : self.left + ow])
        if self.use_bias:
            out += self.params["bias"]
        out = self.activation.forward(out, training)
        if training:
            self.x = x
        return out

    def backward(self, grad):
        """dZ into a zero full-size array G; per chunk, G's patches (rows, kh*kw*F) @ K_flat and their ᵀ @ x."""
        grad = self.activation.backward(grad)
        (h, w, c), (oh, ow, f), (kh, kw) = self.input_shape, self.output_shape, self.kernel_size
        n = len(grad)
        if self.use_bias:
            np.matmul(np.ones(n * oh * ow, grad.dtype), grad.reshape(-1, f), out=self.grads["bias"])
        spread = np.zeros(self.full_shape(n), dtype=self.dtype)
        spread[:, self.top : self.top + oh, self.left : self.left + ow] = grad
        windows = patch_windows(spread, (h, w), self.kernel_size, self.strides, self.dilation_rate)
        kernel, x_rows = self.params["kernel"].reshape(kh * kw * f, c), self.x.reshape(-1, c)
        kernel_grad = self.grads["kernel"].reshape(kh * kw * f, c)
        kernel_grad[...] = 0
        dx = np.empty((n * h * w, c), dtype=self.dtype) if self.needs_input_grad else None
        for start, stop in self.chunks(n):
            patches = scratch_array(self, "patches", (stop - start, h, w, kh, kw, f), self.dtype)
            np.copyto(patches, windows[start:stop])
            patches = patches.reshape(-1, kh * kw * f)
            kernel_grad += patches.T @ x_rows[start * h * w : stop * h * w]
            if dx is not None:
                np.matmul(patches, kernel, out=dx[start * h * w : stop * h * w])
        return None if dx is None else dx.reshape(n, h, w, c)

    def get_config(self):
        output_padding = None if self.output_padding is None else list(self.output_padding)
        return {**super().get_config(), "filters": self.filters, "output_padding": output_padding}
