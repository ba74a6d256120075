"""Crafted model files for the untrusted-file tests (issue 15, point 5), made without minidl's writer.

Each `make_*` function writes one hostile or broken `.npz` model file into a folder and returns its
path. They are plain zips of `.npy` members, as an attacker would make them, so the tests do not
depend on the code under test to build their inputs.
"""

from __future__ import annotations

import io
import json
import struct
import zipfile

import numpy as np


def npy_bytes(array) -> bytes:
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, np.asarray(array), allow_pickle=False)
    return buffer.getvalue()


def npy_header_bytes(dtype, shape) -> bytes:
    """Just the header of a `.npy` file declaring `shape` of `dtype` (no data after it)."""
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buffer, {"descr": np.lib.format.dtype_to_descr(np.dtype(dtype)), "fortran_order": False, "shape": shape}
    )
    return buffer.getvalue()


def config(units=10, inputs=784, dtype="float32", extra=None):
    """The architecture of a one-Dense-layer model, as minidl writes it."""
    layer = {"name": "dense", "input_shape": [inputs], "units": units, "activation": "softmax", **(extra or {})}
    return {
        "format": "minidl-model-1",
        "name": "crafted",
        "seed": 1,
        "dtype": dtype,
        "layers": [{"class": "Dense", "config": layer}],
        "optimizer": None,
        "loss": None,
        "metrics": [],
    }


def weights(units=10, inputs=784, dtype="float32"):
    rng = np.random.default_rng(0)
    return [rng.normal(size=(inputs, units)).astype(dtype), np.zeros(units, dtype)]


def write(path, config_value, members):
    """A `.npz` with `config` (a dict, or raw JSON text) and the given {name: bytes} members."""
    text = config_value if isinstance(config_value, str) else json.dumps(config_value)
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("config.npy", npy_bytes(np.array(text)))
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def weight_members(arrays):
    return {f"weight_{i}.npy": npy_bytes(a) for i, a in enumerate(arrays)}


def make_valid(folder):
    return write(folder / "valid.npz", config(), weight_members(weights()))


def make_asks_78m_parameters(folder):
    """34 KB on disk: the weights of Dense(10), an architecture of Dense(100,000) on 784 inputs."""
    return write(folder / "78m.npz", config(units=100_000), weight_members(weights()))


def make_units_1e10(folder):
    return write(folder / "units.npz", config(units=10**10), weight_members(weights()))


def make_header_8tib(folder):
    """A kernel member whose .npy header claims 2**41 float32 numbers (8 TiB) and holds 31 KB."""
    kernel, bias = weights()
    members = weight_members([kernel, bias])
    members["weight_0.npy"] = npy_header_bytes("float32", (2**41,)) + kernel.tobytes()
    return write(folder / "8tib.npz", config(), members)


def make_header_8tib_matching_architecture(folder):
    """The architecture asks for a 8 TiB kernel too (Dense(2**31 - 1) on 1024 inputs)."""
    members = {"weight_0.npy": npy_header_bytes("float32", (1024, 2**31 - 1)), "weight_1.npy": b""}
    return write(folder / "8tib_arch.npz", config(units=2**31 - 1, inputs=1024), members)


def make_unknown_argument(folder):
    return write(folder / "argument.npz", config(extra={"evil": "__import__('os')"}), weight_members(weights()))


def make_dtype_object(folder):
    return write(folder / "dtype.npz", config(dtype="object"), weight_members(weights()))


def make_layers_not_a_list(folder):
    crafted = config()
    crafted["layers"] = {"class": "Dense"}
    return write(folder / "layers.npz", crafted, weight_members(weights()))


def make_deep_json(folder, depth=100_000):
    text = json.dumps(config())
    text = text.replace('"name": "crafted"', '"name": ' + "[" * depth + "]" * depth, 1)
    return write(folder / "deep.npz", text, weight_members(weights()))


def make_nan_weights(folder):
    kernel, bias = weights()
    kernel[3, 4] = np.nan
    bias[0] = np.inf
    return write(folder / "nan.npz", config(), weight_members([kernel, bias]))


