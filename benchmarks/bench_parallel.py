"""What data-parallel training buys: LeNet-5, one epoch of MNIST at batch 128, by worker count.

Each row is a fresh child process (or an `mpiexec` job) training one epoch after a short warm-up.
The parent samples the proportional memory (PSS, from /proc) of the child's whole process tree, so
memory shared by the workers is counted once. Columns:
  s/epoch, samples/s     wall time of the training epoch (no validation)
  CPU s main             CPU time of the measuring process over that epoch (shard 0 and coordination)
  CPU s all              CPU time of the measurement's whole process tree, whole run (load, warm-up, epoch)
  speed-up, efficiency   against the one-process, one-thread row; efficiency = speed-up / processes
  comm. share            part of each step spent outside the workers' gradient computation
                         (sending the step, waiting, adding gradients) — 0 by definition in-process
  peak MB                largest PSS of all processes together
The "independent" row is the ceiling: N unconnected one-thread processes, each training on 1/N of
the epoch at the same time, with no communication at all; its speed-up is what this machine's cores
can give when they all do this arithmetic at once (on 2 vCPUs that share vector units it is far
below N). The header names the BLAS library, its kernel and default thread count (threadpoolctl)
and the load average, which is printed again at the end: on a shared machine, read wall times with it.

    python benchmarks/bench_parallel.py --repeat 3
    python benchmarks/bench_parallel.py --contended --rounds 3   # idle vs one busy competitor
    python benchmarks/bench_parallel.py --piece-cost --rounds 15  # what cutting a batch into pieces costs
    python benchmarks/bench_parallel.py --wake --rounds 3         # sleeping vs looking before sleeping

`--contended` times `fit(workers=N)` against `fit(workers=1)` (LeNet-5, 30,000 images, one epoch, pool
start-up included) at batch 64 and 128, first with no competitor started, then with one busy process
that the benchmark starts itself and pins to the last CPU where the OS allows; every round runs
every cell once, alternated, and the table shows medians with each round's ratio beside them.
`--variants` compares the pool's own choices (see minidl/distributed/pieces.py) under the same
conditions, each variant `balance[:pieces per process[:first share[:spin seconds]]]`, for example
`--variants equal,queue:2:0.5,queue:3:0.5,speed:4:0.25,queue:2:0.5:0.0002`.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))

import bench_layers  # noqa: E402  (shares the model definitions and the PyTorch timing)


def configurations(args):
    """(label, kind, processes, threads per process) of every row, in table order."""
    rows = [("in-process", "local", 1, 1), ("in-process", "local", 1, os.cpu_count() or 1)]
    rows += [("independent", "independent", 2, 1)]
    rows += [("pool", "pool", n, 1) for n in args.workers if n > 1]
    if shutil.which("mpiexec") and _importable("mpi4py") and not args.no_mpi:
        rows += [("MPI", "mpi", n, 1) for n in args.ranks]
    if _importable("torch") and not args.no_torch:
        rows.append(("PyTorch", "torch", 1, os.cpu_count() or 1))
    return rows


def _importable(module):
    try:
        __import__(module)
        return True
    except ImportError:
        return False


# ----- the child: one measurement -----
def child(args):
    from minidl.distributed import pieces

    if args.variant:  # balance[:pieces per process[:first share[:spin seconds]]], as --variants gives them
        parts = args.variant.split(":")
        pieces.BALANCE = parts[0] or pieces.BALANCE
        pieces.PIECES_PER_PROCESS = int(parts[1]) if len(parts) > 1 else pieces.PIECES_PER_PROCESS
        pieces.FIRST_SHARE = float(parts[2]) if len(parts) > 2 else pieces.FIRST_SHARE
        pieces.SPIN_SECONDS = float(parts[3]) if len(parts) > 3 else pieces.SPIN_SECONDS
    x, y, source = bench_layers.load_data(args.samples, args.data_dir)
    if args.kind == "torch":
        cpu = time.process_time()
        seconds = bench_layers.time_torch("lenet", x, y, args.batch_size, args.threads)
        result = {"seconds": seconds, "comm_share": None, "cpu": time.process_time() - cpu}
    elif args.kind == "scenario":
        result = time_scenario(args, x, y)
    else:
        result = time_minidl(args, x, y)
    result.update(source=source, samples=len(x))
    if args.kind != "mpi" or _mpi_rank() == 0:
        print(json.dumps(result), flush=True)


def time_minidl(args, x, y):
    from minidl.distributed import WorkerPool
    from minidl.optimizers import SGD

    model = bench_layers.build_minidl("lenet")
    model.compile(SGD(0.05, momentum=0.9), "sparse_categorical_crossentropy", metrics=["accuracy"])
    warm = 4 * args.batch_size
    if args.kind == "pool":
        with WorkerPool(args.processes, threads_per_worker=args.threads) as pool:
            model.fit(x[:warm], y[:warm], batch_size=args.batch_size, verbose=0, workers=pool)
            started, cpu = time.perf_counter(), time.process_time()
            model.fit(x, y, batch_size=args.batch_size, epochs=1, verbose=0, workers=pool)
            seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
            return {"seconds": seconds, "cpu": cpu, "comm_share": pool.timings.communication_share()}
    if args.kind == "mpi":
        from minidl.distributed import MPIBackend

        workers = MPIBackend()
    else:
        workers = 1
    # fit sets the BLAS thread count itself (one unless told): a limit around the call would not hold.
    model.fit(x[:warm], y[:warm], batch_size=args.batch_size, verbose=0, workers=workers, threads=args.threads)
    started, cpu = time.perf_counter(), time.process_time()
    model.fit(x, y, batch_size=args.batch_size, epochs=1, verbose=0, workers=workers, threads=args.threads)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    share = workers.timings.communication_share() if args.kind == "mpi" else 0.0
    return {"seconds": seconds, "cpu": cpu, "comm_share": share}


# ----- scenarios: workers=N against workers=1, pool start-up included -----
SCENARIOS = {
    "epoch+val": "one epoch with validation on the 10,000 test images",
    "epoch": "one epoch, no validation",
    "60 steps": "a 60-step fit",
}


def time_scenario(args, x, y):
    """One fit as a user runs it (`workers=N` starts and stops its own pool), timed from the call to
    its return: wall time, CPU time of this process and its (joined) workers, and the pool's phases."""
    import resource

    import numpy as np

    from minidl import datasets
    from minidl.optimizers import SGD

    validation = None
    if args.scenario == "epoch+val":
        try:
            _, validation = datasets.load_mnist(data_dir=args.data_dir, train_limit=1, download=False)
        except (datasets.DatasetError, OSError):
            rng = np.random.default_rng(1)
            validation = rng.random((10000, 28, 28, 1), dtype=np.float32), rng.integers(0, 10, 10000)
    if args.scenario == "60 steps":
        x, y = x[: 60 * args.batch_size], y[: 60 * args.batch_size]
    model = bench_layers.build_minidl("lenet")
    model.compile(SGD(0.05, momentum=0.9), "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.predict(x[:256])  # warm-up of this process's code paths, outside the timing
    runner_facts = {}

    class Facts(bench_layers_callback()):
        def on_train_end(self, logs=None):
            runner_facts.update(self.model.facts)

    usage = lambda: sum(  # noqa: E731
        u.ru_utime + u.ru_stime for u in map(resource.getrusage, (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
    )
    cpu, started = usage(), time.perf_counter()
    model.fit(
        x,
        y,
        batch_size=args.batch_size,
        epochs=1,
        verbose=0,
        workers=args.processes,
        validation_data=validation,
        callbacks=[Facts()],
        threads=args.threads,
    )
    seconds, cpu = time.perf_counter() - started, usage() - cpu
    return {"seconds": seconds, "cpu_seconds": cpu, **runner_facts}


def bench_layers_callback():
    """A callback class that copies the runner's phase timings onto the model when training ends."""
    from minidl import distributed
    from minidl.callbacks import Callback

    original = distributed.choose.make_runner

    def recording(model, *args, **kwargs):
        runner = original(model, *args, **kwargs)
        model.runner_for_bench = runner
        return runner

    distributed.choose.make_runner = recording

    class Base(Callback):
        def on_train_batch_end(self, batch, logs=None):
            runner = self.model.runner_for_bench
            timings = runner.timings
            self.model.facts = {
                "startup_seconds": getattr(runner, "startup_seconds", float("nan")),
                "first_step_seconds": getattr(runner, "first_step_seconds", float("nan")),
                "comm_share": timings.communication_share() if timings else 0.0,
                "comm_seconds": timings.step_seconds - timings.compute_seconds if timings else 0.0,
                "steps": timings.steps if timings else 0,
                "pieces": list(timings.pieces) if timings else [],
                "idle_seconds": list(timings.idle_seconds) if timings else [],
                "descheduled_seconds": list(timings.descheduled_seconds) if timings else [],
                "process_compute_seconds": list(timings.process_compute_seconds) if timings else [],
            }

    return Base


def run_scenarios(args):
    """The scenario table: each case x each worker count, `--repeat` fresh child processes each, medians."""
    from rich.console import Console
    from rich.table import Table

    loads = [os.getloadavg()]
    table = Table(title=f"LeNet-5, batch {args.batch_size}, pool start-up included, median of {args.repeat}")
    for column in (
        "case",
        "workers",
        "wall s",
        "CPU s",
        "speed-up (wall)",
        "CPU ratio",
        "start-up s",
        "first step s",
        "comm. share",
        "speed-up, comm. free",
        "load avg (1 min) before/after",
    ):
        table.add_column(column, justify="left" if column == "case" else "right")
    for scenario in SCENARIOS:
        base = None
        for workers in [1, *[n for n in args.workers if n > 1]]:
            runs = []
            for _ in range(args.repeat):
                before = os.getloadavg()[0]
                command = [
                    sys.executable,
                    __file__,
                    "--child",
                    "--kind",
                    "scenario",
                    "--scenario",
                    scenario,
                    "--processes",
                    str(workers),
                    "--threads",
                    "1",
                    "--samples",
                    str(args.samples),
                    "--batch-size",
                    str(args.batch_size),
                ]
                command += ["--data-dir", args.data_dir] if args.data_dir else []
                result = run_child(command)
                result["load"] = (before, os.getloadavg()[0])
                runs.append(result)
            median = {
                key: statistics.median(r[key] for r in runs)
                for key in (
                    "seconds",
                    "cpu_seconds",
                    "startup_seconds",
                    "first_step_seconds",
                    "comm_share",
                    "comm_seconds",
                )
            }
            base = base or median
            table.add_row(
                scenario,
                str(workers),
                f"{median['seconds']:.2f}",
                f"{median['cpu_seconds']:.2f}",
                f"{base['seconds'] / median['seconds']:.2f}x",
                f"{median['cpu_seconds'] / base['cpu_seconds']:.2f}",
                f"{median['startup_seconds']:.3f}",
                f"{median['first_step_seconds']:.3f}",
                f"{median['comm_share']:.1%}",
                f"{base['seconds'] / (median['seconds'] - median['comm_seconds']):.2f}x",
                ", ".join(f"{a:.1f}/{b:.1f}" for a, b in (r["load"] for r in runs)),
            )
            loads.append(os.getloadavg())
    Console(width=max(Console().width, 160)).print(table)
    print(
        "CPU ratio: CPU time of all processes against workers=1 (1.00 = no extra work; the wall speed-up on an "
        "idle machine can approach workers / CPU ratio). Speed-up, comm. free: the speed-up if every step's time "
        "outside the slowest shard's forward and backward (sending, waiting, adding gradients) were zero, "
        "everything else as measured: the most a faster exchange could buy. "
        f"Load average (1, 5, 15 min) at start {loads[0]}, "
        f"at end {loads[-1]}; the targets (>= 1.92x / 1.9x / 1.8x) can only be judged on an idle machine."
    )


# ----- idle vs one busy competitor -----
def busy_competitor():
    """One process that keeps a CPU busy until killed (or until this process is gone: it watches its parent,
    so a benchmark killed outright leaves no busy loop behind), pinned to the last CPU where the OS allows."""
    busy_loop = "import os\nparent = os.getppid()\nwhile os.getppid() == parent: pass"
    process = subprocess.Popen([sys.executable, "-c", busy_loop])
    pinned = None
    if hasattr(os, "sched_setaffinity"):
        try:
            cpu = max(os.sched_getaffinity(0))
            os.sched_setaffinity(process.pid, {cpu})
            pinned = cpu
        except OSError:
            pass
    return process, pinned


def contended_cell(args, workers, batch, variant):
    """One `fit` of one epoch in a fresh child (pool start-up included): its JSON result."""
    command = [
        sys.executable,
        __file__,
        "--child",
        "--kind",
        "scenario",
        "--scenario",
        "epoch",
        "--processes",
        str(workers),
        "--threads",
        "1",
        "--samples",
        str(args.samples),
        "--batch-size",
        str(batch),
    ]
    command += ["--data-dir", args.data_dir] if args.data_dir else []
    command += ["--variant", variant] if variant else []
    before = os.getloadavg()[0]
    result = run_child(command)
    result["load"] = (before, os.getloadavg()[0])
    return result


def run_contended(args):
    """workers=N against workers=1, with no competitor started and with one busy competitor; alternated rounds."""
    from rich.console import Console
    from rich.table import Table

    console = Console(width=max(Console().width, 170))
    for line in bench_layers.machine_lines(threads="1 per process"):
        console.print(line, highlight=False)
    conditions = [("none started", False), ("1 busy process", True)]
    variants = args.variants.split(",") if args.variants else [None]
    cells = {}  # (condition, batch, workers, variant) -> [results]
    loads, competitors = [os.getloadavg()], []
    for round_number in range(args.rounds):
        for condition, contended in conditions:
            competitor, pinned = busy_competitor() if contended else (None, None)
            if competitor:
                competitors.append(competitor.pid)
            try:
                if competitor:
                    time.sleep(1.0)
                for batch in args.batch_sizes:
                    for workers in [1, *args.workers]:
                        for variant in variants if workers > 1 else [None]:
                            result = contended_cell(args, workers, batch, variant)
                            result["pinned"] = pinned
                            cells.setdefault((condition, batch, workers, variant), []).append(result)
            finally:
                if competitor:
                    competitor.kill()
                    competitor.wait()
        loads.append(os.getloadavg())
        console.print(f"round {round_number + 1} of {args.rounds} done, load average {loads[-1]}", highlight=False)
    table = Table(
        title=f"LeNet-5, {args.samples} images, one epoch, fit(workers=N) wall time against fit(workers=1) in the "
        f"same condition: median of {args.rounds} alternated round(s)"
    )
    for column in (
        "competitor",
        "batch",
        "workers",
        "pool variant",
        "wall s",
        "speed-up",
        "speed-up by round",
        "CPU vs 1",
        "pieces by process",
        "idle by process",
        "off CPU while computing",
        "load before/after",
    ):
        table.add_column(column, justify="left" if column in ("competitor", "pool variant") else "right")
    for condition, _ in conditions:
        for batch in args.batch_sizes:
            base = cells[(condition, batch, 1, None)]
            for workers in [1, *args.workers]:
                for variant in variants if workers > 1 else [None]:
                    runs = cells[(condition, batch, workers, variant)]
                    ratios = [b["seconds"] / r["seconds"] for b, r in zip(base, runs)]
                    median = statistics.median(r["seconds"] for r in runs)
                    table.add_row(
                        condition,
                        str(batch),
                        str(workers),
                        (variant or "default") if workers > 1 else "-",
                        f"{median:.2f}",
                        f"{statistics.median(b['seconds'] for b in base) / median:.2f}x",
                        ", ".join(f"{ratio:.2f}" for ratio in ratios),
                        f"{_median_of(runs, 'cpu_seconds') / _median_of(base, 'cpu_seconds'):.2f}",
                        _per_process(runs, "pieces", share=True),
                        _per_process(runs, "idle_seconds", runs_steps=True),
                        _per_process(runs, "descheduled_seconds", of="process_compute_seconds"),
                        ", ".join(f"{a:.1f}/{b:.1f}" for a, b in (r["load"] for r in runs)),
                    )
    console.print(table)
    pinned = next((r["pinned"] for key, v in cells.items() if key[0] != conditions[0][0] for r in v), None)
    console.print(
        "Speed-up: median wall time of workers=1 / median of workers=N, each measured in the same condition "
        "(with the competitor running for both). By round: the same ratio for each round alone (never below 1.0x "
        "is a target). CPU vs 1: CPU time of all the run's processes against workers=1's. Pieces by process: "
        "share of all pieces each process computed (the parent first). Idle: "
        "per step, ms each process did not compute (median over rounds). Off CPU: share of each process's "
        "computing time it spent descheduled, waiting for a CPU while other work ran. "
        "Competitor: a busy loop (`while os.getppid() == parent: pass`), pinned to CPU "
        f"{pinned if pinned is not None else '(not pinned)'}. "
        f"Load average (1, 5, 15 min) at start {tuple(round(v, 2) for v in loads[0])}, "
        f"at end {tuple(round(v, 2) for v in loads[-1])}: on a machine doing other work, these figures move.",
        highlight=False,
    )
    print(f"Competitor pids (stopped): {competitors}")


def _median_of(runs, key) -> float:
    return statistics.median(r[key] for r in runs)


def _per_process(runs, key, share=False, runs_steps=False, of=None) -> str:
    """One figure per process, median over the runs: a share of the total, ms per step, or a share of `of`."""
    runs = [r for r in runs if r.get(key)]
    if not runs:
        return "-"
    processes = len(runs[0][key])
    values = []
    for process in range(processes):
        if share:
            value = statistics.median(r[key][process] / max(sum(r[key]), 1) for r in runs)
            values.append(f"{value:.0%}")
        elif runs_steps:
            value = statistics.median(r[key][process] / max(r["steps"], 1) for r in runs)
            values.append(f"{1000 * value:.1f}")
        else:
            value = statistics.median(r[key][process] / max(r[of][process], 1e-9) for r in runs)
            values.append(f"{value:.0%}")
    return "/".join(values)


# ----- what a piece costs -----
def run_piece_cost(args):
    """CPU time of one LeNet-5 batch's forward + backward in one process, cut into 1, 2, 4, 8 pieces."""
    import numpy as np
    from rich.console import Console
    from rich.table import Table
    from threadpoolctl import threadpool_limits

    from minidl.optimizers import SGD

    x, y, source = bench_layers.load_data(16 * max(args.batch_sizes), args.data_dir)
    model = bench_layers.build_minidl("lenet")
    model.compile(SGD(0.05, momentum=0.9), "sparse_categorical_crossentropy", metrics=["accuracy"])
    table = Table(title=f"LeNet-5 forward + backward of one batch, CPU ms, median of {args.rounds} alternated rounds")
    for column in ("batch", "pieces", "samples each", "CPU ms a batch", "vs one piece", "fixed cost a piece, ms"):
        table.add_column(column, justify="right")
    with threadpool_limits(1):
        for batch in args.batch_sizes:
            cuts = [n for n in (1, 2, 4, 8) if batch // n >= 1]
            times = {n: [] for n in cuts}
            for _ in range(args.rounds):
                for n in cuts:
                    edges = np.linspace(0, batch, n + 1).round().astype(int)
                    steps = []
                    for step in range(8):
                        indices = np.arange(step * batch, (step + 1) * batch)
                        cpu = time.thread_time()
                        for lo, hi in zip(edges[:-1], edges[1:]):
                            part = indices[lo:hi]
                            model.forward_backward(x[part], y[part], None, batch, 0, positions=np.arange(lo, hi))
                        steps.append(time.thread_time() - cpu)
                    times[n].append(statistics.median(steps))
            whole = statistics.median(times[1])
            for n in cuts:
                median = statistics.median(times[n])
                fixed = (median - whole) / (n - 1) if n > 1 else 0.0
                table.add_row(
                    str(batch), str(n), f"{batch / n:.0f}", f"{1000 * median:.2f}", f"{median / whole:.3f}",
                    f"{1000 * fixed:.3f}" if n > 1 else "-",
                )  # fmt: skip
    Console(width=max(Console().width, 120)).print(table)
    print(
        f"data: {source}; one BLAS thread; CPU time of this process (time.thread_time). Fixed cost a piece: the "
        "extra CPU time over one piece, per extra piece. Load average: " + bench_layers.load_average()
    )


# ----- the wake-up cost of waiting -----
def _busy(seconds):
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


def _wait(conn, spin):
    """The pool's wait: look for `spin` s (worker.look_for_messages), then sleep in the kernel until a message."""
    from multiprocessing import connection

    from minidl.distributed.worker import look_for_messages

    if not (spin > 0 and look_for_messages([conn], spin)):
        connection.wait([conn])


def _wake_partner(conn, spin, work):
    """The worker side of `wake_round`: wait, note when the message came, compute `work` s, answer."""
    while True:
        _wait(conn, spin)
        sent = conn.recv()
        if sent is None:
            return
        woke = time.perf_counter()
        _busy(work)
        conn.send((woke - sent, time.perf_counter()))


def wake_round(spin, steps, work, gap):
    """`steps` steps shaped like a pool's: the parent sends, both compute `work` s, the parent waits for the
    answer, then spends `gap` s alone (adding rows, the optimizer step). Medians: (step ms, worker wake-up
    µs, parent wake-up µs)."""
    import multiprocessing as mp

    parent_end, child_end = mp.Pipe()
    partner = mp.Process(target=_wake_partner, args=(child_end, spin, work), daemon=True)
    partner.start()
    try:
        worker_wakes, parent_wakes, step_times = [], [], []
        for _ in range(steps):
            started = time.perf_counter()
            parent_end.send(time.perf_counter())
            _busy(work)
            _wait(parent_end, spin)
            worker_wake, replied = parent_end.recv()
            parent_wakes.append(time.perf_counter() - replied)
            worker_wakes.append(worker_wake)
            _busy(gap)
            step_times.append(time.perf_counter() - started)
        parent_end.send(None)
    finally:
        partner.join(timeout=5)
        if partner.is_alive():
            partner.kill()
    return (
        1e3 * statistics.median(step_times),
        1e6 * statistics.median(worker_wakes),
        1e6 * statistics.median(parent_wakes),
        1e6 * statistics.quantiles(parent_wakes, n=10)[-1],
    )


def run_wake(args):
    """The wake-up cost of a blocking wait against a short spin first, idle and with one busy competitor."""
    from rich.console import Console
    from rich.table import Table

    spins = [float(v) for v in args.spins.split(",")]
    results, loads = {}, [os.getloadavg()]
    for _ in range(args.rounds):
        for condition, contended in (("none started", False), ("1 busy process", True)):
            competitor, _ = busy_competitor() if contended else (None, None)
            try:
                if competitor:
                    time.sleep(0.5)
                for spin in spins:
                    results.setdefault((condition, spin), []).append(wake_round(spin, args.wake_steps, 0.0035, 0.0006))
            finally:
                if competitor:
                    competitor.kill()
                    competitor.wait()
        loads.append(os.getloadavg())
    table = Table(title=f"Waiting for a message: sleep at once vs look first (median of {args.rounds} rounds)")
    for column in ("competitor", "look before sleeping", "step ms", "worker wake-up µs", "parent wake-up µs", "p90"):
        table.add_column(column, justify="left" if column == "competitor" else "right")
    for (condition, spin), rounds in results.items():
        medians = [statistics.median(r[i] for r in rounds) for i in range(4)]
        label = "no (sleep at once)" if spin == 0 else f"{1e6 * spin:.0f} µs"
        table.add_row(
            condition, label, f"{medians[0]:.3f}", f"{medians[1]:.0f}", f"{medians[2]:.0f}", f"{medians[3]:.0f}"
        )
    Console(width=max(Console().width, 120)).print(table)
    print(
        "Each step: the parent sends a message and computes 3.5 ms, the worker wakes, computes 3.5 ms and answers, "
        f"the parent waits for the answer, then works 0.6 ms alone; {args.wake_steps} steps. Wake-up: from a "
        "message sent to its reader running again. The pool's own wait: multiprocessing.connection.wait on a "
        "pipe, after worker.look_for_messages (polling, yielding the CPU between looks) for the time given. "
        f"Load average at start {tuple(round(v, 2) for v in loads[0])}, at end {tuple(round(v, 2) for v in loads[-1])}."
    )


def _mpi_rank():
    from mpi4py import MPI

    return MPI.COMM_WORLD.Get_rank()


# ----- the parent: run children, watch their memory -----
def tree_pss_mb(pid):
    """Proportional set size of a process and all its descendants, in MB (0 when it is gone)."""
    total, stack = 0, [pid]
    while stack:
        current = stack.pop()
        try:
            with open(f"/proc/{current}/smaps_rollup") as rollup:
                total += next(int(line.split()[1]) for line in rollup if line.startswith("Pss:"))
            for task in os.listdir(f"/proc/{current}/task"):
                with open(f"/proc/{current}/task/{task}/children") as children:
                    stack += [int(c) for c in children.read().split()]
        except (OSError, StopIteration, ValueError):
            continue
    return total / 1024


def run_child(command, env=None):
    """Run one measurement, sampling its memory every 0.5 s; returns its JSON result plus peak_mb.

    Reading /proc/<pid>/smaps_rollup costs about 9 ms for an MPI job's tree and locks the target's
    memory map, so sampling every 50 ms slowed the measured runs by up to 2.5x; every 0.5 s costs ~2 %.
    """
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    peak = [0.0]

    def sample():
        while process.poll() is None:
            peak[0] = max(peak[0], tree_pss_mb(process.pid))
            time.sleep(0.5)

    watcher = threading.Thread(target=sample, daemon=True)
    watcher.start()
    out, err = process.communicate()
    watcher.join()
    if process.returncode != 0:
        raise SystemExit(f"measurement failed: {' '.join(command)}\n{err}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    result = json.loads(out.strip().splitlines()[-1])
    result["peak_mb"] = peak[0]
    # Children's CPU as the kernel accounts it once they are reaped (concurrent runs may mix: summed later).
    result["cpu_all"] = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return result


def run_independent(command, processes):
    """Start `processes` unconnected measurements at once; the slowest one's time is the wall time."""
    results, threads = [None] * processes, []
    for index in range(processes):
        thread = threading.Thread(target=lambda i=index: results.__setitem__(i, run_child(command)))
        thread.start()
        threads.append(thread)
    for thread in threads:
        thread.join()
    return {
        "seconds": max(r["seconds"] for r in results),
        "cpu": max(r["cpu"] for r in results),
        "cpu_all": max(r["cpu_all"] for r in results),
        "comm_share": None,
        "source": results[0]["source"],
        "samples": sum(r["samples"] for r in results),
        "peak_mb": sum(r["peak_mb"] for r in results),
    }


def measure(row, args):
    label, kind, processes, threads = row
    samples = args.samples // processes if kind == "independent" else args.samples
    command = [
        sys.executable,
        __file__,
        "--child",
        "--kind",
        "local" if kind == "independent" else kind,
        "--processes",
        str(processes),
        "--threads",
        str(threads),
        "--samples",
        str(samples),
        "--batch-size",
        str(args.batch_size),
    ]
    if args.data_dir:
        command += ["--data-dir", args.data_dir]
    env = None
    if kind == "mpi":
        command = [shutil.which("mpiexec"), "-n", str(processes), "--oversubscribe", "--bind-to", "none"] + command
        env = dict(
            os.environ,
            OMPI_ALLOW_RUN_AS_ROOT="1",
            OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
            OMP_NUM_THREADS=str(threads),
            OPENBLAS_NUM_THREADS=str(threads),
        )
    runs = [
        run_independent(command, processes) if kind == "independent" else run_child(command, env)
        for _ in range(args.repeat)
    ]
    shares = [r["comm_share"] for r in runs if r["comm_share"] is not None]
    return {
        "seconds": statistics.median(r["seconds"] for r in runs),
        "cpu": statistics.median(r["cpu"] for r in runs),
        "cpu_all": statistics.median(r["cpu_all"] for r in runs),
        "samples": runs[0]["samples"],
        "source": runs[0]["source"],
        "peak_mb": max(r["peak_mb"] for r in runs),
        "comm_share": statistics.median(shares) if shares else None,
    }


def int_list(text) -> list[int]:
    """argparse type: comma-separated whole numbers ("2,4")."""
    return [int(n) for n in text.split(",")]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--workers",
        type=int_list,
        default=[2, 4],
        help="pool sizes to measure besides the in-process rows (comma-separated)",
    )
    parser.add_argument(
        "--ranks",
        type=int_list,
        default=[2],
        help="MPI rank counts (rows appear when mpiexec and mpi4py are installed)",
    )
    parser.add_argument("--samples", type=int, default=60000)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--repeat", type=int, default=1, help="runs per row; medians are shown")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--no-torch", action="store_true")
    parser.add_argument("--no-mpi", action="store_true")
    parser.add_argument(
        "--scenarios",
        action="store_true",
        help="workers=N vs 1: epoch with/without validation, 60 steps, start-up included",
    )
    parser.add_argument(
        "--contended",
        action="store_true",
        help="workers=N vs 1 at batch 64 and 128, idle and with one busy competitor the benchmark starts",
    )
    parser.add_argument("--rounds", type=int, default=3, help="--contended: alternated rounds (medians are shown)")
    parser.add_argument(
        "--batch-sizes",
        type=int_list,
        default=[64, 128],
        help="--contended: batch sizes (comma-separated)",
    )
    parser.add_argument(
        "--variants",
        help="--contended: pool variants to compare, comma-separated balance[:pieces per process[:first share[:spin]]]",
    )
    parser.add_argument("--variant", help=argparse.SUPPRESS)
    parser.add_argument(
        "--wake",
        action="store_true",
        help="the wake-up cost of the pool's wait against a short spin, idle and contended",
    )
    parser.add_argument(
        "--piece-cost", action="store_true", help="CPU time of a LeNet-5 batch cut into 1, 2, 4, 8 pieces"
    )
    parser.add_argument("--wake-steps", type=int, default=300, help="--wake: steps per measurement")
    parser.add_argument("--spins", default="0,0.0002,0.001,0.003", help="--wake: seconds to look before sleeping")
    parser.add_argument("--scenario", help=argparse.SUPPRESS)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--kind", help=argparse.SUPPRESS)
    parser.add_argument("--processes", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--threads", type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args)
    if args.scenarios:
        return run_scenarios(args)
    if args.wake:
        return run_wake(args)
    if args.piece_cost:
        return run_piece_cost(args)
    if args.contended:
        if "--samples" not in sys.argv:
            args.samples = 30000
        if "--workers" not in sys.argv:
            args.workers = [2, 4]
        return run_contended(args)

    from rich.console import Console
    from rich.table import Table

    console = Console(width=max(Console().width, 140))
    for line in bench_layers.machine_lines(threads="the 'threads each' column"):
        console.print(line, highlight=False)
    table = Table(title=f"LeNet-5, one epoch, batch {args.batch_size}, median of {args.repeat} ({os.cpu_count()} CPUs)")
    for column in (
        "run",
        "processes",
        "threads each",
        "s / epoch",
        "CPU s main",
        "CPU s all",
        "samples/s",
        "speed-up",
        "efficiency",
        "comm. share",
        "peak MB",
    ):
        table.add_column(column, justify="left" if column == "run" else "right")
    baseline = None
    for row in configurations(args):
        result = measure(row, args)
        baseline = baseline or result["seconds"]
        speedup = baseline / result["seconds"]
        label, kind, processes, threads = row
        share = "-" if result["comm_share"] is None else f"{result['comm_share']:.1%}"
        table.add_row(
            label,
            str(processes),
            str(threads),
            f"{result['seconds']:.2f}",
            f"{result['cpu']:.2f}",
            f"{result['cpu_all']:.2f}",
            f"{result['samples'] / result['seconds']:,.0f}",
            f"{speedup:.2f}x",
            f"{speedup / processes:.0%}" if kind != "torch" else "-",
            share,
            f"{result['peak_mb']:.0f}",
        )
    console.print(table)
    console.print(
        f"data: {result['source']}, {result['samples']} samples. Speed-up and efficiency are against the first "
        "row (one process, one BLAS thread).",
        highlight=False,
    )
    console.print(f"load average after: {bench_layers.load_average()}", highlight=False)


if __name__ == "__main__":
    main()
