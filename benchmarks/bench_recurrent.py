"""Training speed of recurrent models, minidl against PyTorch's nn.LSTM / nn.GRU, one thread each.

The same model — sequences (N, T, D) -> LSTM(U) (or GRU) -> Dense(classes, softmax), trained with
sparse categorical cross-entropy and Adam — is trained by minidl (`fit`) and by PyTorch (a plain
loop over nn.LSTM(batch_first=True) and nn.Linear) in ONE process, alternated round by round
(minidl, torch, torch, minidl, ...), each on --threads threads (threadpoolctl for NumPy's BLAS,
torch.set_num_threads for PyTorch). A round trains --steps batches; the table gives the median over
rounds of the time per training step (forward, backward and optimizer update), CPU time beside wall
time, and the median over rounds of minidl's time divided by PyTorch's in the same round. On a
shared machine the CPU-time ratio of alternated rounds is the figure to trust; the load average is
printed before and after.

    python benchmarks/bench_recurrent.py                            # LSTM, 4 sizes, 5 rounds
    python benchmarks/bench_recurrent.py --cells lstm,gru --rounds 9
    python benchmarks/bench_recurrent.py --sizes 32x100x64x128      # batch x steps x features x units
    python benchmarks/bench_recurrent.py --layer                    # the recurrent layer alone, fwd / bwd

On a quiet machine:  env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/bench_recurrent.py
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
sys.path.insert(0, HERE)

import bench_layers  # noqa: E402  (load average, machine description, timing)
import numpy as np  # noqa: E402

DEFAULT_SIZES = "64x60x16x32,32x50x32x64,64x100x32x128,32x200x16x32"  # the first: bench_lstm_keras.py's model
CLASSES = 10


def parse_size(text):
    """(batch, steps, features, units) from 'NxTxDxU'."""
    parts = text.lower().split("x")
    if len(parts) != 4 or not all(p.isdigit() and int(p) > 0 for p in parts):
        raise argparse.ArgumentTypeError(f"a size is batch x steps x features x units, e.g. 32x50x32x64; got {text!r}")
    return tuple(int(p) for p in parts)


def data(size, steps_per_round, seed=0):
    """Random sequences and labels for `steps_per_round` batches (float32 inputs, int labels)."""
    batch, steps, features, _ = size
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch * steps_per_round, steps, features)).astype(np.float32)
    return x, rng.integers(0, CLASSES, len(x))


def minidl_trainer(cell, size, x, y, threads):
    """A compiled minidl model, warmed up; returns `run()` training one pass over x (no shuffling)."""
    from minidl import Sequential, layers

    batch, steps, features, units = size
    recurrent = {"lstm": layers.LSTM, "gru": layers.GRU}[cell](units, input_shape=(steps, features))
    model = Sequential([recurrent, layers.Dense(CLASSES, activation="softmax")], seed=0)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=[])
    model.fit(x[: 2 * batch], y[: 2 * batch], batch_size=batch, verbose=0, threads=threads)

    def run():
        model.fit(x, y, batch_size=batch, epochs=1, shuffle=False, verbose=0, threads=threads)

    return run


def torch_trainer(cell, size, x, y):
    """The same model in PyTorch (Keras's GRU is reset_after, as nn.GRU), Adam; returns `run()`."""
    import torch

    batch, steps, features, units = size
    torch.manual_seed(0)

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.recurrent = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[cell](features, units, batch_first=True)
            self.dense = torch.nn.Linear(units, CLASSES)

        def forward(self, inputs):
            outputs, _ = self.recurrent(inputs)
            return self.dense(outputs[:, -1])

    model = Net()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = torch.nn.CrossEntropyLoss()
    inputs, labels = torch.from_numpy(x), torch.from_numpy(y.astype("int64"))

    def run(count=None):
        for start in range(0, len(x) if count is None else count, batch):
            optimizer.zero_grad()
            loss_fn(model(inputs[start : start + batch]), labels[start : start + batch]).backward()
            optimizer.step()

    run(2 * batch)
    return run


def layer_runners(cell, size):
    """(minidl forward, minidl backward, torch forward, torch backward) of the recurrent layer alone."""
    import torch

    from minidl import layers

    batch, steps, features, units = size
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch, steps, features)).astype(np.float32)
    grad = rng.standard_normal((batch, units)).astype(np.float32)
    ours = {"lstm": layers.LSTM, "gru": layers.GRU}[cell](units)
    ours.build_weights((steps, features))
    theirs = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[cell](features, units, batch_first=True)
    inputs, grad_t = torch.from_numpy(x).requires_grad_(True), torch.from_numpy(grad)
    kept = {}

    def torch_forward():
        kept["out"] = theirs(inputs)[0][:, -1]

    def torch_backward():
        theirs.zero_grad()
        kept["out"].backward(grad_t)

    return (lambda: ours.forward(x, training=True)), (lambda: ours.backward(grad)), torch_forward, torch_backward


def alternated(pairs, rounds):
    """For each round: every (label, function) timed once, the order reversed every other round."""
    results = {label: [] for label, _ in pairs}
    for index in range(rounds):
        order = pairs if index % 2 == 0 else pairs[::-1]
        for label, function in order:
            results[label].append(bench_layers.timed(function))
    return results


