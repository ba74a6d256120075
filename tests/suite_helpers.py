"""Helpers shared by test modules in several folders (imported by name: conftest files cannot be).

`real_mnist_dir()` gives the MNIST folder of $MINIDL_DATA_DIR, skipping when it is unset and failing
loudly when it is set but incomplete; `build_lenet5()` is the classic 61,706-parameter LeNet-5.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

MNIST_FILES = (
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
)


def mnist_data_problem() -> str | None:
    """Why $MINIDL_DATA_DIR, when set, cannot serve the real-data tests (None when it can or is unset)."""
    value = os.environ.get("MINIDL_DATA_DIR")
    if not value:
        return None
    folder = Path(value)
    if not folder.is_dir():
        return f"MINIDL_DATA_DIR={value} is not a folder"
    missing = [name for name in MNIST_FILES if not (folder / name).is_file()]
    if missing:
        return f"MINIDL_DATA_DIR={value} lacks the MNIST file(s) {', '.join(missing)}"
    return None


def real_mnist_dir() -> Path:
    """$MINIDL_DATA_DIR as a resolved folder: skip when unset, fail loudly when set but incomplete."""
    value = os.environ.get("MINIDL_DATA_DIR")
    if not value:
        pytest.skip(
            "MINIDL_DATA_DIR is not set: point it at a folder holding the MNIST .gz files "
            "(e.g. MINIDL_DATA_DIR=../shared/mnist)"
        )
    problem = mnist_data_problem()
    if problem:
        pytest.fail(problem, pytrace=False)
    return Path(value).resolve()


def build_lenet5(seed=0, dtype="float32"):
    """The issue's LeNet-5 for 28x28x1 digits: 61,706 parameters."""
    from minidl import Model
    from minidl.layers import AvgPool2D, Conv2D, Dense, Flatten

    model = Model(name="lenet5", seed=seed, dtype=dtype)
    model.add(Conv2D(6, 5, padding="same", activation="relu", input_shape=(28, 28, 1)))
    model.add(AvgPool2D(2))
    model.add(Conv2D(16, 5, activation="relu"))
    model.add(AvgPool2D(2))
    model.add(Flatten())
    model.add(Dense(120, activation="relu"))
    model.add(Dense(84, activation="relu"))
    model.add(Dense(10, activation="softmax"))
    return model


def still_in_dev_shm(names) -> list[str]:
    """Which of the shared-memory segment `names` are still listed in /dev/shm (skips where there is none)."""
    if not os.path.isdir("/dev/shm"):
        pytest.skip("no /dev/shm on this system")
    listing = set(os.listdir("/dev/shm"))
    return [name for name in names if name in listing]


def saved_and_loaded(model, folder: Path):
    """`model` written with `save` to `folder` and read back with `load_model` (through the untrusted-file checks)."""
    import minidl

    path = Path(folder) / f"{model.name}.keras"
    model.save(path)
    return minidl.models.load_model(path)


def assert_round_trip(model, x, folder: Path):
    """Saving and loading keeps the architecture (configs), the weights and the predictions of `model`."""
    import numpy as np

    loaded = saved_and_loaded(model, folder)
    assert [layer.get_config() for layer in loaded.layers] == [layer.get_config() for layer in model.layers]
    for ours, theirs in zip(model.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(ours, theirs)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    return loaded
