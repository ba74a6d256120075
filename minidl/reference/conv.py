"""Conv2D as loops: the convolution (cross-correlation, as in Keras) and its three gradients.

Forward, for a kernel W (kh, kw, C, F), bias b (F,), strides (sh, sw) and the zero-padded input xp:

    y[n, i, j, f] = b[f] + Σ_{p, q, c} xp[n, i·sh + p, j·sw + q, c] · W[p, q, c, f]

Backward, with g = dL/dy of shape (N, OH, OW, F); each output entry y[n, i, j, f] touched
W[p, q, c, f] and xp[n, i·sh + p, j·sw + q, c] once, so by the chain rule:

    dL/db[f]       = Σ_{n, i, j} g[n, i, j, f]
    dL/dW[p,q,c,f] = Σ_{n, i, j} g[n, i, j, f] · xp[n, i·sh + p, j·sw + q, c]
    dL/dxp[n, i·sh + p, j·sw + q, c] = Σ_{i, j, f reaching it} g[n, i, j, f] · W[p, q, c, f]

and dL/dx is dL/dxp with the padding cut off.

With a dilation (dh, dw) the kernel offset (p, q) reads xp[n, i·sh + p·dh, j·sw + q·dw, c]; with G
groups, filter f reads only the channels of its group g(f) = f // (F/G), and W is (kh, kw, C/G, F):

    y[n, i, j, f] = b[f] + Σ_{p, q, c < C/G} xp[n, i·sh + p·dh, j·sw + q·dw, g(f)·C/G + c] · W[p, q, c, f]
"""

from __future__ import annotations

import math

import numpy as np


