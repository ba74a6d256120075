"""Conv2DTranspose as loops: every input pixel spreads its kernel over the output, then the crop.

For a kernel K (kh, kw, F, C) (F outputs, C inputs), bias b (F,), strides (sh, sw), dilation (dh, dw):

    full[n, i·sh + p·dh, j·sw + q·dw, f] += Σ_c x[n, i, j, c] · K[p, q, f, c]        (every i, j, p, q)
    y[n, u, v, f] = b[f] + full[n, u + top, v + left, f]

with (top, left) the rows and columns Keras's padding crops and `full` zero past its end (output
padding). Backward, with g = dL/dy and G = g put back into a zero array of full's size at (top, left):

    dL/db[f]         = Σ_{n, u, v} g[n, u, v, f]
    dL/dK[p, q, f, c] = Σ_{n, i, j} G[n, i·sh + p·dh, j·sw + q·dw, f] · x[n, i, j, c]
    dL/dx[n, i, j, c] = Σ_{p, q, f} G[n, i·sh + p·dh, j·sw + q·dw, f] · K[p, q, f, c]
"""

from __future__ import annotations

import numpy as np


def _geometry(x_shape, K_shape, strides, dilation, out_size, crop):
    """(rows, columns) of the zero array holding `full` and the output window past it."""
    _, h, w, _ = x_shape
    kh, kw, _, _ = K_shape
    (sh, sw), (dh, dw), (oh, ow), (top, left) = strides, dilation, out_size, crop
    return max((h - 1) * sh + (kh - 1) * dh + 1, top + oh), max((w - 1) * sw + (kw - 1) * dw + 1, left + ow)


def conv2d_transpose_forward(x, K, b, strides, dilation, out_size, crop):
    """y (N, OH, OW, F) of the equations above; `out_size` (OH, OW) and `crop` (top, left) as Keras sets them."""
    n, h, w, channels = x.shape
    kh, kw, filters, _ = K.shape
    (sh, sw), (dh, dw), (oh, ow), (top, left) = strides, dilation, out_size, crop
    full = np.zeros((n, *_geometry(x.shape, K.shape, strides, dilation, out_size, crop), filters), dtype=x.dtype)
    for s in range(n):
        for i in range(h):
            for j in range(w):
                for p in range(kh):
                    for q in range(kw):
                        for f in range(filters):
                            full[s, i * sh + p * dh, j * sw + q * dw, f] += np.sum(x[s, i, j, :] * K[p, q, f, :])
    y = np.zeros((n, oh, ow, filters), dtype=x.dtype)
    for s in range(n):
        for u in range(oh):
            for v in range(ow):
                for f in range(filters):
                    y[s, u, v, f] = b[f] + full[s, u + top, v + left, f]
    return y


def conv2d_transpose_backward(x, K, g, strides, dilation, crop):
    """dL/dx, dL/dK, dL/db of the transposed convolution above, given x, K and g = dL/dy."""
    n, h, w, channels = x.shape
    kh, kw, filters, _ = K.shape
    _, oh, ow, _ = g.shape
    (sh, sw), (dh, dw), (top, left) = strides, dilation, crop
    G = np.zeros((n, *_geometry(x.shape, K.shape, strides, dilation, (oh, ow), crop), filters), dtype=g.dtype)
    G[:, top : top + oh, left : left + ow, :] = g
    dx, dK, db = np.zeros_like(x), np.zeros_like(K), np.zeros(filters, dtype=K.dtype)
    for f in range(filters):
        db[f] = np.sum(g[:, :, :, f])
    for s in range(n):
        for i in range(h):
            for j in range(w):
                for p in range(kh):
                    for q in range(kw):
                        spread = G[s, i * sh + p * dh, j * sw + q * dw, :]  # (F,)
                        for c in range(channels):
                            dK[p, q, :, c] += spread * x[s, i, j, c]
                            dx[s, i, j, c] += np.sum(spread * K[p, q, :, c])
    return dx, dK, db
