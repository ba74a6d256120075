"""How much faster minidl's layers are than the loop references of minidl/reference/.

For each LeNet-5 layer at its LeNet-5 shape (and one MaxPool2D), and for one whole LeNet-5 training
step (forward, loss, backward, SGD update), the reference loops and the fast layers run on the same
float32 batch; the benchmark first checks they give the same numbers, then times forward + backward.
For the convolutions a middle version is timed too: vectorised NumPy looping over kernel offsets.
It prints one Markdown table (time per call, the factor, GFLOP/s from the counted multiply-adds) and
the machine: CPU model, cores, BLAS (via threadpoolctl) and the load average before and after, since
other processes on a shared machine slow every figure down.

    python benchmarks/bench_naive_vs_fast.py                 # batch 32, 1 BLAS thread
    python benchmarks/bench_naive_vs_fast.py --batch 16 --threads 2
    python benchmarks/bench_naive_vs_fast.py --table modern  # only Keras's modern convolution and reshaping layers

A second table does the same for the layers of Keras's modern convnets (dilated and grouped
Conv2D, DepthwiseConv2D, SeparableConv2D, Conv2DTranspose, UpSampling2D, Cropping2D, Reshape, Permute,
RepeatVector, GlobalMaxPooling2D) against their loop twins in minidl/reference/; layers that only move
numbers count no FLOPs ("—").

Times are CPU seconds of this process (--clock wall for elapsed time), because other processes on
a shared machine make a job wait for a core. Fast times are the best of --repeat timings of a loop
lasting at least 0.2 s; reference times the best of --reference-repeat single calls (seconds each).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))

from minidl import Model, datasets, reference  # noqa: E402
from minidl.layers import (  # noqa: E402
    AvgPool2D,
    Conv2D,
    Conv2DTranspose,
    Cropping2D,
    Dense,
    DepthwiseConv2D,
    Flatten,
    GlobalMaxPooling2D,
    MaxPool2D,
    Permute,
    RepeatVector,
    Reshape,
    SeparableConv2D,
    UpSampling2D,
)
from minidl.optimizers import SGD  # noqa: E402
from minidl.trainers import data as data_checks  # noqa: E402


# ----- the layers, both ways ----------------------------------------------------------------------
def conv_flops(n, in_shape, layer, input_grad=True):
    """Multiply-adds ×2 of a convolution's forward, kernel gradient and (optionally) input gradient."""
    (oh, ow, f), (kh, kw), c = layer.output_shape, layer.kernel_size, in_shape[2]
    one = 2 * n * oh * ow * f * kh * kw * c
    return one * (3 if input_grad else 2)


def dense_flops(n, layer, input_grad=True):
    """2·N·I·K for the forward product, the same for dW and (optionally) dx."""
    one = 2 * n * layer.input_shape[0] * layer.units
    return one * (3 if input_grad else 2)


def pool_flops(n, layer):
    """One add (or comparison) per window element forward, and one per window element backward."""
    (oh, ow, c), (ph, pw) = layer.output_shape, layer.pool_size
    return 2 * n * oh * ow * c * ph * pw


def reference_conv_relu(layer):
    """Forward + backward of Conv2D followed by ReLU, with the reference loops."""
    W, b = layer.params["kernel"], layer.params["bias"]

    def run(x, g):
        z = reference.conv2d_forward(x, W, b, layer.strides, layer.padding)
        y = reference.relu_forward(z)
        return y, reference.conv2d_backward(x, W, reference.relu_backward(z, g), layer.strides, layer.padding)

    return run


