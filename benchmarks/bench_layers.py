"""Single-process training speed of the experiment models against PyTorch, on one BLAS thread.

minidl and PyTorch (CPU) train the same architecture on the same data in ONE process, alternated
round by round (minidl, torch, minidl, torch, ...), each limited to --threads threads (threadpoolctl
for NumPy's BLAS, torch.set_num_threads for PyTorch). Every round reports CPU time
(time.process_time) beside wall time; the ratio column is the median over rounds of minidl's time
divided by PyTorch's in the same round. On a shared machine wall times are noisy; CPU-time ratios
of alternated rounds are the figure to trust. The header prints the BLAS library, its kernel and
thread count, the CPU and the load average; the load average is printed again at the end.

    python benchmarks/bench_layers.py                       # all models, 1 thread, 3 rounds
    python benchmarks/bench_layers.py --models lenet,keras --samples 12800 --rounds 5
    python benchmarks/bench_layers.py --per-layer           # forward/backward ms and GFLOP/s per layer
    python benchmarks/bench_layers.py --threads-table       # 1 vs 2 BLAS threads, idle and contended
    python benchmarks/bench_layers.py --memory              # peak memory of one epoch, fresh process each
    python benchmarks/bench_layers.py --functional          # the Functional API's cost against Sequential

Real MNIST is used when MINIDL_DATA_DIR or --data-dir has it, MNIST-shaped random data otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
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
    "conv1": "one conv, no pool, ReLU",
    "conv2": "two conv, no pool, ReLU",
    "lenet": "LeNet-5 (two conv + avg pool), ReLU",
    "keras": "Keras MNIST convnet",
}


# The hidden layers' activation of each model, in both frameworks: each training script's default.
ACTIVATIONS = {"feedforward": "tanh", "conv1": "relu", "conv2": "relu", "lenet": "relu", "keras": "relu"}


# ----- the machine -----
def load_average() -> str:
    """The 1, 5 and 15-minute load averages, as the kernel reports them."""
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


def cpu_model() -> str:
    """The CPU's model name (from /proc/cpuinfo where there is one)."""
    try:
        with open("/proc/cpuinfo") as info:
            return next(line.split(":", 1)[1].strip() for line in info if line.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor() or "unknown CPU"


def machine_lines(threads) -> list[str]:
    """What decides the speed: CPU, core count, BLAS library/kernel/threads, library versions, load."""
    import numpy as np
    from threadpoolctl import threadpool_info

    lines = [
        f"machine: {cpu_model()}, {os.cpu_count()} CPUs; Python {platform.python_version()}, NumPy {np.__version__}"
    ]
    for pool in threadpool_info():
        lines.append(
            f"{pool['user_api']}: {pool['internal_api']} {pool.get('version') or ''} "
            f"kernel {pool.get('architecture', '?')}, {pool['num_threads']} threads by default "
            f"[{os.path.basename(pool['filepath'])}]; threads while timing: {threads}"
        )
    openblas_env = {k: v for k, v in os.environ.items() if k.startswith("OPENBLAS")}
    lines.append(f"OPENBLAS_* environment: {openblas_env or 'none'}")
    if torch_available():
        import torch

        lines.append(f"torch {torch.__version__}; threads while timing: {threads}")
    lines.append(f"load average before: {load_average()}")
    return lines


# ----- data and models -----
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
    """The experiment's own model definitions from trainings/, and the Keras example convnet."""
    if name == "keras":
        from minidl import Model
        from minidl.layers import Conv2D, Dense, Dropout, Flatten, MaxPool2D

        return Model(
            [
                Conv2D(32, 3, activation="relu", input_shape=(28, 28, 1)),
                MaxPool2D(2),
                Conv2D(64, 3, activation="relu"),
                MaxPool2D(2),
                Flatten(),
                Dropout(0.5),
                Dense(10, activation="softmax"),
            ],
            name="keras_mnist_convnet",
            seed=0,
        )
    import training_convolve
    import training_feedforward
    import training_full

    flags = argparse.Namespace(
        seed=0, activation=ACTIVATIONS[name], pool="avg", conv=2 if name in ("conv2", "lenet") else 1
    )
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

    act = {"tanh": nn.Tanh, "relu": nn.ReLU}[ACTIVATIONS[name]]
    if name == "feedforward":
        return nn.Sequential(nn.Flatten(), nn.Linear(784, 120), act(), nn.Linear(120, 84), act(), nn.Linear(84, 10))
    if name == "keras":
        return nn.Sequential(
            nn.Conv2d(1, 32, 3),
            act(),
            nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3),
            act(),
            nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Dropout(0.5),
            nn.Linear(64 * 5 * 5, 10),
        )
    layers = [nn.Conv2d(1, 6, 5, padding=2), act()]
    size, channels = 28, 6
    if name == "lenet":
        layers.append(nn.AvgPool2d(2))
        size //= 2
    if name in ("conv2", "lenet"):
        layers += [nn.Conv2d(6, 16, 5), act()]
        size, channels = size - 4, 16
    if name == "lenet":
        layers.append(nn.AvgPool2d(2))
        size //= 2
    return nn.Sequential(
        *layers,
        nn.Flatten(),
        nn.Linear(channels * size * size, 120),
        act(),
        nn.Linear(120, 84),
        act(),
        nn.Linear(84, 10),
    )


