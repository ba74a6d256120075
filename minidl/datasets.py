"""MNIST and Fashion-MNIST loaders that read the original IDX files with numpy only.

Why this module exists: every experiment starts by loading data, so loading has to be
fast, need nothing beyond numpy (plus rich for the download progress bar), and fail with
a message that names the file and the problem rather than a numpy reshape traceback.

Where the files come from:

1. ``data_dir=`` -- a folder holding the four IDX files directly. For Fashion-MNIST a
   ``fashion-mnist`` subfolder of it is checked first, then the folder itself. An explicit
   ``data_dir`` is authoritative: a file missing there is an error naming the folder and the
   file, never completed from ``$MINIDL_DATA_DIR``, the cache or a download (the user would
   otherwise train on data they did not choose).
2. Without ``data_dir``, each file is looked up in turn, first hit wins:
   ``$MINIDL_DATA_DIR`` -- holds the MNIST files directly (``/work/shared/mnist`` style).
   Both datasets use the *same file names*, so Fashion-MNIST is looked up in
   ``$MINIDL_DATA_DIR/fashion-mnist`` and never in the folder itself, which would
   silently hand back MNIST digits.
3. Then the cache, ``$XDG_CACHE_HOME/minidl/<dataset>`` or ``~/.cache/minidl/<dataset>``.
4. Otherwise (unless ``download=False``) the missing files are downloaded into the cache
   from the mirrors in :data:`MNIST_MIRRORS` / :data:`FASHION_MNIST_MIRRORS`, tried in
   turn. Each download is checked against :data:`MNIST_CHECKSUMS` (SHA-256) or
   :data:`FASHION_MNIST_CHECKSUMS` (the MD5 sums published by Zalando Research), written
   to a temporary file in the cache folder and only then renamed into place, so a cut
   transfer never leaves a half file that looks valid.

Each file may be gzipped (``train-images-idx3-ubyte.gz``) or not
(``train-images-idx3-ubyte``); the ``.gz`` one wins when both exist. Every file is
validated structurally on every load (magic number, dimensions, exact byte length, gzip
CRC, image/label counts, label range). Local files are additionally checksum-verified
when a ``SHA256SUMS`` file sits beside them; that costs a few milliseconds.

Files are untrusted input: a file larger than :data:`MAX_FILE_BYTES` is not read, the IDX
header's claimed size is checked against :data:`MAX_IDX_BYTES` before anything is
allocated, and gzip data is inflated in bounded pieces, never past the size the header
declares -- a 0.8 MB gzip claiming a million images is refused in milliseconds.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import math
import numbers
import os
import stat
import tempfile
import urllib.request
import zlib
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np

__all__ = ["DatasetError", "load_mnist", "load_fashion_mnist", "read_idx"]

ENV_VAR = "MINIDL_DATA_DIR"
SUMS_FILE = "SHA256SUMS"

TRAIN_IMAGES = "train-images-idx3-ubyte.gz"
TRAIN_LABELS = "train-labels-idx1-ubyte.gz"
TEST_IMAGES = "t10k-images-idx3-ubyte.gz"
TEST_LABELS = "t10k-labels-idx1-ubyte.gz"
FILES = (TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES, TEST_LABELS)

IMAGES_MAGIC = 2051  # 0x00000803: unsigned bytes, 3 dimensions (count, rows, cols)
LABELS_MAGIC = 2049  # 0x00000801: unsigned bytes, 1 dimension (count)
IMAGE_SIZE = (28, 28)
NUM_CLASSES = 10

#: Base URLs tried in order; the file name is appended. Tests and users may replace these.
MNIST_MIRRORS = [
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
]
FASHION_MNIST_MIRRORS = [
    "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
    "https://storage.googleapis.com/tensorflow/tf-keras-datasets/",
    "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
]

#: File name -> (hashlib algorithm, hex digest) of the official files.
MNIST_CHECKSUMS = {
    TRAIN_IMAGES: ("sha256", "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609"),
    TRAIN_LABELS: ("sha256", "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c"),
    TEST_IMAGES: ("sha256", "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6"),
    TEST_LABELS: ("sha256", "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6"),
}
FASHION_MNIST_CHECKSUMS = {
    TRAIN_IMAGES: ("md5", "8d4fb7e6c68d591d4c3dfef9ec88bf0d"),
    TRAIN_LABELS: ("md5", "25c81989df183df01b3e8a0aad5dffbe"),
    TEST_IMAGES: ("md5", "bef4ecab320f06d8554ea6380940ec79"),
    TEST_LABELS: ("md5", "bb300cfdad3c16e7a12a480ee83cd310"),
}

_GZIP_MAGIC = b"\x1f\x8b"
_IDX_UBYTE = 0x08
_CHUNK = 1 << 16
_MAX_DOWNLOAD_BYTES = 128 << 20  # the largest real file is ~26 MB; stop runaway servers
_GZIP_WBITS = 16 + zlib.MAX_WBITS  # gzip container: header, deflate data, CRC-32 and length trailer
_MAX_DEFLATE_RATIO = 1032  # deflate cannot expand one input byte into more than ~1032 output bytes

#: Largest data a single IDX file may declare (header + items): the real training images are
#: 47 MB, so 256 MiB leaves room for bigger IDX datasets while a hostile header cannot make
#: the reader allocate gigabytes. Pass ``max_bytes=`` to :func:`read_idx` to change it.
MAX_IDX_BYTES = 256 << 20
#: Largest file (as stored, gzipped or not) the reader will load into memory.
MAX_FILE_BYTES = 256 << 20
_USER_AGENT = "minidl-datasets (python urllib)"

Checksum = tuple[str, str]
Arrays = tuple[np.ndarray, np.ndarray]


class DatasetError(ValueError):
    """A dataset file is missing, malformed or fails verification.

    Subclasses ValueError so generic bad-input handlers still catch it. The message always
    names the file (or the folders searched) and what is wrong, so nobody has to decode a
    numpy traceback to find out that a download was cut short.
    """


class _Dataset(NamedTuple):
    name: str  # cache folder name
    title: str  # for messages
    subdir: str | None  # subfolder of $MINIDL_DATA_DIR (and of data_dir) holding it


_MNIST = _Dataset("mnist", "MNIST", None)
_FASHION_MNIST = _Dataset("fashion-mnist", "Fashion-MNIST", "fashion-mnist")


# --------------------------------------------------------------------------- IDX reading


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
    return _parse_idx(_open_stream(_read_bytes(path), path), path, expected_magic, max_bytes)


def _read_bytes(path: Path) -> bytes:
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


# ------------------------------------------------------------------------ verification


def _verify(data: bytes, checksum: Checksum, path: Path) -> None:
    """Raise DatasetError unless ``data`` hashes to ``checksum`` = (algorithm, hex)."""
    algorithm, expected = checksum
    actual = hashlib.new(algorithm, data).hexdigest()
    if actual != expected.lower():
        raise DatasetError(
            f"{path}: checksum mismatch ({algorithm} expected {expected}, got {actual}); "
            "the file is corrupt or not the official one"
        )


def _sums_beside(path: Path) -> dict[str, str]:
    """Parse the ``SHA256SUMS`` file next to ``path`` (``sha256sum`` format), if any."""
    sums_path = path.parent / SUMS_FILE
    if not sums_path.is_file():
        return {}
    sums = {}
    text = _read_bytes(sums_path).decode("utf-8", "replace")
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        digest, _, name = line.strip().partition(" ")
        name = name.strip().lstrip("*")
        if len(digest) != 64 or not name:
            raise DatasetError(f"{sums_path}: line {number} is not '<sha256>  <file name>'")
        sums[name] = digest.lower()
    return sums


def _read_dataset_file(path: Path, magic: int) -> np.ndarray:
    """Read one dataset file, checking SHA256SUMS beside it and the IDX structure."""
    raw = _read_bytes(path)
    digest = _sums_beside(path).get(path.name)
    if digest is not None:
        _verify(raw, ("sha256", digest), path)
    return _parse_idx(_open_stream(raw, path), path, magic)


def _read_split(images_path: Path, labels_path: Path) -> Arrays:
    """Read and cross-check one split; returns uint8 images (N, 28, 28) and labels (N,)."""
    images = _read_dataset_file(images_path, IMAGES_MAGIC)
    labels = _read_dataset_file(labels_path, LABELS_MAGIC)
    if images.shape[1:] != IMAGE_SIZE:
        rows, cols = images.shape[1:]
        raise DatasetError(f"{images_path}: images are {rows}x{cols}, expected 28x28")
    if len(images) != len(labels):
        raise DatasetError(
            f"count mismatch: {images_path} holds {len(images)} images but {labels_path} holds {len(labels)} labels"
        )
    if labels.size and int(labels.max()) >= NUM_CLASSES:
        raise DatasetError(f"{labels_path}: label {int(labels.max())} outside 0-9")
    return images, labels


# ---------------------------------------------------------------------- locating files


def _cache_dir(dataset: _Dataset) -> Path:
    """``$XDG_CACHE_HOME/minidl/<dataset>``, defaulting to ``~/.cache/minidl/<dataset>``."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "minidl" / dataset.name


