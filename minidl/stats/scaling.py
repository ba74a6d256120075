"""What parallelism bought, per section of comparable runs: speed-up, efficiency, Karp-Flatt serial
fraction, warning flags, and an Amdahl's-law prediction for more workers.

All of it is computed on *training* time (validation runs the same in every column and is not what
workers divide) and from *medians*: on a shared machine a few runs are slowed by other work, and a
mean would let them set the speed-up. Definitions, with S the speed-up and p the parallel processes:

* speed-up S = median training time of the one-worker column / median training time of this column;
  its range pairs the one-worker median with this column's slowest and fastest run;
* efficiency = S / p;
* Karp-Flatt serial fraction e = (1/S - 1/p) / (1 - 1/p): the share of the one-worker time that
  behaved as if it could not be divided (0 = perfect scaling; it includes communication);
* flags: ``noisy`` when a column's runs spread over more than `NOISY_SPREAD` of their median
  ((max - min) / median), ``oversubscribed`` when processes x BLAS threads exceed the CPUs available,
  ``slowed by other work`` when a process spent at least `SLOWED_SHARE` of its computing time off the
  CPU (descheduled while other work ran: the machine's fault, not the pool's). Noisy and
  oversubscribed columns are shown, never silently averaged away, and are not used for the prediction.

The prediction is a model, not a measurement: Amdahl's law with a serial fraction fitted to the
largest unflagged parallel column, plus the cost of the pool's reduction, which adds (p - 1) gradient
rows of `gradient_bytes` each at the measured `reduce_rate`:

    1/S(p) = e + (1 - e)/p + (p - 1) * x,    x = (gradient_bytes / reduce_rate) / one-worker step time

with e solved from the fitted column's measured S (so the model reproduces that measurement).
"""

from __future__ import annotations

import bisect

NOISY_SPREAD = 0.20
SLOWED_SHARE = 0.10
PREDICT_AT = (8, 16, 64)


def add_scaling(rows: list) -> None:
    """Fill in the scaling fields of one section's rows (in place): speedup, speedup_range,
    speedup_baseline, efficiency, karp_flatt, noisy, oversubscribed, flags, prediction."""
    for row in rows:
        training = row.get("training_time")
        row["noisy"] = bool(training and training["median"] > 0 and relative_spread(training) > NOISY_SPREAD)
        row["oversubscribed"] = oversubscribed(row)
        row.update(speedup=None, speedup_range=None, speedup_baseline=None, efficiency=None, karp_flatt=None)
    base = baseline(rows)
    if base is not None:
        base_time = base["training_time"]["median"]
        for row in rows:
            # Times of 0 s (hand-edited, or rounded to 0) give no ratio: such a column has no speed-up.
            if not row.get("training_time") or base_time <= 0 or row["training_time"]["min"] <= 0:
                continue
            times = row["training_time"]
            speedup = base_time / times["median"]
            row["speedup"] = speedup
            row["speedup_range"] = (base_time / times["max"], base_time / times["min"])
            row["speedup_baseline"] = _label(base)
            row["efficiency"] = speedup / row["workers"]
            row["karp_flatt"] = karp_flatt(speedup, row["workers"])
    for row in rows:
        row["flags"] = flags(row)
    prediction = predict(rows, base)
    for row in rows:
        row["prediction"] = prediction


def relative_spread(stats: dict) -> float:
    """(max - min) / median of a spread."""
    return (stats["max"] - stats["min"]) / stats["median"]


def oversubscribed(row: dict) -> bool:
    """More busy threads (processes x BLAS threads each) than CPUs available to the run."""
    cpus = row.get("cpus_available")
    if not cpus:
        return False
    return row["workers"] * (row.get("threads") or 1) > cpus


def baseline(rows: list):
    """The section's one-worker column with a training time (most runs first, then fewest threads)."""
    single = [row for row in rows if row["workers"] == 1 and row.get("training_time")]
    if not single:
        return None
    return min(single, key=lambda row: (-row["runs"], row["threads"] is None, row["threads"] or 0))


class RunningSpeedup:
    """The speed-up of a run so far, step by step: a one-worker median step time / this run's median so far.

    Used while a run trains (`StatisticsTracker(tensorboard_dir=...)`) and when a recorded run is
    replayed (``python -m minidl.stats tensorboard``), with the same medians as the summary: a few
    steps slowed by other work do not move it. Both step times are the tracker's, measured alike.
    """

    def __init__(self, baseline_step_seconds: float):
        self.baseline = float(baseline_step_seconds)
        self.sorted_steps = []

    def add(self, step_seconds: float):
        """Record one step of this run; its speed-up so far (None while its median is 0)."""
        bisect.insort(self.sorted_steps, float(step_seconds))
        steps, middle = self.sorted_steps, len(self.sorted_steps) // 2
        median = steps[middle] if len(steps) % 2 else (steps[middle - 1] + steps[middle]) / 2
        return self.baseline / median if median > 0 else None