def vectorised_conv_relu(layer):
    """The middle step between the loops and the fast layer: Python loops only over the kh·kw kernel
    offsets, each one a NumPy product over the whole batch,

        z[n, i, j, :] += xp[n, i·s + p, j·s + q, :] @ W[p, q]        for each offset (p, q)

    and the same offsets backward (dW[p, q] = Σ_{n,i,j} xp-slideᵀ g, dxp-slide += g @ W[p, q]ᵀ)."""
    W, b, (sh, sw) = layer.params["kernel"], layer.params["bias"], layer.strides
    kh, kw, _, _ = W.shape

    def run(x, g):
        n, h, w, c = x.shape
        oh, ow, (top, bottom, left, right) = reference.pad_same(h, w, kh, kw, sh, sw, layer.padding)
        xp = np.zeros((n, h + top + bottom, w + left + right, c), x.dtype)
        xp[:, top : top + h, left : left + w] = x
        slides = [
            (p, q, (slice(None), slice(p, p + sh * (oh - 1) + 1, sh), slice(q, q + sw * (ow - 1) + 1, sw)))
            for p in range(kh)
            for q in range(kw)
        ]
        z = np.broadcast_to(b, (n, oh, ow, len(b))).copy()
        for p, q, window in slides:
            z += xp[window] @ W[p, q]
        y = np.maximum(z, 0)
        gz = g * (z > 0)
        dxp, dW = np.zeros_like(xp), np.empty_like(W)
        for p, q, window in slides:
            dW[p, q] = np.tensordot(xp[window], gz, axes=([0, 1, 2], [0, 1, 2]))
            dxp[window] += gz @ W[p, q].T
        return y, (dxp[:, top : top + h, left : left + w], dW, gz.sum(axis=(0, 1, 2)))

    return run


def reference_pool(layer, kind):
    forward, backward = {
        "avg": (reference.avg_pool_forward, reference.avg_pool_backward),
        "max": (reference.max_pool_forward, reference.max_pool_backward),
    }[kind]

    def run(x, g):
        return forward(x, layer.pool_size, layer.strides), (backward(x, g, layer.pool_size, layer.strides),)

    return run


def reference_dense_relu(layer):
    W, b = layer.params["kernel"], layer.params["bias"]

    def run(x, g):
        z = reference.dense_forward(x, W, b)
        return reference.relu_forward(z), reference.dense_backward(x, W, reference.relu_backward(z, g))

    return run


def fast(layer):
    """Forward (training) + backward of the fast layer; returns (output, (dx, *weight gradients))."""

    def run(x, g):
        y = layer.forward(x, training=True)
        dx = layer.backward(g.copy())
        return y, (dx, *layer.grads.values())

    return run


def layer_cases(batch, rng):
    """(name, FLOPs, input, output gradient, reference run, vectorised run or None, fast run) at
    LeNet-5's shapes."""
    build = np.random.default_rng(0)
    cases = []

    def add(name, layer, in_shape, reference_run, flops):
        layer.build_weights(in_shape, rng=build)
        for value in layer.params.values():
            value[...] = rng.standard_normal(value.shape).astype(np.float32) * 0.1
        x = rng.standard_normal((batch, *in_shape)).astype(np.float32)
        g = rng.standard_normal((batch, *layer.output_shape)).astype(np.float32)
        vectorised = vectorised_conv_relu(layer) if isinstance(layer, Conv2D) else None
        cases.append((name, flops(layer), x, g, reference_run(layer), vectorised, fast(layer)))

    add(
        "Conv2D 6×5×5 same + ReLU, 28×28×1",
        Conv2D(6, 5, padding="same", activation="relu"),
        (28, 28, 1),
        reference_conv_relu,
        lambda layer: conv_flops(batch, (28, 28, 1), layer),
    )
    add(
        "AvgPool2D 2, 28×28×6",
        AvgPool2D(2),
        (28, 28, 6),
        lambda layer: reference_pool(layer, "avg"),
        lambda layer: pool_flops(batch, layer),
    )
    add(
        "MaxPool2D 2, 28×28×6",
        MaxPool2D(2),
        (28, 28, 6),
        lambda layer: reference_pool(layer, "max"),
        lambda layer: pool_flops(batch, layer),
    )
    add(
        "Conv2D 16×5×5 valid + ReLU, 14×14×6",
        Conv2D(16, 5, activation="relu"),
        (14, 14, 6),
        reference_conv_relu,
        lambda layer: conv_flops(batch, (14, 14, 6), layer),
    )
    add(
        "Dense 400→120 + ReLU",
        Dense(120, activation="relu"),
        (400,),
        reference_dense_relu,
        lambda layer: dense_flops(batch, layer),
    )
    add(
        "Dense 120→84 + ReLU",
        Dense(84, activation="relu"),
        (120,),
        reference_dense_relu,
        lambda layer: dense_flops(batch, layer),
    )
    return cases