def _existing_dir(value: str | os.PathLike, what: str) -> Path:
    folder = Path(value).expanduser()
    if not folder.is_dir():
        raise DatasetError(f"{what} {folder} does not exist or is not a folder")
    return folder


def _search_locations(dataset: _Dataset, data_dir) -> list[tuple[Path, str]]:
    """The folders to search, in order, each with a label for error messages.

    An explicit ``data_dir`` is the only place searched (with its dataset subfolder first).
    """
    if data_dir is not None:
        root = _existing_dir(data_dir, "data_dir")
        return ([(root / dataset.subdir, "data_dir")] if dataset.subdir else []) + [(root, "data_dir")]
    locations = []
    env = os.environ.get(ENV_VAR)
    if env:
        root = _existing_dir(env, f"${ENV_VAR}")
        locations.append((root / dataset.subdir if dataset.subdir else root, f"${ENV_VAR}"))
    locations.append((_cache_dir(dataset), "cache"))
    return locations


def _find_file(name: str, locations: list[tuple[Path, str]]) -> Path | None:
    """First ``name`` (gzipped) or ``name`` without ``.gz`` found in the locations.

    Something else under that name (a folder, a device) is an error naming it, not a miss:
    silently taking the next location would hide the mistake.
    """
    for folder, _ in locations:
        for candidate in (folder / name, folder / name.removesuffix(".gz")):
            if candidate.is_file():
                return candidate
            if candidate.is_dir():
                raise DatasetError(f"{candidate}: is a folder, not a data file")
            if os.path.lexists(candidate):
                raise DatasetError(f"{candidate}: not a regular file (or a broken link)")
    return None


