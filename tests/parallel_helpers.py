"""Layers and callbacks for tests/test_parallel.py that worker processes must be able to import.

A worker unpickles the model it is sent, so a custom layer's class has to live in a module, not in
a test function; under the "spawn" start method the worker imports this module afresh.
Each fault-making layer records the pid of the process that built it, so it misbehaves only in a
worker, never in the parent (where the model is built, checked and evaluated).
"""

from __future__ import annotations

import contextlib
import json
import multiprocessing as mp
import os
import signal
import time

import numpy as np

from minidl.callbacks import Callback
from minidl.layers import Layer


class _InWorkerOnly(Layer):
    """A weightless identity layer that acts only in a process other than the one that built it.

    A pool's processes take a step's pieces as they become free, so a worker that wakes up late may
    get none; in the parent the layer waits `PARENT_DELAY` s, so a worker always takes a piece.
    """

    PARENT_DELAY = 0.01

    def __init__(self, name=None, input_shape=None):
        super().__init__(name=name, input_shape=input_shape)
        self.parent_pid = os.getpid()

    def in_worker(self) -> bool:
        return os.getpid() != self.parent_pid

    def forward(self, x, training=False):
        self.check_input(x)
        if self.in_worker():
            self.act()
        elif training:
            time.sleep(self.PARENT_DELAY)
        return x

    def backward(self, grad):
        return grad

    def act(self):
        raise NotImplementedError


class RaiseInWorker(_InWorkerOnly):
    """Raises RuntimeError("deliberate failure ...") in a worker."""

    def act(self):
        raise RuntimeError(f"deliberate failure in worker process {os.getpid()}")


class KillSelfInWorker(_InWorkerOnly):
    """SIGKILLs the worker it runs in (as the out-of-memory killer would)."""

    def act(self):
        os.kill(os.getpid(), signal.SIGKILL)


class SleepInWorker(_InWorkerOnly):
    """Sleeps `seconds` in a worker, leaving a window in which the parent waits for answers."""

    def __init__(self, seconds, name=None, input_shape=None):
        super().__init__(name=name, input_shape=input_shape)
        self.seconds = seconds

    def act(self):
        time.sleep(self.seconds)


class InterruptParentInWorker(_InWorkerOnly):
    """Inside a worker's piece: waits `before` seconds (the parent has long finished its own piece and
    waits for this one), sends the parent SIGINT, then sleeps `after` seconds: the parent is interrupted
    while it waits for the answer this worker owes, however the machine's timing went."""

    def __init__(self, before, after, name=None, input_shape=None):
        super().__init__(name=name, input_shape=input_shape)
        self.before, self.after = before, after
        self.parent = os.getpid()  # not os.getppid() in the worker: under forkserver that is the server

    def act(self):
        time.sleep(self.before)
        os.kill(self.parent, signal.SIGINT)
        time.sleep(self.after)


class ReportThreadsInWorker(_InWorkerOnly):
    """Writes, per worker pid, the BLAS thread counts threadpoolctl sees there into `folder`."""

    def __init__(self, folder, name=None, input_shape=None):
        super().__init__(name=name, input_shape=input_shape)
        self.folder = str(folder)

    def act(self):
        from threadpoolctl import threadpool_info

        threads = [info["num_threads"] for info in threadpool_info() if info["user_api"] == "blas"]
        with open(os.path.join(self.folder, f"{os.getpid()}.json"), "w") as out:
            json.dump(threads, out)


class Halve(Layer):
    """y = x / 2: a custom layer with no other purpose than being importable by spawned workers."""

    def forward(self, x, training=False):
        self.check_input(x)
        return x * np.asarray(0.5, x.dtype)

    def backward(self, grad):
        return grad * np.asarray(0.5, grad.dtype)


class Recorder(Callback):
    """Keeps the run's params, every batch's logs, the BLAS thread count this (parent) process trains
    with and, optionally, the weights after every step."""

    def __init__(self, keep_weights=False):
        super().__init__()
        self.keep_weights = keep_weights
        self.batches, self.weights, self.parent_blas_threads = [], [], []

    def on_train_batch_end(self, batch, logs=None):
        from threadpoolctl import threadpool_info

        self.parent_blas_threads += [info["num_threads"] for info in threadpool_info() if info["user_api"] == "blas"]
        self.batches.append(dict(logs or {}))
        if self.keep_weights:
            self.weights.append(self.model.parameters.copy())


class AtStep(Callback):
    """Calls `action(callback)` at the end of training step `step` (0-based) of the first epoch."""

    def __init__(self, step, action):
        super().__init__()
        self.step, self.action = step, action
        self.fired = False

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self.epoch == 0 and batch == self.step and not self.fired:
            self.fired = True
            self.action(self)


@contextlib.contextmanager
def no_hang_no_orphans(deadline):
    """Fail a test that runs past `deadline` s (SIGALRM) or leaves worker processes behind
    (wrap a test's body in it through an autouse fixture)."""

    def expired(signum, frame):
        signal.alarm(5)  # and again, should the clean-up after this exception hang too
        raise TimeoutError(f"test still running after {deadline} s: something hangs")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(deadline)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    left = [p for p in mp.active_children() if p.name.startswith("minidl-worker")]
    for process in left:
        process.kill()
    assert not left, f"worker processes left running: {left}"
