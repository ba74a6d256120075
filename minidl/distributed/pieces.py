"""How a pool's training step is shared out: the batch cut into pieces, taken by whichever process is free.

With one shard per process handed out before the step, every step waits for the slowest process, and
on a machine doing anything else one process is often descheduled for a scheduler quantum (a few ms:
a whole LeNet-5 step). So the pieces of a step (`piece_bounds`: one per process that can compute at
once by default, more when PIECES_PER_PROCESS asks) go into a queue, and every process, the parent
included, takes the next piece as soon as it is free (`claims`). A process slowed by other work
takes fewer pieces; one that wakes up after the others took every piece takes none, and the step
does not wait for it.

Each piece's gradient goes to that piece's own row (`compute_pieces`) and the parent adds the rows in
piece order, so a step's result does not depend on which process computed which piece: two runs with
the same seed are bit-identical, however the machine's load moved the pieces around. The cut depends
on the batch size and the number of processes alone, never on timing, for the same reason.
"""

from __future__ import annotations

import os
import time

import numpy as np

from ..utils import arrays
from . import replica

# How a batch is cut: PIECES_PER_PROCESS pieces per process that can compute at once, the first one of
# each holding FIRST_SHARE of the batch between them and the others the rest, never under MIN_PIECE
# samples. Every piece pays a forward + backward's fixed work (LeNet-5: 4 pieces of a batch of 128 cost
# 26 % more CPU time than one, bench_parallel.py --piece-cost), and on the 2-CPU machine two or three
# pieces per process were slower than one in every cell, idle and beside a busy process
# (docs/parallel-and-mpi.md, "Measured"), so one it is: pieces still go to whoever is free, and nobody
# waits for a process that comes too late.
PIECES_PER_PROCESS = 1
FIRST_SHARE = 0.5
MIN_PIECE = 8
# At most this many pieces: a piece number is one byte in the queue.
MAX_PIECES = 256
# "queue": pieces taken by whichever process is free; "speed": shared out before the step in
# proportion to each process's measured speed; "equal": one equal shard per process. The last two
# are kept to be measured against (bench_parallel.py --variants).
BALANCE = "queue"
# How long a waiting process looks for a message before it sleeps until one comes (seconds).
SPIN_SECONDS = 0.0


def piece_bounds(batch: int, processes: int, per_process=None, first_share=None) -> list[tuple[int, int]]:
    """The (lo, hi) places of a batch's pieces, in order, none empty: a fixed function of its arguments.

    `per_process` (default PIECES_PER_PROCESS) pieces per process, fewer when pieces would hold under
    MIN_PIECE samples: first `processes` big pieces holding `first_share` (default FIRST_SHARE) of the
    batch, then the rest cut evenly; near-equal sizes within each part; at most MAX_PIECES.
    """
    per_process = PIECES_PER_PROCESS if per_process is None else per_process
    first_share = FIRST_SHARE if first_share is None else first_share
    small_room = int((1 - first_share) * batch) // (processes * MIN_PIECE)  # small pieces of MIN_PIECE or more
    per_process = max(1, min(per_process, 1 + small_room, MAX_PIECES // processes))
    if per_process == 1:
        big, first = min(processes, batch), batch
    else:
        big, first = processes, int(round(first_share * batch))
    small = processes * (per_process - 1)
    edges = [
        *np.linspace(0, first, big + 1).round().astype(int).tolist()[:-1],
        *np.linspace(first, batch, small + 1).round().astype(int).tolist(),
    ]
    return list(zip(edges[:-1], edges[1:]))


def claims(queue_fd):
    """Piece numbers taken one at a time from a step's queue (a non-blocking pipe) until it is empty.

    Reading one byte from a pipe is atomic, so every piece goes to exactly one process.
    """
    while True:
        try:
            token = os.read(queue_fd, 1)
        except BlockingIOError:
            return
        if not token:
            return
        yield token[0]


def compute_pieces(model, data, indices, bounds, numbers, rows, step) -> list[tuple]:
    """Each piece of `numbers`: its share of the batch's mean gradient, into its row of `rows`.

    `data` is (x, y, sample weights or None), `indices` the batch's sample indices (None: the batch
    is the first rows of `data`), `bounds` the pieces' (lo, hi) places in the batch (Dropout draws the
    masks of those places, however the batch is cut). Returns [(piece, loss sum, metric sums,
    seconds, CPU seconds)]; a piece's CPU seconds fall short of its seconds when other work held the
    CPU meanwhile.
    """
    x, y, weights = data
    batch = bounds[-1][1]
    done = []
    for piece in numbers:
        lo, hi = bounds[piece]
        shard = slice(lo, hi) if indices is None else indices[lo:hi]
        started, cpu = time.perf_counter(), time.thread_time()
        replica.bind_gradients(model, rows[piece])
        loss_sum, sums = model.forward_backward(
            arrays.take(x, shard),
            arrays.take(y, shard),
            None if weights is None else weights[shard],
            batch,
            step,
            positions=np.arange(lo, hi),
        )
        done.append((piece, loss_sum, sums, time.perf_counter() - started, time.thread_time() - cpu))
    return done


def assign_by_speed(bounds, speeds) -> list[list[int]]:
    """Piece numbers per process: runs of consecutive pieces, each process's share of the samples in
    proportion to its speed (samples per second; NaN, not measured yet, counts as the mean)."""
    speeds = np.asarray(speeds, dtype=float)
    known = speeds[np.isfinite(speeds) & (speeds > 0)]
    speeds = np.where(np.isfinite(speeds) & (speeds > 0), speeds, known.mean() if len(known) else 1.0)
    edges = np.cumsum(speeds) / speeds.sum() * bounds[-1][1]
    assigned: list[list[int]] = [[] for _ in speeds]
    for piece, (lo, hi) in enumerate(bounds):
        process = min(int(np.searchsorted(edges, (lo + hi) / 2)), len(speeds) - 1)
        assigned[process].append(piece)
    return assigned
