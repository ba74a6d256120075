"""DepthwiseConv2D and SeparableConv2D as loops.

Depthwise, for a kernel K (kh, kw, C, M) (M = depth_multiplier), bias b (C·M,), strides (sh, sw),
dilation (dh, dw) and the zero-padded input xp: each channel c is convolved with its own M kernels,

    y[n, i, j, c·M + m] = b[c·M + m] + Σ_{p, q} xp[n, i·sh + p·dh, j·sw + q·dw, c] · K[p, q, c, m]

Backward, with g = dL/dy (N, OH, OW, C·M):

    dL/db[c·M + m]   = Σ_{n, i, j} g[n, i, j, c·M + m]
    dL/dK[p, q, c, m] = Σ_{n, i, j} g[n, i, j, c·M + m] · xp[n, i·sh + p·dh, j·sw + q·dw, c]
    dL/dxp[n, i·sh + p·dh, j·sw + q·dw, c] += g[n, i, j, c·M + m] · K[p, q, c, m]   (every i, j, m)

Separable: the depthwise output d (without bias) then a pointwise kernel P (1, 1, C·M, F) and bias:

    y[n, i, j, f] = b[f] + Σ_k d[n, i, j, k] · P[0, 0, k, f]
"""

from __future__ import annotations

import numpy as np

from .conv import pad_same, zero_pad


def depthwise_conv2d_forward(x, K, b, strides=(1, 1), padding="valid", dilation=(1, 1)):
    """y[n,i,j,c·M+m] = b[c·M+m] + Σ_{p,q} xp[n, i·sh+p·dh, j·sw+q·dw, c] · K[p,q,c,m]; y (N, OH, OW, C·M)."""
    n, h, w, channels = x.shape
    kh, kw, _, multiplier = K.shape
    (sh, sw), (dh, dw) = strides, dilation
    oh, ow, pads = pad_same(h, w, kh, kw, sh, sw, padding, dh, dw)
    xp = zero_pad(x, pads)
    y = np.zeros((n, oh, ow, channels * multiplier), dtype=x.dtype)
    for s in range(n):
        for i in range(oh):
            for j in range(ow):
                rows = slice(i * sh, i * sh + (kh - 1) * dh + 1, dh)
                cols = slice(j * sw, j * sw + (kw - 1) * dw + 1, dw)
                for c in range(channels):
                    for m in range(multiplier):
                        k = c * multiplier + m
                        y[s, i, j, k] = b[k] + np.sum(xp[s, rows, cols, c] * K[:, :, c, m])
    return y


def depthwise_conv2d_backward(x, K, g, strides=(1, 1), padding="valid", dilation=(1, 1)):
    """dL/dx, dL/dK, dL/db of the depthwise convolution above, given x, K and g = dL/dy."""
    n, h, w, channels = x.shape
    kh, kw, _, multiplier = K.shape
    (sh, sw), (dh, dw) = strides, dilation
    oh, ow, pads = pad_same(h, w, kh, kw, sh, sw, padding, dh, dw)
    xp = zero_pad(x, pads)
    dxp, dK, db = np.zeros_like(xp), np.zeros_like(K), np.zeros(channels * multiplier, dtype=K.dtype)
    for s in range(n):
        for i in range(oh):
            for j in range(ow):
                rows = slice(i * sh, i * sh + (kh - 1) * dh + 1, dh)
                cols = slice(j * sw, j * sw + (kw - 1) * dw + 1, dw)
                for c in range(channels):
                    for m in range(multiplier):
                        k = c * multiplier + m
                        db[k] += g[s, i, j, k]
                        dK[:, :, c, m] += g[s, i, j, k] * xp[s, rows, cols, c]
                        dxp[s, rows, cols, c] += g[s, i, j, k] * K[:, :, c, m]
    top, left = pads[0], pads[2]
    return dxp[:, top : top + h, left : left + w, :], dK, db


def separable_conv2d_forward(x, K, P, b, strides=(1, 1), padding="valid", dilation=(1, 1)):
    """The depthwise loops (no bias), then y[n,i,j,f] = b[f] + Σ_k d[n,i,j,k] · P[0,0,k,f]."""
    d = depthwise_conv2d_forward(x, K, np.zeros(K.shape[2] * K.shape[3], x.dtype), strides, padding, dilation)
    n, oh, ow, _ = d.shape
    filters = P.shape[3]
    y = np.zeros((n, oh, ow, filters), dtype=x.dtype)
    for s in range(n):
        for i in range(oh):
            for j in range(ow):
                for f in range(filters):
                    y[s, i, j, f] = b[f] + np.sum(d[s, i, j, :] * P[0, 0, :, f])
    return y


def separable_conv2d_backward(x, K, P, g, strides=(1, 1), padding="valid", dilation=(1, 1)):
    """dL/dx, dL/dK, dL/dP, dL/db: the pointwise gradients by loops, then the depthwise loops on dL/dd."""
    d = depthwise_conv2d_forward(x, K, np.zeros(K.shape[2] * K.shape[3], x.dtype), strides, padding, dilation)
    n, oh, ow, depth = d.shape
    filters = P.shape[3]
    dP, db, dd = np.zeros_like(P), np.zeros(filters, dtype=P.dtype), np.zeros_like(d)
    for s in range(n):
        for i in range(oh):
            for j in range(ow):
                for f in range(filters):
                    db[f] += g[s, i, j, f]
                    dP[0, 0, :, f] += g[s, i, j, f] * d[s, i, j, :]
                    dd[s, i, j, :] += g[s, i, j, f] * P[0, 0, :, f]
    dx, dK, _ = depthwise_conv2d_backward(x, K, dd, strides, padding, dilation)
    return dx, dK, dP, db
