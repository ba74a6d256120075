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
