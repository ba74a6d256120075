"""minidl.stats.summary + scaling on a hand-made set of runs with known times: medians, spreads, the
noisy and oversubscribed flags, speed-up, efficiency, Karp-Flatt and the Amdahl prediction, exactly."""

from __future__ import annotations

import pytest

from minidl.stats import render_text, summarize
from minidl.stats.render import speedup_markdown
from minidl.stats.scaling import PREDICT_AT, amdahl

STEPS = 10
STEP = 0.1  # every step of the one-worker runs takes 0.1 s: their median step time
GRADIENT_BYTES, REDUCE_RATE = 4_000_000, 4e9  # 1 ms to add one gradient row


def run(workers, training, status="finished", compute=None, steps=STEP):
    """One hand-made run: `training` seconds of training in one epoch of STEPS steps on a 2-CPU host."""
    return {
        "id": f"{workers}-{training}-{status}",
        "started": "2026-01-01T10:00:00+00:00",
        "status": status,
        "settings": {
            "model": "m",
            "setup": "cafe0001",
            "dataset": "mnist",
            "hostname": "host",
            "samples": 1000,
            "val_samples": 100,
            "batch_size": 100,
            "epochs": 1,
            "backend": "pool",
            "workers": workers,
            "threads_per_worker": 1,
            "cpus_available": 2,
            "params": 1_000_000,
        },
        "timings": {
            "step_times": [steps] * STEPS,
            "epoch_times": [training + 0.5],
            "training_time": training,
            "validation_time": 0.5,
            "combined_time": training + 0.5,
            "run_time": training + 0.75,
            "compute_time": compute if compute is not None else 0.08 * STEPS,
            "compute_steps": STEPS,
            "startup_time": 0.0,
        },
        "exchange": {"gradient_bytes": GRADIENT_BYTES, "reduce_rate": REDUCE_RATE},
        "epochs": [{"epoch": 1, "training_time": training, "validation_time": 0.5, "accuracy": 0.9}],
    }


@pytest.fixture
def rows():
    runs = [
        run(1, 10.0),
        run(1, 10.5),
        run(1, 9.5),
        run(2, 6.0),
        run(2, 5.5),
        run(2, 9.0),  # the outlier: another engineer's job started
        run(2, 1.0, status="interrupted"),  # tallied, never used
        run(4, 5.0),  # 4 processes on 2 CPUs: oversubscribed
        run(4, 5.2),
        run(4, 4.8),
    ]
    return {row["workers"]: row for row in summarize(runs)}


def test_medians_and_spreads(rows):
    one, two, four = rows[1], rows[2], rows[4]
    assert one["training_time"] == {"median": 10.0, "mean": 10.0, "min": 9.5, "max": 10.5, "count": 3}
    assert (two["training_time"]["median"], two["training_time"]["min"], two["training_time"]["max"]) == (6.0, 5.5, 9.0)
    assert two["training_time"]["mean"] == pytest.approx(20.5 / 3)  # the mean the outlier drags: not used
    assert (two["runs"], two["interrupted"]) == (3, 1)
    assert four["training_time"]["median"] == 5.0
    assert one["compute_step"]["median"] == pytest.approx(0.08)
    assert one["other_step"]["median"] == pytest.approx(0.02)  # mean step 0.1 - compute 0.08
    assert one["epoch_training_time"]["median"] == 10.0 and one["epoch_time"]["median"] == 10.5
    assert one["startup_time"]["median"] == pytest.approx(0.25)


def test_flags(rows):
    assert [rows[w]["noisy"] for w in (1, 2, 4)] == [False, True, False]  # 10 %, 58 %, 8 % of the median
    assert [rows[w]["oversubscribed"] for w in (1, 2, 4)] == [False, False, True]
    assert rows[1]["flags"] == []
    assert rows[2]["flags"] == ["noisy: training times spread 58% of their median (> 20%)"]
    assert rows[4]["flags"] == ["oversubscribed: 4 busy threads on 2 CPUs available"]


def test_speedup_efficiency_and_karp_flatt(rows):
    one, two, four = rows[1], rows[2], rows[4]
    assert one["speedup"] == 1.0 and one["efficiency"] == 1.0 and one["karp_flatt"] is None
    assert two["speedup"] == pytest.approx(10 / 6)
    assert two["speedup_range"] == pytest.approx((10 / 9, 10 / 5.5))
    assert two["efficiency"] == pytest.approx(10 / 12)
    assert two["karp_flatt"] == pytest.approx(0.2)  # (0.6 - 0.5) / (1 - 0.5)
    assert four["speedup"] == pytest.approx(2.0) and four["efficiency"] == pytest.approx(0.5)
    assert four["karp_flatt"] == pytest.approx(1 / 3)  # (0.5 - 0.25) / 0.75
    assert two["speedup_baseline"] == "pool, 1 worker, 1 thread"