def torch_available():
    try:
        import torch  # noqa: F401

        return True
    except ImportError:
        return False


# ----- trainers: each returns a function that trains one epoch over the given data -----
def functional_twin(model):
    """The Sequential `model` again through the Functional API: new layers of the same configs wired with
    `Input` / `Model(inputs, outputs)`, holding the same weights."""
    from minidl import Input, Model

    inputs = Input(model.input_shape)
    tensor = inputs
    for layer in model.layers:
        tensor = type(layer).from_config(layer.get_config())(tensor)
    twin = Model(inputs, tensor, name=f"{model.name}_functional")
    twin.set_weights(model.get_weights())
    return twin


def minidl_trainer(name, x, y, batch_size, threads=1, functional=False):
    """A compiled minidl model (SGD 0.05, momentum 0.9), warmed up; returns `epoch()`.

    `threads` goes to `fit`, which sets the BLAS thread count itself (a limit set around the call
    would be overridden by fit's own default of one thread). `functional` builds the same network
    through the Functional API.
    """
    from minidl.optimizers import SGD

    model = build_minidl(name)
    if functional:
        model = functional_twin(model)
    model.compile(SGD(0.05, momentum=0.9), "sparse_categorical_crossentropy", metrics=["accuracy"])
    warm = slice(0, 4 * batch_size)
    model.fit(x[warm], y[warm], batch_size=batch_size, verbose=0, threads=threads)

    def epoch():
        model.fit(x, y, batch_size=batch_size, epochs=1, verbose=0, threads=threads)

    epoch.model = model
    return epoch


def torch_trainer(name, x, y, batch_size):
    """The PyTorch model with the same optimizer, warmed up; returns `epoch()`."""
    import torch

    torch.manual_seed(0)
    model = build_torch(name)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    loss_fn = torch.nn.CrossEntropyLoss()
    images = torch.from_numpy(x.transpose(0, 3, 1, 2).copy())
    labels = torch.from_numpy(y.astype("int64"))

    def run(count):
        order = torch.randperm(count)
        for start in range(0, count, batch_size):
            index = order[start : start + batch_size]
            optimizer.zero_grad()
            loss_fn(model(images[index]), labels[index]).backward()
            optimizer.step()

    run(4 * batch_size)  # warm-up

    def epoch():
        run(len(images))

    epoch.model = model
    return epoch


def timed(function):
    """(wall seconds, CPU seconds of this process) of one call."""
    wall, cpu = time.perf_counter(), time.process_time()
    function()
    return time.perf_counter() - wall, time.process_time() - cpu


def time_torch(name, x, y, batch_size, threads):
    """Wall seconds of one PyTorch epoch with `threads` threads (used by bench_parallel.py)."""
    import torch

    torch.set_num_threads(threads)
    return timed(torch_trainer(name, x, y, batch_size))[0]


