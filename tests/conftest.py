"""Shared fixtures for the minidl test suite.

The suite's own directory is put on `sys.path` so test modules in sub-folders can import the
small float64 gradient checker in `gradcheck.py`.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest

TESTS_DIR = Path(__file__).resolve().parent
if str(TESTS_DIR) not in sys.path:
    sys.path.insert(0, str(TESTS_DIR))

MNIST_FILES = (
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
)


@pytest.fixture
def rng():
    """A fresh, seeded generator, so every test sees the same random numbers on every run."""
    return np.random.default_rng(1234)


@pytest.fixture
def mnist_dir() -> Path:
    """The folder named by $MINIDL_DATA_DIR holding the four MNIST IDX files; skips the test otherwise."""
    value = os.environ.get("MINIDL_DATA_DIR")
    if not value:
        pytest.skip(
            "MINIDL_DATA_DIR is not set: point it at a folder holding the MNIST .gz files "
            "(e.g. MINIDL_DATA_DIR=/work/shared/mnist)"
        )
    folder = Path(value)
    missing = [name for name in MNIST_FILES if not (folder / name).is_file()]
    if missing:
        pytest.skip(f"MINIDL_DATA_DIR={value} lacks MNIST files: {', '.join(missing)}")
    return folder


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


@pytest.fixture
def lenet5():
    """A factory for the issue's LeNet-5: `lenet5(seed=0)`."""
    return build_lenet5
