"""Faults of the MPI backend (issue 15, points 6 and 7), with real `mpiexec` jobs and real signals.

- `--backend mpi` outside mpiexec (or with fewer ranks than --workers) says how to launch, in one line,
  before MPI starts: no singleton run, no /dev/shm/sm_segment.* left behind;
- Ctrl-C / SIGTERM sent to mpiexec: Open MPI 5's launcher forwards SIGTERM to every rank, SIGKILLs
  them about 0.3 s later, stops passing their output on and exits 1 whatever they return. What we
  control: rank 0 records the run as interrupted every time (no rank aborts the job first), and no
  rank prints a traceback or an abort banner;
- SIGTERM delivered to the ranks themselves (as a batch scheduler does): one line from rank 0, and
  the ranks' exit code 143 is what mpiexec returns.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
JOB = os.path.join(ROOT, "tests", "mpi_job.py")
SCRIPT = os.path.join(ROOT, "trainings", "training_full.py")

mpiexec = shutil.which("mpiexec")
try:
    import mpi4py  # noqa: F401

    have_mpi4py = True
except ImportError:
    have_mpi4py = False

pytestmark = [
    pytest.mark.faults,
    pytest.mark.skipif(not (mpiexec and have_mpi4py), reason="no MPI here: pip install -e '.[mpi]'"),
]
needs_mnist = pytest.mark.skipif(
    not os.path.isdir(os.environ.get("MINIDL_DATA_DIR", "")), reason="set MINIDL_DATA_DIR to the MNIST folder"
)
MPI_ENV = {
    "OMPI_ALLOW_RUN_AS_ROOT": "1",
    "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1",
    "OMPI_MCA_rmaps_base_oversubscribe": "1",
    "PRTE_MCA_rmaps_default_mapping_policy": ":oversubscribe",
}
LAUNCHER_VARIABLES = ("OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE", "MPI_LOCALNRANKS")


def sm_segments() -> set[str]:
    return (
        {name for name in os.listdir("/dev/shm") if name.startswith("sm_segment")}
        if os.path.isdir("/dev/shm")
        else set()
    )


def plain_env():
    """This environment without any MPI launcher's variables (as in a terminal)."""
    return {k: v for k, v in os.environ.items() if k not in LAUNCHER_VARIABLES}


def test_backend_mpi_outside_mpiexec_says_how_to_launch_and_leaves_no_segment(tmp_path):
    before = sm_segments()
    result = subprocess.run(
        [sys.executable, SCRIPT, "--backend", "mpi", "--workers", "2", "--limit", "10", "--stats-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        env=plain_env(),
        timeout=60,
    )
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "not started by mpiexec" in lines[0] and "mpiexec -n 2 " in lines[0] and "training_full.py" in lines[0]
    assert not sm_segments() - before, "a singleton MPI run was started anyway"


def test_library_backend_mpi_outside_mpiexec_is_refused_before_mpi_starts():
    code = (
        "import numpy as np, sys\n"
        "from minidl import Model\nfrom minidl.layers import Dense\n"
        "m = Model(seed=0); m.add(Dense(2, input_shape=(3,))); m.compile('sgd')\n"
        "try:\n    m.fit(np.zeros((4, 3)), np.zeros(4, int), verbose=0, backend='mpi', workers=2)\n"
        "except RuntimeError as e:\n    print(e)\n"
        "print('mpi4py.MPI' in sys.modules)\n"
    )
    before = sm_segments()
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=plain_env(), timeout=60)
    assert result.returncode == 0, result.stderr
    message, imported = result.stdout.strip().splitlines()
    assert message.startswith("backend='mpi': this process was not started by mpiexec") and "mpiexec -n 2" in message
    assert imported == "False", "MPI must not even be initialised"
    assert not sm_segments() - before


def test_more_workers_than_ranks_says_how_to_launch(tmp_path):
    result = subprocess.run(
        [
            mpiexec,
            "-n",
            "1",
            sys.executable,
            SCRIPT,
            "--backend",
            "mpi",
            "--workers",
            "2",
            "--limit",
            "10",
            "--stats-dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        env={**os.environ, **MPI_ENV},
        timeout=60,
        cwd=ROOT,
    )
    assert result.returncode == 2
    assert "2 workers were asked for but mpiexec started 1 rank(s); launch it as: mpiexec -n 2" in result.stderr


def start_slow_job(out_dir):
    """`mpiexec -n 2 tests/mpi_job.py --slow`, returned once both ranks are training."""
    job = subprocess.Popen(
        [mpiexec, "-n", "2", "--oversubscribe", sys.executable, JOB, str(out_dir), "--slow"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, **MPI_ENV},
        cwd=ROOT,
    )
    started, lines = time.monotonic(), []
    while sum("training" in line for line in lines) < 2:
        lines.append(job.stdout.readline())
        assert time.monotonic() - started < 90, "the job never started training"
    return job


def ranks_of(out_dir) -> list[int]:
    """The pids of the job's ranks (processes running the job's Python, not the launcher)."""
    found = subprocess.run(["pgrep", "-f", f"{JOB} {out_dir}"], capture_output=True, text=True).stdout.split()
    ranks = []
    for pid in found:
        try:
            with open(f"/proc/{pid}/cmdline") as cmdline:
                if cmdline.read().split("\0")[0] == sys.executable:
                    ranks.append(int(pid))
        except OSError:
            continue
    return ranks


def finish(job, out_dir):
    try:
        output, _ = job.communicate(timeout=30)
    finally:
        if job.poll() is None:
            job.kill()
    deadline = time.monotonic() + 10
    while subprocess.run(["pgrep", "-f", f"{JOB} {out_dir}"], capture_output=True).returncode == 0:
        assert time.monotonic() < deadline, "a rank outlived the signal"
        time.sleep(0.2)
    statuses = [run["status"] for run in json.loads((out_dir / "mpi_job.json").read_text())["runs"]]
    return job.returncode, output, statuses


@needs_mnist
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM, signal.SIGINT], ids=["INT", "TERM", "INT-again"])
def test_a_signal_to_mpiexec_leaves_the_run_recorded_as_interrupted_by_rank_0(tmp_path, signum):
    job = start_slow_job(tmp_path)
    job.send_signal(signum)
    code, output, statuses = finish(job, tmp_path)
    assert statuses == ["interrupted"], (statuses, output)
    assert "Traceback" not in output and "MPI_ABORT" not in output and "[rank" not in output, output
    assert code == 1, f"Open MPI 5's mpiexec exits 1 after forwarding a signal; got {code}"


@needs_mnist
def test_sigterm_to_the_ranks_gives_one_line_and_exit_143(tmp_path):
    job = start_slow_job(tmp_path)
    ranks = ranks_of(tmp_path)
    assert len(ranks) == 2, ranks
    for pid in ranks:
        os.kill(pid, signal.SIGTERM)
    code, output, statuses = finish(job, tmp_path)
    assert statuses == ["interrupted"]
    assert code == 143, output
    ours = [line for line in output.splitlines() if "interrupted" in line]
    assert ours == ["interrupted (terminated by signal 15): the run is recorded"], output
    assert "Traceback" not in output and "MPI_ABORT" not in output
