"""What watching a run in TensorBoard costs: a LeNet-5 epoch with and without the event files being written.

One process, one BLAS thread, one epoch per `fit`, the variants alternated round by round (the order
reversed every other round) on the same data:

* no callback, against `TensorBoard()` (update_freq="epoch") and `TensorBoard(update_freq="batch")`;
* `StatisticsTracker` alone ("tracker"), against what `trainings/ --tensorboard DIR` adds to it: the tracker writing
  the live speed-up after every step (`tensorboard_dir`) and `TensorBoard(update_freq="batch",
  histogram_freq=1, write_images=True)`.

Each `fit` writes into a fresh log folder, so opening the event files, the graph and one epoch's
histograms and pictures are charged to every epoch: with more epochs per `fit` they spread thinner.
The added cost is the median over rounds of (variant / its reference in the same round) - 1, for CPU
time (time.process_time: this process, the writer's thread included) and wall time. On a busy machine
that difference is within the noise of an epoch, so each round also times the writing alone: the
variant's callbacks driven through one epoch's hooks (same steps, logs, timings, model) with no
training between them, files closed at the end, as a share of the reference's epoch CPU time. The
targets are the issue's: under 2 % of an epoch at "epoch", under 5 % at "batch". The load average is
printed before and after; on a shared machine trust CPU time first, and re-run on a quiet one:

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/bench_tensorboard.py --rounds 7
    python benchmarks/bench_tensorboard.py --samples 12800 --rounds 3      # a quicker look

Real MNIST is used when MINIDL_DATA_DIR or --data-dir has it, MNIST-shaped random data otherwise.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import bench_layers  # noqa: E402  (data, the LeNet-5 model, timing, load average)

TARGETS = {"epoch": 0.02, "batch": 0.05}


def variants(folder):
    """{label: (reference label or None, target share or None, callbacks factory)}.

    Each factory is given a fresh log folder."""
    from minidl.callbacks import TensorBoard
    from minidl.stats import StatisticsTracker

    stats_dir = os.path.join(folder, "stats")

    def tracker(log_dir=None):
        return StatisticsTracker(
            "lenet_bench", out_dir=stats_dir, dataset="bench", verbose=False, tensorboard_dir=log_dir
        )

    return {
        "no callback": (None, None, lambda log_dir: []),
        'TensorBoard() (update_freq="epoch")': (
            "no callback",
            TARGETS["epoch"],
            lambda log_dir: [TensorBoard(log_dir)],
        ),
        'TensorBoard(update_freq="batch")': (
            "no callback",
            TARGETS["batch"],
            lambda log_dir: [TensorBoard(log_dir, update_freq="batch")],
        ),
        "tracker": (None, None, lambda log_dir: [tracker()]),
        "tracker + trainings' --tensorboard": (
            "tracker",
            TARGETS["batch"],
            lambda log_dir: [
                tracker(log_dir),
                TensorBoard(log_dir, update_freq="batch", histogram_freq=1, write_images=True),
            ],
        ),
    }


def live_speedup_writes(folder):
    """The tracker's share of the events under --tensorboard, as a callback: `LiveSpeedup` after every step."""
    from minidl.callbacks import LambdaCallback
    from minidl.stats import LiveSpeedup

    live = LiveSpeedup(os.path.join(folder, "speedup"), 0.013)
    return LambdaCallback(
        on_train_batch_end=lambda batch, logs: live.add(0.013), on_train_end=lambda logs: live.close()
    )


def writing_alone(label, model, args, steps, folder):
    """(wall, CPU) seconds of the variant's TensorBoard writing over one epoch's hooks, without training."""
    from minidl.callbacks import CallbackList, TensorBoard
    from minidl.distributed.base import StepTimings

    log_dir = tempfile.mkdtemp(dir=folder)
    if "--tensorboard" in label:
        callbacks = [TensorBoard(log_dir, update_freq="batch", histogram_freq=1, write_images=True)]
        callbacks.append(live_speedup_writes(log_dir))
    elif "TensorBoard" in label:
        callbacks = [TensorBoard(log_dir, update_freq="batch" if "batch" in label else "epoch")]
    else:
        return None
    timings = StepTimings()
    params = {"epochs": 1, "steps": steps, "batch_size": args.batch_size, "rank": 0, "timings": timings}
    hooks = CallbackList(callbacks, model, params)
    logs = {"loss": 0.5, "accuracy": 0.8}

    def epoch():
        hooks.on_train_begin({})
        hooks.on_epoch_begin(0, {})
        for step in range(steps):
            hooks.on_train_batch_begin(step, {"size": args.batch_size})
            timings.add(0.013, 0.012)
            hooks.on_train_batch_end(step, {**logs, "size": args.batch_size})
        hooks.on_test_begin({})
        hooks.on_test_end(logs)
        hooks.on_epoch_end(0, {**logs, "val_loss": 0.6, "val_accuracy": 0.7})
        hooks.on_train_end({"status": "finished"})

    timing = bench_layers.timed(epoch)
    shutil.rmtree(log_dir)
    return timing


