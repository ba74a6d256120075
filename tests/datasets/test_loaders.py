"""Tests for minidl.datasets: IDX parsing, lookup order, checked downloads, clear errors.

No test touches the network: the module's mirror lists are emptied for every test, the
cache points into tmp_path, and downloads go to a local HTTP server or file:// folder.
"""

from __future__ import annotations

import gzip
import hashlib
import http.server
import os
import struct
import threading
import tracemalloc
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from suite_helpers import real_mnist_dir

from minidl import datasets
from minidl.datasets import DatasetError, load_fashion_mnist, load_mnist, read_idx

REAL_MNIST_DIR = os.environ.get("MINIDL_DATA_DIR")  # read before the fixture clears it
MNIST_TEST_CLASS_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]

TRAIN_IMAGES, TRAIN_LABELS = "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"
TEST_IMAGES, TEST_LABELS = "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"
ALL_FILES = (TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES, TEST_LABELS)


# ----------------------------------------------------------------------------- helpers


def idx_bytes(array: np.ndarray, magic: int | None = None) -> bytes:
    """Encode a uint8 array as IDX; ``magic`` overrides the correct one."""
    magic = (0x0800 | array.ndim) if magic is None else magic
    return struct.pack(f">I{array.ndim}I", magic, *array.shape) + array.astype(np.uint8).tobytes()


def gz(data: bytes) -> bytes:
    return gzip.compress(data, mtime=0)


def make_tiny(label_offset: int = 0) -> SimpleNamespace:
    """A 6-train / 4-test fake dataset; pixel [0,0,0] is 64 and [0,0,1] is 65."""
    rng = np.random.default_rng(1234 + label_offset)
    train_x = rng.integers(0, 256, size=(6, 28, 28), dtype=np.uint8)
    test_x = rng.integers(0, 256, size=(4, 28, 28), dtype=np.uint8)
    train_x[0, 0, 0], train_x[0, 0, 1] = 64, 65
    train_y = ((np.arange(6) + label_offset) % 10).astype(np.uint8)
    test_y = ((np.arange(4) * 3 + label_offset) % 10).astype(np.uint8)
    return SimpleNamespace(train_x=train_x, train_y=train_y, test_x=test_x, test_y=test_y)


def tiny_files(data: SimpleNamespace, compress: bool = True) -> dict[str, bytes]:
    """File name -> file content for ``data`` (names without .gz when not compressed)."""
    arrays = (data.train_x, data.train_y, data.test_x, data.test_y)
    files = {}
    for name, array in zip(ALL_FILES, arrays):
        raw = idx_bytes(array)
        files[name if compress else name.removesuffix(".gz")] = gz(raw) if compress else raw
    return files


