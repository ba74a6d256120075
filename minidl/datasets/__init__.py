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
  and shaped. (The name ``minidl.datasets.mnist`` is left free for a Keras-style ``load_data``.)

The mirrors, the checksums and the file-size limit may be replaced on this package
(``minidl.datasets.MNIST_MIRRORS = [...]``, as tests do): the assignment is forwarded to the
module that reads them, so it takes effect as it did when this was one module.
"""

from __future__ import annotations

import sys
import types

from . import idx, locate
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

#: Settings that may be replaced on the package, and the module that reads each one at call time.
_FORWARDED = {
    "MNIST_MIRRORS": locate,
    "FASHION_MNIST_MIRRORS": locate,
    "MNIST_CHECKSUMS": locate,
    "FASHION_MNIST_CHECKSUMS": locate,
    "MAX_FILE_BYTES": idx,
}


class _Package(types.ModuleType):
    """This package's module type: setting a forwarded setting also sets it where it is read."""

    def __setattr__(self, name, value):
        if name in _FORWARDED:
            setattr(_FORWARDED[name], name, value)
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
