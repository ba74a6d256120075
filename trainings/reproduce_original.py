"""Re-run the five experiments of the original hand-written LeNet project, and the same five networks at
minidl's tuned defaults, and write both tables to <stats-dir>/original_table.md.

The original settings: sigmoid activations, plain SGD at learning rate 0.5, batch 128, 3 epochs. Each
network is trained by its own script (training_feedforward.py, training_convolve.py, training_full.py)
with those flags, through the StatisticsTracker, so every run is also in <stats-dir>/<model>.json.
The original's per-epoch figures were the training accuracy accumulated during each epoch, so the
table shows that running training accuracy beside the validation accuracy after each epoch.

With sigmoid and lr 0.5 the two deep nets (two convolutions; LeNet-5) either stay at chance (always answering
one digit: 11.35 % of the test set is "1", 10.10 % is "3") or break out, depending on the initial
weights, so they run over several seeds (--repeat, default 3 for them, 1 for the others) and the
table counts how many broke out.

    python trainings/reproduce_original.py --limit 2000 --epochs 1     # a quick look
    python trainings/reproduce_original.py                             # the full runs
"""

from __future__ import annotations

import datetime
import os
import sys
import time

import common
import training_convolve
import training_feedforward
import training_full

from minidl.stats import atomic_write

ORIGINAL_FLAGS = ("--activation", "sigmoid", "--optimizer", "sgd", "--lr", "0.5", "--batch-size", "128", "--decay", "0")
CHANCE_LEVEL = 0.20  # a final validation accuracy above this counts as having broken out of chance
TABLE_FILE = "original_table.md"
RELATIVE_COST = (1, 6, 25, 3, 4)  # per configuration below: rough cost of an epoch, for the run order

# (label, script module, script flags, deep: prone to sit at chance with sigmoid, original figures)
CONFIGURATIONS = (
    (
        "FeedForward",
        training_feedforward,
        (),
        False,
        ("87 → 96 → 97 %", "95 %", "step 0.00 s, training 0.6–0.8 s, validation 0.03 s, total 2.13 s"),
    ),
    (
        "one conv, no pool",
        training_convolve,
        ("--conv", "1"),
        False,
        ("88 → 96 → 97 %", "96 %", "step 0.08 s, training 1.9 min, validation 2.45 s, total 1.9 min"),
    ),
    (
        "two conv, no pool",
        training_convolve,
        ("--conv", "2"),
        True,
        ("55 → 85 → 90 %", "84 %", "step 1.2–2 s, training 35 min, validation 28 s, total 35.4 min"),
    ),
    (
        "one conv + avg pool",
        training_full,
        ("--conv", "1", "--pool", "avg"),
        False,
        ("87 → 95 → 97 %", "97 %", "step 1–3.5 s, training 30 min, validation 42.3 s, total 31 min"),
    ),
    (
        "LeNet-5 (two conv + avg pool)",
        training_full,
        ("--conv", "2", "--pool", "avg"),
        True,
        ("18 → 77 → 85 %", "76 %", "training 22 min, validation 1.1 h, total 2.1 h"),
    ),
)


def parse_args(argv=None):
    parser = common.OneLineParser(description=__doc__, formatter_class=common.HelpFormatter)
    add = parser.add_argument
    add("--epochs", type=common.positive_int, default=3, help="passes over the training set")
    add(
        "--limit",
        type=common.positive_int,
        default=None,
        help="use only the first N training images and N test images (quick runs)",
    )
    add("--workers", type=common.positive_int, default=1, help="worker processes per run")
    add(
        "--threads",
        type=common.positive_int,
        default=1,
        help="BLAS threads per process (1, as the original ran: a busy machine makes more threads wait on each other)",
    )
    add(
        "--repeat",
        type=common.positive_int,
        default=None,
        help="seeds 1..R for every row of both tables (default: 3 for the two deep sigmoid nets, 1 for the rest)",
    )
    add("--data-dir", default=None, help="folder with the MNIST .gz files (default: $MINIDL_DATA_DIR or the cache)")
    add("--stats-dir", default="stats_out", help="folder for the statistics and original_table.md")
    add("--skip-tuned", action="store_true", help="run only the original settings (no second table)")
    args = parser.parse_args(argv)
    if args.data_dir is not None and not os.path.isdir(args.data_dir):
        parser.error(f"--data-dir {args.data_dir!r} is not a folder")
    return args


