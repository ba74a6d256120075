"""Run the programs of tests/keras_compat/programs/ under minidl and under real Keras, side by side.

    python -m tests.keras_compat.compare_with_keras toy_resnet multi_input --seeds 0 1 2

Each (program, framework, seed) runs in a fresh process, in a temporary folder, on the same MNIST
subset (minidl's loader feeds both), seeded with `set_random_seed(seed)` of its framework. The table
gives, for every number the program leaves in a global variable (a score, a loss, the last value of
each History entry), the mean over the seeds and the spread (min – max) under each framework. Real
Keras needs `pip install keras torch` (KERAS_BACKEND defaults to torch here). The figures are results,
not timings: the machine's load does not change them.
"""

from __future__ import annotations

import argparse
import json
import numbers
import os
import runpy
import subprocess
import sys
import tempfile
from pathlib import Path

from .test_programs import PROGRAMS, program_source

MARK = "COMPARE-RESULTS "


def figures(variables: dict) -> dict[str, float]:
    """The numbers a program left: scalars, short lists of scalars, and History's last values."""
    found = {}
    for name, value in variables.items():
        if name.startswith("_") or isinstance(value, (bool, type)):
            continue
        if isinstance(value, numbers.Real) or type(value).__name__ in ("float32", "float64", "int64"):
            found[name] = float(value)
        elif (
            isinstance(value, (list, tuple)) and 0 < len(value) <= 4 and all(isinstance(v, numbers.Real) for v in value)
        ):
            found.update({f"{name}[{i}]": float(v) for i, v in enumerate(value)})
        elif isinstance(getattr(value, "history", None), dict):
            found.update({f"{name}.{key}[-1]": float(values[-1]) for key, values in value.history.items() if values})
        elif isinstance(value, dict) and value and all(isinstance(v, numbers.Real) for v in value.values()):
            found.update({f"{name}[{key!r}]": float(v) for key, v in value.items() if not isinstance(v, bool)})
    return found


def run_one(name: str, framework: str, seed: int) -> dict[str, float]:
    """In this process: run the program under `framework` ("minidl" or "keras") and print its figures."""
    import minidl

    if framework == "keras":
        import keras

        keras.datasets.mnist.load_data = lambda path=None: minidl.datasets.mnist.load_data()
        keras.utils.set_random_seed(seed)
    else:
        minidl.set_seed(seed)
    source = program_source(name, real_keras=framework == "keras")
    with tempfile.TemporaryDirectory() as folder:
        os.chdir(folder)
        script = Path(folder) / f"{name}.py"
        script.write_text(source)
        variables = runpy.run_path(str(script), run_name="__main__")
    return figures(variables)


def collect(name: str, framework: str, seed: int) -> dict[str, float]:
    """Run one program in a fresh process and return its figures."""
    env = {**os.environ, "KERAS_BACKEND": os.environ.get("KERAS_BACKEND", "torch")}
    command = [sys.executable, "-m", "tests.keras_compat.compare_with_keras", "--child", name, framework, str(seed)]
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=Path(__file__).resolve().parents[2])
    lines = [line for line in done.stdout.splitlines() if line.startswith(MARK)]
    if done.returncode != 0 or not lines:
        tail = "\n".join(done.stderr.strip().splitlines()[-5:])
        raise SystemExit(f"{name} under {framework} (seed {seed}) failed:\n{tail}")
    return json.loads(lines[-1][len(MARK) :])


def cell(values: list[float], each=False) -> str:
    if not values:
        return "-"
    mean = sum(values) / len(values)
    if len(values) == 1:
        return f"{mean:.4f}"
    text = f"{mean:.4f} ({min(values):.4f} – {max(values):.4f})"
    return text + " [" + ", ".join(f"{v:.4f}" for v in values) + "]" if each else text


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("programs", nargs="*", help="program names (default: all)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--each", action="store_true", help="also list each seed's value")
    parser.add_argument("--frameworks", nargs="+", default=["minidl", "keras"], choices=["minidl", "keras"])
    parser.add_argument("--child", nargs=3, metavar=("PROGRAM", "FRAMEWORK", "SEED"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        name, framework, seed = args.child
        found = run_one(name, framework, int(seed))
        print(MARK + json.dumps(found), flush=True)
        return
    names = args.programs or sorted(path.stem for path in PROGRAMS.glob("*.py"))
    for name in names:
        runs = {f: [collect(name, f, seed) for seed in args.seeds] for f in args.frameworks}
        keys = sorted({key for results in runs.values() for result in results for key in result})
        print(f"\n{name}: mean over seeds {args.seeds} (min – max)")
        print(f"| figure | {' | '.join(args.frameworks)} |")
        print("|---" * (len(args.frameworks) + 1) + "|")
        for key in keys:
            row = [cell([r[key] for r in runs[f] if key in r], args.each) for f in args.frameworks]
            print(f"| {key} | {' | '.join(row)} |")


if __name__ == "__main__":
    main()