def karp_flatt(speedup: float, processes: int):
    """e = (1/S - 1/p) / (1 - 1/p); None for one process (undefined there)."""
    if processes <= 1 or not speedup:
        return None
    return (1 / speedup - 1 / processes) / (1 - 1 / processes)


def flags(row: dict) -> list[str]:
    """Plain-words warnings for a column: what makes its figures less trustworthy."""
    found = []
    if row["oversubscribed"]:
        threads = row.get("threads") or 1
        found.append(
            f"oversubscribed: {row['workers'] * threads} busy threads on {row['cpus_available']} CPUs available"
        )
    if row["noisy"]:
        found.append(
            f"noisy: training times spread {relative_spread(row['training_time']):.0%} of their median "
            f"(> {NOISY_SPREAD:.0%})"
        )
    slowed = slowed_by_other_work(row)
    if slowed:
        found.append(slowed)
    if row["runs"] == 1 and row.get("training_time"):
        found.append("a single run: no spread to judge the noise by")
    return found


def slowed_by_other_work(row: dict) -> str | None:
    """Which processes of a column waited for a CPU for `SLOWED_SHARE` or more of their computing time, in
    words (None if none did). Processes of an oversubscribed column wait for each other: not flagged here."""
    shares = (row.get("processes") or {}).get("descheduled_share") or []
    slowed = [i for i, share in enumerate(shares) if share is not None and share >= SLOWED_SHARE]
    if not slowed or row["oversubscribed"]:
        return None
    named = " and ".join(str(i + 1) for i in slowed)
    figures = ", ".join(f"{shares[i]:.0%}" for i in slowed)
    others = ", ".join(f"process {i + 1}: {s:.0%}" for i, s in enumerate(shares) if i not in slowed and s is not None)
    subject = f"process {named} was" if len(slowed) == 1 else f"processes {named} were"
    return (
        f"slowed by other work: {subject} off the CPU (waiting while other work ran) for {figures} of "
        f"{'its' if len(slowed) == 1 else 'their'} computing time" + (f" ({others})" if others else "")
    )


def predict(rows: list, base) -> dict | None:
    """Amdahl's law + the reduction cost at PREDICT_AT processes, fitted to the largest unflagged parallel
    column; None without a baseline. When no column can be fitted, a dict saying why (no numbers)."""
    if base is None:
        return None
    candidates = [r for r in rows if r["workers"] > 1 and r["speedup"] and not r["oversubscribed"]]
    clean = [r for r in candidates if not r["noisy"]]
    fitted = max(clean or candidates, key=lambda r: (r["workers"], r["runs"]), default=None)
    if fitted is None:
        return {"fitted_workers": None, "reason": "no parallel column within the available CPUs to fit"}
    step = base["step_time"]["median"] if base.get("step_time") else None
    exchange = fitted.get("exchange") or base.get("exchange")
    x = 0.0
    if exchange and step:
        x = exchange["gradient_bytes"] / exchange["reduce_rate"] / step
    p = fitted["workers"]
    measured = (1 / fitted["speedup"] - 1 / p - (p - 1) * x) / (1 - 1 / p)
    serial = min(1.0, max(0.0, measured))
    return {
        "measured_serial_fraction": measured,  # before clipping to [0, 1]
        "fitted_workers": p,
        "fitted_noisy": fitted["noisy"],
        "serial_fraction": serial,
        "exchange_share": x,
        "exchange": exchange,
        "one_worker_step": step,
        "speedups": {str(n): amdahl(serial, x, n) for n in PREDICT_AT},
    }


def amdahl(serial: float, exchange_share: float, processes: float) -> float:
    """The model's speed-up at `processes`: 1 / (e + (1 - e)/p + (p - 1) x)."""
    return 1 / (serial + (1 - serial) / processes + (processes - 1) * exchange_share)


def _label(row: dict) -> str:
    unit = "rank" if row["backend"] == "mpi" else "worker"
    threads = "? threads" if row["threads"] is None else f"{row['threads']} thread{'s' if row['threads'] != 1 else ''}"
    return f"{row['backend']}, {row['workers']} {unit}{'s' if row['workers'] != 1 else ''}, {threads}"