def _missing_error(dataset: _Dataset, missing: list[str], locations, reason: str) -> DatasetError:
    looked = "\n".join(f"  - {folder} ({label})" for folder, label in locations)
    env_hint = f"${ENV_VAR}/{dataset.subdir}" if dataset.subdir else f"${ENV_VAR}"
    return DatasetError(
        f"{dataset.title} files missing: {', '.join(missing)} (gzipped or not).\n"
        f"Looked in:\n{looked}\n{reason}\n"
        f"To supply them, copy the four IDX files into a folder and pass data_dir=<folder>, "
        f"or set {ENV_VAR} so that they are in {env_hint}."
    )


def _missing_in_data_dir(dataset: _Dataset, missing: list[str], locations) -> DatasetError:
    folders = " or ".join(str(folder) for folder, _ in locations)
    return DatasetError(
        f"data_dir {folders} lacks the {dataset.title} file(s) {', '.join(missing)} (gzipped or not). "
        f"An explicit data_dir is used alone: it is not completed from ${ENV_VAR}, the cache or a download."
    )


def _locate_files(dataset, data_dir, download, mirrors, checksums, timeout) -> dict[str, Path]:
    """Map each of FILES to a local path, downloading missing ones into the cache (not with data_dir)."""
    locations = _search_locations(dataset, data_dir)
    found = {name: _find_file(name, locations) for name in FILES}
    missing = [name for name, path in found.items() if path is None]
    if not missing:
        return found
    if data_dir is not None:
        raise _missing_in_data_dir(dataset, missing, locations)
    if not download:
        raise _missing_error(dataset, missing, locations, "Download is disabled (download=False).")
    failures = []
    with _progress_bar() as progress:
        for name in missing:
            try:
                found[name] = _download(name, _cache_dir(dataset), mirrors, checksums, timeout, progress)
            except _DownloadFailed as exc:
                failures.extend(exc.args[0])
    if failures:
        still_missing = [name for name in missing if found[name] is None]
        reason = "Download failed from every mirror:\n" + "\n".join(f"  - {f}" for f in failures)
        raise _missing_error(dataset, still_missing, locations, reason)
    return found


