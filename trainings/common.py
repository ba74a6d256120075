"""What every experiment in trainings/ shares: the command-line flags and the train-and-record run.

A script defines its model Keras-style in a `build_model(args)` function and calls
`main(description, build_model, add_flags, defaults)`; `build_model` names the model after its
variant (e.g. `lenet_conv2_avg`, `lenet_conv2_avg_sigmoid`), so variants never mix in the statistics.
So `--workers 2`, `--activation sigmoid`, `--optimizer sgd` or `--limit 500` mean the same in every
script. `train` is the run without printing, for the scripts that run several (reproduce_original.py).
"""

from __future__ import annotations

import os
import signal
import sys
import threading


def _stop_during_start_up(number, frame):
    """Ctrl-C or SIGTERM while the libraries are still being imported: nothing to clean up or record."""
    name = "Terminated (SIGTERM)" if number == signal.SIGTERM else "Interrupted (Ctrl-C)"
    os.write(2, f"\n{name} during start-up: nothing was recorded.\n".encode())
    os._exit(128 + number)


def _run_as_a_training_script() -> bool:
    """True when this process is `python trainings/<script>.py` (not a test importing this module)."""
    script = os.path.abspath(sys.argv[0]) if sys.argv and sys.argv[0] else ""
    return os.path.dirname(script) == os.path.dirname(os.path.abspath(__file__))


# Importing numpy and minidl takes a moment; an interrupt then gets one line, not an import traceback.
# Every script's `main` replaces these handlers with the ones that stop cleanly (`interrupts_handled`):
# past the imports, exiting at once would skip closing worker pools and saving what was done.
if _run_as_a_training_script() and threading.current_thread() is threading.main_thread():
    for _number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(_number, _stop_during_start_up)

# The rest is imported after the start-up handlers, which must come first.
import argparse  # noqa: E402
import contextlib  # noqa: E402
import functools  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402

# Scripts run as `python trainings/x.py` from a checkout; make the package importable without install.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import backups  # noqa: E402
import step_split  # noqa: E402

from minidl import datasets  # noqa: E402
from minidl.optimizers import SGD, Adam  # noqa: E402
from minidl.utils import checks  # noqa: E402
from minidl.utils.interrupts import Terminated  # noqa: E402  (SIGTERM as a Ctrl-C: recorded alike)

ACTIVATIONS = ("relu", "sigmoid", "tanh")
OPTIMIZERS = ("sgd", "momentum", "nesterov", "adam")
DEFAULT_MOMENTUM = 0.9

