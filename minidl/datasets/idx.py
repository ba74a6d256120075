"""The bounded IDX reader: MNIST's file format (gzipped or not) into a uint8 array, trusting nothing.

Files are untrusted input: a file larger than :data:`MAX_FILE_BYTES` is not read, the IDX
header's claimed size is checked against :data:`MAX_IDX_BYTES` before anything is
allocated, and gzip data is inflated in bounded pieces, never past the size the header
declares -- a 0.8 MB gzip claiming a million images is refused in milliseconds. Every
problem is a `DatasetError` naming the file.
"""

from __future__ import annotations

import math
import os
import stat
import zlib
from pathlib import Path

import numpy as np

IMAGES_MAGIC = 2051  # 0x00000803: unsigned bytes, 3 dimensions (count, rows, cols)
LABELS_MAGIC = 2049  # 0x00000801: unsigned bytes, 1 dimension (count)

_GZIP_MAGIC = b"\x1f\x8b"
_IDX_UBYTE = 0x08
_CHUNK = 1 << 16
_GZIP_WBITS = 16 + zlib.MAX_WBITS  # gzip container: header, deflate data, CRC-32 and length trailer
_MAX_DEFLATE_RATIO = 1032  # deflate cannot expand one input byte into more than ~1032 output bytes

#: Largest data a single IDX file may declare (header + items): the real training images are
#: 47 MB, so 256 MiB leaves room for bigger IDX datasets while a hostile header cannot make
#: the reader allocate gigabytes. Pass ``max_bytes=`` to :func:`read_idx` to change it.
MAX_IDX_BYTES = 256 << 20
#: Largest file (as stored, gzipped or not) the reader will load into memory.
MAX_FILE_BYTES = 256 << 20


class DatasetError(ValueError):
    """A dataset file is missing, malformed or fails verification.

    Subclasses ValueError so generic bad-input handlers still catch it. The message always
    names the file (or the folders searched) and what is wrong, so nobody has to decode a
    numpy traceback to find out that a download was cut short.
    """


def read_idx(
    path: str | os.PathLike, *, expected_magic: int | None = None, max_bytes: int = MAX_IDX_BYTES
) -> np.ndarray:
    """Read an unsigned-byte IDX file (gzipped or not) into a uint8 ndarray.

    The header gives the magic number and the dimensions; the array gets exactly those
    dimensions (e.g. ``(60000, 28, 28)`` for MNIST training images). The data is inflated
    straight into the array's buffer, no Python loop over items. Raises DatasetError naming
    the file if it is a folder or unreadable, is not gzip although named ``.gz``, is corrupt
    gzip, has a wrong or unexpected magic number (``expected_magic``, e.g. 2051 for images,
    2049 for labels), declares more than ``max_bytes`` bytes, or is truncated / has trailing
    bytes. Nothing larger than the header's (checked) claim is ever allocated or inflated.
    """
    path = Path(path)
    return _parse_idx(_open_stream(read_bytes(path), path), path, expected_magic, max_bytes)


def parse_idx(data: bytes, path: Path, expected_magic: int | None = None, max_bytes: int = MAX_IDX_BYTES) -> np.ndarray:
    """`read_idx` on a file's bytes already in memory (e.g. checksum-verified first); `path` names it in errors."""
    return _parse_idx(_open_stream(data, path), path, expected_magic, max_bytes)


def read_bytes(path: Path) -> bytes:
    """The raw bytes of a data file; DatasetError for a folder, an unreadable or oversized file."""
    try:
        info = path.stat()
    except OSError as exc:
        raise DatasetError(f"{path}: cannot read file ({exc.strerror or exc})") from None
    if stat.S_ISDIR(info.st_mode):
        raise DatasetError(f"{path}: is a folder, not a data file")
    if not stat.S_ISREG(info.st_mode):
        raise DatasetError(f"{path}: not a regular file")
    if info.st_size > MAX_FILE_BYTES:
        raise DatasetError(f"{path}: {info.st_size} bytes, larger than the {MAX_FILE_BYTES}-byte limit for a data file")
    try:
        return path.read_bytes()
    except OSError as exc:
        raise DatasetError(f"{path}: cannot read file ({exc.strerror or exc})") from None


class _PlainStream:
    """Reads an uncompressed file's bytes piece by piece (the same interface as `_GzipStream`)."""

    def __init__(self, data: bytes):
        self._view, self._position = memoryview(data), 0

    def read_into(self, buffer: memoryview) -> int:
        """Fill `buffer` from the data; returns how many bytes were copied (fewer at the end)."""
        chunk = self._view[self._position : self._position + len(buffer)]
        buffer[: len(chunk)] = chunk
        self._position += len(chunk)
        return len(chunk)

    def most_remaining(self) -> int:
        """How many bytes are left to read."""
        return len(self._view) - self._position