def make_deflated_bomb(folder, megabytes=64):
    """A real deflated stream: a kernel of `megabytes` MiB of zeros, a ~1000:1 ratio on disk.

    The architecture matches (Dense on 1024 inputs), so only the compression ratio gives it away.
    """
    units = megabytes * (1 << 20) // 4 // 1024
    path = folder / "bomb.npz"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        archive.writestr("config.npy", npy_bytes(np.array(json.dumps(config(units=units, inputs=1024)))))
        with archive.open("weight_0.npy", "w", force_zip64=True) as member:
            member.write(npy_header_bytes("float32", (1024, units)))
            chunk = bytes(1 << 20)
            for _ in range(megabytes):
                member.write(chunk)
        archive.writestr("weight_1.npy", npy_bytes(np.zeros(units, np.float32)))
    return path


def make_claimed_1gib_bomb(folder):
    """A deflated kernel member whose zip directory claims 1 GiB uncompressed from ~30 KB."""
    kernel, bias = weights()
    path = folder / "claim.npz"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("config.npy", npy_bytes(np.array(json.dumps(config()))))
        archive.writestr("weight_0.npy", npy_bytes(kernel))
        archive.writestr("weight_1.npy", npy_bytes(bias))
    # Patch weight_0.npy's central-directory record: uncompressed size := 1 GiB.
    blob = bytearray(path.read_bytes())
    start = blob.find(b"PK\x01\x02")
    while blob[start + 46 : start + 46 + 12] != b"weight_0.npy":
        start = blob.find(b"PK\x01\x02", start + 4)
    struct.pack_into("<I", blob, start + 24, 1 << 30)
    path.write_bytes(bytes(blob))
    return path


def deflated_valid(path):
    """The valid file's members, deflated (as another zip tool may write them)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("config.npy", npy_bytes(np.array(json.dumps(config()))))
        for name, data in weight_members(weights()).items():
            archive.writestr(name, data)
    return path


def member_headers(blob: bytes, name: bytes):
    """Offsets of `name`'s local header and central-directory record in a zip."""
    local = blob.find(b"PK\x03\x04")
    while blob[local + 30 : local + 30 + len(name)] != name:
        local = blob.find(b"PK\x03\x04", local + 4)
    central = blob.find(b"PK\x01\x02")
    while blob[central + 46 : central + 46 + len(name)] != name:
        central = blob.find(b"PK\x01\x02", central + 4)
    return local, central


def make_flagged(folder, bits):
    """weight_0.npy flagged with general-purpose bits `bits` (0x1 encrypted, 0x40 strong encryption, 0x20
    patched data) in both its headers; its bytes are the valid ones."""
    path = deflated_valid(folder / f"flagged_{bits:#x}.npz")
    blob = bytearray(path.read_bytes())
    local, central = member_headers(bytes(blob), b"weight_0.npy")
    for offset in (local + 6, central + 8):
        struct.pack_into("<H", blob, offset, struct.unpack_from("<H", blob, offset)[0] | bits)
    path.write_bytes(bytes(blob))
    return path


def make_garbled_deflate(folder):
    """weight_0.npy's deflated stream replaced by random bytes of the same length: not a deflate stream."""
    path = deflated_valid(folder / "garbled.npz")
    blob = bytearray(path.read_bytes())
    local, central = member_headers(bytes(blob), b"weight_0.npy")
    size = struct.unpack_from("<I", blob, central + 20)[0]
    start = local + 30 + struct.unpack_from("<H", blob, local + 26)[0] + struct.unpack_from("<H", blob, local + 28)[0]
    blob[start : start + size] = np.random.default_rng(5).integers(0, 256, size, dtype=np.uint8).tobytes()
    path.write_bytes(bytes(blob))
    return path


def make_many_small_claims(folder, layers=40):
    """`layers` Dense(500) layers on 500 inputs, each kernel ~1 MB of zeros deflated to ~1 KB: every member
    within the small-member allowance, together 40 MB claimed from a file of ~60 KB."""
    crafted = config(units=500, inputs=500)
    crafted["layers"] = [
        {"class": "Dense", "config": {"name": f"dense_{i}", "units": 500, **({"input_shape": [500]} if i == 0 else {})}}
        for i in range(layers)
    ]
    members = {}
    for i in range(layers):
        members[f"weight_{2 * i}.npy"] = npy_bytes(np.zeros((500, 500), np.float32))
        members[f"weight_{2 * i + 1}.npy"] = npy_bytes(np.zeros(500, np.float32))
    path = folder / "many.npz"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("config.npy", npy_bytes(np.array(json.dumps(crafted))))
        for name, data in members.items():
            archive.writestr(name, data)
    return path
