"""Conv2D: 2-D convolution over channels-last images, computed as matrix products chunk by chunk.

Forward, x (N, H, W, C) -> y (N, OH, OW, F):
    z[n, y, x, f] = sum over (i, j, c) of x_pad[n, y*sh + i, x*sw + j, c] * kernel[i, j, c, f] + bias[f]
    y = activation(z)
Backward, dY (N, OH, OW, F) -> dX (N, H, W, C), with dZ = dY * activation'(z):
    dkernel = patches.T @ dZ   (kh*kw*C, F);   dbias = ones @ dZ   (F,)
    dX[n, y*sh + i, x*sw + j, c] += sum over f of dZ[n, y, x, f] * kernel[i, j, c, f]   (every i, j)

The loops over pixels become matrix products: the patches under every output pixel form a matrix
(rows (n, oh, ow), columns (i, j, c)) that matches `kernel.reshape(kh*kw*C, F)`. The batch is
processed a chunk of images at a time (about 1 MB of patches, copied from a strided view in long
contiguous runs into one reused buffer) so the product reads them while they are still in cache;
bias and activation are applied to the chunk in place. Backward gathers each chunk's patches again
rather than keeping them all (measured: keeping them costs forward what it saves backward). The
input gradient is one product per chunk of windows along image rows, then kh row-shifted adds
(see `input_grad_from_windows`); with 16 filters or fewer those windows give the kernel gradient
too, and the patches are not gathered again (see `backward_by_windows`). The per-layer buffers are
scratch space only: they are not pickled and are recreated on demand for any dtype.

Groups (`groups=G`) cut the C channels and F filters into G blocks of C/G and F/G, block g of the
output reading only block g of the input, so the kernel is (kh, kw, C/G, F):
    z[n, y, x, g*F/G + f] = sum over (i, j, c < C/G) of
                            x_pad[n, y*sh + i, x*sw + j, g*C/G + c] * kernel[i, j, c, g*F/G + f] + bias
minidl runs them as an ordinary convolution with the block-diagonal (kh, kw, C, F) kernel that has
zeros between the groups (`dense_kernel`), and keeps only the diagonal blocks of its gradient. That
is G times the multiply-adds, but one wide product instead of G thin ones and no transposing copies:
measured at batch 32 on 14x14 images (forward + backward, 3x3 "same"), C = F = 16 with G = 4 or 16
runs 2.4-3.2x faster than G stacked products; at C = F = 64 it ranges from 1.4x slower (G = 4) to
1.4x faster (G = 16).

Dilation (`dilation_rate=(dh, dw)`) takes the general path (`forward_general`): kernel offset (i, j)
reads x_pad[n, y*sh + i*dh, x*sw + j*dw, :]. Its patches are gathered chunk by chunk as on the tuned
path and multiplied by the kernel; backward is dkernel = patches.T @ dZ and dpatches = dZ @ kernel.T,
added back onto the pixels one kernel offset at a time (`add_patches`, "col2im": kh*kw slice-adds
over the whole chunk).
"""

from __future__ import annotations

import math

import numpy as np
from numpy.lib.stride_tricks import as_strided

from .. import constraints, regularizers
from ..errors import ShapeError
from ..utils import checks
from . import activations
from .base import Layer

# Patch bytes per chunk of images: small enough to stay in the core's cache between copy and product.
# Bounds measured on LeNet's, the two-convolution net's and the Keras convnet's shapes.
_CHUNK_BYTES, _MIN_CHUNK, _MAX_CHUNK = 1 << 20, 4, 32
# Gradient-window bytes per chunk of the input gradient: 2-4 MB measured alike on LeNet's, the
# two-convolution net's and the Keras convnet's second convolutions, 1 and 6 MB slower.
_INPUT_GRAD_CHUNK_BYTES = 3 << 20
# Up to this many input channels, the input gradient goes back to (N, H, W, C) one channel at a time
# (6 channels: 2.2x faster); with 16 or more, one transposing copy is faster.
_CHANNEL_LOOP_MAX = 8
# Up to this many filters, backward takes the kernel gradient from the input gradient's windows
# (`backward_by_windows`): measured 12-25 % faster on five 16-filter shapes, 0-22 % slower on six with
# 32 or 64 filters, where the patch product is wide enough for BLAS.
_WINDOWS_MAX_FILTERS = 16