def test_amdahl_prediction_is_fitted_to_the_largest_column_within_the_cpus(rows):
    prediction = rows[2]["prediction"]
    assert prediction["fitted_workers"] == 2 and prediction["fitted_noisy"]  # 4 is oversubscribed
    x = GRADIENT_BYTES / REDUCE_RATE / STEP  # 0.01 of a one-worker step per added row
    assert prediction["exchange_share"] == pytest.approx(x)
    serial = (0.6 - 0.5 - x) / 0.5
    assert prediction["serial_fraction"] == pytest.approx(serial)  # 0.18
    assert amdahl(serial, x, 2) == pytest.approx(10 / 6)  # the model reproduces the fitted measurement
    assert prediction["speedups"] == pytest.approx(
        {str(n): 1 / (serial + (1 - serial) / n + (n - 1) * x) for n in PREDICT_AT}
    )
    assert prediction["speedups"]["8"] == pytest.approx(1 / 0.3525)


def test_averages_text_explains_itself(rows):
    text = render_text(list(rows.values()), files=1)
    assert "speed-up of training time vs 1 worker (range):" in text
    assert "1.67x (1.11-1.82)" in text and "2.00x (1.92-2.08)" in text
    assert "Karp-Flatt serial fraction (1/S-1/p)/(1-1/p):" in text and "0.200" in text and "0.333" in text
    assert "pool, 4 workers, 1 thread: oversubscribed: 4 busy threads on 2 CPUs available" in text
    assert "pool, 2 workers, 1 thread: noisy: training times spread 58% of their median (> 20%)" in text
    assert "prediction (Amdahl's law: a model, not a measurement): serial fraction e = 0.180" in text
    assert "8 processes 2.84x" in text
    assert "epoch time without validation, s:" in text and "epoch time with validation, s:" in text
    assert "setup cafe0001 (fingerprint of layers, optimizer, loss and dtype" in text


def test_no_baseline_and_one_worker_only_are_said_plainly():
    only_parallel = summarize([run(2, 6.0), run(2, 6.1)])
    assert only_parallel[0]["speedup"] is None and only_parallel[0]["prediction"] is None
    assert "no one-worker run in this section, so no speed-up can be computed" in render_text(only_parallel)
    only_one = summarize([run(1, 6.0)])
    assert only_one[0]["prediction"] == {
        "fitted_workers": None,
        "reason": "no parallel column within the available CPUs to fit",
    }
    text = render_text(only_one)
    assert "only one-worker runs here" in text and "a single run: no spread to judge the noise by" in text


# ----- what each process did and how busy the machine was (issue 28) -----
def with_processes(record, pieces, compute, idle, descheduled, loads):
    record["processes"] = {
        "pieces": pieces,
        "compute_time": compute,
        "idle_time": idle,
        "descheduled_time": descheduled,
    }
    record["load_averages"] = [[load, 0.5, 0.25] for load in loads]
    return record


@pytest.fixture
def process_rows():
    runs = [
        with_processes(run(1, 10.0), [10], [0.8], [0.2], [0.0], [1.0, 1.2]),
        with_processes(run(2, 6.0), [60, 40], [4.0, 4.0], [1.0, 2.0], [0.08, 1.2], [2.0, 2.5]),
        with_processes(run(2, 6.2), [50, 50], [4.0, 4.0], [1.0, 3.0], [0.08, 1.0], [3.0]),
    ]
    return {row["workers"]: row for row in summarize(runs)}


def test_each_processs_pieces_idle_and_off_cpu_time_and_the_load_are_summarised(process_rows):
    two = process_rows[2]
    assert two["processes"]["pieces_share"] == pytest.approx([0.55, 0.45])  # medians of 60/40 and 50/50
    assert two["processes"]["idle_per_step"] == pytest.approx([0.1, 0.25])  # 10 steps a run
    assert two["processes"]["descheduled_share"] == pytest.approx([0.02, 0.275])
    assert two["load_average"]["median"] == 2.5 and (two["load_average"]["min"], two["load_average"]["max"]) == (2, 3)
    assert not any(flag.startswith("slowed") for flag in process_rows[1]["flags"])
    assert two["flags"] == [
        "slowed by other work: process 2 was off the CPU (waiting while other work ran) for 28% of its computing "
        "time (process 1: 2%)"
    ]


def test_averages_and_the_reports_scaling_table_show_the_processes_and_the_load(process_rows):
    rows = list(process_rows.values())
    text = render_text(rows, files=1)
    assert "load average (1 min) during the runs:" in text and "2.50 (2.00-3.00)" in text
    assert "pieces of each step computed, by process:" in text and "55% / 45%" in text
    assert "idle per step, by process, ms:" in text and "100.00 / 250.00" in text
    assert "off the CPU while computing, by process:" in text and "2% / 28%" in text
    assert "pool, 2 workers, 1 thread: slowed by other work: process 2 was off the CPU" in text
    table = speedup_markdown(rows)
    assert "load average (1 min) during the runs" in table[0]
    assert "| 2.50 (2.00-3.00) | **slowed by other work** |" in table[3]


def test_runs_recorded_before_these_fields_still_summarise():
    [row] = [r for r in summarize([run(2, 6.0)]) if r["workers"] == 2]
    assert row["processes"] is None and row["load_average"] is None
    assert "load average (1 min) during the runs:" in render_text([row])
