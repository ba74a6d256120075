"""Run under `mpiexec -n K`: trains a small LeNet-style model with backend="mpi" and saves each rank's weights.

mpiexec -n 2 python tests/mpi_job.py OUT_DIR [--fail-at-step N | --slow | --regression | --tracked | --graph]
"""

import argparse
import os
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [os.path.join(HERE, ".."), HERE]

from suite_helpers import build_lenet5  # noqa: E402

from minidl import Model, layers, ops  # noqa: E402
from minidl.callbacks import Callback  # noqa: E402
from minidl.optimizers import SGD  # noqa: E402
from minidl.stats import StatisticsTracker  # noqa: E402

STEPS, BATCH = 20, 128


def make_data(dtype="float64"):
    """The first 20 batches of real MNIST (from MINIDL_DATA_DIR), loaded by every rank itself.

    The comparison with one process runs in float64. In float32 the split changes only the order of
    summation (~1e-7 relative), but 20 steps of momentum SGD through ReLU kinks amplify that by
    chance past 1e-4 on some seeds and data (a unit whose input is within rounding of zero flips);
    in float64 the noise stays ~1e-15, so rtol 1e-4 tests the mathematics and not luck.
    """
    from minidl import datasets

    (x, y), _ = datasets.load_mnist(train_limit=STEPS * BATCH, test_limit=1, download=False)
    return x.astype(dtype), y