def run_rounds(x, y, args, folder):
    """({label: [(wall, cpu) per round]}, {label: [(wall, cpu) of the writing alone per round]}, variants):
    the variants alternated, one warm-up epoch each first."""
    models, table = {}, variants(folder)
    for label in table:
        models[label] = bench_layers.build_minidl("lenet")
        models[label].compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])

    def epoch(label):
        log_dir = tempfile.mkdtemp(dir=folder)
        callbacks = table[label][2](log_dir)
        timing = bench_layers.timed(
            lambda: models[label].fit(
                x, y, batch_size=args.batch_size, epochs=1, verbose=0, threads=1, callbacks=callbacks
            )
        )
        shutil.rmtree(log_dir)
        return timing

    for label in table:  # warm-up; records the one-worker run the live speed-up is measured against
        epoch(label)
    steps = -(-len(x) // args.batch_size)
    rounds, alone = {label: [] for label in table}, {label: [] for label in table}
    for index in range(args.rounds):
        order = list(table) if index % 2 == 0 else list(reversed(table))
        for label in order:
            rounds[label].append(epoch(label))
            alone[label].append(writing_alone(label, models[label], args, steps, folder))
    return rounds, alone, table


def results_table(rounds, alone, table, args, steps):
    from rich.table import Table

    result = Table(
        title=f"LeNet-5, one epoch of {args.samples} samples ({steps} steps of {args.batch_size}), 1 BLAS thread, "
        f"median of {args.rounds} alternated rounds"
    )
    columns = (
        "callbacks", "wall s", "CPU s", "added CPU", "added wall", "alone CPU ms", "alone / epoch", "target",
        "within (alone / CPU / wall)",
    )  # fmt: skip
    for column in columns:
        result.add_column(column, justify="left" if column == "callbacks" else "right")
    for label, (reference, target, _) in table.items():
        wall = statistics.median(t[0] for t in rounds[label])
        cpu = statistics.median(t[1] for t in rounds[label])
        added, writing, verdict = ["-", "-"], ["-", "-"], "-"
        if reference is not None:
            shares = [
                statistics.median(r[k] / ref[k] - 1 for r, ref in zip(rounds[label], rounds[reference])) for k in (1, 0)
            ]
            alone_cpu = statistics.median(t[1] for t in alone[label])
            alone_share = alone_cpu / statistics.median(t[1] for t in rounds[reference])
            added = [f"{100 * share:+.2f} %" for share in shares]
            writing = [f"{1000 * alone_cpu:.1f}", f"{100 * alone_share:.2f} %"]
            verdict = " / ".join("yes" if share < target else "NO" for share in (alone_share, *shares))
        shown_target = f"< {100 * target:.0f} %" if target else "-"
        result.add_row(label, f"{wall:.3f}", f"{cpu:.3f}", *added, *writing, shown_target, verdict)
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=int, default=60000, help="training samples per epoch (MNIST has 60000)")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--rounds", type=int, default=5, help="alternated rounds; medians are shown")
    parser.add_argument("--data-dir", default=None)
    args = parser.parse_args()
    import tensorboard
    from rich.console import Console

    console = Console(width=max(Console().width, 130))
    console.print(
        f"machine: {bench_layers.cpu_model()}, {os.cpu_count()} CPUs; Python {platform.python_version()}, "
        f"tensorboard {tensorboard.__version__}",
        highlight=False,
    )
    console.print(f"load average before: {bench_layers.load_average()}", highlight=False)
    x, y, source = bench_layers.load_data(args.samples, args.data_dir)
    console.print(f"data: {source}, {len(x)} samples", highlight=False)
    with tempfile.TemporaryDirectory() as folder:
        rounds, alone, table = run_rounds(x, y, args, folder)
    console.print(results_table(rounds, alone, table, args, -(-len(x) // args.batch_size)))
    console.print(
        "added = median over rounds of (time / its reference's time in the same round) - 1. CPU time counts "
        "the writer's thread too; on a shared machine it is the figure to trust, wall time is shown beside it. "
        "writing alone = the variant's callbacks through one epoch's hooks without training (median CPU), "
        "over the reference's median epoch CPU. References: the TensorBoard rows against 'no callback', the "
        "--tensorboard row against 'tracker' (StatisticsTracker alone).",
        highlight=False,
    )
    console.print(f"load average after: {bench_layers.load_average()}", highlight=False)


if __name__ == "__main__":
    main()
