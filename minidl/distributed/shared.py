"""NumPy arrays in named shared memory, which worker processes attach to by a small picklable spec."""

from __future__ import annotations

from multiprocessing import shared_memory

import numpy as np

from ..utils.interrupts import deferred_signals


class SharedArray:
    """A NumPy array in named shared memory that other processes can attach to by `spec`."""

    def __init__(self, shape, dtype, spec_name=None, keep=None):
        """A new segment for `shape` / `dtype` (or, with `spec_name`, one another process created).

        `keep` (a list) receives the array in the same uninterruptible step that creates the segment,
        so whoever releases the list's arrays cannot miss one to a Ctrl-C.
        """
        dtype = np.dtype(dtype)
        size = max(int(np.prod(shape)) * dtype.itemsize, 1)
        self.owner = spec_name is None
        self.memory = None
        # No Ctrl-C between creating the segment and holding it: the segment would outlive everyone.
        with deferred_signals():
            self.memory = shared_memory.SharedMemory(name=spec_name, create=self.owner, size=size)
            if keep is not None:
                keep.append(self)
        # frombuffer, unlike np.ndarray(buffer=...), keeps the buffer exported while any view of the
        # array lives, so `release` cannot unmap memory a view still points at (that would crash).
        self.array = np.frombuffer(self.memory.buf, dtype, int(np.prod(shape))).reshape(shape)
        self.spec = (self.memory.name, tuple(shape), dtype.str)

    @classmethod
    def copy_of(cls, values: np.ndarray, keep=None) -> SharedArray:
        """A new shared array holding a copy of `values`.

        `keep` (a list) receives the array as soon as it exists, so the caller can release it even if
        the copy is interrupted; without `keep` this method releases it itself on an interrupt.
        """
        shared = cls(values.shape, values.dtype, keep=keep)
        try:
            shared.array[...] = values
        except BaseException:
            if keep is None:
                shared.release()
            raise
        return shared

    @classmethod
    def attach(cls, spec) -> SharedArray:
        """Open an array another process created."""
        name, shape, dtype = spec
        return cls(shape, dtype, spec_name=name)

    def release(self):
        """Drop this process's mapping; the creator also removes the memory from the system. Safe twice."""
        memory, self.memory, self.array = self.memory, None, None
        if memory is None:
            return
        with deferred_signals():
            try:
                memory.close()
            except BufferError:
                # A view is still alive somewhere in this process; the mapping ends with it. Forget the
                # map here, or SharedMemory would try to close it again when collected, and complain.
                memory._mmap = None
                memory.close()
            finally:
                if self.owner:
                    try:
                        memory.unlink()
                    except FileNotFoundError:
                        pass
