"""Faults of the worker pool (issue 15, point 4): no hangs, no orphans, nothing half-done.

Real processes and real signals: a worker stopped with SIGSTOP must be reported after the step
timeout (naming it) and must not keep Ctrl-C from ending the run within 2 s; Ctrl-C landing at a
random moment of `predict(workers=2)` — while shared memory is being created or copied, while a
message is half-written, while answers are awaited, during clean-up — must leave the pool usable or
closed, no worker process running and no shared-memory segment in /dev/shm, round after round in
one long-lived process (as a notebook's "interrupt kernel" does).
"""

from __future__ import annotations

import multiprocessing as mp
import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
from multiprocessing import shared_memory

import numpy as np
import parallel_helpers
import pytest
from parallel_helpers import AtStep
from suite_helpers import still_in_dev_shm

from minidl import Model
from minidl.distributed import WorkerError, WorkerPool
from minidl.distributed.faults import automatic_timeout
from minidl.layers import Dense
from minidl.optimizers import SGD

pytestmark = [pytest.mark.faults, pytest.mark.filterwarnings("ignore:.*oversubscribes the machine:RuntimeWarning")]

DEADLINE = 90  # seconds; past it the test has hung and fails instead of blocking the suite


@pytest.fixture(autouse=True)
def no_hang_no_orphans():
    """Fail a test that runs past DEADLINE (SIGALRM) and one that leaves worker processes behind."""
    with parallel_helpers.no_hang_no_orphans(DEADLINE):
        yield


@pytest.fixture
def segment_names(monkeypatch):
    """Every shared-memory name this process draws (recorded before the segment exists, so a Ctrl-C
    between creating a segment and returning it cannot hide a leak from the test)."""
    drawn = []
    original = shared_memory._make_filename

    def recording():
        name = original()
        drawn.append(name.lstrip("/"))
        return name

    monkeypatch.setattr(shared_memory, "_make_filename", recording)
    return drawn


def worker_processes():
    return [p for p in mp.active_children() if p.name.startswith("minidl-worker")]


def mlp(features=64, seed=3) -> Model:
    model = Model(seed=seed, dtype="float32")
    model.add(Dense(32, "relu", input_shape=(features,)))
    model.add(Dense(4, "softmax"))
    return model.compile(SGD(0.1), "sparse_categorical_crossentropy")


def data(samples=512, features=64):
    rng = np.random.default_rng(0)
    return rng.standard_normal((samples, features)).astype(np.float32), rng.integers(0, 4, samples)


def interrupt_main_after(delay) -> threading.Timer:
    """A timer (not started yet) that sends SIGINT to the main thread after `delay` seconds."""
    return threading.Timer(delay, signal.pthread_kill, (threading.main_thread().ident, signal.SIGINT))


def call_with_interrupt(function, delay):
    """Run `function` while a SIGINT is due after `delay` s; 'done' or 'interrupted', never a stray Ctrl-C later."""
    outcome = "done"
    timer = interrupt_main_after(delay)
    try:
        try:
            timer.start()  # inside the try: with a delay near 0 the signal can come before start() returns
            function()
        finally:
            timer.cancel()
            while timer.is_alive():
                try:
                    timer.join()
                except KeyboardInterrupt:
                    outcome = "interrupted"
        time.sleep(0)  # a SIGINT sent just now is handled here, inside the try
    except KeyboardInterrupt:
        outcome = "interrupted"
    return outcome


# ----- a worker that stops answering -----
def test_a_stopped_worker_is_reported_after_the_step_timeout_naming_it(segment_names):
    x, y = data()
    stopped = {}

    def stop_worker(callback):
        worker = worker_processes()[0]
        stopped.update(pid=worker.pid, at=time.monotonic())
        os.kill(worker.pid, signal.SIGSTOP)

    model = mlp()
    with pytest.raises(WorkerError) as caught:
        model.fit(
            x, y, batch_size=32, epochs=2, verbose=0, workers=2, step_timeout=1.5, callbacks=[AtStep(2, stop_worker)]
        )
    waited = time.monotonic() - stopped["at"]
    message = str(caught.value)
    assert f"worker 1 (pid {stopped['pid']}) has not answered within 1.5 s" in message
    assert "stopped (SIGSTOP" in message
    assert 1.5 <= waited < 4, f"reported after {waited:.1f} s"
    assert not worker_processes(), "the stopped worker must be killed with the pool"
    assert not still_in_dev_shm(segment_names)
    assert np.isfinite(model.predict(x)).all(), "the model keeps usable private weights"


