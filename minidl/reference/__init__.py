"""The layers as the equations read: plain loops a student can check line by line against the maths.

Each function computes one equation of a layer's forward or backward pass with explicit Python loops
over the output (or gradient) entries; the only NumPy help is the sum Σ inside one equation. They are
slow on purpose and exist to be read and to be trusted: tests/reference/ shows that the fast layers
in minidl/layers/ produce the same numbers (forward outputs and every gradient, in float64), and
benchmarks/bench_naive_vs_fast.py measures how much faster the fast versions are.

Shapes follow minidl's conventions: images are channels-last (N, H, W, C), a Conv2D kernel is
(kh, kw, C, F), a Dense kernel is (in, units). `g` always names dL/d(output) of the function.
"""

from .conv import conv2d_backward, conv2d_forward, pad_same
from .dense import dense_backward, dense_forward
from .pooling import avg_pool_backward, avg_pool_forward, max_pool_backward, max_pool_forward
from .residual import residual_backward, residual_forward
from .softmax import (
    cross_entropy,
    relu_backward,
    relu_forward,
    softmax,
    softmax_backward,
    softmax_cross_entropy_backward,
)

__all__ = [
    "conv2d_forward",
    "conv2d_backward",
    "pad_same",
    "dense_forward",
    "dense_backward",
    "max_pool_forward",
    "max_pool_backward",
    "avg_pool_forward",
    "avg_pool_backward",
    "softmax",
    "softmax_backward",
    "cross_entropy",
    "softmax_cross_entropy_backward",
    "relu_forward",
    "relu_backward",
    "residual_forward",
    "residual_backward",
]
