"""Run one experiment for several worker counts, several times each, and print the speed-up table.

Every run is a separate `python trainings/<script> --workers N --seed S ...` process (or
`mpiexec -n N ... --backend mpi`), recorded by the StatisticsTracker in --stats-dir; the runs are
interleaved (1, 2, 4, 1, 2, 4, ...) so that a change in the machine's load falls on every worker count
alike. All runs use the same seed: the same mathematics, only the worker count differs. Each process
uses --threads BLAS threads (default 1), so one worker is one core and the speed-up measures processes.

The table (from `minidl.stats`): training time median (min-max), speed-up of the median with its range,
efficiency, Karp-Flatt serial fraction, compute vs communication per step, warnings (runs that spread
more than 20 %, more busy threads than CPUs), and an Amdahl's-law prediction for 8, 16 and 64 processes.

    python trainings/sweep.py --workers 1 2 4 --repeat 3 --epochs 1
    python trainings/sweep.py --script training_feedforward.py --workers 1 2 --limit 10000

Flags it does not know (--epochs, --limit, --batch-size, --activation, ...) go to the script.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time

import common

from minidl.stats import group_sections, load_runs, summarize
from minidl.stats.render import speedup_markdown

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPTS = ("training_full.py", "training_convolve.py", "training_feedforward.py")


def parse_args(argv=None):
    parser = common.OneLineParser(description=__doc__, formatter_class=common.HelpFormatter)
    add = parser.add_argument
    add("--script", choices=SCRIPTS, default="training_full.py", help="the experiment (default: LeNet-5)")
    add("--workers", type=common.positive_int, nargs="+", default=[1, 2], help="worker counts to compare")
    add("--repeat", type=common.positive_int, default=3, help="runs per worker count")
    add("--backend", choices=["pool", "mpi"], default="pool", help="pool: worker processes; mpi: mpiexec -n N")
    add("--threads", type=common.positive_int, default=1, help="BLAS threads per process")
    add("--seed", type=common.seed_value, default=1, help="the seed of every run")
    add("--stats-dir", default="stats_out", help="folder for the statistics (the sweep's runs are added to it)")
    args, extra = parser.parse_known_args(argv)
    if any(flag.split("=")[0] in ("--workers", "--seed", "--stats-dir", "--backend") for flag in extra):
        parser.error("give --workers, --seed, --stats-dir and --backend to the sweep, not twice")
    if args.backend == "mpi" and shutil.which("mpiexec") is None:
        parser.error("--backend mpi: no mpiexec on PATH (pip install 'minidl[mpi]')")
    args.extra = extra
    return args


def command(args, workers: int) -> list[str]:
    """The command line of one run."""
    script = [sys.executable, os.path.join(HERE, args.script), "--seed", str(args.seed)]
    script += ["--stats-dir", args.stats_dir, "--quiet", *args.extra]
    if args.backend == "mpi":
        return ["mpiexec", "-n", str(workers), *script, "--backend", "mpi"]
    return [*script, "--workers", str(workers)]


def run_ids(stats_dir) -> set:
    runs, _, _ = load_runs(stats_dir)
    return {run.get("id") for run in runs}


#: How long an interrupted sweep waits for its run in progress to stop and record itself.
RUN_STOP_SECONDS = 30


def run_one(arguments, env) -> tuple[int, str, str]:
    """Run one training to its end: (exit code, stdout, stderr).

    Interrupted, the sweep waits for the run to stop at a step boundary and record itself as interrupted
    (a terminal's Ctrl-C reaches it too); a run that did not get the signal (`kill -INT <sweep>`) is
    handed it after a moment. Then the interrupt goes on.
    """
    process = subprocess.Popen(arguments, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        stdout, stderr = process.communicate()
    except KeyboardInterrupt as interrupt:
        number = signal.SIGTERM if isinstance(interrupt, common.Terminated) else signal.SIGINT
        for timeout, then in ((common.INTERRUPT_GRACE_SECONDS + 1, number), (RUN_STOP_SECONDS, signal.SIGKILL)):
            try:
                process.communicate(timeout=timeout)
                break
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    process.send_signal(then)
        process.wait()
        raise
    return process.returncode, stdout, stderr


def main(argv=None) -> int:
    args = parse_args(argv)
    before = run_ids(args.stats_dir)
    env = dict(
        os.environ, PYTHONPATH=os.pathsep.join(filter(None, [os.path.dirname(HERE), os.environ.get("PYTHONPATH")]))
    )
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[name] = str(args.threads)
    started = time.perf_counter()
    with common.interrupts_handled():
        try:
            for repeat in range(1, args.repeat + 1):
                for workers in args.workers:
                    load = os.getloadavg()[0]
                    print(
                        f"run {repeat}/{args.repeat}, {workers} worker(s), load average {load:.2f}: ",
                        end="",
                        flush=True,
                    )
                    code, stdout, stderr = run_one(command(args, workers), env)
                    if code != 0:
                        print("failed")
                        sys.stderr.write(stderr)
                        return code
                    print(stdout.strip().splitlines()[-1], flush=True)
        except KeyboardInterrupt as interrupt:
            cause, code = common.interruption(interrupt)
            print(f"\n{cause}: the finished runs are in the statistics.", file=sys.stderr)
            return code
    runs, _, _ = load_runs(args.stats_dir)
    rows = summarize([run for run in runs if run.get("id") not in before])
    print(
        f"\n{len(rows)} configuration(s) in {time.perf_counter() - started:.0f} s; load average now "
        f"{' '.join(f'{v:.2f}' for v in os.getloadavg())}\n"
    )
    for section_rows in group_sections(rows):
        first = section_rows[0]
        print(
            f"{first['model']}: {first['samples']} training images, batch {first['batch_size']}, "
            f"{first['epochs']} epoch(s), setup {first['setup']}"
        )
        print("\n".join(speedup_markdown(section_rows)) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