INTERRUPTED_EXIT_CODE = 130  # 128 + SIGINT, what a shell reports for a Ctrl-C'd command
TERMINATED_EXIT_CODE = 143  # 128 + SIGTERM, what batch schedulers and `timeout` expect


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
    """argparse type: a finite number > 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 < value < float("inf"):  # NaN fails both comparisons
        raise argparse.ArgumentTypeError(f"must be a finite number greater than 0, got {value}")
    return value


def seed_value(text):
    """argparse type: a seed, a whole number in [0, 2**63) (what NumPy's generators take)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    try:
        return checks.seed(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number in [0, 2**63), got {value}") from None


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
        default=None,
        help="learning-rate decay of the SGD optimizers: step t uses lr / (1 + decay * t) "
        f"(default: {defaults.get('decay', 0.0):g}; adam takes none)",
    )
    parser.set_defaults(sgd_decay=defaults.get("decay", 0.0))
    add(
        "--activation",
        choices=ACTIVATIONS,
        default=defaults.get("activation", "relu"),
        help="activation of the hidden layers (ReLU layers start from He-uniform weights, the others from Glorot)",
    )
    add(
        "--optimizer",
        choices=OPTIMIZERS,
        default=defaults.get("optimizer", "nesterov"),
        help="sgd: plain w -= lr*g; momentum / nesterov: SGD with (Nesterov) momentum --momentum; adam",
    )
    add(
        "--momentum",
        type=float,
        default=None,
        help=f"momentum coefficient of --optimizer momentum / nesterov, in [0, 1) (default: {DEFAULT_MOMENTUM})",
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
    add(
        "--seed",
        type=seed_value,
        default=None,
        help="random seed for weights and shuffling (default: random, recorded)",
    )
    add(
        "--limit",
        type=positive_int,
        default=None,
        help="use only the first N training images and the first N test images for validation (quick runs)",
    )
    add(
        "--val-limit",
        type=positive_int,
        default=None,
        help="validate on the first N test images (default: --limit when given, else all 10,000)",
    )
    add("--data-dir", default=None, help="folder with the MNIST .gz files (default: $MINIDL_DATA_DIR or the cache)")
    add("--stats-dir", default="stats_out", help="folder for <model>.json and averages.txt")
    add(
        "--tensorboard",
        metavar="DIR",
        default=None,
        help="watch the run live: write it for `tensorboard --logdir DIR`, step by step, into "
        "DIR/<model>_<backend>_<N>workers_<T>threads_<date>/ (needs the tensorboard extra; default: off)",
    )
    add("--save", metavar="PATH", default=None, help="save the trained model to this .npz file")
    add("--plot", action="store_true", help="draw the statistics charts after the run (needs the plot extra)")
    add(
        "--show-filters",
        action="store_true",
        help="save pictures of the first-layer filters and a digit's feature maps (convolutional models; "
        "needs the plot extra)",
    )
    add("--quiet", action="store_true", help="print only the final result line")
    backups.add_resume_flag(parser)
    return parser


def check_args(parser, args):
    """Errors argparse cannot see by itself, reported the same way (one line, exit 2)."""
    optimizer = getattr(args, "optimizer", "nesterov")
    if getattr(args, "decay", None) is not None:
        if not args.decay >= 0 or args.decay == float("inf"):  # also NaN
            parser.error(f"argument --decay: must be a finite number of at least 0, got {args.decay}")
        if args.decay > 0 and optimizer == "adam":
            parser.error("argument --decay: applies to the SGD optimizers (sgd, momentum, nesterov), not adam")
    elif hasattr(args, "sgd_decay"):  # not given: the script's measured default, for the SGD optimizers only
        args.decay = 0.0 if optimizer == "adam" else args.sgd_decay
    momentum = getattr(args, "momentum", None)
    if momentum is not None:
        if optimizer not in ("momentum", "nesterov"):
            parser.error(f"argument --momentum: only --optimizer momentum or nesterov has one, not {optimizer}")
        if not 0 <= momentum < 1:
            parser.error(f"argument --momentum: must be in [0, 1), got {momentum}")
    batch_size = getattr(args, "batch_size", None)
    if getattr(args, "backend", "pool") == "pool" and batch_size is not None and args.workers > batch_size:
        parser.error(
            f"argument --workers: {args.workers} workers for batches of {batch_size} samples: "
            f"{args.workers - batch_size} would have nothing to compute (use at most {batch_size})"
        )
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


def check_outputs(parser, args):
    """Fail before loading data or training, in one line and exit code 2, when an output cannot be written.

    `--stats-dir` must be a writable folder or creatable in a writable one (a file in its place,
    a read-only folder or disk is refused); `--save` must not name a folder and its folder must
    be writable. A full disk is only found while writing: that is reported then, in one line.
    """
    problem = _folder_problem(args.stats_dir, creatable=True)
    if problem:
        parser.error(f"--stats-dir {args.stats_dir!r}: {problem}")
    if getattr(args, "tensorboard", None) is not None:
        from minidl.callbacks.tensorboard import tensorboard_modules

        try:
            tensorboard_modules()
        except ImportError as error:
            parser.error(f"--tensorboard: {error}")
        problem = _folder_problem(args.tensorboard, creatable=True)
        if problem:
            parser.error(f"--tensorboard {args.tensorboard!r}: {problem}")
    save = getattr(args, "save", None)
    if save:
        if os.path.isdir(save):
            parser.error(f"--save {save!r} is a folder; give a file name such as {os.path.join(save, 'model.npz')!r}")
        problem = _folder_problem(os.path.dirname(os.path.abspath(save)) or ".", creatable=False)
        if problem:
            parser.error(f"--save {save!r}: {problem}")


def _folder_problem(folder, creatable):
    """Why files cannot be written in `folder` (None when they can), tried with a real temporary file.

    A folder that does not exist yet is fine when `creatable` and its nearest existing parent is
    a writable folder (checked with os.access: nothing is created before training starts).
    """
    folder = os.path.abspath(folder)
    if os.path.isdir(folder):
        try:
            with tempfile.TemporaryFile(dir=folder):
                pass
        except OSError as error:
            return f"cannot write in this folder ({error.strerror or error})"
        return None
    if os.path.lexists(folder):
        return "is a file, not a folder"
    if not creatable:
        return f"folder {folder!r} does not exist"
    parent = os.path.dirname(folder)
    while not os.path.lexists(parent):
        parent = os.path.dirname(parent)
    if not os.path.isdir(parent):
        return f"cannot be created: {parent!r} is a file, not a folder"
    if not os.access(parent, os.W_OK | os.X_OK):
        return f"cannot be created: {parent!r} is not writable"
    return None


#: How long an interrupt during training may wait for the next step boundary before it is raised anyway.
INTERRUPT_GRACE_SECONDS = 2.0


class _Interrupts:
    """The state shared by the signal handlers and `InterruptAtStepBoundary`."""

    training = False  # between on_train_begin and on_train_end: interrupts wait for a step boundary
    pending = None  # the interrupt to raise at the next boundary
    raised = False  # an interrupt was raised: clean-up is under way
    fork_hook = False  # `_worker_signals` is registered to run in forked workers


def _worker_signals():
    """In a forked pool worker: Ctrl-C and SIGTERM are the parent's to handle; it stops its workers.

    A terminal's Ctrl-C and `timeout`'s SIGTERM reach the whole process group. A worker that died
    of the SIGTERM would fail the parent's step (the run recorded as failed, not interrupted), and
    one that inherited the parent's handlers would turn it into an exception its message loop
    survives. The parent stops its workers when it stops (and a worker exits when its parent dies).
    """
    for number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(number, signal.SIG_IGN)
    signal.signal(signal.SIGALRM, signal.SIG_DFL)


def _on_signal(number, frame):
    """SIGINT / SIGTERM: during training, ask for a stop at the next step boundary; otherwise stop now.

    Raising between two steps means no message to the workers is in flight, so the pool closes
    cleanly and every shared-memory segment is released. A second signal, or no boundary within
    INTERRUPT_GRACE_SECONDS (a stuck worker, a long validation), raises at once. Once an interrupt
    is raised, a further SIGTERM is ignored so that it cannot cut the clean-up short; a further
    Ctrl-C still raises (the user insists).
    """
    interrupt = Terminated("SIGTERM") if number == signal.SIGTERM else KeyboardInterrupt()
    if _Interrupts.raised and number == signal.SIGTERM:
        return
    if _Interrupts.training and _Interrupts.pending is None and not _Interrupts.raised:
        _Interrupts.pending = interrupt
        signal.setitimer(signal.ITIMER_REAL, INTERRUPT_GRACE_SECONDS)
        return
    _raise_interrupt(interrupt)


def _on_grace_expired(number, frame):
    if _Interrupts.pending is not None and not _Interrupts.raised:
        _raise_interrupt(_Interrupts.pending)


def _raise_interrupt(interrupt):
    signal.setitimer(signal.ITIMER_REAL, 0)
    _Interrupts.pending, _Interrupts.raised = None, True
    raise interrupt


class InterruptAtStepBoundary:
    """Callback raising a pending Ctrl-C / SIGTERM between training steps (see `_on_signal`).

    A plain duck-typed callback (every hook a no-op but these), so that it works with any version
    of minidl's callback base class.
    """

    def __getattr__(self, name):
        if name.startswith("on_"):
            return self._check
        raise AttributeError(name)

    def set_model(self, model):
        """Unused: the callback needs no model."""

    def set_params(self, params):
        """Unused: the callback needs no parameters."""

    def on_train_begin(self, logs=None):
        _Interrupts.training = True
        self._check()

    def on_train_end(self, logs=None):
        _Interrupts.training = False
        self._check()

    def _check(self, *args, **kwargs):
        if _Interrupts.pending is not None and not _Interrupts.raised:
            _raise_interrupt(_Interrupts.pending)


@contextlib.contextmanager
def interrupts_handled():
    """While the script runs: Ctrl-C and SIGTERM stop it cleanly (see `_on_signal`); restored afterwards."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    _Interrupts.training, _Interrupts.pending, _Interrupts.raised = False, None, False
    _RECORDING.clear()
    if not _Interrupts.fork_hook:
        os.register_at_fork(after_in_child=_worker_signals)
        _Interrupts.fork_hook = True
    previous = {number: signal.signal(number, handler) for number, handler in _HANDLERS.items()}
    # The tracker prints its own one-line warnings; do not add the `warnings` module's two-line copy.
    warnings.filterwarnings("ignore", message="minidl.stats:", category=RuntimeWarning)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        for number, handler in previous.items():
            signal.signal(number, handler)


_HANDLERS = {signal.SIGINT: _on_signal, signal.SIGTERM: _on_signal, signal.SIGALRM: _on_grace_expired}


_RECORDING = []  # the StatisticsTracker of the run in progress, for the interrupt message


def recording(tracker):
    """Remember the run's tracker, so that an interrupt can say truthfully what was recorded."""
    _RECORDING[:] = [tracker]
    return tracker


def statistics_lost(parser) -> int:
    """0, or 1 with one line when training ended well but its statistics could not be saved (full disk...).

    The tracker has already said why (one line naming the file); the exit code makes a batch job notice.
    """
    tracker = _RECORDING[0] if _RECORDING else None
    if tracker is None or tracker.run is None or tracker.last_saved_status == tracker.run.get("status"):
        return 0
    print(f"{parser.prog}: error: the statistics of this run were not saved (see the warning above)", file=sys.stderr)
    return 1


def interruption(interrupt) -> tuple[str, int]:
    """What stopped the script, in words, and the exit code a shell expects for it (130 or 143)."""
    if isinstance(interrupt, Terminated):
        return "Terminated (SIGTERM)", TERMINATED_EXIT_CODE
    return "Interrupted (Ctrl-C)", INTERRUPTED_EXIT_CODE


def interrupted_message(interrupt) -> str:
    """One line: what interrupted the run and what was recorded of it (possibly nothing)."""
    cause = interruption(interrupt)[0]
    tracker = _RECORDING[0] if _RECORDING else None
    saved = getattr(tracker, "last_saved_status", None)
    if saved is None:
        return f"{cause} before training started: nothing was recorded."
    epochs = tracker.run.get("epochs_completed", 0)
    where = f"{tracker.recorded} ({epochs} epoch(s) completed)"
    if saved == "running":
        return f"{cause}: the run's end could not be saved; {where} keeps it as running (it will read as killed)."
    if saved != "interrupted":  # training had ended: the interrupt cut the evaluation or saving short
        return f"{cause} after training: the run is recorded as {saved} in {where}."
    return f"{cause}: training stopped; the partial run is recorded as interrupted in {where}."


def make_optimizer(args):
    """The optimizer the flags name, at --lr: plain SGD, SGD with (Nesterov) momentum, or Adam."""
    if args.optimizer == "adam":
        return Adam(args.lr)
    if args.optimizer == "sgd":
        return SGD(args.lr, decay=args.decay)
    momentum = DEFAULT_MOMENTUM if args.momentum is None else args.momentum
    return SGD(args.lr, momentum=momentum, nesterov=args.optimizer == "nesterov", decay=args.decay)


def kernel_initializer(activation):
    """He-uniform weights for ReLU layers (they keep the signal's variance through ReLU), Glorot otherwise."""
    return "he_uniform" if activation == "relu" else "glorot_uniform"


def variant_name(base, activation, default="relu"):
    """The model's name: `base`, plus the activation when it is not the script's default."""
    return base if activation == default else f"{base}_{activation}"


def main(description, build_model, add_flags=None, defaults=None, argv=None):
    """Parse flags, load MNIST, build and train the model, record statistics; returns the exit code."""
    parser = make_parser(description, defaults or {})
    if add_flags:
        add_flags(parser)
    args = parser.parse_args(argv)
    check_args(parser, args)
    check_outputs(parser, args)
    from minidl.distributed import WorkerError

    with interrupts_handled():
        try:
            return run(args, build_model) or statistics_lost(parser)
        except KeyboardInterrupt as interrupt:
            if getattr(interrupt, "rank", 0) == 0:  # under MPI: one line per job, from rank 0
                print(f"\n{interrupted_message(interrupt)}", file=sys.stderr)
            return getattr(interrupt, "exit_code", interruption(interrupt)[1])
        except WorkerError as error:
            # One line; the worker's own traceback only when it raised (not for a killed or stuck worker).
            print(f"{parser.prog}: error: {str(error).splitlines()[0]}", file=sys.stderr)
            if error.worker_traceback:
                print(error.worker_traceback.rstrip(), file=sys.stderr)
            return 1
        except (datasets.DatasetError, OSError) as error:  # bad data, a full disk, an unwritable output
            print(f"{parser.prog}: error: {error}", file=sys.stderr)
            return 1
        except backups.CannotResume as error:  # nothing trained, the backup kept: a usage error (exit code 2)
            if process_rank(args)[0] == 0:
                parser.error(f"--resume: cannot resume: {error}")
            return 2


def run(args, build_model):
    """Train one model on MNIST as the flags say and print its result line; returns the exit code."""
    result = train(args, build_model)
    if result is None:  # an MPI rank other than 0: rank 0 reports
        return 0
    model, seconds = result["model"], result["seconds"]
    print(
        f"{model.name}: test accuracy {result['accuracy']:.2%} (loss {result['loss']:.4f}) on "
        f"{result['val_samples']} test images after {args.epochs} epoch(s) in {seconds:.1f} s "
        f"({result['history'].params.get('threads_per_worker')} BLAS thread(s) per process) with {result['processes']}"
    )
    if args.save:
        model.save(args.save)
        if not args.quiet:
            print(f"model saved to {args.save}")
    if args.plot or args.show_filters:
        draw_pictures(args, model, result["x_test"])
    return 0


@functools.lru_cache(maxsize=2)
def load_data(data_dir, train_limit, val_limit):
    """MNIST (train, test), the test set cut to `val_limit` images; cached, so a script running several
    models in one process reads the files once."""
    return datasets.load_mnist(data_dir=data_dir, train_limit=train_limit, test_limit=val_limit)


def validation_limit(args):
    """How many test images validate: --val-limit, else --limit, else all."""
    return args.val_limit if getattr(args, "val_limit", None) is not None else args.limit


def train(args, build_model):
    """Load MNIST, build, compile and fit the model as the flags say, recording statistics.

    The test set (cut by `validation_limit`) serves as validation data. Returns a dict: model, history,
    loss and accuracy on that test set, seconds, the tracker's run record, processes (text), val_samples
    and x_test; None on an MPI rank other than 0.
    """
    from minidl.stats import StatisticsTracker

    model = build_model(args)
    model.compile(optimizer=make_optimizer(args), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    rank, processes = process_rank(args)
    # This run's own backup folder (with --resume: the backup it continues, checked before any work).
    run_backup = backups.start(args, model, rank, share_from_rank_0(args))
    completed = False
    try:
        (x_train, y_train), (x_test, y_test) = load_data(args.data_dir, args.limit, validation_limit(args))
        quiet = args.quiet or rank != 0
        if not quiet:
            model.summary()
        watch = tensorboard_callbacks(args, model, rank)
        tracker = recording(
            StatisticsTracker(
                model.name, out_dir=args.stats_dir, dataset="mnist", verbose=not quiet, tensorboard_dir=watch["folder"]
            )
        )
        started = time.perf_counter()
        with step_split.timed_workers(args.workers, args.backend, args.threads) as timer:
            history = model.fit(
                x_train,
                y_train,
                batch_size=args.batch_size,
                epochs=args.epochs,
                validation_data=(x_test, y_test),
                workers=timer.workers,
                backend=args.backend,
                threads=args.threads,
                verbose=0 if quiet else 1,
                # The split goes first: it adds to the run record before the tracker saves it. The interrupt
                # check goes last, so every other callback has seen a step before a pending Ctrl-C stops there.
                callbacks=[
                    step_split.RecordSplit(timer, tracker),
                    tracker,
                    *watch["callbacks"],
                    run_backup.callback,
                    InterruptAtStepBoundary(),
                ],
            )
        completed = True
    except KeyboardInterrupt as interrupt:
        interrupt.rank = rank  # rank 0 alone reports an MPI job's interrupt
        raise
    finally:
        run_backup.finish(completed)
    seconds = time.perf_counter() - started
    if rank != 0:
        return None
    loss, accuracy = final_test_metrics(history, model, x_test, y_test)
    return {
        "model": model,
        "history": history,
        "loss": loss,
        "accuracy": accuracy,
        "seconds": seconds,
        "run": tracker.run,
        "processes": processes,
        "val_samples": len(x_test),
        "x_test": x_test,
    }


def tensorboard_callbacks(args, model, rank) -> dict:
    """With --tensorboard DIR: this run's TensorBoard folder (named as `python -m minidl.stats tensorboard`
    names recorded runs) and its TensorBoard callback, writing every step, the weights' histograms and
    the first layer's filters every epoch. {"folder": None, "callbacks": []} without the flag."""
    if getattr(args, "tensorboard", None) is None:
        return {"folder": None, "callbacks": []}
    import datetime

    from minidl.callbacks import TensorBoard
    from minidl.distributed.resources import default_threads
    from minidl.stats.tensorboard import run_name

    processes = args.workers
    if args.backend == "mpi":
        from minidl.distributed import import_mpi

        processes = import_mpi().COMM_WORLD.Get_size()
    threads = args.threads or default_threads()
    name = run_name(model.name, args.backend, processes, threads, datetime.datetime.now())
    folder = os.path.join(args.tensorboard, name)
    if rank == 0 and not args.quiet:
        print(f"TensorBoard: writing {folder} (watch it: tensorboard --logdir {args.tensorboard})")
    board = TensorBoard(log_dir=folder, histogram_freq=1, write_images=True, update_freq="batch")
    return {"folder": folder, "callbacks": [board]}


def share_from_rank_0(args):
    """Under MPI, a function handing rank 0's value to every rank (None otherwise)."""
    if args.backend != "mpi":
        return None
    from minidl.distributed import import_mpi

    comm = import_mpi().COMM_WORLD
    return lambda value: comm.bcast(value, root=0)


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
    return model.evaluate(x_test, y_test, verbose=0)


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