def step_table(args):
    import torch
    from rich.table import Table
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(args.threads)
    table = Table(
        title=f"Training step (forward + backward + Adam), {args.threads} thread(s), {args.steps} steps per round, "
        f"median of {args.rounds} alternated rounds"
    )
    for column in ("model", "framework", "CPU ms/step", "wall ms/step", "ratio CPU", "ratio wall"):
        table.add_column(column, justify="left" if column in ("model", "framework") else "right")
    for cell in args.cells:
        for size in args.sizes:
            batch, steps, features, units = size
            x, y = data(size, args.steps)
            with threadpool_limits(args.threads):
                ours = minidl_trainer(cell, size, x, y, args.threads)
                theirs = torch_trainer(cell, size, x, y)
                results = alternated([("minidl", ours), ("torch", theirs)], args.rounds)
            per_step = {
                label: (
                    statistics.median(r[1] for r in rows) / args.steps,
                    statistics.median(r[0] for r in rows) / args.steps,
                )
                for label, rows in results.items()
            }
            ratio_cpu = statistics.median(m[1] / t[1] for m, t in zip(results["minidl"], results["torch"]))
            ratio_wall = statistics.median(m[0] / t[0] for m, t in zip(results["minidl"], results["torch"]))
            name = f"{cell.upper()}({units}) on {batch}x{steps}x{features}"
            print(
                f"{name}: ratio CPU {ratio_cpu:.2f}x (load {bench_layers.load_average()})", file=sys.stderr, flush=True
            )
            for label in ("minidl", "torch"):
                cpu, wall = per_step[label]
                first = label == "minidl"
                table.add_row(
                    name if first else "",
                    label,
                    f"{cpu * 1000:.2f}",
                    f"{wall * 1000:.2f}",
                    f"{ratio_cpu:.2f}x" if first else "",
                    f"{ratio_wall:.2f}x" if first else "",
                )
    return table


def layer_table(args):
    """The recurrent layer alone: forward (training) and backward per call, medians of alternated rounds."""
    import torch
    from rich.table import Table
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(args.threads)
    table = Table(title=f"Recurrent layer alone, ms per call (CPU), median of {args.rounds * 5} alternated rounds")
    for column in ("layer", "minidl fwd", "torch fwd", "minidl bwd", "torch bwd", "ratio fwd+bwd"):
        table.add_column(column, justify="left" if column == "layer" else "right")
    for cell in args.cells:
        for size in args.sizes:
            with threadpool_limits(args.threads):
                forward, backward, torch_forward, torch_backward = layer_runners(cell, size)
                pairs = [("m", forward, backward), ("t", torch_forward, torch_backward)]
                parts = {label + part: [] for label, _, _ in pairs for part in "fb"}
                for index in range(args.rounds * 5 + 1):  # the first round warms up and is left out
                    for label, forward_pass, backward_pass in pairs if index % 2 else pairs[::-1]:
                        timings = bench_layers.timed(forward_pass), bench_layers.timed(backward_pass)
                        if index:
                            parts[label + "f"].append(timings[0])
                            parts[label + "b"].append(timings[1])
            cpu = {label: statistics.median(r[1] for r in rows) * 1000 for label, rows in parts.items()}
            batch, steps, features, units = size
            table.add_row(
                f"{cell.upper()}({units}) on {batch}x{steps}x{features}",
                f"{cpu['mf']:.2f}",
                f"{cpu['tf']:.2f}",
                f"{cpu['mb']:.2f}",
                f"{cpu['tb']:.2f}",
                f"{(cpu['mf'] + cpu['mb']) / (cpu['tf'] + cpu['tb']):.2f}x",
            )
    return table


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cells", default="lstm", help="comma-separated: lstm, gru (default lstm)")
    parser.add_argument("--sizes", default=DEFAULT_SIZES, help=f"comma-separated NxTxDxU (default {DEFAULT_SIZES})")
    parser.add_argument("--steps", type=int, default=20, help="training steps per round (default 20)")
    parser.add_argument("--rounds", type=int, default=5, help="alternated rounds (default 5)")
    parser.add_argument("--threads", type=int, default=1, help="threads per framework (default 1)")
    parser.add_argument("--layer", action="store_true", help="time the recurrent layer alone, forward and backward")
    args = parser.parse_args(argv)
    args.cells = [c.strip().lower() for c in args.cells.split(",") if c.strip()]
    if not args.cells or any(c not in ("lstm", "gru") for c in args.cells):
        parser.error(f"--cells takes lstm and/or gru, got {args.cells}")
    args.sizes = [parse_size(s) for s in args.sizes.split(",") if s.strip()]
    if not bench_layers.torch_available():
        parser.error("PyTorch is not installed: this benchmark compares with torch.nn.LSTM (pip install torch)")
    from rich.console import Console

    console = Console(width=None if Console().is_terminal else 140)
    for line in bench_layers.machine_lines(args.threads):
        console.print(line)
    started = time.perf_counter()
    console.print(layer_table(args) if args.layer else step_table(args))
    console.print(f"load average after: {bench_layers.load_average()}  ({time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