def test_the_automatic_step_timeout_is_max_of_30_s_and_50_median_steps():
    assert automatic_timeout(0.02) == 30
    assert automatic_timeout(2.0) == 100
    x, y = data(64)
    with WorkerPool(2) as pool:
        runner = pool.runner(mlp(), (x, y))
        try:
            runner.recent_steps.extend([1.0, 1.0, 3.0])
            assert runner.timeout_for(0.0) == 50.0  # the median step, not the mean nor the last
            runner.step_timeout = 7.0
            assert runner.timeout_for(0.0) == 7.0
        finally:
            runner.close()
    assert WorkerPool(1, step_timeout=4).step_timeout == 4
    for bad in (0, -1, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="step_timeout"):
            WorkerPool(2, step_timeout=bad)
        with pytest.raises(ValueError, match="step_timeout"):
            mlp().fit(x, y, verbose=0, workers=2, step_timeout=bad)


@pytest.mark.parametrize("callers_pool", [False, True], ids=["own-pool", "callers-pool"])
def test_ctrl_c_ends_the_run_within_2_s_although_a_worker_is_stopped(segment_names, callers_pool):
    x, y = data()
    sent = {}

    def stop_worker_then_interrupt(callback):
        worker = worker_processes()[0]
        os.kill(worker.pid, signal.SIGSTOP)
        sent["timer"] = threading.Timer(
            0.3,
            lambda: (
                sent.update(at=time.monotonic()),
                signal.pthread_kill(threading.main_thread().ident, signal.SIGINT),
            ),
        )
        sent["timer"].start()

    model = mlp()
    pool = WorkerPool(2) if callers_pool else None
    try:
        with pytest.raises(KeyboardInterrupt):
            model.fit(
                x,
                y,
                batch_size=32,
                epochs=50,
                verbose=0,
                workers=pool or 2,
                callbacks=[AtStep(2, stop_worker_then_interrupt)],
            )
        ended = time.monotonic() - sent["at"]
        assert ended < 2, f"Ctrl-C took {ended:.2f} s to end the run"
        if callers_pool:
            assert pool.is_closed, "a pool with a stopped worker cannot be reused: it must be closed"
    finally:
        sent["timer"].join()
        if pool:
            pool.close()
    assert not worker_processes()
    assert not still_in_dev_shm(segment_names)