def modern_cases(batch, rng):
    """(name, FLOPs or None, input, output gradient, reference run, None, fast run) of the modern layers.

    The convolutions run without activation, so the reference is the convolution's loops alone.
    """
    build = np.random.default_rng(0)
    cases = []

    def add(name, layer, in_shape, reference_run, flops=None):
        layer.build_weights(in_shape, rng=build)
        for value in layer.params.values():
            value[...] = rng.standard_normal(value.shape).astype(np.float32) * 0.1
        x = rng.standard_normal((batch, *in_shape)).astype(np.float32)
        g = rng.standard_normal((batch, *layer.output_shape)).astype(np.float32)
        cases.append((name, flops and flops(layer), x, g, reference_run(layer), None, fast(layer)))

    def conv(layer):
        W, b = layer.params["kernel"], layer.params["bias"]
        arguments = (layer.strides, layer.padding, layer.dilation_rate, layer.groups)

        def run(x, g):
            return reference.conv2d_forward(x, W, b, *arguments), reference.conv2d_backward(x, W, g, *arguments)

        return run

    def depthwise(layer):
        K, b, arguments = (
            layer.params["kernel"],
            layer.params["bias"],
            (layer.strides, layer.padding, layer.dilation_rate),
        )

        def run(x, g):
            y = reference.depthwise_conv2d_forward(x, K, b, *arguments)
            return y, reference.depthwise_conv2d_backward(x, K, g, *arguments)

        return run

    def separable(layer):
        K, P, b = (layer.params[k] for k in ("depthwise_kernel", "pointwise_kernel", "bias"))
        arguments = (layer.strides, layer.padding, layer.dilation_rate)

        def run(x, g):
            y = reference.separable_conv2d_forward(x, K, P, b, *arguments)
            return y, reference.separable_conv2d_backward(x, K, P, g, *arguments)

        return run

    def transpose(layer):
        K, b, crop = layer.params["kernel"], layer.params["bias"], (layer.top, layer.left)

        def run(x, g):
            y = reference.conv2d_transpose_forward(
                x, K, b, layer.strides, layer.dilation_rate, layer.output_shape[:2], crop
            )
            return y, reference.conv2d_transpose_backward(x, K, g, layer.strides, layer.dilation_rate, crop)

        return run

    def moves(forward, backward):
        """A reference for a layer without weights: forward(x) and backward(x, g) -> dx."""
        return lambda layer: lambda x, g: (forward(layer, x), (backward(layer, x, g),))

    def conv_flops(layer, kernel_inputs):
        """2 multiply-adds (output, dW, dx) x N·OH·OW·F·(inputs per output)."""
        (oh, ow, f) = layer.output_shape
        return 3 * 2 * batch * oh * ow * f * kernel_inputs

    add(
        "Conv2D 16×3×3 dilation 2 same, 14×14×8",
        Conv2D(16, 3, padding="same", dilation_rate=2),
        (14, 14, 8),
        conv,
        lambda layer: conv_flops(layer, 9 * 8),
    )
    add(
        "Conv2D 16×3×3 groups 4 same, 14×14×16",
        Conv2D(16, 3, padding="same", groups=4),
        (14, 14, 16),
        conv,
        lambda layer: conv_flops(layer, 9 * 4),
    )
    add(
        "DepthwiseConv2D 3×3 same, 14×14×16",
        DepthwiseConv2D(3, padding="same"),
        (14, 14, 16),
        depthwise,
        lambda layer: conv_flops(layer, 9),
    )
    add(
        "SeparableConv2D 32, 3×3 same, 14×14×16",
        SeparableConv2D(32, 3, padding="same"),
        (14, 14, 16),
        separable,
        lambda layer: 3 * 2 * batch * 14 * 14 * (16 * 9 + 16 * 32),
    )
    add(
        "Conv2DTranspose 8×3×3 stride 2 same, 7×7×16",
        Conv2DTranspose(8, 3, strides=2, padding="same"),
        (7, 7, 16),
        transpose,
        lambda layer: 3 * 2 * batch * 7 * 7 * 16 * 9 * 8,
    )
    add(
        "UpSampling2D 2 nearest, 14×14×8",
        UpSampling2D(2),
        (14, 14, 8),
        moves(
            lambda layer, x: reference.upsampling_forward(x, layer.size),
            lambda layer, x, g: reference.upsampling_backward(x, g, layer.size),
        ),
    )
    add(
        "UpSampling2D 2 bilinear, 14×14×8",
        UpSampling2D(2, interpolation="bilinear"),
        (14, 14, 8),
        moves(
            lambda layer, x: reference.upsampling_forward(x, layer.size, "bilinear"),
            lambda layer, x, g: reference.upsampling_backward(x, g, layer.size, "bilinear"),
        ),
    )
    add(
        "Cropping2D 2, 28×28×6",
        Cropping2D(2),
        (28, 28, 6),
        moves(
            lambda layer, x: reference.crop_forward(x, layer.cropping),
            lambda layer, x, g: reference.crop_backward(x, g, layer.cropping),
        ),
    )
    add(
        "Reshape (196, 8), 14×14×8",
        Reshape((196, 8)),
        (14, 14, 8),
        moves(
            lambda layer, x: reference.reshape_forward(x, layer.output_shape),
            lambda layer, x, g: reference.reshape_backward(x, g),
        ),
    )
    add(
        "Permute (3, 1, 2), 14×14×8",
        Permute((3, 1, 2)),
        (14, 14, 8),
        moves(
            lambda layer, x: reference.permute_forward(x, layer.dims),
            lambda layer, x, g: reference.permute_backward(x, g, layer.dims),
        ),
    )
    add(
        "RepeatVector 8, 120",
        RepeatVector(8),
        (120,),
        moves(
            lambda layer, x: reference.repeat_vector_forward(x, layer.n),
            lambda layer, x, g: reference.repeat_vector_backward(g),
        ),
    )
    add(
        "GlobalMaxPooling2D, 28×28×6",
        GlobalMaxPooling2D(),
        (28, 28, 6),
        moves(
            lambda layer, x: reference.global_max_pool_forward(x),
            lambda layer, x, g: reference.global_max_pool_backward(x, g),
        ),
    )
    return cases


