"""Run under `mpiexec -n K`: trains a small LeNet-style model with backend="mpi" and saves each rank's weights.

    mpiexec -n 2 python tests/mpi_job.py OUT_DIR [--fail-at-step N]
"""
import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from minidl import Model  # noqa: E402
from minidl.callbacks import Callback  # noqa: E402
from minidl.layers import AvgPool2D, Conv2D, Dense, Flatten  # noqa: E402
from minidl.optimizers import SGD  # noqa: E402
from minidl.stats import StatisticsTracker  # noqa: E402

STEPS, BATCH = 20, 128


def make_data():
    """The first 20 batches of real MNIST (from MINIDL_DATA_DIR), loaded by every rank itself.

    Real data, not random: on random labels float32 training is chaotic enough that summation-order
    differences of 1e-8 grow past 1e-3 in 20 steps, while in float64 the split is exact to 1e-16.
    For the same reason the model is LeNet-5 without dropout: a dropped-out, rescaled unit makes a
    ReLU flip from such a difference likely enough to fail 1e-4 by chance (test_parallel checks
    dropout across splits in float64, where the comparison is exact).
    """
    from minidl import datasets
    (x, y), _ = datasets.load_mnist(train_limit=STEPS * BATCH, test_limit=1, download=False)
    return x, y


def make_model():
    model = Model(name="mpi_lenet", seed=11)
    model.add(Conv2D(6, 5, padding="same", activation="relu", input_shape=(28, 28, 1)))
    model.add(AvgPool2D(2))
    model.add(Conv2D(16, 5, activation="relu"))
    model.add(AvgPool2D(2))
    model.add(Flatten())
    model.add(Dense(120, activation="relu"))
    model.add(Dense(84, activation="relu"))
    model.add(Dense(10, activation="softmax"))
    model.compile(SGD(0.05, momentum=0.9), "sparse_categorical_crossentropy", ["accuracy"])
    return model


class FailOnRankOne(Callback):
    """Makes rank 1 raise at a given step, to show that the whole job stops."""

    def __init__(self, step):
        super().__init__()
        self.step = step

    def on_train_batch_end(self, batch, logs=None):
        if self.params["rank"] == 1 and batch == self.step:
            raise RuntimeError(f"rank 1 fails on purpose at step {batch}")


class SlowSteps(Callback):
    """Makes every step take a while and says when training runs, so a test can interrupt it."""

    def on_train_batch_end(self, batch, logs=None):
        if batch == 0:
            print(f"rank {self.params['rank']} training", flush=True)
        time.sleep(0.2)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("out_dir")
    parser.add_argument("--fail-at-step", type=int, default=None)
    parser.add_argument("--slow", action="store_true", help="train 100 slow epochs (to be interrupted)")
    args = parser.parse_args()
    x, y = make_data()
    model = make_model()
    callbacks = [FailOnRankOne(args.fail_at_step)] if args.fail_at_step is not None else []
    callbacks += [SlowSteps(), StatisticsTracker("mpi_job", out_dir=args.out_dir, verbose=False)] if args.slow else []
    history = model.fit(x, y, batch_size=BATCH, epochs=100 if args.slow else 1, shuffle=True, verbose=0,
                        backend="mpi", callbacks=callbacks)
    from mpi4py import MPI
    rank = MPI.COMM_WORLD.Get_rank()
    np.save(os.path.join(args.out_dir, f"rank{rank}.npy"), model.parameters)
    np.save(os.path.join(args.out_dir, f"history{rank}.npy"), [history.history["loss"][0], history.history["accuracy"][0]])


if __name__ == "__main__":
    main()