# ------------------------------------------------------------------------- downloading


class _DownloadFailed(Exception):
    """Internal: every mirror failed for one file; args[0] lists 'url: reason' strings."""


def _download(name, cache: Path, mirrors, checksums, timeout, progress) -> Path:
    """Fetch ``name`` into ``cache`` from the first mirror that delivers a verified file."""
    if isinstance(mirrors, str):
        mirrors = [mirrors]
    checksum = checksums.get(name)
    if checksum is None:
        raise _DownloadFailed([f"{name}: no checksum known, refusing to download it unverified"])
    if not mirrors:
        raise _DownloadFailed([f"{name}: no mirrors configured"])
    target = cache / name
    errors = []
    for base in mirrors:
        url = base.rstrip("/") + "/" + name
        try:
            _fetch_verified(url, target, checksum, timeout, progress)
            return target
        except (OSError, ValueError, http.client.HTTPException) as exc:
            errors.append(f"{url}: {exc}")
    raise _DownloadFailed(errors)


def _fetch_verified(url: str, target: Path, checksum: Checksum, timeout: float, progress) -> None:
    """Download into a temp file beside ``target``, verify it, then os.replace it in place."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    try:
        request = urllib.request.Request(url, headers={"User-Agent": _USER_AGENT})
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(request, timeout=timeout) as resp:
            digest = _copy_response(resp, out, hashlib.new(checksum[0]), progress, url)
            out.flush()
            os.fsync(out.fileno())
        if digest != checksum[1].lower():
            raise DatasetError(f"checksum mismatch ({checksum[0]} expected {checksum[1]}, got {digest})")
        os.replace(tmp_name, target)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise


def _copy_response(response, out, hasher, progress, url: str) -> str:
    """Stream ``response`` into ``out`` with a progress bar; check the length; return the hash."""
    length = response.headers.get("Content-Length")
    total = int(length) if length and length.isdigit() else None
    task = progress.add_task(url.rsplit("/", 1)[-1], total=total)
    received = 0
    while chunk := response.read(_CHUNK):
        received += len(chunk)
        if received > _MAX_DOWNLOAD_BYTES:
            raise DatasetError(f"response larger than {_MAX_DOWNLOAD_BYTES} bytes, giving up")
        hasher.update(chunk)
        out.write(chunk)
        progress.update(task, advance=len(chunk))
    if total is not None and received != total:
        raise DatasetError(f"incomplete transfer: received {received} of {total} bytes")
    return hasher.hexdigest()


@contextlib.contextmanager
def _progress_bar() -> Iterator:
    """A rich download progress bar on stderr (imported lazily: only downloads need it)."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=Console(stderr=True)) as progress:
        yield progress


# ---------------------------------------------------------------------- array shaping


def _positive_or_none(name: str, value) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be a positive integer or None, got {value!r}")
    return int(value)


def _check_binarize(binarize) -> None:
    if binarize is None:
        return
    is_number = isinstance(binarize, numbers.Real) and not isinstance(binarize, bool)
    if not is_number or not 0 <= binarize <= 255:
        raise ValueError(f"binarize must be None or a threshold in 0..255, got {binarize!r}")


def _to_arrays(images: np.ndarray, labels: np.ndarray, limit, flatten: bool, binarize) -> Arrays:
    """uint8 (N, 28, 28) + uint8 (N,) -> float32 images and int64 labels, as requested."""
    images, labels = images[:limit], labels[:limit]
    if binarize is None:
        x = images.astype(np.float32)
        x /= np.float32(255)
    else:
        x = (images > binarize).astype(np.float32)
    shape = (len(x), -1) if flatten else (len(x), *IMAGE_SIZE, 1)
    return x.reshape(shape), labels.astype(np.int64)


# ------------------------------------------------------------------------ public loaders