def time_minidl(name, x, y, batch_size, threads):
    """Wall seconds of one minidl epoch with `threads` BLAS threads."""
    return timed(minidl_trainer(name, x, y, batch_size, threads))[0]


# ----- the epoch table: alternated rounds in one process -----
def alternated(name, x, y, args):
    """Per round: minidl epoch then PyTorch epoch (order swapped every other round); medians."""
    from threadpoolctl import threadpool_limits

    if args.with_torch:
        import torch

        torch.set_num_threads(args.threads)
    with threadpool_limits(args.threads):
        ours = minidl_trainer(name, x, y, args.batch_size, args.threads)
        theirs = torch_trainer(name, x, y, args.batch_size) if args.with_torch else None
        rounds = []
        for index in range(args.rounds):
            pair = [("minidl", ours), ("torch", theirs)] if theirs else [("minidl", ours)]
            if index % 2:
                pair.reverse()
            rounds.append({label: timed(trainer) for label, trainer in pair})
    result = {}
    for label in ("minidl", "torch") if theirs else ("minidl",):
        result[label] = {
            "wall": statistics.median(r[label][0] for r in rounds),
            "cpu": statistics.median(r[label][1] for r in rounds),
        }
    if theirs:
        result["ratio_cpu"] = statistics.median(r["minidl"][1] / r["torch"][1] for r in rounds)
        result["ratio_wall"] = statistics.median(r["minidl"][0] / r["torch"][0] for r in rounds)
    return result


def epoch_table(names, x, args):
    from rich.table import Table

    y = args.labels
    table = Table(
        title=f"Training over {len(x)} samples, batch {args.batch_size}, {args.threads} thread(s), "
        f"median of {args.rounds} alternated rounds"
    )
    for column in ("model", "framework", "CPU s", "wall s", "samples/s (CPU)", "ratio CPU", "ratio wall"):
        table.add_column(column, justify="left" if column in ("model", "framework") else "right")
    for name in names:
        result = alternated(name, x, y, args)
        if "ratio_cpu" in result:  # progress on stderr, so a long run shows something before the table
            print(
                f"{name}: ratio CPU {result['ratio_cpu']:.2f}x, wall {result['ratio_wall']:.2f}x "
                f"(load {load_average()})",
                file=sys.stderr,
                flush=True,
            )
        for framework in ("minidl", "torch"):
            if framework not in result:
                continue
            row = result[framework]
            first = framework == "minidl"
            table.add_row(
                MODELS[name] if first else "",
                framework,
                f"{row['cpu']:.2f}",
                f"{row['wall']:.2f}",
                f"{len(x) / row['cpu']:,.0f}",
                f"{result['ratio_cpu']:.2f}x" if first and "ratio_cpu" in result else "",
                f"{result['ratio_wall']:.2f}x" if first and "ratio_wall" in result else "",
            )
    return table


def functional_table(names, x, args):
    """Sequential against the same network built with the Functional API, alternated round by round."""
    from rich.table import Table

    table = Table(
        title=f"Sequential against Functional, {len(x)} samples, batch {args.batch_size}, {args.threads} thread(s), "
        f"median of {args.rounds} alternated rounds"
    )
    for column in ("model", "Sequential CPU s", "Functional CPU s", "ratio CPU", "ratio wall"):
        table.add_column(column, justify="left" if column == "model" else "right")
    for name in names:
        pair = [
            ("sequential", minidl_trainer(name, x, args.labels, args.batch_size, args.threads)),
            ("functional", minidl_trainer(name, x, args.labels, args.batch_size, args.threads, functional=True)),
        ]
        rounds = []
        for index in range(args.rounds):
            order = pair[::-1] if index % 2 else pair
            rounds.append({label: timed(trainer) for label, trainer in order})
        ratio = {
            kind: statistics.median(r["functional"][k] / r["sequential"][k] for r in rounds)
            for k, kind in ((1, "cpu"), (0, "wall"))
        }
        print(f"{name}: functional / sequential CPU {ratio['cpu']:.3f} (load {load_average()})", file=sys.stderr)
        table.add_row(
            MODELS[name],
            f"{statistics.median(r['sequential'][1] for r in rounds):.2f}",
            f"{statistics.median(r['functional'][1] for r in rounds):.2f}",
            f"{ratio['cpu']:.3f}x",
            f"{ratio['wall']:.3f}x",
        )
    return table


