"""What the framework costs: the FeedForward training step as bare NumPy, against minidl and PyTorch.

The bare step is the same mathematics as minidl's FeedForward 784-120-84-10 tanh model with
softmax and sparse categorical cross-entropy, trained by SGD (learning rate 0.05, momentum 0.9),
written as straight-line NumPy: weights in one flat vector, every buffer allocated once, no checks,
no callbacks, no logs. It is the floor of NumPy on this machine: the time no NumPy framework can go
below on the same arithmetic. The three trainers run alternated in one process, one BLAS thread,
one epoch per round; the table gives CPU and wall medians and each one's ratio to PyTorch.

A second table splits the bare step into its parts (matrix products, tanh, batch gather, optimizer,
the rest), timed one part at a time over the same batches; its sum shows which parts alone already
use up a time budget.

    python benchmarks/bench_floor.py --rounds 7
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


def rounds_table(x, y, args):
    """CPU and wall medians of bare NumPy, minidl and PyTorch epochs, alternated round by round."""
    from rich.table import Table

    trainers = {"bare NumPy": bare_trainer(x, y, args.batch_size)}
    trainers["minidl"] = bench_layers.minidl_trainer("feedforward", x, y, args.batch_size, args.threads)
    if args.with_torch:
        trainers["PyTorch"] = bench_layers.torch_trainer("feedforward", x, y, args.batch_size)
    rounds = []
    for index in range(args.rounds):
        labels = list(trainers) if index % 2 == 0 else list(reversed(trainers))
        rounds.append({label: bench_layers.timed(trainers[label]) for label in labels})
    table = Table(
        title=f"FeedForward 784-120-84-10 tanh, {len(x)} samples, batch {args.batch_size}, "
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


def parts_table(x, y, args, torch_ms):
    """The bare step split into parts, each timed alone over the same batches (CPU ms per step)."""
    import numpy as np
    from rich.table import Table

    _, weights = initial_weights()
    # The parts run on one copy of the net (the optimizer part alone would drive its weights away),
    # the whole step on another that trains as it should.
    net, trained = (BareFeedForward(weights, x.dtype, args.batch_size) for _ in range(2))
    flat_x, n = x.reshape(len(x), -1), args.batch_size
    count = len(flat_x) // n
    order = np.random.default_rng(1).permutation(len(flat_x))[: count * n].reshape(count, n)
    batch = flat_x[order[0]]
    w1, _, w2, _, w3, _ = net.w
    dw1, _, dw2, _, dw3, _ = net.dw
    h1, h2, p = batch @ w1, np.tanh(batch @ w1) @ w2, np.zeros((n, 10), x.dtype)
    d1, d2 = np.empty_like(h1), np.empty_like(h2)

    def products():
        np.matmul(batch, w1, out=h1), np.matmul(h1, w2, out=h2), np.matmul(h2, w3, out=p)
        np.matmul(h2.T, p, out=dw3), np.matmul(p, w3.T, out=d2), np.matmul(h1.T, d2, out=dw2)
        np.matmul(d2, w2.T, out=d1), np.matmul(batch.T, d1, out=dw1)

    def tanh():
        np.tanh(h1, out=d1), np.tanh(h2, out=d2)

    batches = itertools.cycle(order)

    def gather():
        index = next(batches)
        return flat_x[index], y[index]

    def optimizer():
        np.multiply(net.grad, net.learning_rate, out=net.scaled)
        net.velocity *= net.momentum
        net.velocity -= net.scaled
        net.theta += net.velocity

    def whole():
        trained.step(*gather())

    parts = {"matrix products (8)": products, "tanh (2 layers)": tanh, "batch gather": gather}
    parts |= {"optimizer update": optimizer, "whole bare step": whole}
    times = {}
    for label, part in parts.items():
        part()
        samples = []
        for _ in range(args.rounds):
            started = time.process_time()
            for _ in range(200):
                part()
            samples.append((time.process_time() - started) / 200 * 1000)
        times[label] = statistics.median(samples)
    table = Table(title="The bare step's parts, CPU ms per step (median), and their share of PyTorch's step")
    for column in ("part", "ms / step", "x PyTorch step"):
        table.add_column(column, justify="left" if column == "part" else "right")
    named = sum(v for k, v in times.items() if k != "whole bare step")
    times_rest = times["whole bare step"] - named
    rows = [*[(k, v) for k, v in times.items() if k != "whole bare step"], ("everything else", times_rest)]
    rows += [("sum of the four named parts", named), ("whole bare step", times["whole bare step"])]
    for label, ms in rows:
        table.add_row(label, f"{ms:.3f}", f"{ms / torch_ms:.3f}x" if torch_ms else "-")
    return table


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
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
    with threadpool_limits(args.threads):
        table, rounds = rounds_table(x, y, args)
        console.print(table)
        steps = -(-len(x) // args.batch_size)
        torch_ms = statistics.median(r["PyTorch"][1] for r in rounds) / steps * 1000 if args.with_torch else None
        console.print(parts_table(x, y, args, torch_ms))
    console.print(f"load average after: {bench_layers.load_average()}", highlight=False)


if __name__ == "__main__":
    main()
