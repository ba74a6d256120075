"""Conv1D: convolution along the time axis of channels-last sequences (N, steps, channels)."""

from __future__ import annotations

import math

import numpy as np
from numpy.lib.stride_tricks import as_strided

from ..errors import ShapeError
from ..utils import checks
from . import activations
from .base import Layer


def conv1d_padding(steps, kernel, stride, dilation, padding):
    """(output steps, (left, right) zero padding) of a 1-D convolution, as Keras computes them.

    The kernel spans `dilation·(kernel − 1) + 1` steps. "valid": no padding; "same": ceil(steps /
    stride) outputs, the odd padded step on the right; "causal": dilation·(kernel − 1) steps on the
    left only, so output t sees inputs up to t and no further.
    """
    span = dilation * (kernel - 1) + 1
    if padding == "causal":
        left, right = span - 1, 0
    elif padding == "same":
        total = max((math.ceil(steps / stride) - 1) * stride + span - steps, 0)
        left, right = total // 2, total - total // 2
    else:
        left = right = 0
    return (steps + left + right - span) // stride + 1, (left, right)


class Conv1D(Layer):
    """1-D convolution: kernel (k, C/groups, F), bias (F,); x (N, T, C) -> y (N, OT, F).

    With xp the input zero-padded on the time axis, s the stride, d the dilation and, for groups G,
    group g = f // (F/G) reading the channels c' of its own slice of C/G:

        forward:   z[n, t, f] = b[f] + Σ_{j<k} Σ_{c'} xp[n, t·s + j·d, g·C/G + c'] · K[j, c', f],   y = act(z)
        backward:  dZ = dY ⊙ act'(z)
                   dK[j, c', f] = Σ_{n, t} dZ[n, t, f] · xp[n, t·s + j·d, g·C/G + c']
                   db[f]        = Σ_{n, t} dZ[n, t, f]
                   dxp[n, t·s + j·d, g·C/G + c'] += Σ_{f in group g} dZ[n, t, f] · K[j, c', f]

    Computed as matrix products: the k windowed steps under each output form the rows of a patch
    matrix (N·OT, k·C) (one strided copy), so z = patches @ K (per group: one batched product), dK =
    patchesᵀ @ dZ, and the patch gradient dZ @ Kᵀ is added back to the input with one slice-add per
    kernel tap (k adds, each over the whole batch). minidl/reference/conv.py writes the same loops out.
    """

    takes_unknown_dims = True

    def __init__(
        self,
        filters,
        kernel_size,
        strides=1,
        padding="valid",
        data_format=None,
        dilation_rate=1,
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
        super().__init__(name=name, input_shape=input_shape, **kwargs)
        self.filters = checks.positive_int(filters, "Conv1D: filters")
        self.kernel_size = checks.single_int(kernel_size, "Conv1D: kernel_size")
        self.strides = checks.single_int(strides, "Conv1D: strides")
        self.dilation_rate = checks.single_int(dilation_rate, "Conv1D: dilation_rate")
        self.padding = checks.one_of(str(padding).lower(), "Conv1D: padding", ("valid", "same", "causal"))
        self.data_format = checks.channels_last(data_format, "Conv1D")
        self.groups = checks.positive_int(groups, "Conv1D: groups")
        if self.filters % self.groups:
            raise ValueError(f"Conv1D: filters ({self.filters}) must be a multiple of groups ({self.groups})")
        if self.strides > 1 and self.dilation_rate > 1:
            raise ValueError("Conv1D: strides > 1 cannot be combined with dilation_rate > 1 (as in Keras)")
        self.use_bias = checks.flag(use_bias, "Conv1D: use_bias")
        self.activation = activations.get(activation, inplace=True)
        self.kernel_initializer, self.bias_initializer = kernel_initializer, bias_initializer
        for value, argument in (
            (kernel_regularizer, "kernel_regularizer"),
            (bias_regularizer, "bias_regularizer"),
            (activity_regularizer, "activity_regularizer"),
            (kernel_constraint, "kernel_constraint"),
            (bias_constraint, "bias_constraint"),
        ):
            checks.not_supported(value, f"Conv1D: {argument}")

    def compute_output_shape(self, input_shape):
        if len(input_shape) != 2 or input_shape[1] is None:
            raise ShapeError(f"layer {self.name!r} (Conv1D) needs sequences (steps, channels), got {input_shape}")
        steps, channels = input_shape
        if channels % self.groups:
            raise ShapeError(
                f"layer {self.name!r} (Conv1D): {channels} input channels are not a multiple of groups={self.groups}"
            )
        if steps is None:
            return (None, self.filters)
        return (self.output_steps(steps), self.filters)

    def output_steps(self, steps):
        """Output length for `steps` input steps, or a ShapeError when the kernel does not fit."""
        out, _ = conv1d_padding(steps, self.kernel_size, self.strides, self.dilation_rate, self.padding)
        if out < 1:
            raise ShapeError(
                f"layer {self.name!r} (Conv1D): kernel {self.kernel_size} (dilation {self.dilation_rate}) "
                f"does not fit {steps} steps with padding={self.padding!r}"
            )
        return out

    def build(self, input_shape):
        k, per_group = self.kernel_size, input_shape[1] // self.groups
        self.add_weight(name="kernel", shape=(k, per_group, self.filters), initializer=self.kernel_initializer)
        if self.use_bias:
            self.add_weight(name="bias", shape=(self.filters,), initializer=self.bias_initializer)
        self.activation.build_weights(self.output_shape, dtype=self.dtype)

    def patches(self, x):
        """(padded input, patches): patches[(n, t), (j, c)] = xp[n, t·s + j·d, c], one copy, (N·OT, k·C)."""
        n, steps, c = x.shape
        out, (left, right) = conv1d_padding(steps, self.kernel_size, self.strides, self.dilation_rate, self.padding)
        self.output_steps(steps)
        xp = x
        if left or right:
            xp = np.zeros((n, steps + left + right, c), dtype=x.dtype)
            xp[:, left : left + steps] = x
        s_n, s_t, s_c = xp.strides
        windows = as_strided(
            xp,
            (n, out, self.kernel_size, c),
            (s_n, s_t * self.strides, s_t * self.dilation_rate, s_c),
            writeable=False,
        )
        return windows.reshape(n * out, self.kernel_size * c), out

    def grouped(self, patches):
        """Patches (rows, k·C) as (G, rows, k·C/G): group g's own channels of every tap."""
        g, k = self.groups, self.kernel_size
        rows = len(patches)
        return np.ascontiguousarray(patches.reshape(rows, k, g, -1).transpose(2, 0, 1, 3)).reshape(g, rows, -1)

    def grouped_kernel(self, kernel):
        """The kernel (k, C/G, F) as (G, k·C/G, F/G): group g's filters over its channels."""
        k, per_group, f = kernel.shape
        return (
            kernel.reshape(k, per_group, self.groups, f // self.groups)
            .transpose(2, 0, 1, 3)
            .reshape(self.groups, k * per_group, -1)
        )

    def forward(self, x, training=False):
        self.check_input(x)
        patches, out_steps = self.patches(x)
        kernel = self.params["kernel"]
        if self.groups == 1:
            z = patches @ kernel.reshape(-1, self.filters)
        else:  # one batched product over the groups: (G, rows, k·C/G) @ (G, k·C/G, F/G)
            z = np.matmul(self.grouped(patches), self.grouped_kernel(kernel))
            z = z.transpose(1, 0, 2).reshape(len(patches), self.filters)
        if self.use_bias:
            z += self.params["bias"]
        y = self.activation.forward(z, training)
        if training:
            self.patches_seen, self.input_steps = patches, x.shape[1]
        return y.reshape(len(x), out_steps, self.filters)

    def backward(self, grad):
        n, out_steps, f = grad.shape
        grad = self.activation.backward(grad.reshape(-1, f))
        k, (per_group, groups) = self.kernel_size, (self.params["kernel"].shape[1], self.groups)
        if self.use_bias:
            self.grads["bias"][...] = grad.sum(axis=0)
        if groups == 1:
            np.matmul(self.patches_seen.T, grad, out=self.grads["kernel"].reshape(-1, f))
        else:
            by_group = grad.reshape(-1, groups, f // groups).transpose(1, 0, 2)  # (G, rows, F/G)
            grouped = np.matmul(self.grouped(self.patches_seen).transpose(0, 2, 1), by_group)  # (G, k·C/G, F/G)
            self.grads["kernel"][...] = (
                grouped.reshape(groups, k, per_group, f // groups).transpose(1, 2, 0, 3).reshape(k, per_group, f)
            )
        if not self.needs_input_grad:
            return None
        if groups == 1:
            patch_grad = grad @ self.params["kernel"].reshape(-1, f).T  # (rows, k·C)
        else:
            grouped = np.matmul(by_group, self.grouped_kernel(self.params["kernel"]).transpose(0, 2, 1))
            patch_grad = grouped.reshape(groups, -1, k, per_group).transpose(1, 2, 0, 3)  # (rows, k, G, C/G)
        patch_grad = patch_grad.reshape(n, out_steps, k, -1)
        steps = self.input_steps
        _, (left, right) = conv1d_padding(steps, k, self.strides, self.dilation_rate, self.padding)
        dxp = np.zeros((n, steps + left + right, patch_grad.shape[-1]), dtype=grad.dtype)
        last = self.strides * (out_steps - 1) + 1
        for j in range(k):  # one slice-add per kernel tap, each over every sample and output step
            start = j * self.dilation_rate
            dxp[:, start : start + last : self.strides] += patch_grad[:, :, j]
        return dxp[:, left : left + steps]

    def get_config(self):
        return {
            **super().get_config(),
            "filters": self.filters,
            "kernel_size": self.kernel_size,
            "strides": self.strides,
            "padding": self.padding,
            "dilation_rate": self.dilation_rate,
            "groups": self.groups,
            "activation": activations.name_of(self.activation),
            "use_bias": self.use_bias,
        }


Convolution1D = Conv1D