def conv_output_size(size, kernel, stride, padding, dilation=1):
    """Output length and (before, after) padding of one spatial axis, as Keras computes them.

    A dilated kernel spans (kernel - 1) * dilation + 1 pixels.
    """
    span = (kernel - 1) * dilation + 1
    if padding == "same":
        out = math.ceil(size / stride)
        total = max((out - 1) * stride + span - size, 0)
        return out, (total // 2, total - total // 2)
    return (size - span) // stride + 1, (0, 0)


def pad_images(x, pad_h, pad_w, dtype):
    """x (N, H, W, C) contiguous in `dtype`, with zero rows pad_h = (top, bottom) and columns pad_w = (left, right)."""
    (top, bottom), (left, right) = pad_h, pad_w
    if top == bottom == left == right == 0:
        return np.ascontiguousarray(x, dtype=dtype)
    n, h, w, c = x.shape
    padded = np.zeros((n, h + top + bottom, w + left + right, c), dtype=dtype)
    padded[:, top : top + h, left : left + w] = x
    return padded


def scratch_array(owner, name, shape, dtype):
    """A contiguous array of `shape` carved from a buffer kept on `owner` and reused across steps.

    The buffer grows when needed and is recreated when missing (an ndarray attribute: not pickled).
    """
    key, size = f"_{name}_buffer", math.prod(shape)
    flat = getattr(owner, key, None)
    if flat is None or flat.size < size or flat.dtype != dtype:
        flat = np.empty(size, dtype=dtype)
        setattr(owner, key, flat)
    return flat[:size].reshape(shape)


def patch_windows(padded, out_size, kernel_size, strides, dilation):
    """A read-only view (N, OH, OW, kh, kw, C) of every patch: [n, y, x, i, j] = padded[n, y*sh + i*dh, x*sw + j*dw]."""
    (oh, ow), (kh, kw), (sh, sw), (dh, dw) = out_size, kernel_size, strides, dilation
    s_n, s_h, s_w, s_c = padded.strides
    shape = (len(padded), oh, ow, kh, kw, padded.shape[3])
    return as_strided(padded, shape, (s_n, s_h * sh, s_w * sw, s_h * dh, s_w * dw, s_c), writeable=False)


def add_patches(target, patch_grads, strides, dilation):
    """col2im: target[n, y*sh + i*dh, x*sw + j*dw, :] += patch_grads[n, y, x, i, j, :] for every (y, x, i, j).

    One slice-add over the whole batch per kernel offset (i, j); `patch_grads` is (N, OH, OW, kh, kw, ...)
    and `target` (N, H_pad, W_pad, ...), the channels possibly split over several axes alike.
    """
    _, oh, ow, kh, kw = patch_grads.shape[:5]
    (sh, sw), (dh, dw) = strides, dilation
    for i in range(kh):
        for j in range(kw):
            rows = slice(i * dh, i * dh + sh * (oh - 1) + 1, sh)
            columns = slice(j * dw, j * dw + sw * (ow - 1) + 1, sw)
            target[:, rows, columns] += patch_grads[:, :, :, i, j]


class Convolution(Layer):
    """What every convolution shares: Keras's kernel_size, strides, padding, data_format, dilation_rate,
    activation and use_bias, checked; constraints kept for after each optimizer step.

    Messages name the concrete class (`Conv2D: strides must be ...`).
    """

    def __init__(
        self, kernel_size, strides, padding, data_format, dilation_rate, activation, use_bias, name, input_shape,
        **kwargs,
    ):  # fmt: skip
        super().__init__(name=name, input_shape=input_shape, **kwargs)
        owner = type(self).__name__
        self.kernel_size = checks.int_pair(kernel_size, f"{owner}: kernel_size")
        self.strides = checks.int_pair(strides, f"{owner}: strides")
        self.padding = checks.one_of(padding, f"{owner}: padding", ("valid", "same"))
        self.data_format = checks.channels_last(data_format, owner)
        self.dilation_rate = checks.int_pair(dilation_rate, f"{owner}: dilation_rate")
        self.activation = activations.get(activation, inplace=True)
        self.use_bias = checks.boolean(use_bias, f"{owner}: use_bias")

    def refuse_strides_with_dilation(self):
        """Keras's rule for Conv2D and Conv2DTranspose: not both strides > 1 and dilation_rate > 1."""
        if max(self.strides) > 1 and max(self.dilation_rate) > 1:
            raise ValueError(
                f"{type(self).__name__}: strides > 1 cannot be combined with dilation_rate > 1 (as in Keras), got "
                f"strides={self.strides} and dilation_rate={self.dilation_rate}"
            )

    def keep_constraints(self, **by_weight):
        """Take each weight's constraint, `weight=(argument name, value)`, as the attribute `argument name`.

        `weight_constraints` ({weight name: constraint}) then lists those that are set, for
        `minidl.constraints.apply` after each optimizer step (a bias without use_bias has none).
        """
        self.weight_constraints = {}
        for weight, (argument, value) in by_weight.items():
            constraint = constraints.get(value, f"{type(self).__name__}: {argument}")
            setattr(self, argument, constraint)
            if constraint is not None and (weight != "bias" or self.use_bias):
                self.weight_constraints[weight] = constraint
        self.constraint_arguments = tuple(argument for argument, _ in by_weight.values())

    def spatial_output(self, input_shape):
        """(OH, OW) of a convolution of images `input_shape`, setting the padding (pad_h, pad_w) Keras uses."""
        owner = type(self).__name__
        if len(input_shape) != 3:
            raise ShapeError(f"layer {self.name!r} ({owner}) needs images (height, width, channels), got {input_shape}")
        (h, w, _), (kh, kw), (sh, sw), (dh, dw) = input_shape, self.kernel_size, self.strides, self.dilation_rate
        (oh, self.pad_h), (ow, self.pad_w) = (
            conv_output_size(h, kh, sh, self.padding, dh),
            conv_output_size(w, kw, sw, self.padding, dw),
        )
        if oh < 1 or ow < 1:
            raise ShapeError(
                f"layer {self.name!r} ({owner}): kernel {self.kernel_size} (dilation {self.dilation_rate}) does not "
                f"fit input {input_shape} with padding={self.padding!r}"
            )
        return oh, ow

    def get_config(self):
        return {
            **super().get_config(),
            "kernel_size": list(self.kernel_size),
            "strides": list(self.strides),
            "padding": self.padding,
            "data_format": self.data_format,
            "dilation_rate": list(self.dilation_rate),
            "activation": activations.name_of(self.activation),
            "use_bias": self.use_bias,
            **constraints.config_of(**{argument: getattr(self, argument) for argument in self.constraint_arguments}),
        }


class Conv2D(Convolution):
    """2-D convolution: `filters` kernels of `kernel_size`, kernel `(kh, kw, in/groups, filters)`, bias `(filters,)`.

    Keras 3's arguments (data_format channels-last; no activity_regularizer). Regularizers add their
    penalty to the loss; constraints (`kernel_constraint`, `bias_constraint`) are applied after every
    optimizer step.
    """

    def __init__(
        self,
        filters,
        kernel_size,
        strides=(1, 1),
        padding="valid",
        data_format=None,
        dilation_rate=(1, 1),
        groups=1,
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
            kernel_size, strides, padding, data_format, dilation_rate, activation, use_bias, name, input_shape, **kwargs
        )
        self.refuse_strides_with_dilation()
        self.filters = checks.positive_int(filters, "Conv2D: filters")
        self.groups = checks.positive_int(groups, "Conv2D: groups")
        if self.filters % self.groups:
            raise ValueError(f"Conv2D: filters ({self.filters}) must be divisible by groups ({self.groups})")
        self.kernel_initializer, self.bias_initializer = kernel_initializer, bias_initializer
        self.kernel_regularizer, self.bias_regularizer = kernel_regularizer, bias_regularizer
        checks.unsupported("Conv2D", activity_regularizer=activity_regularizer)
        self.keep_constraints(
            kernel=("kernel_constraint", kernel_constraint), bias=("bias_constraint", bias_constraint)
        )
        # Dilation takes the general patch path; everything else the tuned one below.
        self.general = self.dilation_rate != (1, 1)

    def compute_output_shape(self, input_shape):
        oh, ow = self.spatial_output(input_shape)
        if input_shape[2] % self.groups:
            raise ShapeError(
                f"layer {self.name!r} (Conv2D): input channels ({input_shape[2]}) must be divisible by groups "
                f"({self.groups})"
            )
        return (oh, ow, self.filters)

    def build(self, input_shape):
        (kh, kw), channels = self.kernel_size, input_shape[2] // self.groups
        self.add_weight(
            name="kernel",
            shape=(kh, kw, channels, self.filters),
            initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer,
        )
        if self.use_bias:
            self.add_weight(
                name="bias", shape=(self.filters,), initializer=self.bias_initializer, regularizer=self.bias_regularizer
            )
        self.activation.build_weights(self.output_shape, dtype=self.dtype)

    # ----- forward -----
    def forward(self, x, training=False):
        """z = patches(x) @ kernel.reshape(kh*kw*C, F) + bias, then the activation, chunk by chunk.

        x (N, H, W, C) -> y (N, OH, OW, F). One chunk of images at a time: its patches are copied
        into the reused buffer (rows (n, oh, ow), columns (i, j, c)), multiplied at once while they
        are still in cache, and the bias and activation applied in place to the chunk's rows.
        """
        self.check_input(x)
        n, (oh, ow, f) = len(x), self.output_shape
        padded = self.pad(x)
        if self.general:
            out = self.forward_general(padded)
        else:
            kernel = self.dense_kernel().reshape(-1, f)
            out = np.empty((n * oh * ow, f), dtype=kernel.dtype)
            if self.use_bias:
                # The bias repeated over a chunk's rows: adding it is then a flat add, 3-6x faster than broadcasting.
                bias_rows = self.scratch("bias_rows", (min(n, self.chunk_size()) * oh * ow, f))
                np.copyto(bias_rows, self.params["bias"])
            for start, stop, patches in self.chunks_of_patches(padded):
                rows = out[start * oh * ow : stop * oh * ow]
                np.matmul(patches, kernel, out=rows)
                if self.use_bias:
                    rows += bias_rows[: len(rows)]
                self.activation.apply(rows, rows)
        if training:
            self.padded, self.activation.last_output = padded, out
        return out.reshape(n, oh, ow, f)

    def pad(self, x):
        """The input, contiguous and zero-padded on the spatial axes for padding="same"."""
        return pad_images(x, self.pad_h, self.pad_w, self.dtype)

    def windows(self, padded):
        """A read-only view of every patch of the padded input, without copying.

        Row layout (N, OH, OW, kh, kw*C): [n, y, x, i] is padded[n, y*sh + i, x*sw : x*sw + kw, :],
        a contiguous run. With one input channel those runs are too short to copy fast, so the
        columns layout (kh, kw, C, N, OH, OW) is used instead, whose runs are image rows.
        """
        (oh, ow, _), (sh, sw), (kh, kw), c = self.output_shape, self.strides, self.kernel_size, self.input_shape[2]
        s_n, s_h, s_w, s_c = padded.strides
        if self.columns_layout:
            shape, strides = (kh, kw, c, len(padded), oh, ow), (s_h, s_w, s_c, s_n, s_h * sh, s_w * sw)
        else:
            shape, strides = (len(padded), oh, ow, kh, kw * c), (s_n, s_h * sh, s_w * sw, s_h, s_c)
        return as_strided(padded, shape=shape, strides=strides, writeable=False)

    @property
    def columns_layout(self):
        """True when patches are gathered as (kh*kw*C, rows): measured 3x faster with one input channel."""
        return self.input_shape[2] == 1

    def chunk_size(self):
        """Images per chunk: about 1 MB of patches and outputs (stays in cache), within 4..32 images."""
        (oh, ow, f), (kh, kw), c = self.output_shape, self.kernel_size, self.input_shape[2]
        per_image = oh * ow * (kh * kw * c + f) * np.dtype(self.dtype).itemsize
        return min(_MAX_CHUNK, max(_MIN_CHUNK, _CHUNK_BYTES // per_image))

    def chunks_of_patches(self, padded):
        """(start, stop, patches) per chunk of images; patches is a (rows, kh*kw*C) matrix in a reused buffer."""
        (oh, ow, _), (kh, kw), c = self.output_shape, self.kernel_size, self.input_shape[2]
        windows, size = self.windows(padded), self.chunk_size()
        for start in range(0, len(padded), size):
            stop = min(start + size, len(padded))
            if self.columns_layout:
                columns = self.scratch("patches", (kh, kw, c, stop - start, oh, ow))
                np.copyto(columns, windows[:, :, :, start:stop])
                yield start, stop, columns.reshape(kh * kw * c, -1).T
            else:
                patches = self.scratch("patches", (stop - start, oh, ow, kh, kw * c))
                np.copyto(patches, windows[start:stop])
                yield start, stop, patches.reshape(-1, kh * kw * c)

    def scratch(self, name, shape):
        """A contiguous array of `shape` carved from a per-layer buffer reused across steps.

        The buffer grows when needed and is recreated when missing (it is not pickled).
        """
        return scratch_array(self, name, shape, self.dtype)

    # ----- backward -----
    def backward(self, grad):
        """dZ = activation'(dY); dK = sum over chunks of patches.T @ dZ; db = ones @ dZ; then dX.

        dY (N, OH, OW, F) -> dX (N, H, W, C). Chunk by chunk: the activation's derivative, then the
        patches gathered again for the kernel-gradient product while they are in cache. The input
        gradient then runs over its own chunks of images (see `input_grad_from_windows`). With few filters
        and an input gradient to compute, both gradients come from the input gradient's windows
        instead (see `backward_by_windows`).
        """
        (oh, ow, f) = self.output_shape
        grad = grad.reshape(-1, f)
        dx = self.backward_general(grad) if self.general else self.backward_tuned(grad)
        if self.groups > 1:  # keep the diagonal blocks of the dense kernel's gradient
            self.grads["kernel"][...] = self.diagonal_blocks(self.dense_kernel_grad())
        return dx

    def backward_tuned(self, grad):
        """The tuned path's backward (see `backward`): fills the dense kernel gradient and the bias gradient."""
        (oh, ow, f) = self.output_shape
        self.dense_kernel_grad()[...] = 0
        if self.use_bias:
            self.grads["bias"][...] = 0
        if self.needs_input_grad and f <= _WINDOWS_MAX_FILTERS:
            return self.backward_by_windows(grad)
        kernel_grad, bias_grad = self.dense_kernel_grad().reshape(-1, f), self.grads.get("bias")
        partial = self.scratch("kernel_grad", (kernel_grad.size + f,))
        partial_kernel, partial_bias = partial[:-f].reshape(kernel_grad.shape), partial[-f:]
        ones = self.ones(self.chunk_size() * oh * ow)
        for start, stop, patches in self.chunks_of_patches(self.padded):
            chunk = self.derivative_rows(grad, start, stop)
            np.matmul(patches.T, chunk, out=partial_kernel)
            kernel_grad += partial_kernel
            if bias_grad is not None:
                np.matmul(ones[: len(chunk)], chunk, out=partial_bias)
                bias_grad += partial_bias
        if not self.needs_input_grad:
            return None
        kernel_rows = self.kernel_rows()
        dx = np.empty((len(self.padded), *self.input_shape), dtype=grad.dtype)
        for start, stop in self.input_grad_chunks():
            windows = self.gradient_windows(grad[start * oh * ow : stop * oh * ow], stop - start)
            self.input_grad_from_windows(windows, kernel_rows, dx[start:stop])
        return dx

    def backward_by_windows(self, grad):
        """Backward for layers with few filters: the kernel gradient from the input gradient's windows.

        With `windows[n, y, u, (t, f)] = dZ[n, y, x, f]` where u + t = x*sw + kw - 1 (see
        `gradient_windows`), the kernel gradient is, for every kernel row i,
            dK[i, kw-1-t, c, f] = sum over (n, y, u) of x_pad[n, y*sh + i, u, c] * windows[n, y, u, (t, f)],
        one product of the input's rows (kh*C, rows) with the windows (rows, kw*F) that the input
        gradient builds anyway. The patch product it replaces is F columns wide, which BLAS runs
        slowly for F <= 16; and the patches need not be gathered a second time.
        """
        (oh, ow, f), (kh, kw), c = self.output_shape, self.kernel_size, self.input_shape[2]
        kernel_rows, size = self.kernel_rows(), self.input_grad_chunk_size()
        by_rows = self.scratch("kernel_grad_by_rows", (2, kh * c, kw * f))
        by_rows[0], ones, bias_grad = 0, self.ones(size * oh * ow), self.grads.get("bias")
        dx = np.empty((len(self.padded), *self.input_shape), dtype=grad.dtype)
        for start, stop in self.input_grad_chunks():
            chunk = self.derivative_rows(grad, start, stop)
            if bias_grad is not None:
                bias_grad += ones[: len(chunk)] @ chunk
            windows = self.gradient_windows(chunk, stop - start)
            np.matmul(self.input_rows(start, stop), windows.reshape(-1, kw * f), out=by_rows[1])
            by_rows[0] += by_rows[1]
            self.input_grad_from_windows(windows, kernel_rows, dx[start:stop])
        self.dense_kernel_grad()[...] = by_rows[0].reshape(kh, c, kw, f)[:, :, ::-1].transpose(0, 2, 1, 3)
        return dx

    def derivative_rows(self, grad, start, stop):
        """dZ = dY * activation'(z) for the rows of images start..stop, written back into `grad`."""
        per_image = self.output_shape[0] * self.output_shape[1]
        rows = slice(start * per_image, stop * per_image)
        chunk = self.activation.derivative_times(grad[rows], self.activation.last_output[rows])
        if not np.shares_memory(chunk, grad):
            grad[rows] = chunk
        return grad[rows]

    def ones(self, count):
        """A vector of `count` ones (the bias gradient is `ones @ dZ`), kept across steps."""
        ones = self.scratch("ones", (count,))
        ones[...] = 1
        return ones

    def kernel_rows(self):
        """The kernel as (kh*C, kw*F), flipped in width: row (i, c), column (t, f) is kernel[i, kw-1-t, c, f]."""
        kh, c = self.kernel_size[0], self.input_shape[2]
        return self.dense_kernel()[:, ::-1].transpose(0, 2, 1, 3).reshape(kh * c, -1)

    def input_grad_chunk_size(self):
        """Images per input-gradient chunk: about `_INPUT_GRAD_CHUNK_BYTES` of windows, within 4..32."""
        oh, f, kw = self.output_shape[0], self.output_shape[2], self.kernel_size[1]
        per_image = oh * self.touched_width() * kw * f * np.dtype(self.dtype).itemsize
        return min(_MAX_CHUNK, max(_MIN_CHUNK, _INPUT_GRAD_CHUNK_BYTES // per_image))

    def input_grad_chunks(self):
        """(start, stop) of each chunk of images for the input gradient."""
        n, size = len(self.padded), self.input_grad_chunk_size()
        return [(start, min(start + size, n)) for start in range(0, n, size)]

    def touched_width(self):
        """Columns of the padded input that some kernel window covers: (OW-1)*sw + kw."""
        return (self.output_shape[1] - 1) * self.strides[1] + self.kernel_size[1]

    def input_rows(self, start, stop):
        """The padded input of images start..stop as (kh*C, rows): [(i, c), (n, y, u)] = x_pad[n, y*sh + i, u, c].

        u runs over the `touched_width()` columns, matching the rows of `gradient_windows`. The chunk
        is first copied to channel planes, so that the rows are copied in runs of whole image rows.
        """
        (kh, _), (sh, _), (oh, _, _), c = self.kernel_size, self.strides, self.output_shape, self.input_shape[2]
        m, (_, hp, wp, _) = stop - start, self.padded.shape
        planes = self.scratch("input_planes", (c, m, hp, wp))
        np.copyto(planes, self.padded[start:stop].transpose(3, 0, 1, 2))
        s_c, s_n, s_h, s_w = planes.strides
        shape = (kh, c, m, oh, self.touched_width())
        rows = self.scratch("input_rows", shape)
        np.copyto(rows, as_strided(planes, shape, (s_h, s_c, s_n, s_h * sh, s_w), writeable=False))
        return rows.reshape(kh * c, -1)

    def gradient_windows(self, grad_rows, m):
        """dZ of m images spread on zero rows, as windows (m, OH, touched, kw*F) of kw positions each.

        dZ[n, y, x] sits at column kw-1 + x*sw of a zero row; window u holds columns u..u+kw-1, so its
        entry (t, f) is dZ[n, y, x, f] for u + t = x*sw + kw - 1 (zero where no x gives that).
        """
        (oh, ow, f), (kw, sw) = self.output_shape, (self.kernel_size[1], self.strides[1])
        touched = self.touched_width()
        spread = self.scratch("spread_grad", (m, oh, touched + kw - 1, f))
        if sw == 1:  # dZ fills the middle: only the kw-1 columns on either side need zeros
            spread[:, :, : kw - 1], spread[:, :, kw - 1 + ow :] = 0, 0
        else:
            spread[...] = 0
        spread[:, :, kw - 1 : kw - 1 + sw * (ow - 1) + 1 : sw] = grad_rows.reshape(m, oh, ow, f)
        s_n, s_y, s_u, s_f = spread.strides
        windows = self.scratch("grad_windows", (m, oh, touched, kw * f))
        np.copyto(windows, as_strided(spread, (m, oh, touched, kw * f), (s_n, s_y, s_u, s_f), writeable=False))
        return windows

    def input_grad_from_windows(self, windows, kernel_rows, dx):
        """Write d(loss)/d(input) of one chunk of m images into `dx` (m, H, W, C).

        dX_pad[n, y*sh + i, u, c] = sum over (x, j, f) with x*sw + j = u of dZ[n, y, x, f] * K[i, j, c, f].
        The sum over (j, f) runs along one image row, so it is one matrix product: `kernel_rows`
        (kh*C, kw*F) times the windows of `gradient_windows` gives, for each kernel row i, the
        gradient of input row y*sh + i. Left are kh row-shifted adds of whole image rows, instead of
        kh*kw adds of scattered patches.
        """
        (h, w, c), (oh, _, f), (kh, kw), sh = self.input_shape, self.output_shape, self.kernel_size, self.strides[0]
        (top, bottom), (left, right) = self.pad_h, self.pad_w
        m, touched = len(dx), self.touched_width()
        rows = self.scratch("row_grads", (kh, c, m, oh, touched))
        np.matmul(kernel_rows, windows.reshape(-1, kw * f).T, out=rows.reshape(kh * c, -1))
        padded = self.scratch("padded_grad", (c, m, h + top + bottom, w + left + right))
        padded[...] = 0
        for i in range(kh):
            padded[:, :, i : i + sh * (oh - 1) + 1 : sh, :touched] += rows[i]
        inside = padded[:, :, top : top + h, left : left + w]
        if c <= _CHANNEL_LOOP_MAX:  # whole channel planes: measured 2.2x faster than one transposing copy
            for channel in range(c):
                dx[..., channel] = inside[channel]
        else:
            np.copyto(dx, inside.transpose(1, 2, 3, 0))

    # ----- groups: the block-diagonal kernel -----
    def dense_kernel(self):
        """The kernel as (kh, kw, C, F): the weights themselves, or with groups the block-diagonal expansion."""
        kernel = self.params["kernel"]
        if self.groups == 1:
            return kernel
        (kh, kw, cg, f), g = kernel.shape, self.groups
        dense = np.zeros((kh, kw, g, cg, g, f // g), dtype=kernel.dtype)
        diagonal = np.arange(g)
        dense[:, :, diagonal, :, diagonal, :] = kernel.reshape(kh, kw, cg, g, f // g).transpose(3, 0, 1, 2, 4)
        return dense.reshape(kh, kw, g * cg, f)

    def dense_kernel_grad(self):
        """Where backward writes dL/d(dense kernel) (kh, kw, C, F): the gradient itself without groups."""
        if self.groups == 1:
            return self.grads["kernel"]
        (kh, kw, _, f), c = self.grads["kernel"].shape, self.input_shape[2]
        return self.scratch("dense_kernel_grad", (kh, kw, c, f))

    def diagonal_blocks(self, dense):
        """The inverse of `dense_kernel`: the (kh, kw, C/G, F) weights of the G diagonal blocks of `dense`."""
        (kh, kw, c, f), g = dense.shape, self.groups
        blocks = dense.reshape(kh, kw, g, c // g, g, f // g)[:, :, np.arange(g), :, np.arange(g), :]
        return blocks.transpose(1, 2, 3, 0, 4).reshape(kh, kw, c // g, f)

    # ----- the general path: dilation -----
    def dilated_patches(self, windows, start, stop):
        """The patches of images start..stop as a (rows, kh*kw*C) matrix, in a reused buffer."""
        (oh, ow, _), (kh, kw), c = self.output_shape, self.kernel_size, self.input_shape[2]
        patches = self.scratch("patches", (stop - start, oh, ow, kh, kw, c))
        np.copyto(patches, windows[start:stop])
        return patches.reshape(-1, kh * kw * c)

    def forward_general(self, padded):
        """Chunk by chunk: patches (rows, kh*kw*C) @ kernel (kh*kw*C, F), bias, activation; z as (N*OH*OW, F)."""
        n, (oh, ow, f) = len(padded), self.output_shape
        windows = patch_windows(padded, (oh, ow), self.kernel_size, self.strides, self.dilation_rate)
        kernel, out = self.dense_kernel().reshape(-1, f), np.empty((n * oh * ow, f), dtype=self.dtype)
        for start in range(0, n, self.chunk_size()):
            stop = min(start + self.chunk_size(), n)
            rows = out[start * oh * ow : stop * oh * ow]
            np.matmul(self.dilated_patches(windows, start, stop), kernel, out=rows)
            if self.use_bias:
                rows += self.params["bias"]
            self.activation.apply(rows, rows)
        return out

    def backward_general(self, grad):
        """Per chunk: dZ; dkernel += patchesᵀ @ dZ; dX_pad += col2im(dZ @ kernelᵀ). grad (N*OH*OW, F) -> dX."""
        (oh, ow, f), (kh, kw), (h, w, c) = self.output_shape, self.kernel_size, self.input_shape
        n = len(self.padded)
        windows = patch_windows(self.padded, (oh, ow), self.kernel_size, self.strides, self.dilation_rate)
        kernel, kernel_grad = self.dense_kernel().reshape(-1, f), self.dense_kernel_grad().reshape(-1, f)
        kernel_grad[...] = 0
        dx_pad = np.zeros(self.padded.shape, dtype=self.dtype) if self.needs_input_grad else None
        if self.use_bias:
            self.grads["bias"][...] = 0
        for start in range(0, n, self.chunk_size()):
            stop = min(start + self.chunk_size(), n)
            chunk = self.derivative_rows(grad, start, stop)  # (rows, F)
            patches = self.dilated_patches(windows, start, stop)
            kernel_grad += patches.T @ chunk
            if self.use_bias:
                self.grads["bias"] += self.ones(len(chunk)) @ chunk
            if dx_pad is not None:
                patch_grads = (chunk @ kernel.T).reshape(stop - start, oh, ow, kh, kw, c)
                add_patches(dx_pad[start:stop], patch_grads, self.strides, self.dilation_rate)
        if dx_pad is None:
            return None
        (top, _), (left, _) = self.pad_h, self.pad_w
        return np.ascontiguousarray(dx_pad[:, top : top + h, left : left + w])

    def get_config(self):
        return {
            **super().get_config(),
            "filters": self.filters,
            "groups": self.groups,
            **regularizers.config_of(
                kernel_regularizer=self.kernel_regularizer, bias_regularizer=self.bias_regularizer
            ),
        }