# ----- one LeNet-5 step, both ways ----------------------------------------------------------------
def lenet5(seed=0):
    """The LeNet-5 of the README: 61,706 parameters."""
    model = Model(name="lenet5", seed=seed)
    model.add(Conv2D(6, 5, padding="same", activation="relu", input_shape=(28, 28, 1), name="conv1"))
    model.add(AvgPool2D(2, name="pool1"))
    model.add(Conv2D(16, 5, activation="relu", name="conv2"))
    model.add(AvgPool2D(2, name="pool2"))
    model.add(Flatten(name="flatten"))
    model.add(Dense(120, activation="relu", name="dense1"))
    model.add(Dense(84, activation="relu", name="dense2"))
    model.add(Dense(10, activation="softmax", name="dense3_softmax"))
    return model


def lenet5_step_flops(model, batch):
    """Forward + backward FLOPs of one step (the first layer computes no input gradient)."""
    conv1, _, conv2, _, _, d1, d2, d3 = model.layers
    return (
        conv_flops(batch, (28, 28, 1), conv1, input_grad=False)
        + conv_flops(batch, (14, 14, 6), conv2)
        + sum(dense_flops(batch, layer) for layer in (d1, d2, d3))
        + pool_flops(batch, model.layers[1])
        + pool_flops(batch, model.layers[3])
    )


