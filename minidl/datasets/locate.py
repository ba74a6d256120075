"""Where a dataset's four files are: an explicit data_dir alone, else $MINIDL_DATA_DIR, the cache, a download.

1. ``data_dir=`` -- a folder holding the four IDX files directly. For Fashion-MNIST a
   ``fashion-mnist`` subfolder of it is checked first, then the folder itself. An explicit
   ``data_dir`` is authoritative: a file missing there is an error naming the folder and the
   file, never completed from ``$MINIDL_DATA_DIR``, the cache or a download (the user would
   otherwise train on data they did not choose).
2. Without ``data_dir``, each file is looked up in turn, first hit wins:
   ``$MINIDL_DATA_DIR`` -- holds the MNIST files directly (e.g. ``../shared/mnist`` beside a checkout).
   Both datasets use the *same file names*, so Fashion-MNIST is looked up in
   ``$MINIDL_DATA_DIR/fashion-mnist`` and never in the folder itself, which would
   silently hand back MNIST digits.
3. Then the cache, ``$XDG_CACHE_HOME/minidl/<dataset>`` or ``~/.cache/minidl/<dataset>``.
4. Otherwise (unless ``download=False``) the missing files are downloaded into the cache
   (`download.fetch`) from the mirrors in :data:`MNIST_MIRRORS` / :data:`FASHION_MNIST_MIRRORS`,
   tried in turn, and checked against :data:`MNIST_CHECKSUMS` (SHA-256) or
   :data:`FASHION_MNIST_CHECKSUMS` (the MD5 sums published by Zalando Research).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import NamedTuple

from .download import DownloadFailed, fetch, progress_bar
from .idx import DatasetError

ENV_VAR = "MINIDL_DATA_DIR"


def absolute_env_folder():
    """Make $MINIDL_DATA_DIR absolute, against the working directory at import (the program's start).

    A relative value (`MINIDL_DATA_DIR=../shared/mnist`) would otherwise mean another folder as soon as
    the program, a test or a subprocess changes directory. Written back to the environment, so child
    processes inherit the absolute folder.
    """
    value = os.environ.get(ENV_VAR)
    if value and not os.path.isabs(os.path.expanduser(value)):
        os.environ[ENV_VAR] = os.path.abspath(os.path.expanduser(value))


absolute_env_folder()

TRAIN_IMAGES = "train-images-idx3-ubyte.gz"
TRAIN_LABELS = "train-labels-idx1-ubyte.gz"
TEST_IMAGES = "t10k-images-idx3-ubyte.gz"
TEST_LABELS = "t10k-labels-idx1-ubyte.gz"
FILES = (TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES, TEST_LABELS)

#: Base URLs tried in order; the file name is appended. Tests and users may replace these (also as
#: ``minidl.datasets.MNIST_MIRRORS = [...]``: the package forwards the assignment here).
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


class Dataset(NamedTuple):
    """A dataset's names: its cache folder, its title in messages, its subfolder of $MINIDL_DATA_DIR."""

    name: str  # cache folder name
    title: str  # for messages
    subdir: str | None  # subfolder of $MINIDL_DATA_DIR (and of data_dir) holding it


MNIST = Dataset("mnist", "MNIST", None)
FASHION_MNIST = Dataset("fashion-mnist", "Fashion-MNIST", "fashion-mnist")


def _cache_dir(dataset: Dataset) -> Path:
    """``$XDG_CACHE_HOME/minidl/<dataset>``, defaulting to ``~/.cache/minidl/<dataset>``."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "minidl" / dataset.name


def _existing_dir(value: str | os.PathLike, what: str, instead: str = "") -> Path:
    folder = Path(value).expanduser().absolute()
    if not folder.is_dir():
        raise DatasetError(f"{what} {folder} does not exist or is not a folder{instead}")
    return folder


def _search_locations(dataset: Dataset, data_dir) -> list[tuple[Path, str]]:
    """The folders to search, in order, each with a label for error messages.

    An explicit ``data_dir`` is the only place searched (with its dataset subfolder first).
    """
    if data_dir is not None:
        root = _existing_dir(data_dir, "data_dir")
        return ([(root / dataset.subdir, "data_dir")] if dataset.subdir else []) + [(root, "data_dir")]
    locations = []
    env = os.environ.get(ENV_VAR)
    if env:
        instead = (
            f" (leave {ENV_VAR} unset and the files are downloaded into {_cache_dir(dataset)}, checksums verified)"
        )
        root = _existing_dir(env, f"${ENV_VAR}", instead)
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


def _missing_error(dataset: Dataset, missing: list[str], locations, reason: str) -> DatasetError:
    looked = "\n".join(f"  - {folder} ({label})" for folder, label in locations)
    env_hint = f"${ENV_VAR}/{dataset.subdir}" if dataset.subdir else f"${ENV_VAR}"
    return DatasetError(
        f"{dataset.title} files missing: {', '.join(missing)} (gzipped or not).\n"
        f"Looked in:\n{looked}\n{reason}\n"
        f"To supply them, copy the four IDX files into a folder and pass data_dir=<folder>, "
        f"or set {ENV_VAR} so that they are in {env_hint}."
    )


def _missing_in_data_dir(dataset: Dataset, missing: list[str], locations) -> DatasetError:
    folders = " or ".join(str(folder) for folder, _ in locations)
    return DatasetError(
        f"data_dir {folders} lacks the {dataset.title} file(s) {', '.join(missing)} (gzipped or not). "
        f"An explicit data_dir is used alone: it is not completed from ${ENV_VAR}, the cache or a download."
    )


def locate_files(dataset, data_dir, download, mirrors, checksums, timeout) -> dict[str, Path]:
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
    with progress_bar() as progress:
        for name in missing:
            try:
                found[name] = fetch(name, _cache_dir(dataset), mirrors, checksums, timeout, progress)
            except DownloadFailed as exc:
                failures.extend(exc.args[0])
    if failures:
        still_missing = [name for name in missing if found[name] is None]
        reason = "Download failed from every mirror:\n" + "\n".join(f"  - {f}" for f in failures)
        raise _missing_error(dataset, still_missing, locations, reason)
    return found
