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


def _output_size(x, pool, strides):
    (ph, pw), (sh, sw) = pool, strides
    return (x.shape[1] - ph) // sh + 1, (x.shape[2] - pw) // sw + 1


def max_pool_forward(x, pool=(2, 2), strides=None):
    """y[n,i,j,c] = max over the window of x; returns y (N, OH, OW, C)."""
    strides = strides or pool
    (ph, pw), (sh, sw) = pool, strides
    oh, ow = _output_size(x, pool, strides)
    n, _, _, channels = x.shape
    y = np.zeros((n, oh, ow, channels), dtype=x.dtype)
    for s in range(n):
        for i in range(oh):
            for j in range(ow):
                for c in range(channels):
                    y[s, i, j, c] = np.max(x[s, i * sh : i * sh + ph, j * sw : j * sw + pw, c])
    return y


def max_pool_backward(x, g, pool=(2, 2), strides=None):
    """dL/dx: each g[n,i,j,c] goes to the (first) maximal input of its window."""
    strides = strides or pool
    (ph, pw), (sh, sw) = pool, strides
    oh, ow = _output_size(x, pool, strides)
    n, _, _, channels = x.shape
    dx = np.zeros_like(x)
    for s in range(n):
        for i in range(oh):
            for j in range(ow):
                for c in range(channels):
                    window = x[s, i * sh : i * sh + ph, j * sw : j * sw + pw, c]
                    p, q = np.unravel_index(np.argmax(window), window.shape)  # argmax: first maximum
                    dx[s, i * sh + p, j * sw + q, c] += g[s, i, j, c]
    return dx


def avg_pool_forward(x, pool=(2, 2), strides=None):
    """y[n,i,j,c] = mean of x over the window; returns y (N, OH, OW, C)."""
    strides = strides or pool
    (ph, pw), (sh, sw) = pool, strides
    oh, ow = _output_size(x, pool, strides)
    n, _, _, channels = x.shape
    y = np.zeros((n, oh, ow, channels), dtype=x.dtype)
    for s in range(n):
        for i in range(oh):
            for j in range(ow):
                for c in range(channels):
                    y[s, i, j, c] = np.sum(x[s, i * sh : i * sh + ph, j * sw : j * sw + pw, c]) / (ph * pw)
    return y


def avg_pool_backward(x, g, pool=(2, 2), strides=None):
    """dL/dx: each g[n,i,j,c] is shared equally, g / (ph·pw), by the inputs of its window."""
    strides = strides or pool
    (ph, pw), (sh, sw) = pool, strides
    oh, ow = _output_size(x, pool, strides)
    n, _, _, channels = x.shape
    dx = np.zeros_like(x)
    for s in range(n):
        for i in range(oh):
            for j in range(ow):
                for c in range(channels):
                    dx[s, i * sh : i * sh + ph, j * sw : j * sw + pw, c] += g[s, i, j, c] / (ph * pw)
    return dx