def reference_lenet5_step(weights, x, labels, learning_rate):
    """One SGD step of LeNet-5 written with the reference functions; returns the new weights."""
    k1, b1, k2, b2, w3, b3, w4, b4, w5, b5 = weights
    n = len(x)
    # forward
    z1 = reference.conv2d_forward(x, k1, b1, (1, 1), "same")
    a1 = reference.relu_forward(z1)
    p1 = reference.avg_pool_forward(a1, (2, 2))
    z2 = reference.conv2d_forward(p1, k2, b2, (1, 1), "valid")
    a2 = reference.relu_forward(z2)
    p2 = reference.avg_pool_forward(a2, (2, 2))
    f = p2.reshape(n, -1)
    z3 = reference.dense_forward(f, w3, b3)
    a3 = reference.relu_forward(z3)
    z4 = reference.dense_forward(a3, w4, b4)
    a4 = reference.relu_forward(z4)
    z5 = reference.dense_forward(a4, w5, b5)
    p = reference.softmax(z5)
    # backward: softmax + cross-entropy, then every layer in reverse
    g = reference.softmax_cross_entropy_backward(p, np.eye(10, dtype=x.dtype)[labels])
    g, dw5, db5 = reference.dense_backward(a4, w5, g)
    g, dw4, db4 = reference.dense_backward(a3, w4, reference.relu_backward(z4, g))
    g, dw3, db3 = reference.dense_backward(f, w3, reference.relu_backward(z3, g))
    g = reference.avg_pool_backward(a2, g.reshape(p2.shape), (2, 2))
    g, dk2, db2 = reference.conv2d_backward(p1, k2, reference.relu_backward(z2, g), (1, 1), "valid")
    g = reference.avg_pool_backward(a1, g, (2, 2))
    _, dk1, db1 = reference.conv2d_backward(x, k1, reference.relu_backward(z1, g), (1, 1), "same")
    grads = (dk1, db1, dk2, db2, dw3, db3, dw4, db4, dw5, db5)
    return [w - learning_rate * dw for w, dw in zip(weights, grads)]


# ----- timing ---------------------------------------------------------------------------------------
# CPU time of this process by default: on a machine shared with other busy processes, wall-clock time
# also counts the time spent waiting for a free core, which is not what the code costs. --clock wall
# measures elapsed time instead. (With one BLAS thread the two agree on an idle machine.)
CLOCKS = {"cpu": time.process_time, "wall": time.perf_counter}
CLOCK = [CLOCKS["cpu"]]


def best_time(function, arguments, repeat, min_seconds=0.2):
    """Best over `repeat` runs of the mean time of a loop of `function(*arguments)` calls lasting at
    least `min_seconds`."""
    best = float("inf")
    for _ in range(repeat):
        calls, start = 0, CLOCK[0]()
        while True:
            function(*arguments)
            calls += 1
            elapsed = CLOCK[0]() - start
            if elapsed >= min_seconds:
                break
        best = min(best, elapsed / calls)
    return best


