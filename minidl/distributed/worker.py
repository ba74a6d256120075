"""The worker side of the pool: a process that holds a model replica and answers the parent's messages.

Messages are tuples whose first item names a `WorkerState` method: ("attach", ...), ("gradient", ...),
("predict", ...), ("detach",), or ("stop",). Each is answered with ("ok", result) or ("error", traceback).
"""

from __future__ import annotations

import multiprocessing as mp
import signal
import time
import traceback
from multiprocessing import connection

import numpy as np

from .. import metrics
from . import replica
from .resources import thread_limit
from .shared import SharedArray


def worker_main(conn, index, threads, inherited=None):
    """A worker's life: limit BLAS threads, then answer the parent's messages until told to stop.

    A forked worker inherits the parent's end of its own pipe, so a parent killed outright never
    shows up as end-of-file; the worker watches the parent's sentinel too, and exits with it.
    """
    # Ctrl-C and SIGTERM (sent to a whole process group by a terminal or a batch scheduler) are the
    # parent's to handle: it records the run and stops us. We also exit when the parent is gone.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    state = WorkerState(index, inherited)
    state.limiter, state.threads = thread_limit(threads), threads
    parent = mp.parent_process()
    while True:
        if parent is not None and conn not in connection.wait([conn, parent.sentinel]):
            break  # the parent is gone
        try:
            message = conn.recv()
        except (EOFError, OSError):
            break  # the parent is gone
        if message[0] == "stop":
            break
        try:
            conn.send(("ok", getattr(state, message[0])(*message[1:])))
        except BaseException:
            conn.send(("error", traceback.format_exc()))
    state.detach()


class WorkerState:
    """What one worker holds between messages: its model replica and its views of shared memory."""

    def __init__(self, index, inherited=None):
        self.index = index
        self.inherited = inherited  # the training data (x, y, sample weights) this forked worker was born with
        self.data = None
        self.model = None
        self.limiter, self.threads = None, None  # the BLAS thread limit of the current run
        self.attached: list[SharedArray] = []

    def attach(self, blueprint, parameters_spec, gradients_spec, data_specs, indices_spec, threads):
        self.detach()
        if threads != self.threads:
            self.limiter, self.threads = thread_limit(threads), threads
        self.model = replica.from_blueprint(blueprint)
        parameters = self._open(parameters_spec).array
        gradients = self._open(gradients_spec).array[self.index]
        replica.bind(self.model, parameters, gradients, keep_values=False)
        if data_specs == "inherited":
            self.data = self.inherited
        elif data_specs:
            self.data = tuple(None if spec is None else self._open(spec).array for spec in data_specs)
        else:
            self.data = None
        self.indices = self._open(indices_spec).array if indices_spec else None

    def gradient(self, step, lo, hi, batch):
        """This worker's share of the batch's mean gradient, into its shared row; (loss, metric sums, seconds)."""
        return shard_gradient(self.model, self.data, self.indices[lo:hi], lo, batch, step)

    def predict(self, inputs_spec, outputs_spec, lo, hi, batch_size):
        inputs, outputs = SharedArray.attach(inputs_spec), SharedArray.attach(outputs_spec)
        try:
            if hi > lo:
                outputs.array[lo:hi] = self.model.predict_in_batches(inputs.array[lo:hi], batch_size)
        finally:
            inputs.release()
            outputs.release()

    def detach(self):
        self.model = self.data = self.indices = None
        for shared in self.attached:
            shared.release()
        self.attached = []

    def _open(self, spec) -> SharedArray:
        shared = SharedArray.attach(spec)
        self.attached.append(shared)
        return shared


def shard_gradient(model, data, shard, first_position, batch, step):
    """One shard's share of the batch's mean gradient into model.gradients; (loss sum, metric sums, seconds).

    `data` is (x, y, sample weights or None); `shard` the shard's sample indices, which begin at
    `first_position` of a batch of `batch` samples.
    """
    started = time.perf_counter()
    if len(shard) == 0:
        model.gradients[...] = 0
        return 0.0, np.zeros(metrics.statistics_size(model.compiled_metrics)), 0.0
    x, y, weights = data
    loss_sum, sums = model.forward_backward(
        x[shard],
        y[shard],
        None if weights is None else weights[shard],
        batch,
        step,
        positions=np.arange(first_position, first_position + len(shard)),
    )
    return loss_sum, sums, time.perf_counter() - started
