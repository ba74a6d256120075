"""Zip archives of JSON and `.npy` members, read without trusting them and written atomically.

Reading: the zip's central directory and each `.npy` member's header are read and checked *before*
any array is allocated — member sizes against the file's size, the compression ratio of each member
and of the whole file (a zip bomb claims gigabytes from a few kilobytes), flags (no encryption), each
header's dtype and shape against the bytes the member really holds. Arrays are then streamed in 1 MiB
chunks straight into their target (a model's weight) or into an array of exactly the checked size;
NumPy's `np.load` is never used, so nothing is allocated from an unchecked claim and nothing is
unpickled. Every error of zipfile or zlib on a hostile file becomes one `ModelFileError`.

Writing: the archive goes to a temporary file in the destination folder and replaces the destination
with `os.replace` only once complete, so a crash or a full disk leaves the previous file intact.
"""

from __future__ import annotations

import errno
import json
import math
import os
import re
import zipfile
import zlib

import numpy as np

from ..errors import ModelFileError
from ..utils.temporaries import temporary_beside

MAX_JSON_BYTES = 1 << 20  # a LeNet's config is ~2 KB; 1 MiB is plenty for any real architecture
MAX_JSON_DEPTH = 32  # model configs nest 5 deep
MAX_MEMBERS = 10_000
MAX_HEADER_BYTES = 10_000  # NumPy's own limit for .npy headers
# A deflated member may claim at most this many times its compressed size (plus a small allowance):
# random float weights barely compress, while a zip bomb's zeros compress ~1000:1.
MAX_COMPRESSION_RATIO = 50
SMALL_MEMBER_BYTES = 1 << 20
# Data is read in chunks of this size straight into its target: the one buffer loading holds besides the arrays.
READ_CHUNK_BYTES = 1 << 20
WEIGHT_DTYPES = ("float32", "float64")
ZIP_MAGIC = b"PK\x03\x04"
# General-purpose flag bits of a zip member that minidl never writes and zipfile cannot read plainly.
REFUSED_FLAGS = {0x1: "encrypted", 0x40: "encrypted", 0x2000: "encrypted", 0x20: "patched data"}
# What reading a hostile zip can raise, besides ModelFileError: zipfile's and zlib's own errors, and
# NotImplementedError / RuntimeError for features it refuses (encryption and others).
ZIP_ERRORS = (zipfile.BadZipFile, OSError, EOFError, ValueError, zlib.error, NotImplementedError, RuntimeError)


