"""What every experiment in trainings/ shares: the command-line flags and the train-and-record run.

A script defines its model Keras-style in a `build_model(args)` function and calls
`main(description, build_model, add_flags, defaults)`; `build_model` names the model after its
variant (e.g. `lenet_conv2_avg`), so variants never mix in the statistics. So `--workers 2` or `--limit 500`
mean the same in every script.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

# Scripts run as `python trainings/x.py` from a checkout; make the package importable without install.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from minidl import datasets
from minidl.optimizers import SGD, Adam

INTERRUPTED_EXIT_CODE = 130


class HelpFormatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    """--help keeps the docstring's layout (its example command stays on its own line) and adds each
    flag's default, unless the help text already explains it (no "(default: random) (default: None)")."""

    def _get_help_string(self, action):
        if "(default:" in (action.help or ""):
            return action.help
        return super()._get_help_string(action)


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a bad flag is reported in one line (and exit code 2), without the usage block."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}\n")


def positive_int(text):
    """argparse type: an integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def positive_float(text):
    """argparse type: a number > 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be greater than 0, got {value}")
    return value


def make_parser(description, defaults) -> OneLineParser:
    """The flags every script takes; `defaults` sets the model-specific ones (lr, epochs, ...)."""
    parser = OneLineParser(description=description, formatter_class=HelpFormatter)
    add = parser.add_argument
    add("--epochs", type=positive_int, default=defaults.get("epochs", 3), help="passes over the training set")
    add("--batch-size", type=positive_int, default=defaults.get("batch_size", 128), help="samples per step")
    add("--lr", type=positive_float, default=defaults.get("lr", 0.05), help="learning rate")
    add(
        "--decay",
        type=float,
        default=defaults.get("decay", 0.0),
        help="learning-rate decay: step t uses lr / (1 + decay * t) (SGD only)",
    )
    add(
        "--optimizer",
        choices=["sgd", "adam"],
        default=defaults.get("optimizer", "sgd"),
        help="sgd (Nesterov momentum 0.9) or adam",
    )
    add(
        "--workers",
        type=positive_int,
        default=1,
        help="worker processes that share each batch's gradient (1 = this process only)",
    )
    add(
        "--threads",
        type=positive_int,
        default=None,
        help="BLAS threads per process (default: 1, measured the best choice when processes share the cores)",
    )
    add(
        "--backend",
        choices=["pool", "mpi"],
        default="pool",
        help="pool: --workers processes on this machine; mpi: one process per rank of `mpiexec -n K`",
    )
    add("--seed", type=int, default=None, help="random seed for weights and shuffling (default: random, recorded)")
    add("--limit", type=positive_int, default=None, help="use only the first N training images (quick runs)")
    add("--data-dir", default=None, help="folder with the MNIST .gz files (default: $MINIDL_DATA_DIR or the cache)")
    add("--stats-dir", default="stats_out", help="folder for <model>.json and averages.txt")
    add("--save", metavar="PATH", default=None, help="save the trained model to this .npz file")
    add("--plot", action="store_true", help="draw the statistics charts after the run (needs the plot extra)")
    add(
        "--show-filters",
        action="store_true",
        help="save pictures of the first-layer filters and a digit's feature maps (convolutional models; "
        "needs the plot extra)",
    )
    add("--quiet", action="store_true", help="print only the final summary")
    return parser


def check_args(parser, args):
    """Errors argparse cannot see by itself, reported the same way (one line, exit 2)."""
    if getattr(args, "decay", 0) < 0:
        parser.error(f"argument --decay: must be at least 0, got {args.decay}")
    if args.data_dir is not None and not os.path.isdir(args.data_dir):
        parser.error(f"--data-dir {args.data_dir!r} is not a folder")
    # Checked now, not after the training whose result it would fail to save.
    save_dir = os.path.dirname(os.path.abspath(args.save)) if getattr(args, "save", None) else None
    if save_dir is not None and not os.path.isdir(save_dir):
        parser.error(f"--save {args.save!r}: folder {save_dir!r} does not exist")
    if getattr(args, "backend", "pool") == "mpi":
        from minidl.distributed.mpi import launch_problem, require_mpi4py

        try:
            require_mpi4py()  # without starting MPI: outside mpiexec that would leave a /dev/shm segment
        except ImportError as error:
            parser.error(f"--backend mpi: {error}")
        problem = launch_problem(args.workers, sys.argv)
        if problem:
            parser.error(f"--backend mpi: {problem}")


def make_optimizer(args):
    """SGD with Nesterov momentum 0.9, or Adam, at the chosen learning rate."""
    if args.optimizer == "adam":
        return Adam(args.lr)
    return SGD(args.lr, momentum=0.9, nesterov=True, decay=args.decay)


