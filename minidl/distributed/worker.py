"""The worker side of the pool: a process that holds a model replica and answers the parent's messages.

Messages are tuples whose first item names a `WorkerState` method: ("attach", ...), ("use_rows", ...),
("gradient", ...), ("predict", ...), ("detach",), or ("stop",). Each is answered with ("ok", result) or
("error", traceback).

A training step is cut into pieces (see `pieces.py`): the worker takes piece numbers from the step's
queue while there are any and writes each piece's gradient into that piece's row of shared memory.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import time
import traceback
from multiprocessing import connection

import numpy as np

from . import replica
from .pieces import claims, compute_pieces
from .resources import thread_limit
from .shared import SharedArray


def worker_main(conn, index, threads, inherited=None, queues=()):
    """A worker's life: limit BLAS threads, then answer the parent's messages until told to stop.

    A forked worker inherits the parent's end of its own pipe, so a parent killed outright never
    shows up as end-of-file; the worker watches the parent's sentinel too, and exits with it.
    """
    # Ctrl-C and SIGTERM (sent to a whole process group by a terminal or a batch scheduler) are the
    # parent's to handle: it records the run and stops us. We also exit when the parent is gone.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    state = WorkerState(index, inherited, queues)
    state.limiter, state.threads = thread_limit(threads), threads
    parent = mp.parent_process()
    while True:
        came = state.spin > 0 and look_for_messages([conn], state.spin)
        if not came and parent is not None and conn not in connection.wait([conn, parent.sentinel]):
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

    def __init__(self, index, inherited=None, queues=()):
        self.index = index
        self.inherited = inherited  # the training data (x, y, sample weights) this forked worker was born with
        self.queue_ends = queues  # the pool's two piece queues (read ends, non-blocking), kept open
        self.queues = [end.fileno() for end in queues]
        self.data = None
        self.model = None
        self.rows = None  # the gradient rows of a step's pieces (shared memory), one per piece
        self.spin = 0.0  # seconds to look for the next message before sleeping until it comes
        self.limiter, self.threads = None, None  # the BLAS thread limit of the current run
        self.attached: list[SharedArray] = []

    def attach(self, blueprint, parameters_spec, data_specs, indices_spec, threads, spin):
        self.detach()
        if threads != self.threads:
            self.limiter, self.threads = thread_limit(threads), threads
        self.spin = spin
        self.model = replica.from_blueprint(blueprint)
        parameters = self._open(parameters_spec).array
        replica.bind(self.model, parameters, np.zeros_like(parameters), keep_values=False)
        if data_specs == "inherited":
            self.data = self.inherited
        elif data_specs:
            self.data = tuple(None if spec is None else self._open(spec).array for spec in data_specs)
        else:
            self.data = None
        self.indices = self._open(indices_spec).array if indices_spec else None

    def use_rows(self, rows_spec):
        """The gradient rows of the pieces, one per piece (a new, larger set when a batch needs more)."""
        self.rows = self._open(rows_spec).array

    def gradient(self, queue, step, edges, assigned=None):
        """Pieces of a step whose batch is cut at `edges`: those `assigned`, else taken from `queue`.

        Returns [(piece, loss sum, metric sums, seconds, CPU seconds)] (empty when others took them all).
        """
        numbers = claims(self.queues[queue]) if assigned is None else assigned
        bounds = list(zip(edges[:-1], edges[1:]))
        return compute_pieces(self.model, self.data, self.indices, bounds, numbers, self.rows, step)

    def predict(self, inputs_spec, outputs_spec, lo, hi, batch_size):
        inputs, outputs = SharedArray.attach(inputs_spec), SharedArray.attach(outputs_spec)
        try:
            if hi > lo:
                outputs.array[lo:hi] = self.model.predict_in_batches(inputs.array[lo:hi], batch_size)
        finally:
            inputs.release()
            outputs.release()

    def detach(self):
        self.model = self.data = self.indices = self.rows = None
        for shared in self.attached:
            shared.release()
        self.attached = []

    def _open(self, spec) -> SharedArray:
        shared = SharedArray.attach(spec)
        self.attached.append(shared)
        return shared


def look_for_messages(connections, seconds) -> list:
    """The connections holding a message, looked at for up to `seconds` before giving up, without sleeping.

    A process that sleeps in the kernel gives its CPU away, and on a busy machine getting it back can
    cost a scheduler quantum (bench_parallel.py --wake measures it); between looks it yields, so a
    process waiting for this CPU (the one whose answer we wait for) runs first.
    """
    until = time.perf_counter() + seconds
    while True:
        ready = [conn for conn in connections if conn.poll(0)]
        if ready or time.perf_counter() >= until:
            return ready
        _yield()


_yield = getattr(os, "sched_yield", lambda: None)
