"""Arrays placed in shared memory once and reused while they are the same arrays; buffers reused batch after batch.

A `WorkerPool` kept across several `fit` calls is usually given the same training set each time, and
a fit validates on the same validation set every epoch: copying them into shared memory again each
time costs a full pass over the data (hundreds of MB for MNIST in float32). A cached copy is reused
when the arrays are the same: same memory address, shape, strides and dtype, and the same bytes in a
sample of rows (a cheap check, not a full comparison: arrays changed in place outside the sampled
rows are not noticed).

Batches that come one at a time (a generator's, a PyDataset's) are never the same arrays twice: each
is copied into `BatchBuffers`, shared arrays made at the first batch and made again only when a batch
does not fit (a larger one, another sample shape), so a step copies one batch and creates nothing.
"""

from __future__ import annotations

import hashlib

import numpy as np

from ..utils.arrays import from_parts, parts
from .shared import SharedArray

SAMPLED_ROWS = 64


def fingerprint(arrays) -> tuple:
    """What identifies `arrays` for the cache: address, shape, strides, dtype and a hash of sampled rows."""
    keys = []
    for array in arrays:
        # Evenly spaced rows (a row may come twice in a short array: the hash does not mind). Not np.unique:
        # its first call in a process costs NumPy 2.4 about 12 ms, paid by every pool that starts.
        rows = np.linspace(0, len(array) - 1, min(len(array), SAMPLED_ROWS)).astype(np.int64)
        digest = hashlib.blake2b(np.ascontiguousarray(array[rows]).tobytes(), digest_size=16).hexdigest()
        address = array.__array_interface__["data"][0]
        keys.append((address, array.shape, array.strides, array.dtype.str, digest))
    return tuple(keys)


def as_data(data) -> tuple:
    """(x, y[, sample weights]) as (x, y, sample weights or None), x a tuple when given as a list (several
    inputs), y a tuple when given as a list (the targets of several outputs)."""
    x, y, *weights = data
    return (
        tuple(x) if isinstance(x, list) else x,
        tuple(y) if isinstance(y, list) else y,
        weights[0] if weights else None,
    )


def flat(data) -> list:
    """(x, y[, sample weights]) as one list: x's arrays, y's arrays, the weights (None for none)."""
    x, y, weights = as_data(data)
    return [*parts(x), *parts(y), weights]


def data_key(data) -> tuple:
    """What identifies (x, y[, sample weights]) for reuse: each array's `fingerprint` (None for none)."""
    return tuple(None if array is None else fingerprint([array]) for array in flat(data))


def data_specs(x, y, specs) -> tuple:
    """How a worker finds shared copies of (x, y, sample weights), from the specs of `flat`'s arrays
    (None for no weights): (x's specs, whether x is a tuple (several inputs), y's specs, whether y is a
    tuple (several outputs), the weights')."""
    inputs = len(parts(x))
    return tuple(specs[:inputs]), isinstance(x, tuple), tuple(specs[inputs:-1]), isinstance(y, tuple), specs[-1]


def from_flat(held, specs) -> tuple:
    """(x, y, sample weights or None) from `flat`'s arrays, laid out as `data_specs` says."""
    x_specs, several_inputs, y_specs, several_outputs, _ = specs
    x, y = held[: len(x_specs)], held[len(x_specs) : len(x_specs) + len(y_specs)]
    return from_parts(x, several_inputs), from_parts(y, several_outputs), held[-1]


class SharedDataCache:
    """Named slots ("train", "inputs"), each holding shared copies of one tuple of arrays."""

    def __init__(self):
        self.slots: dict[str, tuple[tuple, list[SharedArray]]] = {}
        self.copies = 0  # how many times arrays were copied into shared memory (tests read it)

    def get(self, slot, arrays) -> list[SharedArray]:
        """Shared copies of `arrays`: the cached ones when they are the same arrays, else fresh copies."""
        key = fingerprint(arrays)
        cached = self.slots.get(slot)
        if cached is not None and cached[0] == key:
            return cached[1]
        self.drop(slot)
        shared: list[SharedArray] = []
        # Registered before the first copy (under a key nothing matches), so `release` finds every
        # segment even if a Ctrl-C cuts the copying short.
        self.slots[slot] = ((), shared)
        for array in arrays:
            SharedArray.copy_of(array, keep=shared)
        self.slots[slot] = (key, shared)
        self.copies += 1
        return shared

    def drop(self, slot):
        """Release one slot's shared copies."""
        _, shared = self.slots.pop(slot, (None, []))
        for item in shared:
            item.release()

    def release(self):
        """Release every slot."""
        for slot in list(self.slots):
            self.drop(slot)


def _fits(buffer, shape, dtype) -> bool:
    """Whether `buffer` can hold an array of `shape` (rows first; more rows are fine) and `dtype`."""
    return (
        buffer is not None
        and buffer.array.shape[1:] == tuple(shape[1:])
        and buffer.array.dtype == np.dtype(dtype)
        and len(buffer.array) >= shape[0]
    )


class BatchBuffers:
    """Shared arrays that batch after batch is copied into, one per array of the batch (None stays None)."""

    def __init__(self):
        self.shared: list[SharedArray | None] = []
        self.owned: list[SharedArray] = []  # every segment made, for `release` (also one a Ctrl-C cut short)

    def place(self, arrays, rows=None) -> bool:
        """Copy `arrays` (or their `rows`) into the first rows of the buffers; whether a buffer was made anew.

        A buffer is made anew when a batch does not fit it: more samples, another sample shape or dtype.
        """
        changed = len(arrays) != len(self.shared)
        if changed:
            self.shared = (self.shared + [None] * len(arrays))[: len(arrays)]
        for slot, array in enumerate(arrays):
            buffer = self.shared[slot]
            if array is None:
                changed, self.shared[slot] = changed or buffer is not None, None
                continue
            n = len(array) if rows is None else len(rows)
            if not _fits(buffer, (n, *array.shape[1:]), array.dtype):
                self._drop(buffer)
                self.shared[slot], changed = SharedArray((n, *array.shape[1:]), array.dtype, keep=self.owned), True
            self.shared[slot].array[:n] = array if rows is None else array[rows]
        return changed

    def reserve(self, shapes, dtype) -> list[SharedArray]:
        """Buffers of at least `shapes` (rows first) in `dtype`, to be written into: the ones held when
        they fit (more rows are fine), else new ones. A fit's validation predicts on the same number of
        samples every epoch, so after the first its outputs create no shared memory at all."""
        if len(shapes) != len(self.shared):
            self.shared = (self.shared + [None] * len(shapes))[: len(shapes)]
        for slot, shape in enumerate(shapes):
            if not _fits(self.shared[slot], shape, dtype):
                self._drop(self.shared[slot])
                self.shared[slot] = SharedArray(tuple(shape), dtype, keep=self.owned)
        return list(self.shared)

    def specs(self) -> list:
        """The specs of the buffers (None for a None array)."""
        return [None if buffer is None else buffer.spec for buffer in self.shared]

    def views(self, n) -> list:
        """The first `n` rows of each buffer (None for a None array)."""
        return [None if buffer is None else buffer.array[:n] for buffer in self.shared]

    def _drop(self, buffer):
        if buffer is not None:
            buffer.release()  # released before it is forgotten: a Ctrl-C in between leaves it to `release`
            self.owned.remove(buffer)

    def release(self):
        """Release every buffer."""
        for buffer in self.owned:
            buffer.release()
        self.shared, self.owned = [], []
