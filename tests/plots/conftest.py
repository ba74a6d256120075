"""Fixtures of the picture tests: statistics folders from real short runs and from hand-made runs."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # picture_helpers

from picture_helpers import fake_run, tiny_conv_model, tiny_data, write_stats

from minidl.stats import StatisticsTracker


@pytest.fixture(scope="session")
def real_stats(tmp_path_factory):
    """A statistics folder from real runs: a tiny conv model, twice with 1 worker and once with 2."""
    folder = tmp_path_factory.mktemp("real_stats")
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


@pytest.fixture
def fake_stats(tmp_path):
    """Hand-made statistics: three models, 1, 2 and 4 workers, two runs each."""
    runs = {
        model: [
            fake_run(model, workers, 10 * index + workers + 5 * repeat, base_step=0.01 * (index + 1))
            for workers in (1, 2, 4)
            for repeat in range(2)
        ]
        for index, model in enumerate(["lenet_conv2_avg", "lenet_conv1_max", "feedforward"])
    }
    return write_stats(tmp_path / "stats", runs)
