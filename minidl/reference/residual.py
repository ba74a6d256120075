"""A residual block as loops: y = relu(x + W₂ relu(W₁ x + b₁) + b₂), and its backward.

The block of a ResNet on feature vectors (N, D): two Dense layers of width D and a *skip connection*
adding the input back. Forward, per sample n and feature d (h the hidden activations):

    a[n, j] = b₁[j] + Σ_i x[n, i] · W₁[i, j]          h[n, j] = max(a[n, j], 0)
    z[n, d] = b₂[d] + Σ_j h[n, j] · W₂[j, d]          s[n, d] = x[n, d] + z[n, d]
    y[n, d] = max(s[n, d], 0)

Backward, with g = dL/dy (N, D). The skip connection is a fan-out: x feeds both the first Dense and
the sum, so dL/dx is the *sum* of the two paths' gradients — the gradient flows back undamped
through the identity path, which is why deep residual networks train.

    ds[n, d]  = g[n, d] · [s[n, d] > 0]
    dW₂[j, d] = Σ_n h[n, j] · ds[n, d]                db₂[d] = Σ_n ds[n, d]
    da[n, j]  = [a[n, j] > 0] · Σ_d ds[n, d] · W₂[j, d]
    dW₁[i, j] = Σ_n x[n, i] · da[n, j]                db₁[j] = Σ_n da[n, j]
    dx[n, i]  = ds[n, i]  +  Σ_j da[n, j] · W₁[i, j]      (identity path + Dense path)
"""

from __future__ import annotations

import numpy as np


def residual_forward(x, W1, b1, W2, b2):
    """y (N, D) and the intermediates (a, h, s) the backward needs."""
    n, d = x.shape
    width = W1.shape[1]
    a, h = np.zeros((n, width), x.dtype), np.zeros((n, width), x.dtype)
    s, y = np.zeros((n, d), x.dtype), np.zeros((n, d), x.dtype)
    for p in range(n):
        for j in range(width):
            a[p, j] = b1[j] + np.sum(x[p, :] * W1[:, j])
            h[p, j] = max(a[p, j], 0.0)
        for k in range(d):
            s[p, k] = x[p, k] + b2[k] + np.sum(h[p, :] * W2[:, k])
            y[p, k] = max(s[p, k], 0.0)
    return y, (a, h, s)


def residual_backward(x, W1, W2, cache, g):
    """dL/dx, dL/dW₁, dL/db₁, dL/dW₂, dL/db₂ given the forward's intermediates and g = dL/dy."""
    a, h, s = cache
    n, d = x.shape
    width = W1.shape[1]
    ds = np.zeros_like(s)
    for p in range(n):
        for k in range(d):
            ds[p, k] = g[p, k] if s[p, k] > 0 else 0.0
    dW2, db2 = np.zeros_like(W2), np.zeros(d, x.dtype)
    for j in range(width):
        for k in range(d):
            dW2[j, k] = np.sum(h[:, j] * ds[:, k])
    for k in range(d):
        db2[k] = np.sum(ds[:, k])
    da = np.zeros_like(a)
    for p in range(n):
        for j in range(width):
            da[p, j] = np.sum(ds[p, :] * W2[j, :]) if a[p, j] > 0 else 0.0
    dW1, db1 = np.zeros_like(W1), np.zeros(width, x.dtype)
    for i in range(d):
        for j in range(width):
            dW1[i, j] = np.sum(x[:, i] * da[:, j])
    for j in range(width):
        db1[j] = np.sum(da[:, j])
    dx = np.zeros_like(x)
    for p in range(n):
        for i in range(d):
            dx[p, i] = ds[p, i] + np.sum(da[p, :] * W1[i, :])
    return dx, dW1, db1, dW2, db2