# ----- per-layer table -----
def layer_flops(layer, batch):
    """(forward, backward) floating-point operations of a matrix-product layer, else (None, None)."""
    import math

    from minidl.layers import Conv2D, Dense

    if isinstance(layer, Conv2D):
        (oh, ow, f), (kh, kw) = layer.output_shape, layer.kernel_size
        product = 2 * batch * oh * ow * kh * kw * layer.input_shape[2] * f
    elif isinstance(layer, Dense):
        product = 2 * batch * math.prod(layer.input_shape) * layer.units
    else:
        return None, None
    return product, product * (2 if layer.needs_input_grad else 1)


def best_ms(function, repeat):
    """Median milliseconds (CPU time) of `repeat` calls; `function(timer)` times its own part."""
    times = []
    for _ in range(repeat):
        times.append(function())
    return 1000 * statistics.median(times)


def minidl_layer_times(name, x, batch_size, repeat):
    """Per layer: (label, layer, forward ms, backward ms), CPU time, training mode."""
    import numpy as np

    from minidl.optimizers import SGD
    from minidl.trainers import data as data_checks

    model = build_minidl(name)
    model.compile(SGD(0.05, momentum=0.9), "sparse_categorical_crossentropy", metrics=[])
    batch = data_checks.check_inputs(model, x[:batch_size])
    rows = []
    inputs = [batch]
    for layer in model.layers:
        inputs.append(layer.forward(inputs[-1].copy(), training=True))
    rng = np.random.default_rng(0)
    for layer, layer_in, layer_out in zip(model.layers, inputs, inputs[1:]):
        grad = rng.standard_normal(layer_out.shape).astype(layer_out.dtype)

        def forward(layer=layer, layer_in=layer_in):
            copy = layer_in.copy()
            started = time.process_time()
            layer.forward(copy, training=True)
            return time.process_time() - started

        def backward(layer=layer, layer_in=layer_in, grad=grad):
            layer.forward(layer_in.copy(), training=True)
            copy = grad.copy()
            started = time.process_time()
            layer.backward(copy)
            return time.process_time() - started

        rows.append((type(layer).__name__, layer, best_ms(forward, repeat), best_ms(backward, repeat)))
    return rows


def torch_layer_times(name, x, batch_size, repeat):
    """Per PyTorch module (activations joined to the module before them): forward/backward ms."""
    import torch

    model = build_torch(name)
    model.train()
    groups, current = [], []
    for module in model:
        if isinstance(module, (torch.nn.ReLU, torch.nn.Tanh)) and current:
            current.append(module)
            continue
        if current:
            groups.append(current)
        current = [module]
    groups.append(current)
    value = torch.from_numpy(x[:batch_size].transpose(0, 3, 1, 2).copy())
    rows = []
    for index, group in enumerate(groups):
        block = torch.nn.Sequential(*group)
        # The model's input needs no gradient, unless a weightless module (Flatten) comes first.
        needs_grad = index > 0 or not any(True for _ in block.parameters())
        inp = value.detach().clone().requires_grad_(needs_grad)
        out = block(inp)
        grad = torch.randn_like(out)

        def forward(block=block, inp=inp):
            started = time.process_time()
            block(inp)
            return time.process_time() - started

        def backward(block=block, inp=inp, grad=grad):
            out = block(inp)
            started = time.process_time()
            out.backward(grad)
            return time.process_time() - started

        rows.append((type(group[0]).__name__, best_ms(forward, repeat), best_ms(backward, repeat)))
        value = out.detach()
    return rows


