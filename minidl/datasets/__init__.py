"""MNIST and Fashion-MNIST loaders that read the original IDX files with numpy only.

Why this package exists: every experiment starts by loading data, so loading has to be
fast, need nothing beyond numpy (plus rich for the download progress bar), and fail with
a message that names the file and the problem rather than a numpy reshape traceback.

One job per module:

* `idx` - the bounded IDX reader (`read_idx`, `DatasetError`): untrusted files are checked
  before anything is allocated, gzip is inflated in bounded pieces.
* `locate` - where the files are: an explicit ``data_dir`` alone, else ``$MINIDL_DATA_DIR``,
  the cache (``~/.cache/minidl/<dataset>``), else a download; the mirrors and checksums.
* `download` - a missing file fetched from the mirrors, checksum-verified, renamed into place.
* `loaders` - `load_mnist` / `load_fashion_mnist`: the files verified, parsed, cross-checked
  and shaped.
* `mnist`, `fashion_mnist` - Keras's dataset modules: ``mnist.load_data()`` gives Keras's uint8
  arrays, read through the loaders.

The mirrors and checksums are read from `locate` at each call, the file-size limit from `idx`:
replace them there (``minidl.datasets.locate.MNIST_MIRRORS = [...]``).
"""

from __future__ import annotations

from . import fashion_mnist, idx, locate, mnist  # noqa: F401 (the modules, as Keras has them)
from .idx import IMAGES_MAGIC, LABELS_MAGIC, MAX_FILE_BYTES, MAX_IDX_BYTES, DatasetError, read_idx
from .loaders import IMAGE_SIZE, NUM_CLASSES, SUMS_FILE, load_fashion_mnist, load_mnist
from .locate import (
    ENV_VAR,
    FASHION_MNIST_CHECKSUMS,
    FASHION_MNIST_MIRRORS,
    FILES,
    MNIST_CHECKSUMS,
    MNIST_MIRRORS,
    TEST_IMAGES,
    TEST_LABELS,
    TRAIN_IMAGES,
    TRAIN_LABELS,
)

__all__ = [
    "DatasetError",
    "fashion_mnist",
    "mnist",
    "load_mnist",
    "load_fashion_mnist",
    "read_idx",
    "ENV_VAR",
    "FASHION_MNIST_CHECKSUMS",
    "FASHION_MNIST_MIRRORS",
    "FILES",
    "IMAGES_MAGIC",
    "IMAGE_SIZE",
    "LABELS_MAGIC",
    "MAX_FILE_BYTES",
    "MAX_IDX_BYTES",
    "MNIST_CHECKSUMS",
    "MNIST_MIRRORS",
    "NUM_CLASSES",
    "SUMS_FILE",
    "TEST_IMAGES",
    "TEST_LABELS",
    "TRAIN_IMAGES",
    "TRAIN_LABELS",
]