class Archive:
    """A zip archive opened for checked reading: the directory is read and vetted, nothing inflated."""

    def __init__(self, path):
        self.path = os.fspath(path)
        if os.path.isdir(self.path):
            raise ModelFileError(f"{self.path}: is a folder, not a model file")
        try:
            with open(self.path, "rb") as file:
                magic = file.read(4)
            self.size = os.path.getsize(self.path)
        except FileNotFoundError:
            raise FileNotFoundError(f"model file not found: {self.path}") from None
        except OSError as error:
            raise ModelFileError(f"{self.path}: cannot be read ({error.strerror or error})") from None
        if magic[:1] == b"\x80":
            raise ModelFileError(
                f"{self.path}: refused, the file is a Python pickle, which minidl never loads "
                "(it can run arbitrary code)"
            )
        if magic != ZIP_MAGIC:
            raise ModelFileError(f"{self.path}: not a minidl model file (not a zip / .npz / .keras archive)")
        try:
            self.zip = zipfile.ZipFile(self.path)
            infos = self.zip.infolist()
        except ZIP_ERRORS as error:
            raise ModelFileError(
                f"{self.path}: not a readable minidl model file (broken zip archive: {error})"
            ) from None
        if len(infos) > MAX_MEMBERS:
            raise ModelFileError(f"{self.path}: {len(infos)} archive members, more than the limit of {MAX_MEMBERS}")
        self.members: dict[str, zipfile.ZipInfo] = {}
        for info in infos:
            self._check_member(info)
            if info.filename in self.members:
                raise ModelFileError(f"{self.path}: member {info.filename!r} appears twice in the archive")
            self.members[info.filename] = info
        # Each member may inflate MAX_COMPRESSION_RATIO times (a small one up to SMALL_MEMBER_BYTES): the
        # whole file no more, or many small members could still claim gigabytes. This bounds what loading
        # a file can allocate: at most MAX_COMPRESSION_RATIO times its size, plus SMALL_MEMBER_BYTES.
        claimed = sum(info.file_size for info in infos)
        if claimed > max_uncompressed(self.size):
            raise ModelFileError(
                f"{self.path}: its members claim {claimed:,} uncompressed bytes from a {self.size:,}-byte file "
                f"(limit {MAX_COMPRESSION_RATIO}:1 plus {format_bytes(SMALL_MEMBER_BYTES)}): refused as a possible "
                "zip bomb"
            )

    def _check_member(self, info: zipfile.ZipInfo):
        where = f"{self.path}: member {info.filename!r}"
        for bit, what in REFUSED_FLAGS.items():
            if info.flag_bits & bit:
                raise ModelFileError(f"{where} is {what} (general-purpose flags {info.flag_bits:#06x}): refused")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise ModelFileError(f"{where} uses compression method {info.compress_type}; only stored or deflated")
        if info.header_offset + info.compress_size > self.size:
            raise ModelFileError(
                f"{where} claims {info.compress_size} compressed bytes, beyond the end of the {self.size}-byte file"
            )
        if info.compress_type == zipfile.ZIP_STORED and info.file_size != info.compress_size:
            raise ModelFileError(
                f"{where} is stored uncompressed but claims {info.file_size} bytes in {info.compress_size}"
            )
        allowed = max(SMALL_MEMBER_BYTES, MAX_COMPRESSION_RATIO * info.compress_size)
        if info.file_size > allowed:
            raise ModelFileError(
                f"{where} claims {info.file_size:,} uncompressed bytes from {info.compress_size:,} compressed "
                f"(ratio {info.file_size / max(info.compress_size, 1):,.0f}:1, limit {MAX_COMPRESSION_RATIO}:1): "
                "refused as a possible zip bomb"
            )

    def close(self):
        self.zip.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def names(self) -> list[str]:
        return list(self.members)

    def _open(self, name):
        try:
            return self.zip.open(self.members[name])
        except ZIP_ERRORS as error:
            raise ModelFileError(f"{self.path}: member {name!r} cannot be opened ({error})") from None

    def read_bytes(self, name, limit) -> bytes:
        """The whole (small) member, refused if it claims more than `limit` bytes."""
        size = self.members[name].file_size
        if size > limit:
            raise ModelFileError(f"{self.path}: member {name!r} holds {size:,} bytes, more than the limit of {limit:,}")
        try:
            with self._open(name) as stream:
                data = stream.read(limit + 1)
        except ModelFileError:
            raise
        except ZIP_ERRORS as error:
            raise ModelFileError(f"{self.path}: member {name!r} is corrupt ({error})") from None
        if len(data) != size:
            raise ModelFileError(f"{self.path}: member {name!r} holds {len(data)} bytes, its header says {size}")
        return data

    def read_json(self, name):
        """A `.json` member, or a `.npy` member holding one JSON string (the `.npz` layout)."""
        if name.endswith(".npy"):
            header = self.npy_header(name)
            if header.dtype.kind != "U" or header.shape != ():
                raise ModelFileError(
                    f"{self.path}: member {name!r} should hold one JSON string, found {header.dtype} {header.shape}"
                )
            text = self.read_array(name, header, limit=MAX_JSON_BYTES)[()]
        else:
            try:
                text = self.read_bytes(name, MAX_JSON_BYTES).decode("utf-8")
            except UnicodeDecodeError as error:
                raise ModelFileError(f"{self.path}: member {name!r} is not UTF-8 text ({error})") from None
        return parse_json(text, f"{self.path}: member {name!r}")

    def npy_header(self, name) -> NpyHeader:
        """The dtype and shape a `.npy` member declares, checked against the member's real size."""
        info = self.members[name]
        where = f"{self.path}: member {name!r}"
        try:
            with self._open(name) as stream:
                version = np.lib.format.read_magic(stream)
                read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
                shape, fortran, dtype = read(stream, max_header_size=MAX_HEADER_BYTES)
                offset = stream.tell()
        except ModelFileError:
            raise
        except (*ZIP_ERRORS, TypeError, SyntaxError) as error:
            raise ModelFileError(f"{where} has no valid .npy header ({error})") from None
        if dtype.hasobject or dtype.fields is not None or dtype.subdtype is not None:
            raise ModelFileError(f"{where} has dtype {dtype}: refused (only plain numbers; never Python objects)")
        claimed = math.prod(shape) * dtype.itemsize
        if claimed != info.file_size - offset:
            raise ModelFileError(
                f"{where} declares shape {shape} of {dtype} ({format_bytes(claimed)}) but holds "
                f"{format_bytes(info.file_size - offset)} of data"
            )
        return NpyHeader(name, dtype, tuple(shape), bool(fortran), offset)

    def read_array(self, name, header: NpyHeader, limit=None) -> np.ndarray:
        """A member's data in a new array of exactly the checked size (streamed: see `fill`)."""
        nbytes = math.prod(header.shape) * header.dtype.itemsize
        if limit is not None and nbytes > limit:
            raise ModelFileError(f"{self.path}: member {name!r} holds {nbytes:,} bytes, over the limit of {limit:,}")
        out = np.empty(header.shape, header.dtype, order="F" if header.fortran else "C")
        self.fill(name, header, out)
        return out

    def fill(self, name, header: NpyHeader, out: np.ndarray) -> int:
        """Stream a member's data into `out`, an array of the header's shape (a model's weight: the data
        goes straight to its final place, through one READ_CHUNK_BYTES buffer); returns how many of the
        values read are NaN or infinite."""
        # The data is the elements in C order, or in Fortran order: the C order of the transpose (the same
        # memory seen with its axes reversed). `.flat` writes through either view, converting byte order.
        target = (out.T if header.fortran else out).flat

        def put(start, values):
            target[start : start + len(values)] = values

        return self._stream(name, header, put)

    def count_nonfinite(self, name, header: NpyHeader) -> int:
        """The NaN and infinite values of a member, read through (CRC included) without keeping its data."""
        return self._stream(name, header, lambda start, values: None)

    def _stream(self, name, header: NpyHeader, put) -> int:
        """Read a member's data in chunks of at most READ_CHUNK_BYTES, `put(first element, values)` each;
        check that it holds exactly what its header says and its CRC; return how many values are not finite."""
        itemsize = header.dtype.itemsize
        total = math.prod(header.shape)
        per_chunk = max(1, READ_CHUNK_BYTES // max(itemsize, 1))
        buffer = bytearray(min(total, per_chunk) * itemsize)
        floats = header.dtype.kind in "fc"
        nonfinite = 0
        try:
            with self._open(name) as stream:
                stream.read(header.offset)
                done = 0
                while done < total:
                    count = min(per_chunk, total - done)
                    view = memoryview(buffer)[: count * itemsize]
                    filled = 0
                    while filled < len(view):
                        got = stream.readinto(view[filled:])
                        if not got:
                            raise ModelFileError(
                                f"{self.path}: member {name!r} ends after {done * itemsize + filled} of "
                                f"{total * itemsize} bytes"
                            )
                        filled += got
                    values = np.frombuffer(view, header.dtype)
                    if floats:
                        nonfinite += count - int(np.count_nonzero(np.isfinite(values)))
                    put(done, values)
                    done += count
                if stream.read(1):  # also makes zipfile check the CRC
                    raise ModelFileError(f"{self.path}: member {name!r} holds more data than its header says")
        except ModelFileError:
            raise
        except ZIP_ERRORS as error:
            raise ModelFileError(f"{self.path}: member {name!r} is corrupt ({error})") from None
        return nonfinite


def max_uncompressed(file_size: int) -> int:
    """The most data a file of `file_size` bytes may hold uncompressed: the bound on what loading it allocates."""
    return MAX_COMPRESSION_RATIO * file_size + SMALL_MEMBER_BYTES


class NpyHeader:
    """What a `.npy` member declares: its dtype, shape, memory order and where its data starts."""

    def __init__(self, name, dtype, shape, fortran, offset):
        self.name, self.dtype, self.shape, self.fortran, self.offset = name, dtype, shape, fortran, offset


def format_bytes(count: int) -> str:
    """1536 -> '1.5 KiB': sizes in error messages a reader can take in at a glance."""
    value = float(count)
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if value < 1024 or unit == "PiB":
            return f"{count} bytes" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{count} bytes"


def json_depth(text: str) -> int:
    """The deepest nesting of [ and { outside strings, found without parsing (so without recursion).

    Strings are blanked out first (brackets inside them do not nest), then the depth is a running sum.
    """
    skeleton = STRING.sub('""', text).encode("utf-8", "surrogatepass")  # a crafted text may hold lone surrogates
    codes = np.frombuffer(skeleton, np.uint8)
    steps = np.isin(codes, OPENING).astype(np.int64) - np.isin(codes, CLOSING)
    return int(np.cumsum(steps).max(initial=0))


STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
OPENING, CLOSING = np.frombuffer(b"[{", np.uint8), np.frombuffer(b"]}", np.uint8)


def _refuse_constant(name):
    raise ValueError(f"{name} is not a JSON number")


def parse_json(text: str, where: str):
    """JSON with a size and depth limit and without NaN/Infinity, or a ModelFileError naming `where`."""
    if len(text) > MAX_JSON_BYTES:
        raise ModelFileError(f"{where}: JSON of {len(text):,} characters, over the limit of {MAX_JSON_BYTES:,}")
    depth = json_depth(text)
    if depth > MAX_JSON_DEPTH:
        raise ModelFileError(f"{where}: JSON nested {depth} levels deep, over the limit of {MAX_JSON_DEPTH}")
    try:
        return json.loads(text, parse_constant=_refuse_constant)
    except (ValueError, RecursionError) as error:
        raise ModelFileError(f"{where}: not valid JSON ({error})") from None


# ----- writing -----
def check_destination(path) -> str:
    """`path` as a string, refused if it is a folder or its folder does not exist (before any work)."""
    path = os.fspath(path)
    if os.path.isdir(path):
        raise IsADirectoryError(f"{path} is a folder; refusing to replace it with a model file")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"cannot save to {path}: folder {folder} does not exist")
    return path