def per_layer_table(name, x, args):
    from rich.table import Table

    ours = minidl_layer_times(name, x, args.batch_size, args.layer_repeat)
    theirs = torch_layer_times(name, x, args.batch_size, args.layer_repeat) if args.with_torch else []
    table = Table(
        title=f"{MODELS[name]}: per layer, batch {args.batch_size}, {args.threads} thread(s), "
        f"median CPU ms of {args.layer_repeat} calls"
    )
    for column in ("layer", "fwd ms", "bwd ms", "fwd GFLOP/s", "bwd GFLOP/s", "torch", "fwd ms ", "bwd ms ", "ratio"):
        table.add_column(column, justify="left" if column in ("layer", "torch") else "right")
    totals = [0.0, 0.0, 0.0, 0.0]
    for index, (label, layer, fwd, bwd) in enumerate(ours):
        flops_fwd, flops_bwd = layer_flops(layer, args.batch_size)
        torch_row = theirs[index] if index < len(theirs) else ("-", None, None)
        totals[0] += fwd
        totals[1] += bwd
        if torch_row[1] is not None:
            totals[2] += torch_row[1]
            totals[3] += torch_row[2]
        table.add_row(
            f"{label} {layer.output_shape}",
            f"{fwd:.3f}",
            f"{bwd:.3f}",
            f"{flops_fwd / fwd / 1e6:.1f}" if flops_fwd and fwd > 0 else "-",
            f"{flops_bwd / bwd / 1e6:.1f}" if flops_bwd and bwd > 0 else "-",
            torch_row[0],
            "-" if torch_row[1] is None else f"{torch_row[1]:.3f}",
            "-" if torch_row[2] is None else f"{torch_row[2]:.3f}",
            "-" if not torch_row[1] else f"{(fwd + bwd) / (torch_row[1] + torch_row[2]):.2f}x",
        )
    table.add_row(
        "total",
        f"{totals[0]:.3f}",
        f"{totals[1]:.3f}",
        "",
        "",
        "",
        f"{totals[2]:.3f}" if theirs else "-",
        f"{totals[3]:.3f}" if theirs else "-",
        f"{sum(totals[:2]) / sum(totals[2:]):.2f}x" if theirs else "-",
    )
    return table


# ----- threads table -----
def busy_process():
    """A competing process that keeps one core busy until it is terminated."""
    return subprocess.Popen([sys.executable, "-c", "while True: pass"])


def threads_table(x, args):
    """LeNet-5 steps with 1 and 2 BLAS threads, on the machine as it is and with one busy competitor."""
    from rich.table import Table
    from threadpoolctl import threadpool_limits

    if args.with_torch:
        import torch
    count = args.threads_steps * args.batch_size
    xs, ys = x[:count], args.labels[:count]
    table = Table(title=f"LeNet-5, {args.threads_steps} steps of batch {args.batch_size}: BLAS threads vs competition")
    for column in ("competition", "framework", "threads", "wall s", "CPU s", "ms / step (wall)", "load before"):
        table.add_column(column, justify="left" if column in ("competition", "framework") else "right")
    for contended in (False, True):
        competitor = busy_process() if contended else None
        try:
            if competitor:
                time.sleep(1.0)
            for framework in ("minidl", "torch") if args.with_torch else ("minidl",):
                for threads in (1, 2):
                    load = load_average().split()[0]
                    if args.with_torch:
                        torch.set_num_threads(threads)
                    with threadpool_limits(threads):
                        if framework == "minidl":
                            trainer = minidl_trainer("lenet", xs, ys, args.batch_size, threads)
                        else:
                            trainer = torch_trainer("lenet", xs, ys, args.batch_size)
                        wall, cpu = timed(trainer)
                    table.add_row(
                        "1 busy process" if contended else "none started",
                        framework,
                        str(threads),
                        f"{wall:.2f}",
                        f"{cpu:.2f}",
                        f"{1000 * wall / args.threads_steps:.1f}",
                        load,
                    )
        finally:
            if competitor:
                competitor.terminate()
                competitor.wait()
    return table


