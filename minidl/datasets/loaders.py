"""`load_mnist` and `load_fashion_mnist`: the four files located, verified, parsed, cross-checked and shaped.

Each file may be gzipped (``train-images-idx3-ubyte.gz``) or not (``train-images-idx3-ubyte``);
the ``.gz`` one wins when both exist. Every file is validated structurally on every load (magic
number, dimensions, exact byte length, gzip CRC, image/label counts, label range). Local files are
additionally checksum-verified when a ``SHA256SUMS`` file sits beside them; that costs a few
milliseconds.

`keras_arrays` gives the same data as Keras's ``load_data()`` does: uint8 images ``(N, 28, 28)`` and
uint8 labels (the modules `mnist` and `fashion_mnist`).
"""

from __future__ import annotations

import hashlib
import numbers
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from . import locate
from .download import Checksum
from .idx import IMAGES_MAGIC, LABELS_MAGIC, DatasetError, parse_idx, read_bytes
from .locate import TEST_IMAGES, TEST_LABELS, TRAIN_IMAGES, TRAIN_LABELS, Dataset

SUMS_FILE = "SHA256SUMS"
IMAGE_SIZE = (28, 28)
NUM_CLASSES = 10

Arrays = tuple[np.ndarray, np.ndarray]


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
    text = read_bytes(sums_path).decode("utf-8", "replace")
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
    raw = read_bytes(path)
    digest = _sums_beside(path).get(path.name)
    if digest is not None:
        _verify(raw, ("sha256", digest), path)
    return parse_idx(raw, path, magic)


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


def _load(
    dataset: Dataset,
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
    paths = locate.locate_files(
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
        locate.MNIST,
        locate.MNIST_MIRRORS,  # read at each call: tests replace them
        locate.MNIST_CHECKSUMS,
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
        locate.FASHION_MNIST,
        locate.FASHION_MNIST_MIRRORS,
        locate.FASHION_MNIST_CHECKSUMS,
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


_keras_cache: dict[str, tuple[Arrays, Arrays]] = {}


def keras_arrays(name: str, loader) -> tuple[Arrays, Arrays]:
    """Keras's `load_data()`: `(x_train, y_train), (x_test, y_test)`, uint8 images (N, 28, 28), uint8 labels.

    Read through `loader` (same files, cache, checks and download); reading and checking takes seconds,
    so the arrays are kept after the first call (55 MB for MNIST) and every call returns fresh copies,
    which the caller may change freely.
    """
    if name not in _keras_cache:
        # The loaders give float32 bytes / 255; times 255 and rounded, every byte comes back exactly.
        _keras_cache[name] = tuple(
            (np.rint(images[..., 0] * 255).astype(np.uint8), labels.astype(np.uint8)) for images, labels in loader()
        )
    return tuple(tuple(array.copy() for array in split) for split in _keras_cache[name])