def main(description, build_model, add_flags=None, defaults=None, argv=None):
    """Parse flags, load MNIST, build and train the model, record statistics; returns the exit code."""
    parser = make_parser(description, defaults or {})
    if add_flags:
        add_flags(parser)
    args = parser.parse_args(argv)
    check_args(parser, args)
    from minidl.distributed import WorkerError

    try:
        return run(args, build_model)
    except KeyboardInterrupt as interrupt:
        if getattr(interrupt, "rank", 0) != 0:
            pass  # one line per job, from rank 0
        elif getattr(interrupt, "recorded", False):
            print(
                "\nInterrupted: the worker pool is stopped and the partial run is recorded as interrupted.",
                file=sys.stderr,
            )
        else:
            print("\nInterrupted before training began: nothing was recorded.", file=sys.stderr)
        return getattr(interrupt, "exit_code", INTERRUPTED_EXIT_CODE)
    except WorkerError as error:
        # One line; the worker's own traceback only when it raised (not for a killed or stuck worker).
        print(f"{parser.prog}: error: {str(error).splitlines()[0]}", file=sys.stderr)
        if error.worker_traceback:
            print(error.worker_traceback.rstrip(), file=sys.stderr)
        return 1
    except datasets.DatasetError as error:
        print(f"{parser.prog}: error: {error}", file=sys.stderr)
        return 1


def run(args, build_model):
    """Train one model on MNIST as the flags say; the test set serves as validation data."""
    from minidl.stats import StatisticsTracker

    (x_train, y_train), (x_test, y_test) = datasets.load_mnist(data_dir=args.data_dir, train_limit=args.limit)
    model = build_model(args)
    name = model.name
    model.compile(optimizer=make_optimizer(args), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    rank, processes = process_rank(args)
    quiet = args.quiet or rank != 0
    if not quiet:
        model.summary()
    tracker = StatisticsTracker(name, out_dir=args.stats_dir, dataset="mnist")
    started = time.perf_counter()
    try:
        history = model.fit(
            x_train,
            y_train,
            batch_size=args.batch_size,
            epochs=args.epochs,
            validation_data=(x_test, y_test),
            workers=args.workers,
            backend=args.backend,
            threads=args.threads,
            verbose=0 if quiet else 1,
            callbacks=[tracker],
        )
    except KeyboardInterrupt as interrupt:
        interrupt.recorded = tracker.last_saved is not None  # nothing is, if Ctrl-C came during start-up
        interrupt.rank = rank
        raise
    seconds = time.perf_counter() - started
    if rank != 0:
        return 0
    loss, accuracy = final_test_metrics(history, model, x_test, y_test)
    print(
        f"{name}: test accuracy {accuracy:.2%} (loss {loss:.4f}) after {args.epochs} epoch(s) "
        f"in {seconds:.1f} s ({history.params.get('threads_per_worker')} BLAS thread(s) per process) with {processes}"
    )
    if args.save:
        model.save(args.save)
        print(f"model saved to {args.save}")
    if args.plot or args.show_filters:
        draw_pictures(args, model, x_test)
    return 0


def process_rank(args):
    """This process's MPI rank (0 without MPI) and a description of the processes training together."""
    if args.backend != "mpi":
        return 0, f"{args.workers} worker(s)"
    from minidl.distributed import import_mpi

    comm = import_mpi().COMM_WORLD
    return comm.Get_rank(), f"{comm.Get_size()} MPI rank(s)"


def final_test_metrics(history, model, x_test, y_test):
    """(loss, accuracy) on the test set after training.

    The last epoch's validation already measured exactly that (the test set is the validation data),
    so it is reused instead of a second pass over 10,000 images; only when that epoch ended without
    validation (e.g. stopped on a NaN loss) is the model evaluated again.
    """
    logs = history.history
    if len(logs.get("val_accuracy", [])) == len(history.epoch) > 0:
        return logs["val_loss"][-1], logs["val_accuracy"][-1]
    return model.evaluate(x_test, y_test)


def draw_pictures(args, model, x_test):
    """The optional charts: statistics (--plot) and filters / feature maps (--show-filters).

    A picture that cannot be drawn (no matplotlib, no finished run to chart, a model without
    convolutions) is reported in one line on stderr: training is over and recorded, so it is no failure.
    """
    try:
        from minidl import plots

        if args.plot:
            for path in plots.plot_statistics(args.stats_dir):
                print(f"wrote {path}")
        if args.show_filters:
            for path in (
                plots.filters(model, os.path.join(args.stats_dir, f"filters_{model.name}.png")),
                plots.feature_maps(model, x_test[0], os.path.join(args.stats_dir, f"feature_maps_{model.name}.png")),
            ):
                print(f"wrote {path}")
    except (ImportError, ValueError) as error:
        print(f"no pictures: {error}", file=sys.stderr)