def write_archive(path, members):
    """Write `members` ({name: bytes | str | ndarray}) as a zip to `path`, atomically.

    Strings are written as UTF-8, arrays as `.npy` (never pickled). The zip goes to a temporary file
    next to `path` (`utils.temporaries`: locked while this process lives, swept once it is dead) and
    replaces it only when complete and flushed to disk; on any error (a full disk included) the
    temporary file is removed and the previous `path`, if any, is left as it was.
    """
    path = check_destination(path)
    try:
        with temporary_beside(path) as (handle, temporary):
            with open(os.dup(handle), "wb") as raw:
                with zipfile.ZipFile(raw, "w", zipfile.ZIP_STORED, allowZip64=True) as archive:
                    for name, value in members.items():
                        write_member(archive, name, value)
                raw.flush()
                os.fsync(raw.fileno())
            os.replace(temporary, path)
    except OSError as error:
        if error.errno is None:
            raise
        reason = "the disk is full" if error.errno == errno.ENOSPC else (error.strerror or str(error))
        raise OSError(error.errno, f"cannot save {path}: {reason} (any previous file is unchanged)") from None


def write_member(archive: zipfile.ZipFile, name: str, value):
    """One member: text as UTF-8, an array as `.npy` with pickling disabled."""
    if isinstance(value, np.ndarray):
        with archive.open(name, "w", force_zip64=value.nbytes > (1 << 30)) as member:
            np.lib.format.write_array(member, value, allow_pickle=False)
    else:
        data = value.encode("utf-8") if isinstance(value, str) else bytes(value)
        archive.writestr(name, data)
