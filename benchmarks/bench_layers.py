"""Single-process training speed of the four experiment models, with PyTorch as a reference.

For each model, one child process trains one epoch of 60,000 MNIST images (real MNIST when
MINIDL_DATA_DIR or --data-dir has it, MNIST-shaped random data otherwise) at batch 128, with the
BLAS library limited to --threads threads, and reports seconds per epoch, samples/s and its peak
resident memory. A child per measurement keeps the memory figures separate and honest. When
`torch` is importable, the identical model is timed in PyTorch on the same data and threads.

    python benchmarks/bench_layers.py                 # all models, 1 thread
    python benchmarks/bench_layers.py --models lenet --repeat 3
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
sys.path.insert(0, os.path.join(HERE, "..", "trainings"))

MODELS = {
    "feedforward": "FeedForward 784-120-84-10 tanh",
    "conv1": "one conv, no pool",
    "conv2": "two conv, no pool",
    "lenet": "LeNet-5 (two conv + avg pool)",
}


def load_data(samples, data_dir):
    """Real MNIST if it can be found locally, else random data of the same shape; never downloads."""
    import numpy as np

    from minidl import datasets

    try:
        (x, y), _ = datasets.load_mnist(data_dir=data_dir, train_limit=samples, download=False)
        return x, y, "MNIST"
    except (datasets.DatasetError, OSError):
        rng = np.random.default_rng(0)
        return rng.random((samples, 28, 28, 1), dtype=np.float32), rng.integers(0, 10, samples), "random"


def build_minidl(name):
    """The experiment's own model definition, from trainings/."""
    import training_convolve
    import training_feedforward
    import training_full

    flags = argparse.Namespace(seed=0, activation="tanh", pool="avg", conv=2 if name in ("conv2", "lenet") else 1)
    builder = {
        "feedforward": training_feedforward,
        "conv1": training_convolve,
        "conv2": training_convolve,
        "lenet": training_full,
    }[name]
    return builder.build_model(flags)


def build_torch(name):
    """The same architecture in PyTorch (NCHW), for the reference rows."""
    from torch import nn

    if name == "feedforward":
        return nn.Sequential(
            nn.Flatten(), nn.Linear(784, 120), nn.Tanh(), nn.Linear(120, 84), nn.Tanh(), nn.Linear(84, 10)
        )
    layers = [nn.Conv2d(1, 6, 5, padding=2), nn.ReLU()]
    size, channels = 28, 6
    if name == "lenet":
        layers.append(nn.AvgPool2d(2))
        size //= 2
    if name in ("conv2", "lenet"):
        layers += [nn.Conv2d(6, 16, 5), nn.ReLU()]
        size, channels = size - 4, 16
    if name == "lenet":
        layers.append(nn.AvgPool2d(2))
        size //= 2
    return nn.Sequential(
        *layers,
        nn.Flatten(),
        nn.Linear(channels * size * size, 120),
        nn.ReLU(),
        nn.Linear(120, 84),
        nn.ReLU(),
        nn.Linear(84, 10),
    )


def time_minidl(name, x, y, batch_size, threads):
    from threadpoolctl import threadpool_limits

    from minidl.optimizers import SGD

    with threadpool_limits(threads):
        model = build_minidl(name)
        model.compile(SGD(0.05, momentum=0.9), "sparse_categorical_crossentropy", ["accuracy"])
        model.fit(x[: 4 * batch_size], y[: 4 * batch_size], batch_size=batch_size, verbose=0)  # warm-up
        started = time.perf_counter()
        model.fit(x, y, batch_size=batch_size, epochs=1, verbose=0)
        return time.perf_counter() - started


def time_torch(name, x, y, batch_size, threads):
    import torch

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = build_torch(name)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    loss_fn = torch.nn.CrossEntropyLoss()
    images = torch.from_numpy(x.transpose(0, 3, 1, 2).copy())
    labels = torch.from_numpy(y.astype("int64"))

    def epoch(count):
        order = torch.randperm(count)
        for start in range(0, count, batch_size):
            index = order[start : start + batch_size]
            optimizer.zero_grad()
            loss_fn(model(images[index]), labels[index]).backward()
            optimizer.step()

    epoch(4 * batch_size)  # warm-up
    started = time.perf_counter()
    epoch(len(images))
    return time.perf_counter() - started


def child(args):
    """Run one measurement and print it as JSON (the parent reads it)."""
    x, y, source = load_data(args.samples, args.data_dir)
    timer = time_torch if args.framework == "torch" else time_minidl
    seconds = timer(args.model, x, y, args.batch_size, args.threads)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": seconds, "peak_mb": peak_mb, "source": source, "samples": len(x)}))


def measure(framework, model, args):
    """Median over --repeat child processes of seconds per epoch, and the largest peak memory."""
    runs = []
    for _ in range(args.repeat):
        command = [
            sys.executable,
            __file__,
            "--child",
            "--framework",
            framework,
            "--models",
            model,
            "--samples",
            str(args.samples),
            "--batch-size",
            str(args.batch_size),
            "--threads",
            str(args.threads),
        ] + (["--data-dir", args.data_dir] if args.data_dir else [])
        out = subprocess.run(command, capture_output=True, text=True)
        if out.returncode != 0:
            raise SystemExit(f"{framework} {model} failed:\n{out.stderr}")
        runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
    return {
        "seconds": statistics.median(r["seconds"] for r in runs),
        "peak_mb": max(r["peak_mb"] for r in runs),
        "source": runs[0]["source"],
        "samples": runs[0]["samples"],
    }


def torch_available():
    try:
        import torch  # noqa: F401

        return True
    except ImportError:
        return False


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default=",".join(MODELS), help=f"comma-separated, from {list(MODELS)}")
    parser.add_argument("--samples", type=int, default=60000)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--threads", type=int, default=1, help="BLAS (and torch) threads")
    parser.add_argument("--repeat", type=int, default=1, help="child runs per row; the median is shown")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--no-torch", action="store_true", help="skip the PyTorch reference rows")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--framework", default="minidl", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        args.model = args.models
        return child(args)
    from rich.console import Console
    from rich.table import Table

    names = args.models.split(",")
    unknown = [n for n in names if n not in MODELS]
    if unknown:
        parser.error(f"unknown model(s) {unknown}; choose from {list(MODELS)}")
    with_torch = not args.no_torch and torch_available()
    table = Table(
        title=f"One training epoch, batch {args.batch_size}, {args.threads} thread(s), median of {args.repeat}"
    )
    for column in ("model", "framework", "s / epoch", "samples/s", "peak MB", "vs torch"):
        table.add_column(column, justify="left" if column in ("model", "framework") else "right")
    for name in names:
        ours = measure("minidl", name, args)
        theirs = measure("torch", name, args) if with_torch else None
        ratio = f"{ours['seconds'] / theirs['seconds']:.2f}x" if theirs else "-"
        for framework, row, shown_ratio in (("minidl", ours, ratio), ("torch", theirs, "")):
            if row is None:
                continue
            table.add_row(
                MODELS[name] if framework == "minidl" else "",
                framework,
                f"{row['seconds']:.2f}",
                f"{row['samples'] / row['seconds']:,.0f}",
                f"{row['peak_mb']:.0f}",
                shown_ratio,
            )
    Console(width=max(Console().width, 120)).print(table)
    print(
        f"data: {ours['source']} ({ours['samples']} samples); 'vs torch' = minidl time / PyTorch time "
        f"(below 1 means minidl is faster)" + ("" if with_torch else "; torch not installed")
    )


if __name__ == "__main__":
    main()