# ----- Ctrl-C at any moment -----
def round_length(function, rounds=3) -> float:
    """The median duration of `rounds` calls (the first one may also fill the pool's caches)."""
    lengths = []
    for _ in range(rounds):
        started = time.monotonic()
        function()
        lengths.append(time.monotonic() - started)
    return sorted(lengths)[rounds // 2]


def test_ctrl_c_at_random_moments_of_predict_leaves_no_process_nor_segment(segment_names):
    """>= 100 rounds of `predict(workers=2)` (a pool started and closed each time), each sent SIGINT
    after a random delay spread over the whole call."""
    x, _ = data(4000, 784)  # 12.5 MB of inputs: copying them takes a while, as MNIST's would
    model = mlp(784)
    expected = model.predict(x)
    length = round_length(lambda: model.predict(x, workers=2))
    random.seed(15)
    outcomes = []
    # >= 100 rounds, and on until 50 of them were really interrupted (a round can end before its signal)
    while len(outcomes) < 100 or (outcomes.count("interrupted") < 50 and len(outcomes) < 200):
        outcome = call_with_interrupt(lambda: model.predict(x, workers=2), random.uniform(0, 1.2 * length))
        outcomes.append(outcome)
        assert not worker_processes(), f"round {len(outcomes)}: a worker outlived the call"
        assert not still_in_dev_shm(segment_names), f"round {len(outcomes)}: shared memory left behind"
    print(f"{outcomes.count('interrupted')} of {len(outcomes)} rounds interrupted; a round takes {length:.3f} s")
    assert outcomes.count("interrupted") >= 50, "too few rounds were really interrupted"
    np.testing.assert_allclose(model.predict(x, workers=2), expected, rtol=1e-5, atol=1e-7)


def test_ctrl_c_at_random_moments_leaves_a_callers_pool_usable_or_closed(segment_names):
    x, _ = data(4000, 784)
    model = mlp(784)
    expected = model.predict(x)
    pool = WorkerPool(2)
    try:
        length = round_length(lambda: model.predict(x, workers=pool))
        random.seed(16)
        interrupted = reopened = rounds = 0
        while rounds < 60 or (interrupted < 30 and rounds < 150):  # on until 30 were really interrupted
            rounds += 1
            outcome = call_with_interrupt(
                lambda pool=pool: model.predict(x, workers=pool), random.uniform(0, 1.2 * length)
            )
            interrupted += outcome == "interrupted"
            if pool.is_closed:
                assert not worker_processes() and not still_in_dev_shm(segment_names)
                pool, reopened = WorkerPool(2), reopened + 1
            else:
                np.testing.assert_allclose(model.predict(x, workers=pool), expected, rtol=1e-5, atol=1e-7)
        print(f"{interrupted} of {rounds} rounds interrupted; the pool was closed (and reopened) {reopened} times")
        assert interrupted >= 30, "too few rounds were really interrupted"
    finally:
        pool.close()
    assert not worker_processes() and not still_in_dev_shm(segment_names)


# ----- what the training scripts print -----
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPT = os.path.join(ROOT, "trainings", "training_full.py")


def workers_of(pid) -> list[int]:
    """The pool workers of process `pid`: forked children still running its script (not the
    shared-memory resource tracker, also a child)."""
    found = []
    for task in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{task}/children") as children:
            found += [int(c) for c in children.read().split()]
    workers = []
    for child in found:
        try:
            with open(f"/proc/{child}/cmdline") as cmdline:
                if SCRIPT in cmdline.read():
                    workers.append(child)
        except OSError:
            continue
    return workers


@pytest.mark.skipif(not os.environ.get("MINIDL_DATA_DIR"), reason="set MINIDL_DATA_DIR to the MNIST folder")
def test_a_script_reports_a_killed_worker_in_one_line(tmp_path):
    script = subprocess.Popen(
        [
            sys.executable,
            SCRIPT,
            "--workers",
            "2",
            "--limit",
            "2000",
            "--epochs",
            "200",
            "--quiet",
            "--stats-dir",
            str(tmp_path),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        deadline = time.monotonic() + 60
        while not workers_of(script.pid):  # the pool starts after MNIST is loaded
            assert time.monotonic() < deadline and script.poll() is None, "the script never started its pool"
            time.sleep(0.1)
        time.sleep(2)  # training now
        workers = workers_of(script.pid)
        os.kill(workers[0], signal.SIGKILL)
        _, err = script.communicate(timeout=30)
    finally:
        if script.poll() is None:
            script.kill()
    assert script.returncode == 1, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert re.fullmatch(rf"training_full\.py: error: worker 1 \(pid {workers[0]}\) was killed by signal 9 .*", lines[0])


def test_ctrl_c_during_pool_start_up_does_not_claim_a_recorded_run(tmp_path, mnist_dir):
    code = f"""
import sys
sys.argv = ["training_full.py", "--workers", "2", "--limit", "300", "--quiet", "--stats-dir", {str(tmp_path)!r}]
sys.path.insert(0, {os.path.join(ROOT, "trainings")!r})
from minidl.distributed import pool
def interrupted_start(self, *args, **kwargs):
    raise KeyboardInterrupt
pool.WorkerPool.__init__ = interrupted_start
import runpy
runpy.run_path({SCRIPT!r}, run_name="__main__")
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert result.returncode == 130, result.stderr
    assert result.stderr.strip() == "Interrupted (Ctrl-C) before training started: nothing was recorded."
    assert not list(tmp_path.glob("*.json")), "nothing was to be recorded"
