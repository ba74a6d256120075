"""NumPy arrays in named shared memory, which worker processes attach to by a small picklable spec."""

from __future__ import annotations

from multiprocessing import shared_memory

import numpy as np


class SharedArray:
    """A NumPy array in named shared memory that other processes can attach to by `spec`."""

    def __init__(self, shape, dtype, spec_name=None):
        dtype = np.dtype(dtype)
        size = max(int(np.prod(shape)) * dtype.itemsize, 1)
        self.owner = spec_name is None
        self.memory = shared_memory.SharedMemory(name=spec_name, create=self.owner, size=size)
        # frombuffer, unlike np.ndarray(buffer=...), keeps the buffer exported while any view of the
        # array lives, so `release` cannot unmap memory a view still points at (that would crash).
        self.array = np.frombuffer(self.memory.buf, dtype, int(np.prod(shape))).reshape(shape)
        self.spec = (self.memory.name, tuple(shape), dtype.str)

    @classmethod
    def copy_of(cls, values: np.ndarray) -> SharedArray:
        """A new shared array holding a copy of `values`."""
        shared = cls(values.shape, values.dtype)
        shared.array[...] = values
        return shared

    @classmethod
    def attach(cls, spec) -> SharedArray:
        """Open an array another process created."""
        name, shape, dtype = spec
        return cls(shape, dtype, spec_name=name)

    def release(self):
        """Drop this process's mapping; the creator also removes the memory from the system."""
        self.array = None
        try:
            self.memory.close()
        except BufferError:
            # A view is still alive somewhere in this process; the mapping ends with it. Forget the
            # map here, or SharedMemory would try to close it again when collected, and complain.
            self.memory._mmap = None
            self.memory.close()
        finally:
            if self.owner:
                try:
                    self.memory.unlink()
                except FileNotFoundError:
                    pass