class _GzipStream:
    """Inflates gzip data at most a buffer at a time, so a bomb is never inflated past what is asked.

    Concatenated gzip members are read one after another, as gunzip does. The CRC-32 and length
    in each member's trailer are checked by zlib when the member ends; corrupt or truncated data
    raises DatasetError naming the file.
    """

    def __init__(self, data: bytes, path: Path):
        self._path = path
        self._inflater = zlib.decompressobj(_GZIP_WBITS)
        self._pending = data

    def read_into(self, buffer: memoryview) -> int:
        """Fill `buffer` with inflated bytes; returns how many (fewer only at the end of the data)."""
        filled = 0
        while filled < len(buffer):
            if self._inflater.eof and not self._next_member():
                break
            want = min(len(buffer) - filled, _CHUNK * 16)
            try:
                chunk = self._inflater.decompress(self._pending, want)
            except zlib.error as exc:
                raise DatasetError(
                    f"{self._path}: corrupt or truncated gzip data ({exc}); delete it and fetch it again"
                ) from None
            self._pending = self._inflater.unconsumed_tail
            buffer[filled : filled + len(chunk)] = chunk
            filled += len(chunk)
            if not chunk and not self._pending and not self._inflater.eof:
                raise DatasetError(
                    f"{self._path}: corrupt or truncated gzip data (the file ends early); delete it and fetch it again"
                )
        return filled

    def most_remaining(self) -> int:
        """An upper bound on the bytes still to come: what the remaining input can inflate to at most."""
        left = len(self._pending) + len(self._inflater.unused_data)
        return _MAX_DEFLATE_RATIO * left + 2 * _CHUNK  # + what zlib may hold back from consumed input

    def _next_member(self) -> bool:
        """After a member's end: start the next gzip member if one follows; False at the end of the file."""
        rest = self._inflater.unused_data
        if not rest.strip(b"\0"):  # the end, possibly padded with zero bytes (as gzip itself accepts)
            return False
        if rest[:2] != _GZIP_MAGIC:
            raise DatasetError(f"{self._path}: {len(rest)} stray bytes after the gzip data")
        self._inflater, self._pending = zlib.decompressobj(_GZIP_WBITS), rest
        return True


def _open_stream(data: bytes, path: Path):
    """A reader of the file's (decompressed) content: gunzips when ``data`` starts with the gzip magic."""
    if data[:2] == _GZIP_MAGIC:
        return _GzipStream(data, path)
    if path.suffix == ".gz":
        raise DatasetError(
            f"{path}: not a gzip file although its name ends in .gz "
            "(if it was already decompressed, rename it without .gz)"
        )
    return _PlainStream(data)


def _read_exactly(stream, size: int) -> bytes:
    buffer = bytearray(size)
    got = stream.read_into(memoryview(buffer))
    return bytes(buffer[:got])


def _parse_idx(stream, path: Path, expected_magic: int | None = None, max_bytes: int = MAX_IDX_BYTES) -> np.ndarray:
    """Read an IDX header, check its claim against ``max_bytes``, then read exactly the claimed items."""
    head = _read_exactly(stream, 4)
    if len(head) < 4:
        raise DatasetError(f"{path}: truncated IDX file ({len(head)} bytes, no header)")
    magic = int.from_bytes(head, "big")
    if expected_magic is not None and magic != expected_magic:
        raise DatasetError(
            f"{path}: wrong magic number {magic} (0x{magic:08X}), expected {expected_magic} "
            f"for IDX {_describe_magic(expected_magic)}"
        )
    if head[:2] != b"\0\0" or head[3] == 0:
        raise DatasetError(f"{path}: wrong magic number 0x{magic:08X}, not an IDX file")
    if head[2] != _IDX_UBYTE:
        raise DatasetError(f"{path}: unsupported IDX data type 0x{head[2]:02X}; only unsigned bytes (0x08)")
    ndim = head[3]
    header = 4 + 4 * ndim
    dims_bytes = _read_exactly(stream, 4 * ndim)
    if len(dims_bytes) < 4 * ndim:
        raise DatasetError(f"{path}: truncated IDX header ({4 + len(dims_bytes)} of {header} bytes)")
    dims = tuple(int(d) for d in np.frombuffer(dims_bytes, ">u4"))
    size = math.prod(dims)
    if header + size > max_bytes:
        raise DatasetError(
            f"{path}: header declares shape {dims} = {header + size} bytes, more than the "
            f"{max_bytes}-byte limit for an IDX file; refusing to read it"
        )
    if size > stream.most_remaining():
        raise DatasetError(
            f"{path}: truncated: header declares shape {dims} = {header + size} bytes "
            f"with header, more than the file can hold ({path.stat().st_size} bytes as stored)"
        )
    items = np.empty(size, np.uint8)
    got = stream.read_into(memoryview(items))
    if got < size:
        raise DatasetError(
            f"{path}: truncated: header declares shape {dims} = {header + size} bytes "
            f"with header, but the (decompressed) data is {header + got} bytes"
        )
    if stream.read_into(memoryview(bytearray(1))):
        raise DatasetError(
            f"{path}: has trailing bytes: header declares shape {dims} = {header + size} bytes "
            "with header, but the (decompressed) data is longer"
        )
    return items.reshape(dims)


def _describe_magic(magic: int) -> str:
    return {IMAGES_MAGIC: "images", LABELS_MAGIC: "labels"}.get(magic, "data")
