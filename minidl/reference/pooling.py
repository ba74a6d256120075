"""Max and average pooling as loops ("valid" windows of ph × pw moved by strides sh, sw).

    max:      y[n, i, j, c] = max_{p < ph, q < pw} x[n, i·sh + p, j·sw + q, c]
    average:  y[n, i, j, c] = 1/(ph·pw) · Σ_{p, q} x[n, i·sh + p, j·sw + q, c]

Backward, with g = dL/dy:

    max:      dL/dx[n, i·sh + p*, j·sw + q*, c] += g[n, i, j, c]   where (p*, q*) is the position of the
              maximum in the window (the first one in row-major order if several are equal);
              every other input of the window gets nothing from this output
    average:  dL/dx[n, i·sh + p, j·sw + q, c] += g[n, i, j, c] / (ph·pw)   for every p, q

"+=" because windows that overlap (strides smaller than the pool) share inputs.
"""

from __future__ import annotations

import numpy as np


def _windows(x, pool, strides):
    """Every output entry (n, i, j, c) of a pooling of x, with the rows and columns of its window."""
    strides = strides or pool
    (ph, pw), (sh, sw) = pool, strides
    n, h, w, channels = x.shape
    oh, ow = (h - ph) // sh + 1, (w - pw) // sw + 1
    for s in range(n):
        for i in range(oh):
            for j in range(ow):
                for c in range(channels):
                    yield (s, i, j, c), slice(i * sh, i * sh + ph), slice(j * sw, j * sw + pw)


def _output(x, pool, strides):
    strides = strides or pool
    oh, ow = (x.shape[1] - pool[0]) // strides[0] + 1, (x.shape[2] - pool[1]) // strides[1] + 1
    return np.zeros((len(x), oh, ow, x.shape[3]), dtype=x.dtype)


def max_pool_forward(x, pool=(2, 2), strides=None):
    """y[n,i,j,c] = max over the window of x; returns y (N, OH, OW, C)."""
    y = _output(x, pool, strides)
    for (s, i, j, c), rows, cols in _windows(x, pool, strides):
        y[s, i, j, c] = np.max(x[s, rows, cols, c])
    return y


def max_pool_backward(x, g, pool=(2, 2), strides=None):
    """dL/dx: each g[n,i,j,c] goes to the (first) maximal input of its window."""
    dx = np.zeros_like(x)
    for (s, i, j, c), rows, cols in _windows(x, pool, strides):
        window = x[s, rows, cols, c]
        p, q = np.unravel_index(np.argmax(window), window.shape)  # argmax: the first maximum
        dx[s, rows.start + p, cols.start + q, c] += g[s, i, j, c]
    return dx


def avg_pool_forward(x, pool=(2, 2), strides=None):
    """y[n,i,j,c] = mean of x over the window; returns y (N, OH, OW, C)."""
    y = _output(x, pool, strides)
    for (s, i, j, c), rows, cols in _windows(x, pool, strides):
        y[s, i, j, c] = np.sum(x[s, rows, cols, c]) / (pool[0] * pool[1])
    return y


def avg_pool_backward(x, g, pool=(2, 2), strides=None):
    """dL/dx: each g[n,i,j,c] is shared equally, g / (ph·pw), by the inputs of its window."""
    dx = np.zeros_like(x)
    for (s, i, j, c), rows, cols in _windows(x, pool, strides):
        dx[s, rows, cols, c] += g[s, i, j, c] / (pool[0] * pool[1])
    return dx


def global_max_pool_forward(x):
    """y[n, c] = max over every pixel (i, j) of x[n, i, j, c]; returns y (N, C)."""
    n, _, _, channels = x.shape
    y = np.zeros((n, channels), dtype=x.dtype)
    for s in range(n):
        for c in range(channels):
            y[s, c] = np.max(x[s, :, :, c])
    return y


def global_max_pool_backward(x, g):
    """dL/dx: each g[n, c] goes to the (first, row-major) maximal pixel of channel c."""
    dx = np.zeros_like(x)
    for s in range(len(x)):
        for c in range(x.shape[3]):
            i, j = np.unravel_index(np.argmax(x[s, :, :, c]), x.shape[1:3])
            dx[s, i, j, c] += g[s, c]
    return dx