def script_args(module, flags, args, seed):
    """The flags of `module`'s own command line, parsed by its own parser (so defaults match the script)."""
    parser = common.make_parser(module.__doc__, getattr(module, "DEFAULTS", {}))
    if hasattr(module, "add_flags"):
        module.add_flags(parser)
    argv = [*flags, "--epochs", str(args.epochs), "--seed", str(seed), "--workers", str(args.workers)]
    argv += ["--stats-dir", args.stats_dir, "--quiet"]
    if args.limit:
        argv += ["--limit", str(args.limit)]
    if args.data_dir:
        argv += ["--data-dir", args.data_dir]
    parsed = parser.parse_args(argv)
    common.check_args(parser, parsed)
    return parsed


def plan(args) -> list[tuple]:
    """Every run to make: (original settings?, configuration index, seed), cheapest networks first, so an
    interrupted or slow session still has a table of everything but the most expensive rows."""
    jobs = []
    for original in (True, False) if not args.skip_tuned else (True,):
        for index, (_label, _module, _flags, deep, _published) in enumerate(CONFIGURATIONS):
            repeat = args.repeat or (3 if deep and original else 1)
            jobs += [(original, index, seed) for seed in range(1, repeat + 1)]
    return sorted(jobs, key=lambda job: (RELATIVE_COST[job[1]], not job[0], job[2]))


def run_one(args, original: bool, index: int, seed: int) -> dict:
    """Train one configuration with the original flags or its script's defaults, as its script would."""
    label, module, flags, deep, published = CONFIGURATIONS[index]
    parsed = script_args(module, (*(ORIGINAL_FLAGS if original else ()), *flags), args, seed)
    result = common.train(parsed, module.build_model)
    result["load"] = os.getloadavg()[0]
    result.update(label=label, index=index, seed=seed, deep=deep, published=published, args=parsed, original=original)
    print(
        f"{'original' if original else 'tuned'}  {label}, seed {seed}: validation "
        f"{result['accuracy']:.2%} after {args.epochs} epoch(s), {result['seconds']:.1f} s",
        flush=True,
    )
    return result


def gradient_shrink(module, flags, data_dir=None, seed=1) -> float:
    """At initialisation, RMS gradient of the output layer's kernel / that of the first layer's kernel,
    on the first 128 training images with the original settings (how much the signal fades backwards)."""
    import numpy as np

    from minidl.optimizers import SGD

    parser = common.make_parser("", getattr(module, "DEFAULTS", {}))
    if hasattr(module, "add_flags"):
        module.add_flags(parser)
    parsed = parser.parse_args([*ORIGINAL_FLAGS, *flags, "--seed", str(seed)])
    (x, y), _ = common.load_data(data_dir, 128, 1)
    model = module.build_model(parsed)
    model.compile(optimizer=SGD(1e-30), loss="sparse_categorical_crossentropy")
    model.train_on_batch(x[:128], y[:128])  # the gradient stays in the layers' grads; the step is ~0
    kernels = [layer.grads["kernel"] for layer in model.layers if "kernel" in layer.grads]
    rms = [float(np.sqrt(np.mean(np.square(k, dtype=np.float64)))) for k in kernels]
    return rms[-1] / rms[0]


def percent(value) -> str:
    return "-" if value is None else f"{100 * value:.1f}"


def seconds(value) -> str:
    if value is None:
        return "-"
    return f"{value / 60:.1f} min" if value >= 120 else f"{value:.3g} s"


