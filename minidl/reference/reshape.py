"""Reshape, Permute, RepeatVector, Cropping2D and UpSampling2D as loops: where each output number comes from.

None of them computes anything: each output entry is one input entry (or, for bilinear upsampling,
a weighted sum of four), so the backward pass sends each output's gradient back to where it came from.

    Reshape:       y[n][o] = x[n][unravel(ravel(o, out_shape), in_shape)]
    Permute:       y[n, i_d1, ..., i_dk] = x[n, i_1, ..., i_k]        (dims d1..dk, 1-based)
    RepeatVector:  y[n, t, f] = x[n, f]                                dL/dx[n, f] = Σ_t g[n, t, f]
    Cropping2D:    y[n, i, j, c] = x[n, i + top, j + left, c]
    UpSampling2D:  nearest   y[n, u, v, c] = x[n, u // sh, v // sw, c]
                   bilinear  y[n, u, v, c] = Σ_{a, b} wr[u, a] · wc[v, b] · x[n, a, b, c], the weights of
                             the two rows (columns) around the source row s = clip((u + ½)/sh − ½, 0, H − 1)
and every backward pass is `+=` of g into the same places (with the same weights).
"""

from __future__ import annotations

import itertools
import math

import numpy as np


def reshape_forward(x, target_shape):
    """y (N, *target_shape): output entry o takes the input entry at the same row-major position."""
    n, in_shape = len(x), x.shape[1:]
    y = np.zeros((n, *target_shape), dtype=x.dtype)
    for s in range(n):
        for o in itertools.product(*map(range, target_shape)):
            y[(s, *o)] = x[(s, *np.unravel_index(np.ravel_multi_index(o, target_shape), in_shape))]
    return y


def reshape_backward(x, g):
    """dL/dx: g's entries back at the input positions they came from."""
    n, in_shape, out_shape = len(x), x.shape[1:], g.shape[1:]
    dx = np.zeros_like(x)
    for s in range(n):
        for o in itertools.product(*map(range, out_shape)):
            dx[(s, *np.unravel_index(np.ravel_multi_index(o, out_shape), in_shape))] += g[(s, *o)]
    return dx


def permute_forward(x, dims):
    """y[n, o] = x[n, i] where i[dims[k] − 1] = o[k]."""
    n, in_shape = len(x), x.shape[1:]
    out_shape = tuple(in_shape[d - 1] for d in dims)
    y = np.zeros((n, *out_shape), dtype=x.dtype)
    for s in range(n):
        for o in itertools.product(*map(range, out_shape)):
            i = [0] * len(dims)
            for k, d in enumerate(dims):
                i[d - 1] = o[k]
            y[(s, *o)] = x[(s, *i)]
    return y


def permute_backward(x, g, dims):
    """dL/dx[n, i] = g[n, o] for the same pairs (i, o)."""
    dx = np.zeros_like(x)
    for s in range(len(x)):
        for o in itertools.product(*map(range, g.shape[1:])):
            i = [0] * len(dims)
            for k, d in enumerate(dims):
                i[d - 1] = o[k]
            dx[(s, *i)] += g[(s, *o)]
    return dx


def repeat_vector_forward(x, n_repeats):
    """y[n, t, f] = x[n, f] for t < n_repeats."""
    y = np.zeros((len(x), n_repeats, x.shape[1]), dtype=x.dtype)
    for s in range(len(x)):
        for t in range(n_repeats):
            for f in range(x.shape[1]):
                y[s, t, f] = x[s, f]
    return y


def repeat_vector_backward(g):
    """dL/dx[n, f] = Σ_t g[n, t, f]."""
    n, repeats, features = g.shape
    dx = np.zeros((n, features), dtype=g.dtype)
    for s in range(n):
        for f in range(features):
            for t in range(repeats):
                dx[s, f] += g[s, t, f]
    return dx


def crop_forward(x, cropping):
    """y[n, i, j, c] = x[n, i + top, j + left, c] for the rows and columns that remain."""
    ((top, bottom), (left, right)), (n, h, w, channels) = cropping, x.shape
    y = np.zeros((n, h - top - bottom, w - left - right, channels), dtype=x.dtype)
    for s, i, j, c in itertools.product(*map(range, y.shape)):
        y[s, i, j, c] = x[s, i + top, j + left, c]
    return y


def crop_backward(x, g, cropping):
    """dL/dx[n, i + top, j + left, c] = g[n, i, j, c]; zero on the cropped border."""
    (top, _), (left, _) = cropping
    dx = np.zeros_like(x)
    for s, i, j, c in itertools.product(*map(range, g.shape)):
        dx[s, i + top, j + left, c] = g[s, i, j, c]
    return dx


def _sources(size, factor, interpolation):
    """For each output row (column) u: the list of (input row, weight) it reads."""
    sources = []
    for u in range(size * factor):
        if interpolation == "nearest":
            sources.append([(u // factor, 1.0)])
            continue
        s = min(max((u + 0.5) / factor - 0.5, 0.0), size - 1.0)
        low = math.floor(s)
        sources.append([(low, 1 - (s - low)), (min(low + 1, size - 1), s - low)])
    return sources


def upsampling_forward(x, size, interpolation="nearest"):
    """y[n, u, v, c] = Σ over the (row, column) sources of (u, v) of weight · x[n, row, column, c]."""
    (n, h, w, channels), (sh, sw) = x.shape, size
    rows, cols = _sources(h, sh, interpolation), _sources(w, sw, interpolation)
    y = np.zeros((n, h * sh, w * sw, channels), dtype=x.dtype)
    for s, u, v, c in itertools.product(range(n), range(h * sh), range(w * sw), range(channels)):
        for a, row_weight in rows[u]:
            for b, column_weight in cols[v]:
                y[s, u, v, c] += row_weight * column_weight * x[s, a, b, c]
    return y


def upsampling_backward(x, g, size, interpolation="nearest"):
    """dL/dx[n, row, column, c] += weight · g[n, u, v, c] for the same sources."""
    (n, h, w, channels), (sh, sw) = x.shape, size
    rows, cols = _sources(h, sh, interpolation), _sources(w, sw, interpolation)
    dx = np.zeros_like(x)
    for s, u, v, c in itertools.product(range(n), range(h * sh), range(w * sw), range(channels)):
        for a, row_weight in rows[u]:
            for b, column_weight in cols[v]:
                dx[s, a, b, c] += row_weight * column_weight * g[s, u, v, c]
    return dx
