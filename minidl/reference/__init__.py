"""The layers as the equations read: plain loops a student can check line by line against the maths.

Each function computes one equation of a layer's forward or backward pass with explicit Python loops
over the output (or gradient) entries; the only NumPy help is the sum Σ inside one equation. They are
slow on purpose and exist to be read and to be trusted: tests/reference/ shows that the fast layers
in minidl/layers/ produce the same numbers (forward outputs and every gradient, in float64), and
benchmarks/bench_naive_vs_fast.py measures how much faster the fast versions are.

Shapes follow minidl's conventions: images are channels-last (N, H, W, C), a Conv2D kernel is
(kh, kw, C, F), a Dense kernel is (in, units). `g` always names dL/d(output) of the function.
"""

from .conv import conv1d_backward, conv1d_forward, conv2d_backward, conv2d_forward, pad_same
from .conv_transpose import conv2d_transpose_backward, conv2d_transpose_forward
from .dense import dense_backward, dense_forward
from .pooling import (
    avg_pool_backward,
    avg_pool_forward,
    global_max_pool_backward,
    global_max_pool_forward,
    max_pool_backward,
    max_pool_forward,
)
from .reshape import (
    crop_backward,
    crop_forward,
    permute_backward,
    permute_forward,
    repeat_vector_backward,
    repeat_vector_forward,
    reshape_backward,
    reshape_forward,
    upsampling_backward,
    upsampling_forward,
)
from .residual import residual_backward, residual_forward
from .separable_conv import (
    depthwise_conv2d_backward,
    depthwise_conv2d_forward,
    separable_conv2d_backward,
    separable_conv2d_forward,
)
from .softmax import (
    cross_entropy,
    relu_backward,
    relu_forward,
    softmax,
    softmax_backward,
    softmax_cross_entropy_backward,
)

__all__ = [
    "conv1d_forward",
    "conv1d_backward",
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
    "conv2d_transpose_forward",
    "conv2d_transpose_backward",
    "global_max_pool_forward",
    "global_max_pool_backward",
    "reshape_forward",
    "reshape_backward",
    "permute_forward",
    "permute_backward",
    "repeat_vector_forward",
    "repeat_vector_backward",
    "crop_forward",
    "crop_backward",
    "upsampling_forward",
    "upsampling_backward",
    "depthwise_conv2d_forward",
    "depthwise_conv2d_backward",
    "separable_conv2d_forward",
    "separable_conv2d_backward",
]