def make_model(dtype="float64"):
    """The issue's LeNet-5 (shared with the unit tests), seeded, with SGD and sparse cross-entropy."""
    model = build_lenet5(seed=11, dtype=dtype)
    model.compile(SGD(0.05, momentum=0.9), "sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def regression_problem():
    """A small weighted regression, float64: (x, y, sample weights) and the model, with metrics MAE and MSE.

    Its metric sums are fractions, so a reduction that rounded them (as one once did) shows at once.
    """
    from minidl.layers import Dense

    rng = np.random.default_rng(5)
    x = rng.standard_normal((200, 6))
    y = x @ rng.standard_normal((6, 2)) + 0.1 * rng.standard_normal((200, 2))
    weights = rng.uniform(0.2, 2.0, 200)
    model = Model([Dense(8, "tanh", input_shape=(6,)), Dense(2)], seed=3, dtype="float64")
    model.compile(SGD(0.05), "mse", metrics=["mae", "mse"])
    return x, y, weights, model


def regression_fit(model, x, y, weights, **options):
    """Two epochs of the weighted regression; the history's loss, mae and mse."""
    history = model.fit(x, y, batch_size=32, epochs=2, sample_weight=weights, verbose=0, **options)
    return np.array([history.history[key] for key in ("loss", "mae", "mse")])


def graph_models():
    """Float64 data and two seeded models trained through the tape: a functional graph (a layer shared by two
    calls, a fan-out joined by `add` and `concatenate`) and a subclassed model (a custom layer with its own
    weight, written with ops, and Dropout, whose masks must not depend on how the batch is split)."""
    import minidl as keras

    rng = np.random.default_rng(8)
    x, y = rng.standard_normal((96, 5)), rng.integers(0, 3, 96)
    keras.set_seed(8)  # the graph's layers draw their weights when first called, as in Keras
    inputs = keras.Input((5,), dtype="float64")
    shared = keras.layers.Dense(6, activation="tanh", dtype="float64")
    once = shared(inputs)
    twice = shared(keras.layers.Dense(5, dtype="float64")(once))
    joined = keras.layers.concatenate([keras.layers.add([once, twice]), inputs])
    outputs = keras.layers.Dense(3, activation="softmax", dtype="float64")(joined)
    functional = keras.Model(inputs, outputs, seed=4)
    keras.set_seed(None)  # random again for whatever the calling process builds next
    subclassed = GraphNet(seed=5, dtype="float64")
    subclassed.build((None, 5))
    for model in (functional, subclassed):
        model.compile(SGD(0.1, momentum=0.9), "sparse_categorical_crossentropy", metrics=["accuracy"])
    return x, y, [functional, subclassed]


def graph_fit(model, x, y, **options):
    """Two epochs of 6 batches; the history's loss and accuracy."""
    history = model.fit(x, y, batch_size=16, epochs=2, verbose=0, **options)
    return np.array([history.history[key] for key in ("loss", "accuracy")])


def two_outputs_model():
    """Float64 data and a seeded functional model with two inputs and two outputs (a regression head and a
    classifier, losses weighted 1 and 0.5, sample weights), trained through the tape."""
    import minidl as keras

    rng = np.random.default_rng(9)
    x = [rng.standard_normal((96, 4)), rng.standard_normal((96, 3))]
    y = {"score": rng.standard_normal((96, 1)), "kind": rng.integers(0, 3, 96)}
    weights = rng.uniform(0.5, 2.0, 96)
    keras.set_seed(9)
    a, b = keras.Input((4,), dtype="float64", name="a"), keras.Input((3,), dtype="float64", name="b")
    hidden = keras.layers.Dense(8, activation="tanh", dtype="float64")(keras.layers.concatenate([a, b]))
    score = keras.layers.Dense(1, dtype="float64", name="score")(hidden)
    kind = keras.layers.Dense(3, activation="softmax", dtype="float64", name="kind")(hidden)
    model = keras.Model([a, b], [score, kind], seed=9)
    keras.set_seed(None)
    model.compile(
        SGD(0.1, momentum=0.9),
        loss={"score": "mse", "kind": "sparse_categorical_crossentropy"},
        loss_weights={"score": 1.0, "kind": 0.5},
        metrics={"score": ["mae"], "kind": ["accuracy"]},
    )
    return x, y, weights, model


TWO_OUTPUTS_LOGS = ("loss", "score_loss", "kind_loss", "kind_accuracy", "score_mae")


def two_outputs_fit(model, x, y, weights, **options):
    """Two epochs of 6 batches; every log of the history."""
    history = model.fit(x, y, batch_size=16, epochs=2, sample_weight=weights, verbose=0, **options)
    return np.array([history.history[key] for key in TWO_OUTPUTS_LOGS])


class Gate(layers.Layer):
    """y = x · sigmoid(g), one trained gate g per feature (a custom layer: its gradient comes from the tape)."""

    def build(self, input_shape):
        self.gate = self.add_weight(shape=(input_shape[-1],), initializer="zeros", name="gate")

    def call(self, x):
        return x * ops.sigmoid(self.gate)


class GraphNet(Model):
    """A subclassed model: Dense, the custom Gate, Dropout, Dense."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.first = layers.Dense(7, activation="relu", dtype="float64")
        self.gate, self.drop = Gate(dtype="float64"), layers.Dropout(0.25, dtype="float64")
        self.last = layers.Dense(3, activation="softmax", dtype="float64")

    def call(self, x, training=None):
        return self.last(self.drop(self.gate(self.first(x)), training=training))


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
    parser.add_argument("--regression", action="store_true", help="the weighted regression with MAE and MSE metrics")
    parser.add_argument("--graph", action="store_true", help="a functional and a subclassed model (graph_models)")
    parser.add_argument("--outputs", action="store_true", help="a model with two outputs (two_outputs_model)")
    parser.add_argument(
        "--tracked",
        action="store_true",
        help="the weighted regression with everything printed: summary, progress bar, recorded statistics",
    )
    args = parser.parse_args()
    if args.tracked:
        x, y, weights, model = regression_problem()
        model.summary()
        tracker = StatisticsTracker("tracked", out_dir=args.out_dir, verbose=True)
        model.fit(x, y, batch_size=32, epochs=2, sample_weight=weights, verbose=1, backend="mpi", callbacks=[tracker])
        return 0
    if args.graph:
        from mpi4py import MPI

        x, y, models = graph_models()
        rank = MPI.COMM_WORLD.Get_rank()
        for name, model in zip(("functional", "subclassed"), models):
            figures = graph_fit(model, x, y, backend="mpi")
            np.save(
                os.path.join(args.out_dir, f"{name}{rank}.npy"), np.concatenate([figures.ravel(), model.parameters])
            )
        return 0
    if args.outputs:
        from mpi4py import MPI

        x, y, weights, model = two_outputs_model()
        figures = two_outputs_fit(model, x, y, weights, backend="mpi")
        rank = MPI.COMM_WORLD.Get_rank()
        np.save(os.path.join(args.out_dir, f"outputs{rank}.npy"), np.concatenate([figures.ravel(), model.parameters]))
        return 0
    if args.regression:
        from mpi4py import MPI

        x, y, weights, model = regression_problem()
        figures = regression_fit(model, x, y, weights, backend="mpi")
        rank = MPI.COMM_WORLD.Get_rank()
        np.save(
            os.path.join(args.out_dir, f"regression{rank}.npy"), np.concatenate([figures.ravel(), model.parameters])
        )
        return 0
    dtype = "float32" if args.slow else "float64"
    x, y = make_data(dtype)
    model = make_model(dtype)
    callbacks = [FailOnRankOne(args.fail_at_step)] if args.fail_at_step is not None else []
    callbacks += [SlowSteps(), StatisticsTracker("mpi_job", out_dir=args.out_dir, verbose=False)] if args.slow else []
    from mpi4py import MPI

    rank = MPI.COMM_WORLD.Get_rank()
    try:
        history = model.fit(
            x,
            y,
            batch_size=BATCH,
            epochs=100 if args.slow else 1,
            shuffle=True,
            verbose=0,
            backend="mpi",
            callbacks=callbacks,
        )
    except KeyboardInterrupt as interrupt:  # as trainings/common.py does: one line, from rank 0
        if rank == 0:
            print(f"interrupted ({interrupt}): the run is recorded", file=sys.stderr, flush=True)
        return getattr(interrupt, "exit_code", 130)
    np.save(os.path.join(args.out_dir, f"rank{rank}.npy"), model.parameters)
    np.save(
        os.path.join(args.out_dir, f"history{rank}.npy"), [history.history["loss"][0], history.history["accuracy"][0]]
    )


if __name__ == "__main__":
    sys.exit(main())
