"""Dense as loops: y = x W + b and its three gradients.

Forward, for x (N, I), kernel W (I, K) and bias b (K,):

    y[n, k] = b[k] + Σ_i x[n, i] · W[i, k]

Backward, with g = dL/dy (N, K):

    dL/db[k]    = Σ_n g[n, k]
    dL/dW[i, k] = Σ_n x[n, i] · g[n, k]
    dL/dx[n, i] = Σ_k g[n, k] · W[i, k]
"""

from __future__ import annotations

import numpy as np


def dense_forward(x, W, b):
    """y[n,k] = b[k] + Σ_i x[n,i] · W[i,k]; returns y (N, K)."""
    n, units = len(x), W.shape[1]
    y = np.zeros((n, units), dtype=x.dtype)
    for s in range(n):
        for k in range(units):
            y[s, k] = b[k] + np.sum(x[s, :] * W[:, k])
    return y


def dense_backward(x, W, g):
    """dL/dx (N, I), dL/dW (I, K), dL/db (K,) given x, W and g = dL/dy."""
    n, (inputs, units) = len(x), W.shape
    dx, dW, db = np.zeros_like(x), np.zeros_like(W), np.zeros(units, dtype=W.dtype)
    for k in range(units):
        db[k] = np.sum(g[:, k])
        for i in range(inputs):
            dW[i, k] = np.sum(x[:, i] * g[:, k])
    for s in range(n):
        for i in range(inputs):
            dx[s, i] = np.sum(g[s, :] * W[i, :])
    return dx, dW, db
