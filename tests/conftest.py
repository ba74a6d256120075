"""Shared fixtures for the minidl test suite.

The suite's own directory is put on `sys.path` so test modules in sub-folders can import the
small float64 gradient checker in `gradcheck.py`.

Real-data tests read MNIST from ``$MINIDL_DATA_DIR``. Unset, they skip (with the reason in the
``-ra`` summary and in the header line). Set but lacking a file, the whole session stops with an
error naming the folder and the files: a CI that silently skipped every real-data test would be
green and useless.
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


def pytest_configure(config):
    """Refuse to run at all when $MINIDL_DATA_DIR is set but unusable."""
    problem = mnist_data_problem()
    if problem:
        raise pytest.UsageError(
            f"{problem}. Fix the folder or unset MINIDL_DATA_DIR (the real-data tests then skip); "
            "they are not skipped silently when it is set."
        )


def pytest_report_header(config):
    """Say up front whether the real-data tests will run."""
    value = os.environ.get("MINIDL_DATA_DIR")
    if value:
        return f"MNIST data: MINIDL_DATA_DIR={value} (the real-data tests run)"
    return "MNIST data: MINIDL_DATA_DIR is not set, so the real-data tests skip"


@pytest.fixture
def rng():
    """A fresh, seeded generator, so every test sees the same random numbers on every run."""
    return np.random.default_rng(1234)


@pytest.fixture
def mnist_dir() -> Path:
    """The folder named by $MINIDL_DATA_DIR holding the four MNIST IDX files.

    Skips the test when the variable is unset; fails it when set but the files are missing.
    """
    return real_mnist_dir()


def real_mnist_dir() -> Path:
    """$MINIDL_DATA_DIR as a resolved folder: skip when unset, fail loudly when set but incomplete."""
    value = os.environ.get("MINIDL_DATA_DIR")
    if not value:
        pytest.skip(
            "MINIDL_DATA_DIR is not set: point it at a folder holding the MNIST .gz files "
            "(e.g. MINIDL_DATA_DIR=/work/shared/mnist)"
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


@pytest.fixture
def lenet5():
    """A factory for the issue's LeNet-5: `lenet5(seed=0)`."""
    return build_lenet5
