"""Softmax, cross-entropy and ReLU as loops, with their gradients.

Softmax over the K classes of each sample (subtracting m_n = max_k z[n, k] changes nothing but
keeps exp from overflowing):

    p[n, k] = exp(z[n, k] − m_n) / Σ_j exp(z[n, j] − m_n)

Its Jacobian is dp[n, j]/dz[n, k] = p[n, j] · (δ_jk − p[n, k]), so with g = dL/dp:

    dL/dz[n, k] = Σ_j g[n, j] · p[n, j] · (δ_jk − p[n, k]) = p[n, k] · (g[n, k] − Σ_j g[n, j] · p[n, j])

Cross-entropy with one-hot (or soft) targets t (N, K), averaged over the batch:

    L = −(1/N) Σ_n Σ_k t[n, k] · log p[n, k]

Together the two simplify: dL/dz[n, k] = (p[n, k] · Σ_j t[n, j] − t[n, k]) / N, which is
(p − t) / N for one-hot rows. That is why minidl fuses a final softmax with the cross-entropy.

ReLU, element-wise: y = max(z, 0), dL/dz = g · [z > 0].
"""

from __future__ import annotations

import math

import numpy as np


def softmax(z):
    """p[n,k] = exp(z[n,k] − m_n) / Σ_j exp(z[n,j] − m_n) for z (N, K)."""
    n, classes = z.shape
    p = np.zeros_like(z)
    for s in range(n):
        m = max(z[s, j] for j in range(classes))
        total = sum(math.exp(z[s, j] - m) for j in range(classes))
        for k in range(classes):
            p[s, k] = math.exp(z[s, k] - m) / total
    return p


def softmax_backward(p, g):
    """dL/dz[n,k] = Σ_j g[n,j] · p[n,j] · (δ_jk − p[n,k]), from the softmax output p and g = dL/dp."""
    n, classes = p.shape
    dz = np.zeros_like(p)
    for s in range(n):
        for k in range(classes):
            dz[s, k] = sum(g[s, j] * p[s, j] * ((j == k) - p[s, k]) for j in range(classes))
    return dz


def cross_entropy(p, t):
    """L = −(1/N) Σ_n Σ_k t[n,k] · log p[n,k] for probabilities p and targets t, both (N, K)."""
    n, classes = p.shape
    return -sum(t[s, k] * math.log(p[s, k]) for s in range(n) for k in range(classes) if t[s, k] != 0) / n


def softmax_cross_entropy_backward(p, t):
    """dL/dz[n,k] = (p[n,k] · Σ_j t[n,j] − t[n,k]) / N: the gradient of softmax + cross-entropy with
    respect to the logits z (derived in the module docstring)."""
    n, classes = p.shape
    dz = np.zeros_like(p)
    for s in range(n):
        row_total = sum(t[s, j] for j in range(classes))
        for k in range(classes):
            dz[s, k] = (p[s, k] * row_total - t[s, k]) / n
    return dz


def relu_forward(z):
    """y = max(z, 0), element by element (one NumPy call: the equation is element-wise)."""
    return np.maximum(z, 0)


def relu_backward(z, g):
    """dL/dz = g · [z > 0], element by element."""
    return g * (z > 0)
