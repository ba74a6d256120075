"""Helpers of the picture tests: PNG checks, a tiny convolutional model and hand-made run records.

Hand-made runs (`fake_run`) give the pictures known statistics without training anything.
"""

from __future__ import annotations

import struct

import numpy as np

from minidl import Model
from minidl.layers import Conv2D, Dense, Flatten, MaxPool2D
from minidl.stats import StatisticsTracker, dump_document, new_document

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_size(path) -> tuple[int, int]:
    """(width, height) of a PNG file, checking its signature and that IHDR is its first chunk."""
    with open(path, "rb") as file:
        head = file.read(24)
    assert head[:8] == PNG_SIGNATURE, f"{path} is not a PNG"
    length, kind = struct.unpack(">I4s", head[8:16])
    assert kind == b"IHDR" and length == 13
    return struct.unpack(">II", head[16:24])


def assert_picture(path, min_size=(300, 200), max_size=(4000, 4000)):
    width, height = png_size(path)
    assert min_size[0] <= width <= max_size[0] and min_size[1] <= height <= max_size[1], (path, width, height)
    return width, height


# ----- statistics: real short runs and hand-made runs ---------------------------------------------
def tiny_conv_model(seed=0, channels=1, name="tinyconv"):
    model = Model(
        [
            Conv2D(4, 3, activation="relu", input_shape=(8, 8, channels)),
            MaxPool2D(2),
            Flatten(),
            Dense(3, activation="softmax"),
        ],
        name=name,
        seed=seed,
    )
    return model.compile("sgd", "sparse_categorical_crossentropy")


def tiny_data(seed=0, channels=1, count=48):
    rng = np.random.default_rng(seed)
    return rng.random((count, 8, 8, channels)).astype("float32"), rng.integers(0, 3, count)


def fake_run(model, workers, seed, epochs=3, base_step=0.02, validation=True, batch_size=128, status="finished"):
    """A hand-made run: `epochs` epochs of 10 steps, faster with more workers, accuracy rising."""
    rng = np.random.default_rng(seed)
    steps = [float(t) for t in base_step / workers**0.8 * rng.lognormal(0, 0.2, 10 * epochs)]
    records = []
    for epoch in range(epochs):
        accuracy = 0.97 - 0.4 * np.exp(-1.5 * (epoch + 1)) + rng.normal(0, 0.005)
        records.append(
            {
                "epoch": epoch + 1,
                "steps": 10,
                "training_time": sum(steps[10 * epoch : 10 * epoch + 10]),
                "validation_time": 0.05 if validation else 0.0,
                "loss": 1.5 * np.exp(-epoch) + rng.normal(0, 0.02),
                "accuracy": accuracy,
                "val_loss": 1.6 * np.exp(-epoch) if validation else None,
                "val_accuracy": accuracy - 0.01 if validation else None,
            }
        )
    training = sum(r["training_time"] for r in records)
    validation_time = sum(r["validation_time"] for r in records)
    return {
        "id": f"{model}-{workers}-{seed}",
        "started": f"2025-01-01T10:{seed % 60:02d}:00+00:00",
        "status": status,
        "error": None,
        "settings": {
            "model": model,
            "setup": "feedbeef",
            "dataset": "mnist",
            "hostname": "host",
            "samples": 60000,
            "val_samples": 10000 if validation else 0,
            "batch_size": batch_size,
            "epochs": epochs,
            "backend": "pool",
            "workers": workers,
            "ranks": 1,
            "threads_per_worker": 1,
            "params": 1000,
            "optimizer": {"name": "sgd"},
            "loss": "sparse_categorical_crossentropy",
            "dtype": "float32",
        },
        "timings": {
            "step_times": steps,
            "epoch_times": [r["training_time"] + r["validation_time"] for r in records],
            "training_time": training,
            "validation_time": validation_time,
            "combined_time": training + validation_time,
            "run_time": training + validation_time,
        },
        "epochs": records,
        "epochs_completed": epochs,
    }


def write_stats(folder, runs_by_model):
    folder.mkdir(parents=True, exist_ok=True)
    for model, runs in runs_by_model.items():
        (folder / f"{model}.json").write_text(dump_document(new_document(model, runs)))
    return folder


def make_real_stats(folder):
    """A statistics folder from real runs: a tiny conv model, twice with 1 worker and once with 2;
    returns (folder, the last model)."""
    x, y = tiny_data()
    model = None
    for seed, workers in ((0, 1), (1, 1), (2, 2)):
        model = tiny_conv_model(seed)
        model.fit(
            x,
            y,
            batch_size=16,
            epochs=3,
            verbose=0,
            workers=workers,
            validation_data=(x[:16], y[:16]),
            callbacks=[StatisticsTracker(out_dir=folder, dataset="random", verbose=False)],
        )
    return folder, model


def make_fake_stats(folder):
    """Hand-made statistics in `folder`: three models, 1, 2 and 4 workers, two runs each."""
    runs = {
        model: [
            fake_run(model, workers, 10 * index + workers + 5 * repeat, base_step=0.01 * (index + 1))
            for workers in (1, 2, 4)
            for repeat in range(2)
        ]
        for index, model in enumerate(["lenet_conv2_avg", "lenet_conv1_max", "feedforward"])
    }
    return write_stats(folder, runs)