def _load(
    dataset: _Dataset,
    default_mirrors,
    default_checksums,
    *,
    data_dir,
    flatten,
    limit,
    train_limit,
    test_limit,
    binarize,
    download,
    mirrors,
    checksums,
    timeout,
):
    train_n = _positive_or_none(
        "train_limit" if train_limit is not None else "limit", train_limit if train_limit is not None else limit
    )
    test_n = _positive_or_none(
        "test_limit" if test_limit is not None else "limit", test_limit if test_limit is not None else limit
    )
    _check_binarize(binarize)
    paths = _locate_files(
        dataset,
        data_dir,
        download,
        default_mirrors if mirrors is None else mirrors,
        default_checksums if checksums is None else checksums,
        timeout,
    )
    train = _read_split(paths[TRAIN_IMAGES], paths[TRAIN_LABELS])
    test = _read_split(paths[TEST_IMAGES], paths[TEST_LABELS])
    return (_to_arrays(*train, train_n, flatten, binarize), _to_arrays(*test, test_n, flatten, binarize))


def load_mnist(
    *,
    data_dir: str | os.PathLike | None = None,
    flatten: bool = False,
    limit: int | None = None,
    train_limit: int | None = None,
    test_limit: int | None = None,
    binarize: float | None = None,
    download: bool = True,
    mirrors: Sequence[str] | None = None,
    checksums: Mapping[str, Checksum] | None = None,
    timeout: float = 30.0,
) -> tuple[Arrays, Arrays]:
    """Load MNIST handwritten digits as ``(x_train, y_train), (x_test, y_test)``.

    Images are float32 in [0, 1] shaped ``(N, 28, 28, 1)`` (channels-last), or ``(N, 784)``
    with ``flatten=True``; labels are int64 ``(N,)`` in 0-9. N is 60000 / 10000, or the
    first ``limit`` items of each split (``train_limit`` / ``test_limit`` override it per
    split) for quick runs. ``binarize=64`` reproduces the old "raw byte > 64" preprocessing:
    images become exactly 0.0 / 1.0.

    Files are read from ``data_dir`` alone when it is given (a missing file there is an
    error, never a fallback); otherwise they are looked up in ``$MINIDL_DATA_DIR`` (which
    holds the MNIST files directly), then ``~/.cache/minidl/mnist`` (or
    ``$XDG_CACHE_HOME/minidl/mnist``), and otherwise downloaded into that cache from ``mirrors`` (default
    :data:`MNIST_MIRRORS`) and verified against ``checksums`` (default
    :data:`MNIST_CHECKSUMS`, file name -> ``(algorithm, hex digest)``). Raises
    DatasetError naming the file on bad data, or listing what is missing, where it looked
    and how to supply it when the files cannot be found (``download=False``) or fetched.
    """
    return _load(
        _MNIST,
        MNIST_MIRRORS,
        MNIST_CHECKSUMS,
        data_dir=data_dir,
        flatten=flatten,
        limit=limit,
        train_limit=train_limit,
        test_limit=test_limit,
        binarize=binarize,
        download=download,
        mirrors=mirrors,
        checksums=checksums,
        timeout=timeout,
    )


def load_fashion_mnist(
    *,
    data_dir: str | os.PathLike | None = None,
    flatten: bool = False,
    limit: int | None = None,
    train_limit: int | None = None,
    test_limit: int | None = None,
    binarize: float | None = None,
    download: bool = True,
    mirrors: Sequence[str] | None = None,
    checksums: Mapping[str, Checksum] | None = None,
    timeout: float = 30.0,
) -> tuple[Arrays, Arrays]:
    """Load Fashion-MNIST (Zalando clothing images) exactly like :func:`load_mnist`.

    Same shapes, dtypes and options; the ten classes are T-shirt/top, Trouser, Pullover,
    Dress, Coat, Sandal, Shirt, Sneaker, Bag, Ankle boot. The files have the same names as
    MNIST's, so they are looked up in ``data_dir/fashion-mnist`` then ``data_dir`` (only there
    when ``data_dir`` is given), otherwise in ``$MINIDL_DATA_DIR/fashion-mnist``
    (never ``$MINIDL_DATA_DIR`` itself, which holds MNIST), then ``~/.cache/minidl/fashion-mnist``; downloads come from
    :data:`FASHION_MNIST_MIRRORS` and are checked against the published MD5 sums in
    :data:`FASHION_MNIST_CHECKSUMS`.
    """
    return _load(
        _FASHION_MNIST,
        FASHION_MNIST_MIRRORS,
        FASHION_MNIST_CHECKSUMS,
        data_dir=data_dir,
        flatten=flatten,
        limit=limit,
        train_limit=train_limit,
        test_limit=test_limit,
        binarize=binarize,
        download=download,
        mirrors=mirrors,
        checksums=checksums,
        timeout=timeout,
    )
