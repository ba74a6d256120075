"""Shared fixtures for the minidl test suite.

The suite's own directory is put on `sys.path` so test modules in sub-folders can import the
shared helpers beside this file (the gradient checker is the public `minidl.gradcheck`).

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

from suite_helpers import build_lenet5, mnist_data_problem, real_mnist_dir  # noqa: E402


def pytest_configure(config):
    """Refuse to run at all when $MINIDL_DATA_DIR is set but unusable (a relative one is made absolute first,
    as minidl itself does, since tests and their subprocesses change directory)."""
    value = os.environ.get("MINIDL_DATA_DIR")
    if value and not os.path.isabs(value):
        os.environ["MINIDL_DATA_DIR"] = os.path.abspath(value)
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


@pytest.fixture
def lenet5():
    """A factory for the issue's LeNet-5: `lenet5(seed=0)`."""
    return build_lenet5
