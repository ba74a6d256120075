"""Measure how a minidl checkout treats each crafted model file: what it raises, how long it takes and
the process's peak memory. Each file is loaded in a fresh process (4 GiB address-space limit, 120 s
timeout), so an attempted huge allocation or a hang is measured instead of taking the machine down.

    PYTHONPATH=<checkout> python tests/saving/hostile_report.py            # this checkout's minidl
    PYTHONPATH=path/to/other/checkout python tests/saving/hostile_report.py  # e.g. the code before a change

Prints one line per case: name, file size, outcome (error type and message, cut), seconds, peak RSS.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import hostile_files  # noqa: E402

CASES = [name for name in dir(hostile_files) if name.startswith("make_")]

CHILD = """
import resource, sys, time
resource.setrlimit(resource.RLIMIT_AS, (4 << 30, 4 << 30))
from minidl import Model
started = time.perf_counter()
try:
    Model.load(sys.argv[1])
    outcome = "loaded"
except BaseException as error:
    outcome = f"{type(error).__name__}: {error}".splitlines()[0][:150]
seconds = time.perf_counter() - started
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(f"{seconds:.3f}s peak {peak:.0f} MB | {outcome}")
"""


def main():
    with tempfile.TemporaryDirectory() as folder:
        for name in CASES:
            path = getattr(hostile_files, name)(Path(folder))
            try:
                result = subprocess.run(
                    [sys.executable, "-c", CHILD, str(path)],
                    capture_output=True,
                    text=True,
                    timeout=120,
                    cwd=folder,  # not this checkout: PYTHONPATH alone chooses the minidl measured
                )
                line = result.stdout.strip() or f"exit {result.returncode}: {result.stderr.strip()[-150:]}"
            except subprocess.TimeoutExpired:
                line = "still running after 120 s (killed)"
            print(f"{name[5:]:<40} {path.stat().st_size:>9,} B  {line}")
            path.unlink()


if __name__ == "__main__":
    main()
