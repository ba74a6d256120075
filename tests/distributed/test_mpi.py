"""The MPI backend: the same mathematics as one process, identical replicas, and a failing rank stops the job."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from minidl.distributed.mpi import job_cpus
from minidl.distributed.resources import available_cpus
from minidl.stats import load_runs, summarize

HERE = os.path.dirname(os.path.abspath(__file__))
JOB = os.path.join(HERE, "..", "mpi_job.py")
ROOT = os.path.dirname(os.path.dirname(HERE))

mpiexec = shutil.which("mpiexec")
try:
    import mpi4py  # noqa: F401

    have_mpi4py = True
except ImportError:
    have_mpi4py = False

needs_mpi = pytest.mark.skipif(
    not (mpiexec and have_mpi4py), reason="no MPI here: install the extra with pip install -e '.[mpi]'"
)
needs_mnist = pytest.mark.skipif(
    not os.path.isdir(os.environ.get("MINIDL_DATA_DIR", "")),
    reason="set MINIDL_DATA_DIR to the MNIST folder (CI uses ../shared/mnist)",
)


def run_mpiexec(args, ranks=2, timeout=120):
    env = dict(
        os.environ,
        OMPI_ALLOW_RUN_AS_ROOT="1",
        OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
        OMPI_MCA_rmaps_base_oversubscribe="1",
        PRTE_MCA_rmaps_default_mapping_policy=":oversubscribe",
    )
    command = [mpiexec, "-n", str(ranks), "--oversubscribe", sys.executable, *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env, cwd=ROOT)


@needs_mpi
@needs_mnist
def test_two_ranks_match_one_process_and_each_other(tmp_path):
    result = run_mpiexec([JOB, str(tmp_path)])
    assert result.returncode == 0, result.stderr
    rank0, rank1 = np.load(tmp_path / "rank0.npy"), np.load(tmp_path / "rank1.npy")
    assert np.array_equal(rank0, rank1), "replicas drifted apart"

    sys.path.insert(0, os.path.dirname(HERE))
    import mpi_job

    x, y = mpi_job.make_data()
    model = mpi_job.make_model()
    start = model.parameters.copy()
    history = model.fit(x, y, batch_size=mpi_job.BATCH, epochs=1, shuffle=True, verbose=0)
    assert not np.allclose(model.parameters, start), "training did not move the weights"
    np.testing.assert_allclose(rank0, model.parameters, rtol=1e-4, atol=1e-6)
    loss, accuracy = np.load(tmp_path / "history0.npy")
    assert loss == pytest.approx(history.history["loss"][0], rel=1e-5)
    assert accuracy == pytest.approx(history.history["accuracy"][0])


@needs_mpi
def test_weighted_metrics_and_loss_under_mpi_equal_one_process_exactly(tmp_path):
    """Sample weights reach the loss as their own array on every rank, and MAE / MSE sums come back
    exact (not rounded to integers), equal to one process and to a two-process pool in float64."""
    result = run_mpiexec([JOB, str(tmp_path), "--regression"])
    assert result.returncode == 0, result.stderr
    rank0, rank1 = np.load(tmp_path / "regression0.npy"), np.load(tmp_path / "regression1.npy")
    assert np.array_equal(rank0, rank1), "replicas drifted apart"

    sys.path.insert(0, os.path.dirname(HERE))
    import mpi_job

    x, y, weights, model = mpi_job.regression_problem()
    alone = mpi_job.regression_fit(model, x, y, weights)
    expected = np.concatenate([alone.ravel(), model.parameters])
    np.testing.assert_allclose(rank0, expected, rtol=1e-10, atol=1e-12)
    x, y, weights, model = mpi_job.regression_problem()
    pooled = mpi_job.regression_fit(model, x, y, weights, workers=2)
    np.testing.assert_allclose(pooled, alone, rtol=1e-10)
    unweighted = mpi_job.regression_problem()
    assert not np.allclose(mpi_job.regression_fit(unweighted[3], *unweighted[:2], None), alone, rtol=1e-3)


@needs_mpi
@needs_mnist
def test_a_failing_rank_stops_the_whole_job(tmp_path):
    started = time.monotonic()
    result = run_mpiexec([JOB, str(tmp_path), "--fail-at-step", "3"], timeout=90)
    assert result.returncode != 0
    assert "rank 1 fails on purpose at step 3" in result.stderr
    assert time.monotonic() - started < 90
    assert not (tmp_path / "rank0.npy").exists(), "rank 0 finished although rank 1 failed"


@needs_mpi
@needs_mnist
def test_ctrl_c_under_mpiexec_ends_every_rank_and_records_the_run(tmp_path):
    env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    job = subprocess.Popen(
        [mpiexec, "-n", "2", "--oversubscribe", sys.executable, JOB, str(tmp_path), "--slow"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        cwd=ROOT,
    )
    try:
        started = time.monotonic()
        while "training" not in job.stdout.readline():
            assert time.monotonic() - started < 60, "the job never started training"
        ranks = subprocess.run(["pgrep", "-f", f"{JOB} {tmp_path}"], capture_output=True, text=True).stdout.split()
        assert len(ranks) >= 2
        job.send_signal(signal.SIGINT)
        job.wait(timeout=20)
    finally:
        if job.poll() is None:
            job.kill()
    assert job.returncode != 0
    deadline = time.monotonic() + 10
    while subprocess.run(["pgrep", "-f", f"{JOB} {tmp_path}"], capture_output=True).returncode == 0:
        assert time.monotonic() < deadline, "a rank outlived Ctrl-C"
        time.sleep(0.2)
    statuses = [run["status"] for run in json.loads((tmp_path / "mpi_job.json").read_text())["runs"]]
    assert statuses == ["interrupted"], statuses


@needs_mpi
@pytest.mark.skipif(available_cpus() < 2, reason="two ranks need two CPUs not to be oversubscribed")
def test_two_ranks_on_two_cores_are_not_oversubscribed_and_a_log_file_gets_no_terminal_codes(tmp_path):
    """A plain `mpiexec -n 2` (each rank bound to a core of its own) with its output going to a file: the
    run records the CPUs both ranks have, not rank 0's one core, and nothing prints colours or redraws."""
    env = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "TTY_COMPATIBLE", "NO_COLOR")}
    env.update(OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    log = tmp_path / "log.txt"
    with open(log, "wb") as output:
        result = subprocess.run(
            [mpiexec, "-n", "2", sys.executable, JOB, str(tmp_path), "--tracked"],
            stdout=output,
            stderr=subprocess.STDOUT,
            timeout=120,
            env=env,
            cwd=ROOT,
        )
    text = log.read_bytes().decode()
    assert result.returncode == 0, text
    assert "Epoch 2/2" in text and "2 ranks" in text and "CPUs available" in text, text  # it did print
    assert "\x1b[" not in text and "\r" not in text, repr(text[:2000])
    (run,) = load_runs(tmp_path)[0]
    assert 2 <= run["settings"]["cpus_available"] <= available_cpus()
    (row,) = summarize([run])
    assert (row["backend"], row["workers"]) == ("mpi", 2)
    assert not row["oversubscribed"], row["flags"]


def test_job_cpus_joins_the_ranks_cores_host_by_host():
    """Ranks bound to a core each: per host the union of their masks, summed over the hosts."""

    class Comm:
        def __init__(self, gathered):
            self.gathered = gathered

        def allgather(self, value):
            return self.gathered

    assert job_cpus(Comm([("a", [0]), ("a", [1])])) == 2
    assert job_cpus(Comm([("a", [0, 1]), ("a", [0, 1]), ("a", [0, 1])])) == 2  # unbound: the same two cores
    assert job_cpus(Comm([("a", [0]), ("a", [1]), ("b", [0]), ("b", [1])])) == 4


def test_backend_mpi_without_mpi4py_says_how_to_install(tmp_path):
    blocker = tmp_path / "mpi4py"
    blocker.mkdir()
    (blocker / "__init__.py").write_text("raise ImportError('mpi4py hidden by the test')\n")
    env = dict(os.environ, PYTHONPATH=f"{tmp_path}{os.pathsep}{os.environ.get('PYTHONPATH', '')}")
    result = subprocess.run(
        [sys.executable, os.path.join(ROOT, "trainings", "training_full.py"), "--backend", "mpi", "--limit", "10"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert result.returncode == 2
    assert "pip install 'minidl[mpi]'" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_generator_or_pydataset_under_mpi_is_refused_in_one_line():
    """Every rank would read its own generator: ranks with different batches would compute on different
    data, and one whose generator ends first would leave the others waiting forever (as it did)."""
    from minidl import Model
    from minidl.distributed import MPIBackend
    from minidl.layers import Dense

    x, y = np.zeros((8, 3)), np.zeros(8, dtype=int)
    model = Model([Dense(2, "softmax", input_shape=(3,))]).compile("sgd", "sparse_categorical_crossentropy")
    reason = "with the MPI backend is not supported by minidl: every rank would read its own"
    with pytest.raises(NotImplementedError, match=f"fit: a generator or PyDataset {reason}"):
        model.fit(iter([(x, y)]), verbose=0, backend="mpi")
    with pytest.raises(NotImplementedError, match=f"evaluate: a generator or PyDataset {reason}"):
        model.evaluate(iter([(x, y)]), verbose=0, workers=MPIBackend())
    with pytest.raises(NotImplementedError, match=f"predict: a generator or PyDataset {reason}"):
        model.predict(iter([x]), verbose=0, workers=MPIBackend())


@needs_mpi
def test_a_functional_and_a_subclassed_model_under_mpi_equal_one_process_and_a_pool(tmp_path):
    """Both train through the tape; the ranks need only the flat parameters and forward_backward, so two
    ranks, a pool of two and one process give the same history and weights in float64 (Dropout included:
    its masks follow each sample's place in the batch, not the process that computes it)."""
    result = run_mpiexec([JOB, str(tmp_path), "--graph"])
    assert result.returncode == 0, result.stderr
    sys.path.insert(0, os.path.dirname(HERE))
    import mpi_job

    x, y, alone = mpi_job.graph_models()
    _, _, pooled = mpi_job.graph_models()
    for index, name in enumerate(("functional", "subclassed")):
        rank0, rank1 = np.load(tmp_path / f"{name}0.npy"), np.load(tmp_path / f"{name}1.npy")
        assert np.array_equal(rank0, rank1), f"{name}: replicas drifted apart"
        start = alone[index].parameters.copy()
        expected = np.concatenate([mpi_job.graph_fit(alone[index], x, y).ravel(), alone[index].parameters])
        assert not np.allclose(alone[index].parameters, start), f"{name}: training did not move the weights"
        np.testing.assert_allclose(rank0, expected, rtol=1e-10, atol=1e-12, err_msg=name)
        split = np.concatenate([mpi_job.graph_fit(pooled[index], x, y, workers=2).ravel(), pooled[index].parameters])
        np.testing.assert_allclose(split, expected, rtol=1e-10, atol=1e-12, err_msg=name)


@needs_mpi
def test_a_model_with_two_outputs_under_mpi_equals_one_process_and_a_pool(tmp_path):
    """Targets by output name, sample weights, weighted losses, per-output metrics: two ranks, a pool of two
    and one process give the same logs and weights in float64."""
    result = run_mpiexec([JOB, str(tmp_path), "--outputs"])
    assert result.returncode == 0, result.stderr
    sys.path.insert(0, os.path.dirname(HERE))
    import mpi_job

    x, y, weights, alone = mpi_job.two_outputs_model()
    start = alone.parameters.copy()
    expected = np.concatenate([mpi_job.two_outputs_fit(alone, x, y, weights).ravel(), alone.parameters])
    assert not np.allclose(alone.parameters, start)
    rank0, rank1 = np.load(tmp_path / "outputs0.npy"), np.load(tmp_path / "outputs1.npy")
    assert np.array_equal(rank0, rank1), "replicas drifted apart"
    np.testing.assert_allclose(rank0, expected, rtol=1e-10, atol=1e-12)
    _, _, _, pooled = mpi_job.two_outputs_model()
    split = np.concatenate([mpi_job.two_outputs_fit(pooled, x, y, weights, workers=2).ravel(), pooled.parameters])
    np.testing.assert_allclose(split, expected, rtol=1e-10, atol=1e-12)