def step_breakdown(model, x, y, repeat):
    """Where a fast training step spends its time: best-of-`repeat` seconds of each layer's forward and
    backward, of the loss, and of the optimizer update, measured one piece at a time inside the step."""
    x = data_checks.check_inputs(model, x)
    y = data_checks.check_targets(model, x, y)
    best = {}

    def clock(key, start):
        best[key] = min(best.get(key, float("inf")), CLOCK[0]() - start)

    for _ in range(max(repeat, 3) * 4):
        out = x
        for layer in model.layers:
            start = CLOCK[0]()
            out = layer.forward(out, True)
            clock((layer.name, "forward"), start)
        start = CLOCK[0]()
        model.training_loss.total(out, y)
        grad = model.training_loss.gradient(out, y, len(x))
        clock(("loss", "forward"), start)  # value and gradient
        for layer in reversed(model.layers):
            start = CLOCK[0]()
            grad = layer.backward(grad)
            clock((layer.name, "backward"), start)
        start = CLOCK[0]()
        model.optimizer.step(model.parameters, model.gradients)
        clock(("SGD update", "forward"), start)
    names = [layer.name for layer in model.layers] + ["loss", "SGD update"]
    return [(name, best.get((name, "forward"), 0.0), best.get((name, "backward"), 0.0)) for name in names]


def agree(name, expected, got):
    """Stop with a clear message if the fast and reference versions do not compute the same thing."""
    for i, (a, b) in enumerate(zip(expected, got)):
        if not np.allclose(a, b, rtol=2e-3, atol=2e-4):
            raise SystemExit(f"{name}: result {i} of the fast version differs from the reference")


def machine(threads):
    """CPU model, cores, BLAS libraries and their thread counts, and the NumPy version."""
    from bench_layers import cpu_model  # this folder: benchmarks are run as scripts
    from threadpoolctl import threadpool_info

    model = cpu_model()
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    blas = ", ".join(
        f"{pool.get('internal_api')} {pool.get('version')} ({pool.get('threading_layer', '?')} threading, "
        f"{threads} of {pool.get('num_threads')} threads used)"
        for pool in threadpool_info()
        if pool.get("user_api") == "blas"
    )
    return (
        f"{model}; {os.cpu_count()} logical CPUs ({usable} usable); BLAS: {blas or 'none found'}; "
        f"NumPy {np.__version__}; Python {platform.python_version()}"
    )


def row(name, flops, reference_s, vectorised_s, fast_s):
    """One Markdown table row: times, the reference/fast factor and GFLOP/s of each version ("—" without FLOPs)."""

    def rate(seconds, digits):
        return "—" if not flops else f"{flops / seconds / 1e9:.{digits}g}"

    vectorised = ("—", "—") if vectorised_s is None else (f"{vectorised_s * 1e3:,.2f} ms", rate(vectorised_s, 3))
    return (
        f"| {name} | {reference_s * 1e3:,.0f} ms | {vectorised[0]} | {fast_s * 1e3:,.2f} ms "
        f"| {reference_s / fast_s:,.0f}× | {rate(reference_s, 2)} | {vectorised[1]} | {rate(fast_s, 3)} |"
    )


def timed_rows(cases, repeat, reference_repeat):
    """Check every case against its reference, then time it: one Markdown row per case."""
    lines = []
    for name, flops, x, g, reference_run, vectorised_run, fast_run in cases:
        expected = reference_run(x, g)[1]
        agree(name, expected, fast_run(x, g)[1])
        vectorised_s = None
        if vectorised_run is not None:
            agree(f"{name} (vectorised)", expected, vectorised_run(x, g)[1])
            vectorised_s = best_time(vectorised_run, (x, g), repeat)
        reference_s = best_time(reference_run, (x, g), reference_repeat, min_seconds=0)
        fast_s = best_time(fast_run, (x, g), repeat)
        lines.append(row(name, flops, reference_s, vectorised_s, fast_s))
    return lines