def write_files(folder: Path, files: dict[str, bytes]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        (folder / name).write_bytes(content)
    return folder


def sha256_table(files: dict[str, bytes]) -> dict[str, tuple[str, str]]:
    return {name: ("sha256", hashlib.sha256(content).hexdigest()) for name, content in files.items()}


def cache_dir(tmp_path: Path, dataset: str = "mnist") -> Path:
    return tmp_path / "xdg-cache" / "minidl" / dataset


# ---------------------------------------------------------------------------- fixtures


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """No env data dir, cache and HOME inside tmp_path, and no real mirrors at all."""
    monkeypatch.delenv("MINIDL_DATA_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setattr(datasets.locate, "MNIST_MIRRORS", [])
    monkeypatch.setattr(datasets.locate, "FASHION_MNIST_MIRRORS", [])


@pytest.fixture
def tiny():
    return make_tiny()


@pytest.fixture
def tiny_dir(tmp_path, tiny):
    return write_files(tmp_path / "data", tiny_files(tiny))


@pytest.fixture
def mirror():
    """A local HTTP mirror on 127.0.0.1 serving ``files``; names in ``cut`` are cut short.

    ``cut[name] = "short"`` sends a full Content-Length but only half the body, then closes;
    ``"no-length"`` sends half the body without any Content-Length.
    """
    state = SimpleNamespace(files={}, cut={}, requests=[])

    class Handler(http.server.BaseHTTPRequestHandler):
        timeout = 5

        def do_GET(self):
            name = self.path.rsplit("/", 1)[-1]
            state.requests.append(name)
            body = state.files.get(name)
            if body is None:
                self.send_error(404)
                return
            mode = state.cut.get(name)
            self.send_response(200)
            if mode != "no-length":
                self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body[: len(body) // 2] if mode else body)
            self.close_connection = True

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_port}/mnist/"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


# ------------------------------------------------------------------------ IDX reading


@pytest.mark.parametrize("compress", [True, False], ids=["gz", "raw"])
@pytest.mark.parametrize("shape", [(3, 28, 28), (7,), (2, 3, 4, 5)], ids=["images", "labels", "4d"])
def test_read_idx_round_trip(tmp_path, compress, shape):
    array = np.random.default_rng(0).integers(0, 256, size=shape, dtype=np.uint8)
    path = tmp_path / ("x.idx.gz" if compress else "x.idx")
    path.write_bytes(gz(idx_bytes(array)) if compress else idx_bytes(array))
    result = read_idx(path)
    assert result.dtype == np.uint8 and result.shape == shape
    np.testing.assert_array_equal(result, array)
    result[...] = 0  # the caller owns a writable array


def test_read_idx_gzip_members_and_zero_padding_like_gunzip(tmp_path):
    array = np.arange(2 * 28 * 28, dtype=np.uint8).reshape(2, 28, 28)
    data = idx_bytes(array)
    path = tmp_path / "x.idx.gz"
    path.write_bytes(gz(data[:100]) + gz(data[100:]) + bytes(512))  # two members, then padding
    np.testing.assert_array_equal(read_idx(path), array)
    path.write_bytes(gz(data) + b"junk")
    with pytest.raises(DatasetError, match=r"x\.idx\.gz: 4 stray bytes after the gzip data"):
        read_idx(path)


def test_read_idx_checks_expected_magic(tmp_path):
    path = tmp_path / "labels.idx"
    path.write_bytes(idx_bytes(np.arange(5, dtype=np.uint8)))
    assert read_idx(path, expected_magic=2049).tolist() == [0, 1, 2, 3, 4]
    with pytest.raises(DatasetError, match=r"labels\.idx: wrong magic number 2049.*expected 2051"):
        read_idx(path, expected_magic=2051)


def test_read_idx_rejects_non_byte_data(tmp_path):
    path = tmp_path / "floats.idx"
    path.write_bytes(struct.pack(">III", 0x0D02, 1, 1) + bytes(4))
    with pytest.raises(DatasetError, match=r"floats\.idx: unsupported IDX data type 0x0D"):
        read_idx(path)


def test_read_idx_missing_file_is_dataset_error(tmp_path):
    with pytest.raises(DatasetError, match="nope.idx: cannot read"):
        read_idx(tmp_path / "nope.idx")


def gzip_bomb(header_count: int, megabytes: int) -> bytes:
    """A valid multi-member gzip: an IDX image header claiming ``header_count`` images, then
    ``megabytes`` MiB of zeros (each MiB its own ~1 KB member, so building it is instant)."""
    header = struct.pack(">IIII", 2051, header_count, 28, 28)
    return gz(header) + gz(bytes(1 << 20)) * megabytes


def peak_allocation(function) -> int:
    """Bytes allocated at the peak while `function` runs (numpy reports its buffers to tracemalloc)."""
    tracemalloc.start()
    try:
        function()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_read_idx_refuses_a_header_claiming_too_much_before_allocating(tmp_path):
    """The issue's case: a 0.8 MB gzip that claims (and really inflates to) 1,048,576 images = 822 MB."""
    path = tmp_path / TRAIN_IMAGES
    path.write_bytes(gzip_bomb(1_048_576, 784))
    assert path.stat().st_size < 1_000_000

    def read():
        with pytest.raises(DatasetError, match=r"\(1048576, 28, 28\) = 822083600 bytes, more than the .*-byte limit"):
            read_idx(path)

    assert peak_allocation(read) < 4 << 20


def test_read_idx_limit_is_settable(tmp_path):
    path = tmp_path / "x.idx.gz"
    path.write_bytes(gz(idx_bytes(np.zeros((3, 28, 28), np.uint8))))
    assert read_idx(path, max_bytes=16 + 3 * 784).shape == (3, 28, 28)
    with pytest.raises(DatasetError, match="more than the 2000-byte limit"):
        read_idx(path, max_bytes=2000)


def test_read_idx_stops_inflating_at_the_declared_size(tmp_path):
    """A header claiming 10 images followed by 512 MiB of zeros: refused without inflating the rest."""
    path = tmp_path / TRAIN_IMAGES
    path.write_bytes(gzip_bomb(10, 512))

    def read():
        with pytest.raises(DatasetError, match="has trailing bytes"):
            read_idx(path)

    assert peak_allocation(read) < 4 << 20


@pytest.mark.parametrize("compress", [True, False], ids=["gz", "raw"])
def test_read_idx_claim_larger_than_the_file_is_refused_before_allocating(tmp_path, compress):
    """100,000 images claimed (78 MB, under the limit) by a file of a few hundred bytes: nothing allocated."""
    data = struct.pack(">IIII", 2051, 100_000, 28, 28) + bytes(100)
    path = tmp_path / ("x.idx.gz" if compress else "x.idx")
    path.write_bytes(gz(data) if compress else data)

    def read():
        with pytest.raises(DatasetError, match="truncated: header declares shape \\(100000, 28, 28\\)"):
            read_idx(path)

    assert peak_allocation(read) < 4 << 20


def test_read_idx_refuses_oversized_files_unread(tmp_path, monkeypatch):
    path = tmp_path / "x.idx"
    path.write_bytes(idx_bytes(np.zeros((3, 28, 28), np.uint8)))
    monkeypatch.setattr(datasets.idx, "MAX_FILE_BYTES", 1000)
    with pytest.raises(DatasetError, match=r"x\.idx: 2368 bytes, larger than the 1000-byte limit"):
        read_idx(path)


# ----------------------------------------------------------------------- loading tiny


def test_load_shapes_dtypes_and_values(tiny_dir, tiny):
    (x_train, y_train), (x_test, y_test) = load_mnist(data_dir=tiny_dir, download=False)
    assert x_train.shape == (6, 28, 28, 1) and x_test.shape == (4, 28, 28, 1)
    assert x_train.dtype == np.float32 and y_train.dtype == np.int64
    assert y_train.shape == (6,) and y_test.shape == (4,)
    np.testing.assert_array_equal(x_train[..., 0], tiny.train_x.astype(np.float32) / 255)
    np.testing.assert_array_equal(x_test[..., 0], tiny.test_x.astype(np.float32) / 255)
    np.testing.assert_array_equal(y_train, tiny.train_y)
    np.testing.assert_array_equal(y_test, tiny.test_y)
    assert 0.0 <= x_train.min() and x_train.max() <= 1.0


def test_load_uncompressed_files(tmp_path, tiny):
    folder = write_files(tmp_path / "raw", tiny_files(tiny, compress=False))
    (x_train, y_train), (x_test, _) = load_mnist(data_dir=folder, download=False)
    np.testing.assert_array_equal(x_test[..., 0] * 255, tiny.test_x)
    np.testing.assert_array_equal(y_train, tiny.train_y)


def test_flatten(tiny_dir, tiny):
    (x_train, _), (x_test, _) = load_mnist(data_dir=tiny_dir, flatten=True, download=False)
    assert x_train.shape == (6, 784) and x_test.shape == (4, 784)
    np.testing.assert_array_equal(x_train[2], tiny.train_x[2].reshape(-1) / np.float32(255))


@pytest.mark.parametrize(
    "options, n_train, n_test",
    [
        ({"limit": 3}, 3, 3),
        ({"train_limit": 2, "test_limit": 1}, 2, 1),
        ({"limit": 2, "test_limit": 3}, 2, 3),
        ({"train_limit": 5}, 5, 4),
        ({"limit": 100}, 6, 4),
    ],
)
def test_limits_take_the_first_items(tiny_dir, tiny, options, n_train, n_test):
    (x_train, y_train), (x_test, y_test) = load_mnist(data_dir=tiny_dir, download=False, **options)
    assert len(x_train) == len(y_train) == n_train and len(x_test) == len(y_test) == n_test
    np.testing.assert_array_equal(y_train, tiny.train_y[:n_train])
    np.testing.assert_array_equal(x_test[..., 0] * 255, tiny.test_x[:n_test])


def test_binarize_uses_raw_byte_threshold(tiny_dir, tiny):
    (x_train, _), (x_test, _) = load_mnist(data_dir=tiny_dir, binarize=64, download=False)
    assert x_train.dtype == np.float32 and set(np.unique(x_train)) <= {0.0, 1.0}
    np.testing.assert_array_equal(x_train[..., 0], (tiny.train_x > 64).astype(np.float32))
    np.testing.assert_array_equal(x_test[..., 0], (tiny.test_x > 64).astype(np.float32))
    assert x_train[0, 0, 0, 0] == 0.0 and x_train[0, 0, 1, 0] == 1.0  # 64 -> 0, 65 -> 1


@pytest.mark.parametrize(
    "options",
    [
        {"limit": 0},
        {"limit": -1},
        {"limit": 2.5},
        {"train_limit": True},
        {"test_limit": "3"},
        {"binarize": "64"},
        {"binarize": 300},
        {"binarize": True},
    ],
)
def test_bad_options_raise_value_error(tiny_dir, options):
    with pytest.raises(ValueError, match=next(iter(options))):
        load_mnist(data_dir=tiny_dir, download=False, **options)


# ----------------------------------------------------------------------- corruptions


def _replace(name, content):
    def corrupt(folder, tiny):
        (folder / name).write_bytes(content(tiny))

    return corrupt


CORRUPTIONS = {
    "wrong-magic": (
        _replace(TRAIN_IMAGES, lambda t: gz(idx_bytes(t.train_x, magic=2049))),
        TRAIN_IMAGES,
        r"wrong magic number 2049.*expected 2051",
    ),
    "not-idx": (
        _replace(TEST_LABELS, lambda t: gz(b"\x12\x34\x56\x78" + bytes(10))),
        TEST_LABELS,
        r"wrong magic number",
    ),
    "unsupported-type": (
        _replace(TRAIN_LABELS, lambda t: gz(idx_bytes(t.train_y, magic=0x0D01))),
        TRAIN_LABELS,
        r"wrong magic number 3329.*expected 2049",
    ),
    "truncated": (
        _replace(TRAIN_IMAGES, lambda t: gz(idx_bytes(t.train_x)[:-100])),
        TRAIN_IMAGES,
        r"truncated.*\(6, 28, 28\)",
    ),
    "truncated-header": (
        _replace(TEST_IMAGES, lambda t: gz(idx_bytes(t.test_x)[:10])),
        TEST_IMAGES,
        r"truncated IDX header",
    ),
    "empty": (_replace(TEST_IMAGES, lambda t: b""), TEST_IMAGES, r"not a gzip file"),
    "trailing-bytes": (
        _replace(TRAIN_LABELS, lambda t: gz(idx_bytes(t.train_y) + b"xx")),
        TRAIN_LABELS,
        r"trailing bytes",
    ),
    "count-mismatch": (
        _replace(TEST_LABELS, lambda t: gz(idx_bytes(t.test_y[:3]))),
        TEST_LABELS,
        r"count mismatch: .*t10k-images.* 4 images .* 3 labels",
    ),
    "wrong-dims": (
        _replace(TRAIN_IMAGES, lambda t: gz(idx_bytes(t.train_x[:, :27, :]))),
        TRAIN_IMAGES,
        r"27x28, expected 28x28",
    ),
    "label-range": (
        _replace(TRAIN_LABELS, lambda t: gz(idx_bytes(np.array([0, 1, 2, 3, 4, 10])))),
        TRAIN_LABELS,
        r"label 10 outside 0-9",
    ),
    "not-gzip": (_replace(TEST_IMAGES, lambda t: idx_bytes(t.test_x)), TEST_IMAGES, r"not a gzip file"),
    "corrupt-gzip": (
        _replace(
            TRAIN_IMAGES, lambda t: (lambda b: b[:1000] + bytes([b[1000] ^ 0xFF]) + b[1001:])(gz(idx_bytes(t.train_x)))
        ),
        TRAIN_IMAGES,
        r"corrupt or truncated gzip",
    ),
    "cut-gzip": (
        _replace(TRAIN_IMAGES, lambda t: gz(idx_bytes(t.train_x))[:-500]),
        TRAIN_IMAGES,
        r"corrupt or truncated gzip",
    ),
}


@pytest.mark.parametrize("corrupt, file_name, message", CORRUPTIONS.values(), ids=CORRUPTIONS.keys())
def test_corrupt_files_raise_clear_error(tiny_dir, tiny, corrupt, file_name, message):
    corrupt(tiny_dir, tiny)
    with pytest.raises(DatasetError, match=message) as info:
        load_mnist(data_dir=tiny_dir, download=False)
    assert str(tiny_dir / file_name) in str(info.value)
    assert isinstance(info.value, ValueError)


def test_empty_file_not_named_gz(tmp_path, tiny):
    folder = write_files(tmp_path / "raw", tiny_files(tiny, compress=False))
    (folder / "t10k-labels-idx1-ubyte").write_bytes(b"")
    with pytest.raises(DatasetError, match=r"t10k-labels-idx1-ubyte: truncated IDX file \(0 bytes"):
        load_mnist(data_dir=folder, download=False)


def _write_sums(folder: Path, files: dict[str, bytes], wrong: str | None = None) -> None:
    lines = []
    for name, content in files.items():
        digest = hashlib.sha256(content + (b"!" if name == wrong else b"")).hexdigest()
        lines.append(f"{digest}  {name}\n")
    (folder / "SHA256SUMS").write_text("".join(lines))


def test_sha256sums_beside_files_is_checked(tiny_dir, tiny):
    files = tiny_files(tiny)
    _write_sums(tiny_dir, files)
    (x_train, _), _ = load_mnist(data_dir=tiny_dir, download=False)
    assert x_train.shape == (6, 28, 28, 1)
    _write_sums(tiny_dir, files, wrong=TEST_LABELS)
    with pytest.raises(DatasetError, match=r"t10k-labels-idx1-ubyte\.gz: checksum mismatch \(sha256"):
        load_mnist(data_dir=tiny_dir, download=False)


def test_malformed_sha256sums_is_reported(tiny_dir):
    (tiny_dir / "SHA256SUMS").write_text("not a checksum line\n")
    with pytest.raises(DatasetError, match=r"SHA256SUMS: line 1"):
        load_mnist(data_dir=tiny_dir, download=False)


# ------------------------------------------------------------------ where files come from


def test_missing_data_dir_is_named(tmp_path):
    missing = tmp_path / "no-such-folder"
    with pytest.raises(DatasetError, match=f"data_dir {missing} does not exist"):
        load_mnist(data_dir=missing)


def test_missing_env_dir_is_named(tmp_path, monkeypatch):
    monkeypatch.setenv("MINIDL_DATA_DIR", str(tmp_path / "gone"))
    with pytest.raises(DatasetError, match=r"\$MINIDL_DATA_DIR .*gone does not exist") as info:
        load_mnist()
    assert "leave MINIDL_DATA_DIR unset and the files are downloaded into" in str(info.value)
    assert "checksums verified" in str(info.value) and len(str(info.value).splitlines()) == 1


def test_nothing_found_without_download_says_what_where_and_how(tmp_path, monkeypatch, tiny):
    write_files(cache_dir(tmp_path), {TRAIN_IMAGES: tiny_files(tiny)[TRAIN_IMAGES]})
    env_dir = (tmp_path / "env").resolve()
    env_dir.mkdir()
    monkeypatch.setenv("MINIDL_DATA_DIR", str(env_dir))
    with pytest.raises(DatasetError) as info:
        load_mnist(download=False)
    message = str(info.value)
    for name in (TRAIN_LABELS, TEST_IMAGES, TEST_LABELS):
        assert name in message
    assert f"missing: {TRAIN_IMAGES}" not in message and f", {TRAIN_IMAGES}" not in message
    for folder in (env_dir, cache_dir(tmp_path)):
        assert str(folder) in message
    assert "download=False" in message and "MINIDL_DATA_DIR" in message and "data_dir=" in message


@pytest.mark.parametrize("present", [(), (TRAIN_IMAGES, TRAIN_LABELS)], ids=["empty", "partial"])
def test_explicit_data_dir_never_falls_back(tmp_path, monkeypatch, present):
    """A data_dir lacking files is an error naming it and them, even with complete files in env and cache."""
    files = tiny_files(make_tiny(1))
    data_dir = write_files(tmp_path / "chosen", {name: files[name] for name in present})
    env_dir = write_files(tmp_path / "env", tiny_files(make_tiny(2)))
    write_files(cache_dir(tmp_path), tiny_files(make_tiny(3)))
    monkeypatch.setenv("MINIDL_DATA_DIR", str(env_dir))
    with pytest.raises(DatasetError) as info:
        load_mnist(data_dir=data_dir)  # download allowed: still no fallback
    message = str(info.value)
    assert f"data_dir {data_dir} lacks" in message and TEST_IMAGES in message and TEST_LABELS in message
    assert (TRAIN_IMAGES in message) == (not present)
    assert str(env_dir) not in message and "not completed from $MINIDL_DATA_DIR" in message


def test_folder_in_place_of_a_data_file_is_named(tmp_path, monkeypatch, tiny):
    files = tiny_files(tiny)
    data_dir = write_files(tmp_path / "d", {n: files[n] for n in (TRAIN_IMAGES, TRAIN_LABELS, TEST_LABELS)})
    (data_dir / TEST_IMAGES).mkdir()
    with pytest.raises(DatasetError, match=f"{data_dir / TEST_IMAGES}: is a folder, not a data file"):
        load_mnist(data_dir=data_dir)
    monkeypatch.setenv("MINIDL_DATA_DIR", str(data_dir))  # the env folder is not skipped over either
    write_files(cache_dir(tmp_path), files)
    with pytest.raises(DatasetError, match="is a folder, not a data file"):
        load_mnist(download=False)
    with pytest.raises(DatasetError, match="is a folder, not a data file"):
        read_idx(data_dir / TEST_IMAGES)


def test_unreadable_data_file_is_named(tiny_dir, monkeypatch):
    """A permission error (simulated: the tests may run as root, who reads anything) names the file."""
    real_read_bytes = Path.read_bytes

    def refuse(path):
        if path.name == TRAIN_LABELS:
            raise PermissionError(13, "Permission denied", str(path))
        return real_read_bytes(path)

    monkeypatch.setattr(Path, "read_bytes", refuse)
    with pytest.raises(DatasetError, match=f"{tiny_dir / TRAIN_LABELS}: cannot read file \\(Permission denied\\)"):
        load_mnist(data_dir=tiny_dir)


def test_fifo_in_place_of_a_data_file_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / TRAIN_IMAGES
    os.mkfifo(fifo)
    with pytest.raises(DatasetError, match="not a regular file"):
        read_idx(fifo)


@pytest.mark.parametrize(
    "places, winner",
    [
        (("data_dir", "env", "cache"), "data_dir"),
        (("env", "cache"), "env"),
        (("cache",), "cache"),
    ],
)
def test_lookup_order(tmp_path, monkeypatch, places, winner):
    folders = {"data_dir": tmp_path / "d", "env": tmp_path / "e", "cache": cache_dir(tmp_path)}
    offsets = {"data_dir": 1, "env": 2, "cache": 3}
    for place in places:
        write_files(folders[place], tiny_files(make_tiny(offsets[place])))
    (tmp_path / "e").mkdir(exist_ok=True)
    monkeypatch.setenv("MINIDL_DATA_DIR", str(tmp_path / "e"))
    data_dir = folders["data_dir"] if "data_dir" in places else None
    (_, y_train), _ = load_mnist(data_dir=data_dir, download=False)
    np.testing.assert_array_equal(y_train, make_tiny(offsets[winner]).train_y)


def test_files_are_resolved_one_by_one(tmp_path, monkeypatch):
    """Without data_dir, test files in the cache complete train files found in $MINIDL_DATA_DIR."""
    files = tiny_files(make_tiny(5))
    env_dir = write_files(tmp_path / "e", {n: files[n] for n in (TRAIN_IMAGES, TRAIN_LABELS)})
    write_files(cache_dir(tmp_path), {n: files[n] for n in (TEST_IMAGES, TEST_LABELS)})
    monkeypatch.setenv("MINIDL_DATA_DIR", str(env_dir))
    (_, y_train), (_, y_test) = load_mnist(download=False)
    np.testing.assert_array_equal(y_test, make_tiny(5).test_y)
    np.testing.assert_array_equal(y_train, make_tiny(5).train_y)


def test_default_cache_is_under_home_without_xdg(tmp_path, monkeypatch):
    monkeypatch.delenv("XDG_CACHE_HOME")
    write_files(tmp_path / "home" / ".cache" / "minidl" / "mnist", tiny_files(make_tiny(7)))
    (_, y_train), _ = load_mnist(download=False)
    np.testing.assert_array_equal(y_train, make_tiny(7).train_y)


def test_fashion_uses_subfolder_of_env_dir(tmp_path, monkeypatch):
    env_dir = write_files(tmp_path / "env", tiny_files(make_tiny(1)))  # MNIST at the root
    write_files(env_dir / "fashion-mnist", tiny_files(make_tiny(2)))
    monkeypatch.setenv("MINIDL_DATA_DIR", str(env_dir))
    (_, y_fashion), _ = load_fashion_mnist(download=False)
    (_, y_mnist), _ = load_mnist(download=False)
    np.testing.assert_array_equal(y_fashion, make_tiny(2).train_y)
    np.testing.assert_array_equal(y_mnist, make_tiny(1).train_y)


def test_fashion_never_reads_mnist_from_env_root(tmp_path, monkeypatch):
    env_dir = write_files(tmp_path / "env", tiny_files(make_tiny(1)))
    monkeypatch.setenv("MINIDL_DATA_DIR", str(env_dir))
    with pytest.raises(DatasetError, match=r"Fashion-MNIST files missing") as info:
        load_fashion_mnist(download=False)
    assert str(env_dir / "fashion-mnist") in str(info.value)
    assert "$MINIDL_DATA_DIR/fashion-mnist" in str(info.value)


def test_fashion_data_dir_directly_or_subfolder(tmp_path):
    plain = write_files(tmp_path / "plain", tiny_files(make_tiny(3)))
    (_, y), _ = load_fashion_mnist(data_dir=plain, download=False)
    np.testing.assert_array_equal(y, make_tiny(3).train_y)
    write_files(plain / "fashion-mnist", tiny_files(make_tiny(4)))
    (_, y), _ = load_fashion_mnist(data_dir=plain, download=False)
    np.testing.assert_array_equal(y, make_tiny(4).train_y)


# ------------------------------------------------------------------------- downloads


def _cache_listing(tmp_path, dataset="mnist") -> set[str]:
    folder = cache_dir(tmp_path, dataset)
    return set(os.listdir(folder)) if folder.exists() else set()


def test_download_from_http_mirror_then_cached(tmp_path, mirror, tiny):
    mirror.files.update(tiny_files(tiny))
    checksums = sha256_table(mirror.files)
    (x_train, y_train), (x_test, _) = load_mnist(mirrors=[mirror.url], checksums=checksums)
    np.testing.assert_array_equal(y_train, tiny.train_y)
    np.testing.assert_array_equal(x_test[..., 0] * 255, tiny.test_x)
    assert sorted(mirror.requests) == sorted(ALL_FILES)
    assert _cache_listing(tmp_path) == set(ALL_FILES)
    for name, content in mirror.files.items():
        assert (cache_dir(tmp_path) / name).read_bytes() == content
    mirror.files.clear()
    (_, y_again), _ = load_mnist(download=False)  # served from the cache now
    np.testing.assert_array_equal(y_again, tiny.train_y)
    assert len(mirror.requests) == 4


def test_download_uses_module_tables(tmp_path, monkeypatch, mirror, tiny):
    mirror.files.update(tiny_files(tiny))
    monkeypatch.setattr(datasets.locate, "MNIST_MIRRORS", [mirror.url])
    monkeypatch.setattr(datasets.locate, "MNIST_CHECKSUMS", sha256_table(mirror.files))
    (_, y_train), _ = load_mnist()
    np.testing.assert_array_equal(y_train, tiny.train_y)


def test_fashion_download_checks_md5_into_its_own_cache(tmp_path, monkeypatch, mirror):
    files = tiny_files(make_tiny(8))
    mirror.files.update(files)
    md5 = {name: ("md5", hashlib.md5(content).hexdigest()) for name, content in files.items()}
    monkeypatch.setattr(datasets.locate, "FASHION_MNIST_MIRRORS", [mirror.url])
    monkeypatch.setattr(datasets.locate, "FASHION_MNIST_CHECKSUMS", md5)
    (_, y_train), _ = load_fashion_mnist()
    np.testing.assert_array_equal(y_train, make_tiny(8).train_y)
    assert _cache_listing(tmp_path, "fashion-mnist") == set(ALL_FILES)
    assert _cache_listing(tmp_path, "mnist") == set()
    md5[TEST_LABELS] = ("md5", "0" * 32)
    (cache_dir(tmp_path, "fashion-mnist") / TEST_LABELS).unlink()
    with pytest.raises(DatasetError, match=r"checksum mismatch \(md5"):
        load_fashion_mnist()


def test_download_checksum_mismatch_leaves_nothing(tmp_path, mirror, tiny):
    mirror.files.update(tiny_files(tiny))
    checksums = sha256_table(mirror.files)
    checksums[TRAIN_LABELS] = ("sha256", "0" * 64)
    with pytest.raises(DatasetError) as info:
        load_mnist(mirrors=[mirror.url], checksums=checksums)
    message = str(info.value)
    assert f"missing: {TRAIN_LABELS}" in message
    assert f"{mirror.url}{TRAIN_LABELS}: checksum mismatch (sha256 expected {'0' * 64}" in message
    assert _cache_listing(tmp_path) == {TRAIN_IMAGES, TEST_IMAGES, TEST_LABELS}  # no part file


@pytest.mark.parametrize(
    "mode, reason",
    [
        ("short", r"incomplete transfer: received \d+ of \d+ bytes"),
        ("no-length", r"checksum mismatch"),
    ],
)
def test_cut_transfer_leaves_nothing(tmp_path, mirror, tiny, mode, reason):
    mirror.files.update(tiny_files(tiny))
    mirror.cut[TRAIN_IMAGES] = mode
    with pytest.raises(DatasetError, match=reason) as info:
        load_mnist(mirrors=[mirror.url], checksums=sha256_table(mirror.files))
    assert f"{mirror.url}{TRAIN_IMAGES}" in str(info.value)
    assert _cache_listing(tmp_path) == {TRAIN_LABELS, TEST_IMAGES, TEST_LABELS}
    del mirror.cut[TRAIN_IMAGES]  # the next run only fetches the missing file
    (_, y_train), _ = load_mnist(mirrors=[mirror.url], checksums=sha256_table(mirror.files))
    np.testing.assert_array_equal(y_train, tiny.train_y)
    assert mirror.requests.count(TRAIN_IMAGES) == 2 and mirror.requests.count(TEST_LABELS) == 1


def test_mirrors_are_tried_in_turn(tmp_path, mirror, tiny):
    mirror.files.update(tiny_files(tiny))
    empty = (tmp_path / "empty-mirror").as_uri()
    (_, y_train), _ = load_mnist(mirrors=[empty, mirror.url], checksums=sha256_table(mirror.files))
    np.testing.assert_array_equal(y_train, tiny.train_y)


def test_file_url_mirror(tmp_path, tiny):
    files = tiny_files(tiny)
    folder = write_files(tmp_path / "file-mirror", files)
    (_, y_train), _ = load_mnist(mirrors=[folder.as_uri() + "/"], checksums=sha256_table(files))
    np.testing.assert_array_equal(y_train, tiny.train_y)
    assert _cache_listing(tmp_path) == set(ALL_FILES)


def test_every_mirror_failing_lists_each_attempt(tmp_path, mirror, tiny):
    files = tiny_files(tiny)
    dead = (tmp_path / "dead").as_uri() + "/"
    with pytest.raises(DatasetError) as info:
        load_mnist(mirrors=[dead, mirror.url], checksums=sha256_table(files))
    message = str(info.value)
    assert "Download failed from every mirror" in message and "MINIDL_DATA_DIR" in message
    for name in ALL_FILES:
        assert f"{dead}{name}" in message and f"{mirror.url}{name}: HTTP Error 404" in message
    assert _cache_listing(tmp_path) == set()


def test_no_known_checksum_means_no_download(tmp_path, mirror, tiny):
    mirror.files.update(tiny_files(tiny))
    with pytest.raises(DatasetError, match="no checksum known"):
        load_mnist(mirrors=[mirror.url], checksums={})
    assert mirror.requests == []


def test_default_mirrors_are_emptied_in_tests():
    with pytest.raises(DatasetError, match="no mirrors configured"):
        load_mnist()


def test_real_mirror_tables_are_complete():
    for table, algorithm, length in (
        (datasets.MNIST_CHECKSUMS, "sha256", 64),
        (datasets.FASHION_MNIST_CHECKSUMS, "md5", 32),
    ):
        assert set(table) == set(ALL_FILES)
        assert all(algo == algorithm and len(digest) == length for algo, digest in table.values())


# --------------------------------------------------------------------------- real MNIST


def _real_mnist_dir() -> Path:
    """The real MNIST folder as it was before the autouse fixture cleared the variable."""
    with pytest.MonkeyPatch.context() as patch:
        if REAL_MNIST_DIR:
            patch.setenv("MINIDL_DATA_DIR", REAL_MNIST_DIR)
        return real_mnist_dir()


def test_real_mnist(monkeypatch):
    folder = _real_mnist_dir()
    monkeypatch.setenv("MINIDL_DATA_DIR", str(folder))
    (x_train, y_train), (x_test, y_test) = load_mnist(download=False)
    assert x_train.shape == (60000, 28, 28, 1) and x_test.shape == (10000, 28, 28, 1)
    assert x_train.dtype == np.float32 and y_train.dtype == np.int64
    assert y_train.shape == (60000,) and y_test.shape == (10000,)
    assert x_train.min() == 0.0 and x_train.max() == 1.0
    assert set(np.unique(y_train)) == set(range(10))
    assert np.bincount(y_test, minlength=10).tolist() == MNIST_TEST_CLASS_COUNTS
    raw_labels = read_idx(folder / TEST_LABELS)
    assert np.bincount(raw_labels, minlength=10).tolist() == MNIST_TEST_CLASS_COUNTS
    assert hashlib.sha256((folder / TRAIN_IMAGES).read_bytes()).hexdigest() == datasets.MNIST_CHECKSUMS[TRAIN_IMAGES][1]


def test_a_relative_data_folder_is_resolved_where_the_program_starts(tmp_path):
    """MINIDL_DATA_DIR=../shared/mnist means the folder beside the starting directory, even after the program
    changes directory — and child processes inherit the absolute folder."""
    import subprocess
    import sys

    if not REAL_MNIST_DIR:
        pytest.skip("MINIDL_DATA_DIR is not set")
    start = tmp_path / "start"
    start.mkdir()
    relative = os.path.relpath(REAL_MNIST_DIR, start)
    script = (
        "import os, subprocess, sys, minidl\n"
        "os.chdir('/')\n"
        "(x, _), _ = minidl.datasets.load_mnist(limit=3, download=False)\n"
        "child = subprocess.run([sys.executable, '-c', 'import os; print(os.environ[\"MINIDL_DATA_DIR\"])'],"
        " capture_output=True, text=True).stdout.strip()\n"
        "print(x.shape, child)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=start,
        env={**os.environ, "MINIDL_DATA_DIR": relative, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    shape, child = result.stdout.strip().split(") ")
    assert shape == "(3, 28, 28, 1" and Path(child).resolve() == Path(REAL_MNIST_DIR).resolve()  # a link may lead there
