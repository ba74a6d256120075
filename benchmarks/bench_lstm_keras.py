"""An LSTM learns a synthetic sentiment task in minidl and in real Keras: the same program, both scores.

The task is shaped like keras.datasets.imdb, generated from a seed (no download): reviews are
sequences of 10 to 60 word ids from a vocabulary of 200 (0 is padding); ids 1-10 are "positive"
words, 11-20 "negative" ones, and a review is positive (label 1) when it holds more positive words
than negative ones (ties are left out). A model must count words of two kinds over a whole review,
so an order-blind average of word vectors is not enough, and the padding must be masked.

The program is `train(keras, ...)`: Keras 3 code given the `keras` module to use. minidl runs it in
this process (`import minidl as keras`); real Keras runs it in a fresh process with
KERAS_BACKEND=torch (`import keras`), with the same data, sizes, seeds and hyper-parameters:
pad_sequences, Embedding(mask_zero=True), LSTM(32), Dense(1, sigmoid), Adam, binary cross-entropy.
Weights start from each framework's own seeded initialisers, so the runs are not bit-identical; the
table gives the test accuracy of every seed and epoch time, and the medians.

    python benchmarks/bench_lstm_keras.py                  # 5 seeds, 8000 reviews, 2 epochs, Adam 0.001
    python benchmarks/bench_lstm_keras.py --seeds 0,1,2,3,4 --epochs 8
    python benchmarks/bench_lstm_keras.py --no-keras       # minidl only (Keras not installed)
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))

import numpy as np  # noqa: E402

VOCAB, MAXLEN, POSITIVE, NEGATIVE = 200, 60, range(1, 11), range(11, 21)


def reviews(count, seed):
    """`count` reviews (lists of word ids) and their labels, from `seed`; half of each label about."""
    rng = np.random.default_rng(seed)
    texts, labels = [], []
    while len(texts) < count:
        words = rng.integers(1, VOCAB, rng.integers(10, MAXLEN + 1))
        positive, negative = np.isin(words, POSITIVE).sum(), np.isin(words, NEGATIVE).sum()
        if positive != negative:
            texts.append(words.tolist())
            labels.append(int(positive > negative))
    return texts, np.array(labels)


def train(keras, samples, epochs, seed, learning_rate):
    """The Keras program: data, model, fit, evaluate. Returns (test accuracy, seconds per epoch)."""
    train_texts, y_train = reviews(samples, seed=1000 + seed)
    test_texts, y_test = reviews(samples // 4, seed=2000 + seed)
    x_train = keras.utils.pad_sequences(train_texts, maxlen=MAXLEN)
    x_test = keras.utils.pad_sequences(test_texts, maxlen=MAXLEN)

    keras.utils.set_random_seed(seed)
    model = keras.Sequential(
        [
            keras.Input(shape=(None,), dtype="int32"),
            keras.layers.Embedding(VOCAB, 16, mask_zero=True),
            keras.layers.LSTM(32),
            keras.layers.Dense(1, activation="sigmoid"),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=learning_rate), loss="binary_crossentropy", metrics=["accuracy"]
    )
    started = time.perf_counter()
    model.fit(x_train, y_train, batch_size=64, epochs=epochs, verbose=0)
    seconds = (time.perf_counter() - started) / epochs
    _, accuracy = model.evaluate(x_test, y_test, batch_size=256, verbose=0)
    return float(accuracy), seconds


def run_keras(args, seed):
    """`train` under real Keras (torch backend) in a fresh process; (accuracy, seconds per epoch)."""
    command = [sys.executable, __file__, "--child", "--seed", str(seed), "--samples", str(args.samples),
               "--epochs", str(args.epochs), "--learning-rate", str(args.learning_rate)]  # fmt: skip
    env = {**os.environ, "KERAS_BACKEND": "torch"}
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=3600)
    if result.returncode:
        raise SystemExit(f"the Keras run failed:\n{result.stderr[-3000:]}")
    answer = json.loads(result.stdout.strip().splitlines()[-1])
    return answer["accuracy"], answer["seconds"]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", default="0,1,2,3,4", help="comma-separated seeds (default 0,1,2,3,4)")
    parser.add_argument("--samples", type=int, default=8000, help="training reviews (default 8000; test: a quarter)")
    parser.add_argument("--epochs", type=int, default=2, help="epochs (default 2)")
    parser.add_argument("--learning-rate", type=float, default=0.001, help="Adam's learning rate (default 0.001)")
    parser.add_argument("--no-keras", action="store_true", help="minidl only")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:  # the real-Keras side, in its own process
        import keras
        import torch

        torch.set_num_threads(1)
        accuracy, seconds = train(keras, args.samples, args.epochs, args.seed, args.learning_rate)
        print(json.dumps({"accuracy": accuracy, "seconds": seconds, "keras": keras.__version__}))
        return

    from rich.console import Console
    from rich.table import Table

    import minidl

    seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    console = Console(width=None if Console().is_terminal else 140)
    console.print(f"load average before: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    table = Table(
        title=f"Synthetic sentiment task: Embedding(mask_zero) -> LSTM(32) -> Dense(1), {args.samples} reviews, "
        f"{args.epochs} epochs, batch 64, Adam {args.learning_rate:g}"
    )
    for column in ("seed", "minidl test accuracy", "Keras test accuracy", "minidl s/epoch", "Keras s/epoch"):
        table.add_column(column, justify="right")
    rows = []
    for seed in seeds:
        ours = train(minidl, args.samples, args.epochs, seed, args.learning_rate)
        theirs = (None, None) if args.no_keras else run_keras(args, seed)
        rows.append((ours, theirs))
        table.add_row(
            str(seed),
            f"{ours[0]:.4f}",
            "-" if theirs[0] is None else f"{theirs[0]:.4f}",
            f"{ours[1]:.2f}",
            "-" if theirs[1] is None else f"{theirs[1]:.2f}",
        )
    median = statistics.median
    table.add_row(
        "median",
        f"{median(r[0][0] for r in rows):.4f}",
        "-" if args.no_keras else f"{median(r[1][0] for r in rows):.4f}",
        f"{median(r[0][1] for r in rows):.2f}",
        "-" if args.no_keras else f"{median(r[1][1] for r in rows):.2f}",
        end_section=True,
    )
    console.print(table)
    console.print("Keras: KERAS_BACKEND=torch, torch.set_num_threads(1); minidl: fit's default of one BLAS thread.")
    console.print(f"load average after: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")


if __name__ == "__main__":
    main()