# ----- memory: a fresh process per measurement -----
def memory_child(args):
    """Train one epoch of one framework in this (fresh) process and print its peak RSS as JSON."""
    x, y, source = load_data(args.samples, args.data_dir)
    from threadpoolctl import threadpool_limits

    with threadpool_limits(args.threads):
        if args.framework == "torch":
            import torch

            torch.set_num_threads(args.threads)
            wall, cpu = timed(torch_trainer(args.models, x, y, args.batch_size))
        else:
            wall, cpu = timed(minidl_trainer(args.models, x, y, args.batch_size, args.threads))
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"peak_mb": peak_mb, "wall": wall, "cpu": cpu, "samples": len(x), "source": source}))


def memory_table(names, args):
    from rich.table import Table

    table = Table(title="Peak resident memory of one training epoch, one fresh process each")
    for column in ("model", "framework", "samples", "peak MB", "wall s", "CPU s"):
        table.add_column(column, justify="left" if column in ("model", "framework") else "right")
    for name in names:
        for framework in ("minidl", "torch") if args.with_torch else ("minidl",):
            command = [sys.executable, __file__, "--memory-child", "--framework", framework, "--models", name]
            command += ["--samples", str(args.samples), "--batch-size", str(args.batch_size)]
            command += ["--threads", str(args.threads)] + (["--data-dir", args.data_dir] if args.data_dir else [])
            out = subprocess.run(command, capture_output=True, text=True)
            if out.returncode != 0:
                raise SystemExit(f"{framework} {name} failed:\n{out.stderr}")
            row = json.loads(out.stdout.strip().splitlines()[-1])
            table.add_row(
                MODELS[name],
                framework,
                str(row["samples"]),
                f"{row['peak_mb']:.0f}",
                f"{row['wall']:.2f}",
                f"{row['cpu']:.2f}",
            )
    return table


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default=",".join(MODELS), help=f"comma-separated, from {list(MODELS)}")
    parser.add_argument("--samples", type=int, default=60000, help="training samples per epoch")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--threads", type=int, default=1, help="BLAS (and torch) threads")
    parser.add_argument("--rounds", "--repeat", type=int, default=3, help="alternated rounds; medians are shown")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--no-torch", action="store_true", help="skip the PyTorch reference rows")
    parser.add_argument("--per-layer", action="store_true", help="per-layer forward/backward table instead")
    parser.add_argument("--layer-repeat", type=int, default=20, help="calls per layer in --per-layer")
    parser.add_argument("--threads-table", action="store_true", help="1 vs 2 threads, idle and contended, instead")
    parser.add_argument("--threads-steps", type=int, default=40, help="LeNet-5 steps per row of --threads-table")
    parser.add_argument("--memory", action="store_true", help="peak memory of one epoch per model instead")
    parser.add_argument(
        "--functional", action="store_true", help="Sequential against the same network built functionally, instead"
    )
    parser.add_argument("--memory-child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--framework", default="minidl", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_child:
        return memory_child(args)
    from rich.console import Console

    names = args.models.split(",")
    unknown = [n for n in names if n not in MODELS]
    if unknown:
        parser.error(f"unknown model(s) {unknown}; choose from {list(MODELS)}")
    args.with_torch = not args.no_torch and torch_available()
    console = Console(width=max(Console().width, 130))
    for line in machine_lines(args.threads):
        console.print(line, highlight=False)
    if args.memory:
        console.print(memory_table(names, args))
    else:
        from threadpoolctl import threadpool_limits

        x, args.labels, source = load_data(args.samples, args.data_dir)
        console.print(f"data: {source}, {len(x)} samples", highlight=False)
        with threadpool_limits(args.threads):
            if args.per_layer:
                if args.with_torch:
                    import torch

                    torch.set_num_threads(args.threads)
                for name in names:
                    console.print(per_layer_table(name, x, args))
            elif args.threads_table:
                console.print(threads_table(x, args))
            elif args.functional:
                console.print(functional_table(names, x, args))
            else:
                console.print(epoch_table(names, x, args))
                console.print(
                    "ratio = minidl time / PyTorch time in the same round, median over rounds (below 1: minidl "
                    "faster). CPU time is the main figure on a shared machine; wall time is shown beside it.",
                    highlight=False,
                )
    console.print(f"load average after: {load_average()}", highlight=False)


if __name__ == "__main__":
    main()