def row_cells(result) -> list[str]:
    """Per-epoch running training and validation accuracy, final accuracy and the times of one run."""
    history, timings = result["history"].history, result["run"]["timings"]
    train = " → ".join(percent(a) for a in history.get("accuracy", []))
    val = " → ".join(percent(a) for a in history.get("val_accuracy", []))
    steps = sorted(timings["step_times"])
    epochs = sorted(timings["epoch_times"])
    return [
        train,
        val,
        f"{100 * result['accuracy']:.2f} %",
        seconds(steps[len(steps) // 2] if steps else None),
        seconds(epochs[len(epochs) // 2] if epochs else None),
        seconds(timings.get("training_time")),
        seconds(timings.get("validation_time")),
        seconds(result["seconds"]),
        f"{result['load']:.1f}",
    ]


HEADER = [
    "configuration",
    "seed",
    "training accuracy during each epoch (running), %",
    "validation accuracy after each epoch, %",
    "final",
    "step (median)",
    "epoch (median, with validation)",
    "training",
    "validation",
    "total",
    "load average after the run",
]


def markdown_table(header, rows) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)] + ["| " + " | ".join(r) + " |" for r in rows]


def original_section(results, args, shrink) -> list[str]:
    rows = []
    results = sorted(results, key=lambda r: (r["index"], r["seed"]))
    for result in results:
        first = result["seed"] == 1
        label = result["label"] if first else ""
        cells = row_cells(result)
        rows.append([label, str(result["seed"]), *cells, *(result["published"] if first else ("", "", ""))])
    lines = [
        f"## The original settings: sigmoid, plain SGD at lr 0.5, batch 128, {args.epochs} epoch(s)",
        "",
        *markdown_table(HEADER + ["original per-epoch (training, running)", "original final", "original times"], rows),
        "",
    ]
    for label, *_ in [c for c in CONFIGURATIONS if c[3]]:
        runs = [r for r in results if r["label"] == label]
        if not runs:
            continue
        finals = [r["accuracy"] for r in runs]
        broke = sum(a > CHANCE_LEVEL for a in finals)
        lines.append(
            f"- {label}: {broke} of {len(runs)} seeds broke out of chance (final validation accuracy above "
            f"{CHANCE_LEVEL:.0%}); finals {', '.join(f'{100 * a:.2f} %' for a in finals)} "
            f"(spread {100 * (max(finals) - min(finals)):.1f} points)."
        )
    lines += [
        "",
        "Why the deep nets may sit at chance: the sigmoid's slope is at most 1/4, so each sigmoid layer "
        "shrinks the gradient on its way back; at initialisation (seed 1, first 128 images) the output "
        "layer's kernel gradient is "
        + ", ".join(f"{ratio:.0f}x ({label})" for label, ratio in shrink.items())
        + " larger (RMS) than the first convolution's, so the first layers barely move while lr 0.5 pushes "
        "the last ones towards always answering the most frequent digit; whether the net escapes that "
        "depends on the initial weights.",
        "",
    ]
    return lines


def tuned_section(results, args) -> list[str]:
    rows = []
    results = sorted(results, key=lambda r: (r["index"], r["seed"]))
    for result in results:
        parsed = result["args"]
        settings = f"{parsed.activation}, {parsed.optimizer} lr {parsed.lr:g}"
        if parsed.decay:
            settings += f" decay {parsed.decay:g}"
        settings += f", batch {parsed.batch_size}"
        label = result["label"] if result["seed"] == 1 else ""
        rows.append([label, str(result["seed"]), *row_cells(result), settings])
    return [
        f"## The same networks at minidl's tuned defaults (each script's defaults), {args.epochs} epoch(s)",
        "",
        *markdown_table(HEADER + ["settings"], rows),
        "",
    ]


def write_table(path, args, results, total, shrink, started) -> None:
    """original_table.md from the runs so far (rewritten after every run; says when runs are still to come)."""
    original = [r for r in results if r["original"]]
    tuned = [r for r in results if not r["original"]]
    scope = f"the first {args.limit} training and test" if args.limit else "all 60,000 training and 10,000 test"
    lines = [
        "# The original project's experiments, re-run with minidl",
        "",
        f"Written by `python trainings/reproduce_original.py` on {datetime.date.today()} ({scope} MNIST images, "
        f"{args.workers} worker process(es) of {args.threads} BLAS thread(s), "
        f"{time.perf_counter() - started:.0f} s in all, load average {os.getloadavg()[0]:.1f} when written). "
        "Times are wall clock on this machine, which other work shares; 'total' is the whole `fit` call "
        "including worker start-up. Accuracy 'final' is the validation (test-set) accuracy after the last epoch.",
        "",
    ]
    if len(results) < total:
        lines += [f"**Unfinished: {len(results)} of {total} runs done so far; the missing rows are still to run.**", ""]
    lines += original_section(original, args, shrink)
    if tuned:
        lines += tuned_section(tuned, args)
    atomic_write(path, "\n".join(lines))


def main(argv=None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    os.makedirs(args.stats_dir, exist_ok=True)
    path = os.path.join(args.stats_dir, TABLE_FILE)
    from threadpoolctl import threadpool_limits

    limits = threadpool_limits(args.threads)  # this process's BLAS; worker processes limit their own
    with common.interrupts_handled():  # Ctrl-C / SIGTERM stop the run in progress cleanly, recorded
        try:
            shrink = {
                label: gradient_shrink(module, flags, args.data_dir)
                for label, module, flags, deep, _ in CONFIGURATIONS
                if deep
            }
            jobs, results = plan(args), []
            for original, index, seed in jobs:
                results.append(run_one(args, original, index, seed))
                write_table(path, args, results, len(jobs), shrink, started)
        except KeyboardInterrupt as interrupt:
            cause, code = common.interruption(interrupt)
            print(f"\n{cause}: the runs so far are in the statistics and in {path}.", file=sys.stderr)
            return code
        except common.datasets.DatasetError as error:
            print(f"reproduce_original.py: error: {error}", file=sys.stderr)
            return 1
        finally:
            limits.restore_original_limits()
    print(f"wrote {path} ({time.perf_counter() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
