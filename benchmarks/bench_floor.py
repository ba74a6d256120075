"""What the framework costs: the FeedForward training step as bare NumPy, against minidl and PyTorch.

The bare step is the same mathematics as minidl's FeedForward 784-120-84-10 tanh model with
softmax and sparse categorical cross-entropy, trained by SGD (learning rate 0.05, momentum 0.9),
written as straight-line NumPy: weights in one flat vector, every buffer allocated once, no checks,
no callbacks, no logs. It is the floor of NumPy on this machine: the time no NumPy framework can go
below on the same arithmetic. The three trainers run alternated in one process, one BLAS thread,
one epoch per round; the table gives CPU and wall medians and each one's ratio to PyTorch.

A second table, for any of bench_layers.py's models, times alone the parts every NumPy training step
of that model must run: its matrix products (at their best chunking, without the copies that feed
them), the hidden activations, the optimizer update over all weights and the batch gather. Their
sum is a floor no NumPy implementation of the step goes below (softmax, loss, biases, derivatives
and pooling come on top), shown as a share of PyTorch's step: a target below it cannot be met.

    python benchmarks/bench_floor.py --rounds 7                  # FeedForward and one conv, 60000 samples
    python benchmarks/bench_floor.py --models conv1 --samples 12800
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import bench_layers  # noqa: E402  (data, models, PyTorch trainer, machine description)

SIZES = (784, 120, 84, 10)


class BareFeedForward:
    """The FeedForward net and its SGD-momentum step in bare NumPy, buffers allocated once.

    Forward: h1 = tanh(x W1 + b1), h2 = tanh(h1 W2 + b2), p = softmax(h2 W3 + b3).
    Loss: mean over the batch of -log p[y]. Backward, with dZ3 = (p - onehot(y)) / n:
    dW3 = h2ᵀ dZ3, dZ2 = dZ3 W3ᵀ ⊙ (1 - h2²), dW2 = h1ᵀ dZ2, dZ1 = dZ2 W2ᵀ ⊙ (1 - h1²), dW1 = xᵀ dZ1,
    each db = ones dZ. Step: v ← 0.9 v − 0.05 g, θ ← θ + v over the flat vectors θ, g, v.
    """

    def __init__(self, weights, dtype, batch_size, learning_rate=0.05, momentum=0.9):
        import numpy as np

        self.np, self.learning_rate, self.momentum = np, learning_rate, momentum
        self.theta = np.concatenate([np.asarray(w, dtype).ravel() for w in weights])
        self.grad, self.velocity, self.scaled = (np.zeros_like(self.theta) for _ in range(3))
        self.w, self.dw, offset = [], [], 0
        for w in weights:
            self.w.append(self.theta[offset : offset + w.size].reshape(w.shape))
            self.dw.append(self.grad[offset : offset + w.size].reshape(w.shape))
            offset += w.size
        self.ones = np.ones(batch_size, dtype)
        self.rows = np.arange(batch_size)

    def step(self, x, y):
        """One training step on the batch (x (n, 784), y (n,)); returns the batch's loss sum."""
        np, (w1, b1, w2, b2, w3, b3), (dw1, db1, dw2, db2, dw3, db3) = self.np, self.w, self.dw
        n, ones, rows = len(x), self.ones[: len(x)], self.rows[: len(x)]
        h1 = x @ w1
        h1 += b1
        np.tanh(h1, out=h1)
        h2 = h1 @ w2
        h2 += b2
        np.tanh(h2, out=h2)
        p = h2 @ w3
        p += b3
        p -= p.max(axis=1, keepdims=True)
        np.exp(p, out=p)
        p /= p.sum(axis=1, keepdims=True)
        loss = -np.log(p[rows, y]).sum()
        p[rows, y] -= 1
        p /= n
        np.matmul(h2.T, p, out=dw3)
        np.matmul(ones, p, out=db3)
        d2 = p @ w3.T
        h2 *= h2
        np.subtract(1, h2, out=h2)
        d2 *= h2
        np.matmul(h1.T, d2, out=dw2)
        np.matmul(ones, d2, out=db2)
        d1 = d2 @ w2.T
        h1 *= h1
        np.subtract(1, h1, out=h1)
        d1 *= h1
        np.matmul(x.T, d1, out=dw1)
        np.matmul(ones, d1, out=db1)
        np.multiply(self.grad, self.learning_rate, out=self.scaled)
        self.velocity *= self.momentum
        self.velocity -= self.scaled
        self.theta += self.velocity
        return float(loss)


