"""The worker side of the pool: a process that holds a model replica and answers the parent's messages.

Messages are tuples whose first item names a `WorkerState` method: ("attach", ...), ("use_rows", ...),
("use_batch", ...), ("gradient", ...), ("predict", ...), ("detach",), or ("stop",). Each is answered
with ("ok", result) or ("error", traceback).

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

from ..utils import arrays
from . import replica
from .data import from_flat
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
        self.data = None  # the training set (x, y, sample weights or None)
        self.batch = None  # a batch of its own (a generator's), in the parent's batch buffers
        self.model = None
        self.rows = None  # the gradient rows of a step's pieces (shared memory), one per piece
        self.spin = 0.0  # seconds to look for the next message before sleeping until it comes
        self.limiter, self.threads = None, None  # the BLAS thread limit of the current run
        self.attached: list[SharedArray] = []
        self.batch_attached: list[SharedArray] = []

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
            self.data = self._open_data(data_specs, self.attached)
        else:
            self.data = None
        self.indices = self._open(indices_spec).array if indices_spec else None

    def use_rows(self, rows_spec):
        """The gradient rows of the pieces, one per piece (a new, larger set when a batch needs more)."""
        self.rows = self._open(rows_spec).array

    def use_batch(self, data_specs):
        """The parent's batch buffers (made anew: the first batch of its own, or one that did not fit)."""
        self._release_batch()
        self.batch = self._open_data(data_specs, self.batch_attached)

    def gradient(self, queue, step, edges, of_its_own=False, assigned=None):
        """Pieces of a step whose batch is cut at `edges`: those `assigned`, else taken from `queue`; of
        the batch buffers' first rows for a batch `of_its_own`, else of the training set's rows the
        indices name.

        Returns [(piece, loss sum, metric sums, seconds, CPU seconds)] (empty when others took them all).
        """
        numbers = claims(self.queues[queue]) if assigned is None else assigned
        bounds = list(zip(edges[:-1], edges[1:]))
        data, indices = (self.batch, None) if of_its_own else (self.data, self.indices)
        return compute_pieces(self.model, data, indices, bounds, numbers, self.rows, step)

    def predict(self, inputs_specs, several, outputs_specs, lo, hi, batch_size):
        """Rows lo:hi of the outputs (one shared array per output) from rows lo:hi of the inputs (one per input)."""
        opened = [SharedArray.attach(spec) for spec in (*inputs_specs, *outputs_specs)]
        inputs, outputs = opened[: len(inputs_specs)], opened[len(inputs_specs) :]
        try:
            if hi > lo:
                x = arrays.from_parts([shared.array[lo:hi] for shared in inputs], several)
                write_outputs(
                    [shared.array for shared in outputs], lo, hi, self.model.predict_in_batches(x, batch_size)
                )
        finally:
            for shared in opened:
                shared.release()

    def detach(self):
        self.model = self.data = self.indices = self.rows = None
        self._release_batch()
        for shared in self.attached:
            shared.release()
        self.attached = []

    def _release_batch(self):
        self.batch = None
        for shared in self.batch_attached:
            shared.release()
        self.batch_attached = []

    def _open(self, spec, keep=None) -> SharedArray:
        shared = SharedArray.attach(spec)
        (self.attached if keep is None else keep).append(shared)
        return shared

    def _open_data(self, data_specs, keep) -> tuple:
        """(x, y, sample weights or None) from the specs of their shared copies (`data.data_specs`)."""
        x_specs, _, y_specs, _, weights_spec = data_specs
        held = [self._open(spec, keep).array for spec in (*x_specs, *y_specs)]
        return from_flat([*held, None if weights_spec is None else self._open(weights_spec, keep).array], data_specs)


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


def write_outputs(outputs, lo, hi, predicted):
    """Rows lo:hi of each output array from `predicted` (one array, or a list of them for several outputs)."""
    for out, part in zip(outputs, predicted if isinstance(predicted, list) else [predicted], strict=True):
        out[lo:hi] = part
