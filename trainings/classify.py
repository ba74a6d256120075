"""Classify MNIST test digits with a trained model, split across worker processes, and time it.

    python trainings/classify.py --model lenet.npz --workers 2 --picture grid.png

Without --model, a LeNet-5 is first trained for one epoch (on fewer images with --limit)
so there is something to classify.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import common
import training_full

from minidl import Model, datasets


def parse_args(argv=None):
    parser = common.OneLineParser(description=__doc__, formatter_class=common.HelpFormatter)
    add = parser.add_argument
    add("--model", metavar="PATH", default=None, help="a model saved with --save (default: train a quick LeNet-5)")
    add("--count", type=common.positive_int, default=None, help="classify only the first N test images")
    add("--workers", type=common.positive_int, default=1, help="worker processes that share the images")
    add("--batch-size", type=common.positive_int, default=256, help="images per forward pass")
    add(
        "--picture",
        metavar="PNG",
        default=None,
        help="save all classified digits as a grid: green when right; red, framed and captioned true→predicted "
        "when wrong (needs the plot extra)",
    )
    add(
        "--limit",
        type=common.positive_int,
        default=None,
        help="train the quick model on only the first N training images (no effect with --model)",
    )
    add("--data-dir", default=None, help="folder with the MNIST .gz files (default: $MINIDL_DATA_DIR or the cache)")
    add("--seed", type=common.seed_value, default=0, help="seed of the quick model trained when no --model is given")
    add("--quiet", action="store_true", help="print only the result line")
    args = parser.parse_args(argv)
    common.check_args(parser, args)
    if args.model is not None and not os.path.isfile(args.model):
        parser.error(f"--model {args.model!r} is not a file")
    return args


def quick_model(args, x_train, y_train):
    """A LeNet-5 trained for one epoch, for when no saved model is given."""
    flags = argparse.Namespace(conv=2, pool="avg", seed=args.seed, activation="relu")
    model = training_full.build_model(flags)
    model.compile(
        optimizer=common.SGD(0.05, momentum=0.9), loss="sparse_categorical_crossentropy", metrics=["accuracy"]
    )
    model.fit(x_train, y_train, batch_size=128, epochs=1, verbose=0 if args.quiet else 2, workers=args.workers)
    return model


def main(argv=None):
    """Parse flags, classify, print the result line (and save the picture); returns the exit code.

    Ctrl-C (or SIGTERM) at any point (loading, the quick training, classifying) ends with one line and
    exit code 130 (143); the worker pool is shut down on the way out by `fit` / `predict` themselves.
    """
    args = parse_args(argv)
    with common.interrupts_handled():
        try:
            return classify(args)
        except KeyboardInterrupt as interrupt:
            cause, code = common.interruption(interrupt)
            print(f"\n{cause}: nothing was classified to the end.", file=sys.stderr)
            return code


def classify(args):
    """Load (or quickly train) the model, classify the test images, report; returns the exit code."""
    try:
        (x_train, y_train), (x_test, y_test) = datasets.load_mnist(
            data_dir=args.data_dir, train_limit=args.limit, test_limit=args.count
        )
        model = Model.load(args.model) if args.model else quick_model(args, x_train, y_train)
    except (datasets.DatasetError, ValueError) as error:
        print(f"classify.py: error: {error}", file=sys.stderr)
        return 1
    started = time.perf_counter()
    verbose = 0 if args.quiet else "auto"
    outputs = model.predict(x_test, batch_size=args.batch_size, workers=args.workers, verbose=verbose)
    predictions = outputs.argmax(axis=1)
    seconds = time.perf_counter() - started
    accuracy = float((predictions == y_test).mean())
    print(
        f"workers {args.workers}  items {len(x_test)}  time {seconds:.3f} s  "
        f"{len(x_test) / seconds:,.0f} images/s  accuracy {accuracy:.2%}"
    )
    if args.picture:
        try:
            from minidl import plots

            path = plots.classification_grid(x_test, y_test, predictions, args.picture)
        except ImportError as error:
            print(f"classify.py: no picture: {error}", file=sys.stderr)
            return 1
        print(f"picture saved to {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