def pad_same(h, w, kh, kw, sh, sw, padding, dh=1, dw=1):
    """Output size and (top, bottom, left, right) zero padding, as Keras computes them.

    "valid": no padding, OH = ⌊(H − kh') / sh⌋ + 1 with kh' = (kh − 1)·dh + 1 the dilated kernel's
    height. "same": OH = ⌈H / sh⌉ and the total padding (OH − 1)·sh + kh' − H is split with the odd
    pixel at the bottom (right).
    """
    kh, kw = (kh - 1) * dh + 1, (kw - 1) * dw + 1
    if padding == "valid":
        return (h - kh) // sh + 1, (w - kw) // sw + 1, (0, 0, 0, 0)
    if padding != "same":
        raise ValueError(f"padding must be 'valid' or 'same', got {padding!r}")
    oh, ow = math.ceil(h / sh), math.ceil(w / sw)
    pad_h, pad_w = max((oh - 1) * sh + kh - h, 0), max((ow - 1) * sw + kw - w, 0)
    return oh, ow, (pad_h // 2, pad_h - pad_h // 2, pad_w // 2, pad_w - pad_w // 2)


def zero_pad(x, pads):
    """x (N, H, W, C) with pads = (top, bottom, left, right) rows and columns of zeros around it."""
    top, bottom, left, right = pads
    n, h, w, c = x.shape
    xp = np.zeros((n, h + top + bottom, w + left + right, c), dtype=x.dtype)
    xp[:, top : top + h, left : left + w, :] = x
    return xp


def conv2d_forward(x, W, b, strides=(1, 1), padding="valid", dilation=(1, 1), groups=1):
    """y[n,i,j,f] = b[f] + Σ_{p,q,c} xp[n, i·sh+p·dh, j·sw+q·dw, g(f)·C/G+c] · W[p,q,c,f]; y (N, OH, OW, F)."""
    n, h, w, _ = x.shape
    kh, kw, group_channels, filters = W.shape
    (sh, sw), (dh, dw) = strides, dilation
    oh, ow, pads = pad_same(h, w, kh, kw, sh, sw, padding, dh, dw)
    xp = zero_pad(x, pads)
    y = np.zeros((n, oh, ow, filters), dtype=x.dtype)
    for s in range(n):
        for i in range(oh):
            for j in range(ow):
                for f in range(filters):
                    first = f // (filters // groups) * group_channels  # the first channel of f's group
                    # (kh, kw, C/G): the p, q, c of Σ
                    window = xp[s, i * sh : i * sh + (kh - 1) * dh + 1 : dh, j * sw : j * sw + (kw - 1) * dw + 1 : dw]
                    y[s, i, j, f] = b[f] + np.sum(window[:, :, first : first + group_channels] * W[:, :, :, f])
    return y


def conv2d_backward(x, W, g, strides=(1, 1), padding="valid", dilation=(1, 1), groups=1):
    """dL/dx, dL/dW, dL/db of the convolution above, given x, W and g = dL/dy (N, OH, OW, F)."""
    n, h, w, _ = x.shape
    kh, kw, group_channels, filters = W.shape
    (sh, sw), (dh, dw) = strides, dilation
    oh, ow, pads = pad_same(h, w, kh, kw, sh, sw, padding, dh, dw)
    top, left = pads[0], pads[2]
    xp = zero_pad(x, pads)
    dxp, dW, db = np.zeros_like(xp), np.zeros_like(W), np.zeros(filters, dtype=W.dtype)
    for s in range(n):
        for i in range(oh):
            for j in range(ow):
                rows = slice(i * sh, i * sh + (kh - 1) * dh + 1, dh)
                cols = slice(j * sw, j * sw + (kw - 1) * dw + 1, dw)
                for f in range(filters):
                    first = f // (filters // groups) * group_channels
                    channels = slice(first, first + group_channels)
                    db[f] += g[s, i, j, f]
                    dW[:, :, :, f] += g[s, i, j, f] * xp[s, rows, cols, channels]
                    dxp[s, rows, cols, channels] += g[s, i, j, f] * W[:, :, :, f]
    return dxp[:, top : top + h, left : left + w, :], dW, db


def conv1d_pads(steps, k, stride, dilation, padding):
    """Output length and (left, right) zero padding of a 1-D convolution whose kernel spans d·(k − 1) + 1 steps.

    "valid": none; "same": OT = ⌈T / s⌉, the odd step on the right; "causal": all d·(k − 1) on the left.
    """
    span = dilation * (k - 1) + 1
    if padding == "causal":
        pads = (span - 1, 0)
    elif padding == "same":
        total = max((math.ceil(steps / stride) - 1) * stride + span - steps, 0)
        pads = (total // 2, total - total // 2)
    else:
        pads = (0, 0)
    return (steps + pads[0] + pads[1] - span) // stride + 1, pads


def _padded1d(x, k, stride, dilation, padding):
    """(output length, x zero-padded on the time axis) of a 1-D convolution."""
    steps = x.shape[1]
    out, (left, right) = conv1d_pads(steps, k, stride, dilation, padding)
    xp = np.zeros((len(x), steps + left + right, x.shape[2]), dtype=x.dtype)
    xp[:, left : left + steps] = x
    return out, xp


def conv1d_forward(x, W, b, stride=1, padding="valid", dilation=1, groups=1):
    """y[n,t,f] = b[f] + Σ_{j,c'} xp[n, t·s + j·d, g·Cg + c'] · W[j,c',f], g = f // (F/G); y (N, OT, F)."""
    n, steps, _ = x.shape
    k, per_group, filters = W.shape
    out, xp = _padded1d(x, k, stride, dilation, padding)
    y = np.zeros((n, out, filters), dtype=x.dtype)
    for s in range(n):
        for t in range(out):
            for f in range(filters):
                g = f // (filters // groups)
                total = b[f]
                for j in range(k):
                    for c in range(per_group):
                        total += xp[s, t * stride + j * dilation, g * per_group + c] * W[j, c, f]
                y[s, t, f] = total
    return y


def conv1d_backward(x, W, g, stride=1, padding="valid", dilation=1, groups=1):
    """dL/dx, dL/dW, dL/db of `conv1d_forward`, given g = dL/dy (N, OT, F): each product above, by the chain rule."""
    n, steps, _ = x.shape
    k, per_group, filters = W.shape
    out, xp = _padded1d(x, k, stride, dilation, padding)
    left = conv1d_pads(steps, k, stride, dilation, padding)[1][0]
    dxp, dW, db = np.zeros_like(xp), np.zeros_like(W), np.zeros(filters, dtype=W.dtype)
    for s in range(n):
        for t in range(out):
            for f in range(filters):
                group = f // (filters // groups)
                db[f] += g[s, t, f]
                for j in range(k):
                    for c in range(per_group):
                        step, channel = t * stride + j * dilation, group * per_group + c
                        dW[j, c, f] += g[s, t, f] * xp[s, step, channel]
                        dxp[s, step, channel] += g[s, t, f] * W[j, c, f]
    return dxp[:, left : left + steps], dW, db