def initial_weights():
    """The minidl FeedForward model's initial weights (seed 0), in layer order (W1, b1, W2, b2, W3, b3)."""
    model = bench_layers.build_minidl("feedforward")
    model.build((28, 28, 1))
    return model, [w.copy() for w in model.get_weights()]


def bare_trainer(x, y, batch_size):
    """The bare step over one shuffled epoch of (x, y); returns `epoch()` (warmed up)."""
    import numpy as np

    _, weights = initial_weights()
    net = BareFeedForward(weights, x.dtype, batch_size)
    flat_x = x.reshape(len(x), -1)
    rng = np.random.default_rng(0)

    def run(count):
        order = rng.permutation(count)
        for start in range(0, count, batch_size):
            index = order[start : start + batch_size]
            net.step(flat_x[index], y[index])

    run(4 * batch_size)

    def epoch():
        run(len(flat_x))

    epoch.net = net
    return epoch


def rounds_table(name, x, y, args):
    """CPU and wall medians of (bare NumPy,) minidl and PyTorch epochs, alternated round by round."""
    from rich.table import Table

    trainers = {"bare NumPy": bare_trainer(x, y, args.batch_size)} if name == "feedforward" else {}
    trainers["minidl"] = bench_layers.minidl_trainer(name, x, y, args.batch_size, args.threads)
    if args.with_torch:
        trainers["PyTorch"] = bench_layers.torch_trainer(name, x, y, args.batch_size)
    rounds = []
    for index in range(args.rounds):
        labels = list(trainers) if index % 2 == 0 else list(reversed(trainers))
        rounds.append({label: bench_layers.timed(trainers[label]) for label in labels})
    table = Table(
        title=f"{bench_layers.MODELS[name]}, {len(x)} samples, batch {args.batch_size}, "
        f"{args.threads} thread(s), median of {args.rounds} alternated rounds"
    )
    for column in ("trainer", "CPU s", "wall s", "ms / step (CPU)", "ratio CPU", "ratio wall"):
        table.add_column(column, justify="left" if column == "trainer" else "right")
    steps = -(-len(x) // args.batch_size)
    for label in trainers:
        cpu = statistics.median(r[label][1] for r in rounds)
        wall = statistics.median(r[label][0] for r in rounds)
        ratios = ["-", "-"]
        if "PyTorch" in trainers:
            ratios = [f"{statistics.median(r[label][k] / r['PyTorch'][k] for r in rounds):.3f}x" for k in (1, 0)]
        table.add_row(label, f"{cpu:.3f}", f"{wall:.3f}", f"{1000 * cpu / steps:.3f}", *ratios)
    return table, rounds


def product_shapes(model, batch):
    """Every matrix product a training step of `model` needs at least, as (label, (m, k), (k, n), chunks).

    Dense: forward x W, kernel gradient xᵀ dZ, input gradient dZ Wᵀ (not for the first layer).
    Conv2D, in im2col form with rows = batch * OH * OW and K = kh * kw * C: forward patches K,
    kernel gradient patchesᵀ dZ and input gradient dZ Kᵀ, run in chunks of 16 images (this
    machine's best for these shapes); the copies that build patches are left out.
    """
    import math

    from minidl.layers import Conv2D, Dense

    shapes = []
    for layer in model.layers:
        if isinstance(layer, Dense):
            k, n, rows, chunks = math.prod(layer.input_shape), layer.units, batch, 1
        elif isinstance(layer, Conv2D):
            (oh, ow, n), (kh, kw) = layer.output_shape, layer.kernel_size
            k, chunks = kh * kw * layer.input_shape[2], -(-batch // 16)
            rows = min(batch, 16) * oh * ow
        else:
            continue
        name = (
            f"{type(layer).__name__} {'x'.join(map(str, layer.input_shape))}->{'x'.join(map(str, layer.output_shape))}"
        )
        shapes.append((f"{name} forward", (rows, k), (k, n), chunks))
        shapes.append((f"{name} kernel gradient", (k, rows), (rows, n), chunks))
        if layer.needs_input_grad:
            shapes.append((f"{name} input gradient", (rows, n), (n, k), chunks))
    return shapes


def lower_bound_table(name, x, y, args, torch_ms, bare_ms=None):
    """Parts every NumPy training step of the model must run, each timed alone: their sum is a floor.

    The matrix products (at their best chunking, without the copies that feed them), the hidden
    activations' forward pass, the optimizer update over all weights and the batch gather. A step
    also needs softmax, loss, bias, activation derivatives and pooling, left out here, so the true
    floor is higher than this sum.
    """
    import numpy as np
    from rich.table import Table

    from minidl.layers import Conv2D, Dense

    model = bench_layers.build_minidl(name)
    model.build((28, 28, 1))
    rng = np.random.default_rng(0)
    parts = {}
    for label, (m, k), (k2, n), chunks in product_shapes(model, args.batch_size):
        a, b = rng.random((m, k), dtype=np.float32), rng.random((k2, n), dtype=np.float32)
        out = np.empty((m, n), np.float32)

        def product(a=a, b=b, out=out, chunks=chunks):
            for _ in range(chunks):
                np.matmul(a, b, out=out)

        parts[label] = product
    hidden = [layer for layer in model.layers if isinstance(layer, (Conv2D, Dense))][:-1]
    outputs = [rng.standard_normal((args.batch_size, *layer.output_shape)).astype(np.float32) for layer in hidden]

    def activations():
        for layer, z in zip(hidden, outputs):
            layer.activation.apply(z, z)

    parts["hidden activations, forward"] = activations
    theta, grad = (rng.random(model.count_params(), dtype=np.float32) for _ in range(2))
    velocity, scaled = np.zeros_like(theta), np.empty_like(theta)

    def optimizer():
        np.multiply(grad, 0.05, out=scaled)
        np.multiply(velocity, 0.9, out=velocity)
        np.subtract(velocity, scaled, out=velocity)
        np.add(theta, velocity, out=theta)

    parts[f"optimizer update ({model.count_params():,} weights)"] = optimizer
    order = itertools.cycle(
        rng.permutation(len(x))[: len(x) // args.batch_size * args.batch_size].reshape(-1, args.batch_size)
    )

    def gather():
        index = next(order)
        return x[index], y[index]

    parts["batch gather"] = gather
    times = {label: median_ms(part, args.rounds) for label, part in parts.items()}
    table = Table(title=f"{bench_layers.MODELS[name]}: parts every step needs, CPU ms per step (median)")
    for column in ("part", "ms / step", "x PyTorch step"):
        table.add_column(column, justify="left" if column == "part" else "right")
    rows = [*times.items(), ("sum: a floor for any NumPy step", sum(times.values()))]
    if bare_ms is not None:
        rows += [("the whole bare NumPy step (table above)", bare_ms)]
    for label, ms in rows:
        table.add_row(label, f"{ms:.3f}", f"{ms / torch_ms:.3f}x" if torch_ms else "-")
    return table


def median_ms(part, rounds, calls=50):
    """Median over `rounds` of the CPU milliseconds per call of `part`, `calls` calls each."""
    part()
    samples = []
    for _ in range(rounds):
        started = time.process_time()
        for _ in range(calls):
            part()
        samples.append((time.process_time() - started) / calls * 1000)
    return statistics.median(samples)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--models", default="feedforward,conv1", help=f"comma-separated, from {list(bench_layers.MODELS)}"
    )
    parser.add_argument("--samples", type=int, default=60000)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--no-torch", action="store_true")
    args = parser.parse_args()
    from rich.console import Console
    from threadpoolctl import threadpool_limits

    args.with_torch = not args.no_torch and bench_layers.torch_available()
    console = Console(width=max(Console().width, 120))
    for line in bench_layers.machine_lines(args.threads):
        console.print(line, highlight=False)
    x, y, source = bench_layers.load_data(args.samples, args.data_dir)
    console.print(f"data: {source}, {len(x)} samples", highlight=False)
    if args.with_torch:
        import torch

        torch.set_num_threads(args.threads)
    steps = -(-len(x) // args.batch_size)
    with threadpool_limits(args.threads):
        for name in args.models.split(","):
            table, rounds = rounds_table(name, x, y, args)
            console.print(table)
            per_step = {label: statistics.median(r[label][1] for r in rounds) / steps * 1000 for label in rounds[0]}
            console.print(lower_bound_table(name, x, y, args, per_step.get("PyTorch"), per_step.get("bare NumPy")))
    console.print(f"load average after: {bench_layers.load_average()}", highlight=False)


if __name__ == "__main__":
    main()