TABLE_HEADER = (
    "| layer (forward + backward) | reference loops | vectorised (offset loop) | fast | factor "
    "| reference GFLOP/s | vectorised GFLOP/s | fast GFLOP/s |\n|---|---:|---:|---:|---:|---:|---:|---:|"
)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch", type=int, default=32, help="samples per batch (default 32)")
    parser.add_argument("--threads", type=int, default=1, help="BLAS threads for the fast layers (default 1)")
    parser.add_argument("--repeat", type=int, default=5, help="timings of the fast layers; the best is kept")
    parser.add_argument("--reference-repeat", type=int, default=1, help="timings of the reference; the best is kept")
    parser.add_argument(
        "--clock", choices=sorted(CLOCKS), default="cpu", help="cpu: CPU time of this process (default); wall: elapsed"
    )
    parser.add_argument(
        "--table",
        choices=("all", "lenet", "modern"),
        default="all",
        help="lenet: LeNet-5's layers and step; modern: Keras's modern convolution and reshaping layers; all: both",
    )
    args = parser.parse_args(argv)
    CLOCK[0] = CLOCKS[args.clock]
    for name in ("batch", "threads", "repeat", "reference_repeat"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1, got {getattr(args, name)}")

    from threadpoolctl import threadpool_limits

    load_before = os.getloadavg()
    rng = np.random.default_rng(0)
    clock = "CPU time of the process" if args.clock == "cpu" else "wall-clock time"
    with threadpool_limits(args.threads):
        if args.table in ("all", "lenet"):
            lines = timed_rows(layer_cases(args.batch, rng), args.repeat, args.reference_repeat)
            model = lenet5()
            model.compile(optimizer=SGD(0.05), loss="sparse_categorical_crossentropy")
            try:
                (x, y), _ = datasets.load_mnist(train_limit=args.batch, test_limit=1, download=False)
                source = "MNIST digits"
            except (datasets.DatasetError, OSError):
                x = rng.random((args.batch, 28, 28, 1), dtype=np.float32)
                y = rng.integers(0, 10, args.batch)
                source = "random images (MNIST not found)"
            weights = model.get_weights()
            expected = reference_lenet5_step(weights, x, y, 0.05)
            model.train_on_batch(x, y)
            agree("LeNet-5 step", expected, model.get_weights())
            reference_s = best_time(reference_lenet5_step, (weights, x, y, 0.05), args.reference_repeat, 0)
            fast_s = best_time(model.train_on_batch, (x, y), args.repeat)
            step_flops = lenet5_step_flops(model, args.batch)
            lines.append(row("**LeNet-5 training step**", step_flops, reference_s, None, fast_s))
            breakdown = step_breakdown(model, x, y, args.repeat)
            print(f"Batch {args.batch}, float32, {args.threads} BLAS thread(s), {clock}; LeNet-5 step on {source}.\n")
            print(TABLE_HEADER)
            print("\n".join(lines))
            total = sum(f + b for _, f, b in breakdown)
            print(f"\nWhere the fast step's time goes (best of several steps, {total * 1e3:.2f} ms in all):\n")
            print("| part of the step | forward | backward | share |")
            print("|---|---:|---:|---:|")
            for name, forward_s, backward_s in breakdown:
                share = (forward_s + backward_s) / total
                print(f"| {name} | {forward_s * 1e3:.3f} ms | {backward_s * 1e3:.3f} ms | {share:.0%} |")
        if args.table in ("all", "modern"):
            lines = timed_rows(modern_cases(args.batch, rng), args.repeat, args.reference_repeat)
            threads = f"{args.threads} BLAS thread(s)"
            print(f"\nModern convolution and reshaping layers: batch {args.batch}, float32, {threads}, {clock}.\n")
            print(TABLE_HEADER)
            print("\n".join(lines))
    load_after = os.getloadavg()

    print(f"\nMachine: {machine(args.threads)}")
    print(
        "Load average (1, 5, 15 min): before "
        + ", ".join(f"{v:.2f}" for v in load_before)
        + "; after "
        + ", ".join(f"{v:.2f}" for v in load_after)
    )


if __name__ == "__main__":
    main()
