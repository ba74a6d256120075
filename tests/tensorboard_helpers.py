"""Shared by the TensorBoard tests: reading event files back with tensorboard's own reader, and the real
`tensorboard` server on a free port (always stopped), queried over HTTP as its web page queries it."""

from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import numpy as np
import pytest

SERVER_START_SECONDS = 120  # a busy 2-core machine needs a while to start the server and read the files


def tensorboard_or_skip():
    """The tensorboard package (the `tensorboard` extra), or skip with the reason."""
    return pytest.importorskip("tensorboard", reason="the tensorboard extra is not installed")


def read_events(folder) -> dict:
    """{tag: [(step, value as a NumPy array, wall time)]} of one TensorBoard run folder, read by tensorboard."""
    tensorboard_or_skip()
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.util import tensor_util

    accumulator = EventAccumulator(str(folder), size_guidance={"tensors": 0})
    accumulator.Reload()
    return {
        tag: [(event.step, tensor_util.make_ndarray(event.tensor_proto), event.wall_time) for event in events]
        for tag in accumulator.Tags()["tensors"]
        for events in [accumulator.Tensors(tag)]
    }


def scalars(folder) -> dict:
    """{tag: [(step, float)]} of the rank-0 (scalar) tensors of a run folder."""
    return {
        tag: [(step, float(value)) for step, value, _ in events]
        for tag, events in read_events(folder).items()
        if all(value.ndim == 0 and value.dtype.kind == "f" for _, value, _ in events)
    }


def as_float32(values) -> list[float]:
    """What TensorBoard keeps of some numbers: their 32-bit floats, back as Python floats."""
    return [float(v) for v in np.asarray(values, np.float32)]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def tensorboard_server(logdir):
    """The real `tensorboard --logdir logdir` on a free local port; yields `get(route, **query)` -> JSON.

    The server is always stopped on the way out (terminate, then kill if it does not end)."""
    tensorboard_or_skip()
    port = free_port()
    log = Path(logdir).parent / f"tensorboard-{port}.log"
    with open(log, "w") as output:
        server = subprocess.Popen(
            [sys.executable, "-m", "tensorboard.main", "--logdir", str(logdir), "--host", "127.0.0.1",
             "--port", str(port), "--reload_interval", "1"],
            stdout=output,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:

        def get(route, **query):
            url = f"http://127.0.0.1:{port}{route}?{urllib.parse.urlencode(query)}"
            with urllib.request.urlopen(url, timeout=30) as answer:
                return json.loads(answer.read())

        get.log = log
        yield get
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def wait_for(get, route, ready, **query):
    """Poll `route` until `ready(answer)` holds; fails with the server's log after SERVER_START_SECONDS."""
    deadline, answer = time.monotonic() + SERVER_START_SECONDS, None
    while time.monotonic() < deadline:
        try:
            answer = get(route, **query)
            if ready(answer):
                return answer
        except OSError:  # not listening yet
            pass
        time.sleep(0.5)
    pytest.fail(f"tensorboard never served {route} {query}: last answer {answer!r}\n{get.log.read_text()[-2000:]}")
