"""Run the code of a Markdown page and compare what it prints with what the page shows.

A page shows output in a block fenced ```output: it is what the code blocks since the previous output
block print. The ```python blocks of a page that shows output all run, in order, in one namespace, as a
reader would type them into one session; a ```bash block runs only when an output block comes next,
one command line at a time, from a folder laid out as the README's set-up (a clone holding the
repository's folders, the MNIST files at ../shared/mnist). `pip install` steps are not repeated: the
suite runs in the environment they made.

In an output block, `...` stands for any text within a line (times, which depend on the machine) and a
line `...` for any number of lines. Numbers are compared as shown unless the fence gives a tolerance,
e.g. ```output atol=0.5 (absolute) or rtol=0.05 (relative); the page says in its prose how much the
figure moves. A block fenced ```averages is an extract of `averages.txt` measured on a machine the page
names, which no test can reproduce: tests/docs/test_pages.py checks its row labels against what
minidl writes.
"""

from __future__ import annotations

import contextlib
import functools
import io
import os
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FENCE = re.compile(r"^```([^\n`]*)\n(.*?)^```[ \t]*$", flags=re.M | re.S)
NUMBER = r"[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?"
#: The repository folders a bash block may name, linked into the clone it runs in.
CLONE_FOLDERS = ("trainings", "benchmarks", "examples", "minidl", "docs")


@dataclass
class Block:
    kind: str  # python, bash, output, or another fence's first word
    options: dict
    text: str
    line: int  # where the block starts in the page, for messages


@dataclass
class Comparison:
    """One output block: what the page shows and what its code printed."""

    page: str
    line: int
    shown: str
    printed: str
    options: dict

    @property
    def problem(self) -> str | None:
        return mismatch(self.shown, self.printed, **self.options)


@dataclass
class PageRun:
    namespace: dict = field(default_factory=dict)
    comparisons: list = field(default_factory=list)


def blocks(text: str) -> list[Block]:
    """The fenced blocks of a Markdown text, in order, with the options after the fence's first word."""
    found = []
    for match in FENCE.finditer(text):
        words = match.group(1).split()
        kind = words[0] if words else ""
        options = dict(word.split("=", 1) for word in words[1:] if "=" in word)
        found.append(Block(kind, options, match.group(2), text.count("\n", 0, match.start()) + 1))
    return found


def shows_output(path: Path) -> bool:
    return any(block.kind == "output" for block in blocks(path.read_text(encoding="utf-8")))


def _text(shown: str) -> str:
    """Shown text as a regular expression: the letters as they are, a run of spaces as any run of spaces."""
    return r"\s+".join(re.escape(word) for word in re.split(r"\s+", shown))


def _tokens(shown_line: str) -> tuple[str, list[float]]:
    """A regular expression for one shown line (numbers captured, `...` any text, spaces any width)."""
    pattern, numbers = [], []
    for piece_number, piece in enumerate(shown_line.split("...")):
        if piece_number:
            pattern.append(".*?")
        position = 0
        for number in re.finditer(NUMBER, piece):
            pattern.append(_text(piece[position : number.start()]))
            pattern.append(f"({NUMBER})")
            numbers.append(float(number.group()))
            position = number.end()
        pattern.append(_text(piece[position:]))
    return "".join(pattern), numbers


def _line_problem(shown: str, printed: str, atol: float, rtol: float) -> str | None:
    pattern, numbers = _tokens(shown.strip())
    match = re.fullmatch(pattern, printed.strip())
    if match is None:
        return "the text differs"
    for expected, got in zip(numbers, match.groups()):
        value = float(got)
        if abs(value - expected) > atol + rtol * abs(expected):
            return f"{got} is not {expected:g} within atol={atol:g}, rtol={rtol:g}"
    return None


def mismatch(shown: str, printed: str, atol="0", rtol="0") -> str | None:
    """None when `printed` is what `shown` shows; else which shown line has no printed counterpart."""
    atol, rtol = float(atol), float(rtol)
    want = [line for line in shown.strip("\n").splitlines()]
    have = [line for line in printed.strip("\n").splitlines()]

    def match(i: int, j: int) -> tuple[bool, str]:
        if i == len(want):
            return (j == len(have), f"printed more than the page shows, from {have[j]!r}" if j < len(have) else "")
        if want[i].strip() == "...":
            closest = None  # a line whose text matches but a number does not: the likeliest counterpart
            for k in range(j, len(have) + 1):
                ok, why = match(i + 1, k)
                if ok:
                    return True, ""
                if closest is None and " within atol=" in why:
                    closest = why
            return False, closest or why
        if j == len(have):
            return False, f"the page shows {want[i]!r}, but nothing more was printed"
        problem = _line_problem(want[i], have[j], atol, rtol)
        if problem:
            return False, f"the page shows {want[i].strip()!r}, the code printed {have[j].strip()!r}: {problem}"
        return match(i + 1, j + 1)

    ok, why = match(0, 0)
    return None if ok else why


def _bash_lines(text: str) -> list[str]:
    """The command lines of a bash block: comments dropped, `pip install ... &&` steps left out."""
    commands = []
    for line in text.splitlines():
        line = line.split(" # ")[0].strip()
        if not line or line.startswith("#"):
            continue
        steps = [step.strip() for step in line.split("&&")]
        steps = [step for step in steps if not step.startswith(("pip install", "python -m pip install"))]
        if steps:
            commands.append(" && ".join(steps))
    return commands


def _clone(folder: Path) -> Path:
    """The README's set-up in `folder`: clone/ with the repository's folders, shared/mnist with the data."""
    clone = folder / "clone"
    clone.mkdir()
    for name in CLONE_FOLDERS:
        (clone / name).symlink_to(ROOT / name, target_is_directory=True)
    data = os.environ.get("MINIDL_DATA_DIR")
    if data:
        (folder / "shared").mkdir()
        (folder / "shared" / "mnist").symlink_to(Path(data).resolve(), target_is_directory=True)
    return clone


@functools.cache
def run_page(path: Path, timeout: float = 900) -> PageRun:
    """Run a page's code as its reader would and pair every output block with what was printed.

    Kept for the session: the tests of one page's claims read the namespace of the same run."""
    from minidl.utils import clear_session

    clear_session()  # a reader runs the page in a fresh session: layer names start again from `conv2d`
    run = PageRun(namespace={"__name__": f"page_{path.stem.replace('-', '_')}"})
    printed = io.StringIO()
    here = os.getcwd()
    with tempfile.TemporaryDirectory(prefix="minidl-page-") as folder:
        clone = _clone(Path(folder))
        os.chdir(clone)
        try:
            page = blocks(path.read_text(encoding="utf-8"))
            for number, block in enumerate(page):
                if block.kind == "python":
                    code = compile(block.text, f"{path.name}, block at line {block.line}", "exec")
                    with contextlib.redirect_stdout(printed):
                        exec(code, run.namespace)
                elif block.kind == "bash" and number + 1 < len(page) and page[number + 1].kind == "output":
                    for command in _bash_lines(block.text):
                        done = subprocess.run(
                            ["bash", "-c", command],
                            capture_output=True,
                            text=True,
                            timeout=timeout,
                            env={**os.environ, "COLUMNS": "120"},
                        )
                        if done.returncode != 0:
                            raise AssertionError(
                                f"{path.name} line {block.line}: `{command}` exited with {done.returncode}:\n"
                                f"{done.stderr[-3000:]}"
                            )
                        printed.write(done.stdout)
                elif block.kind == "output":
                    run.comparisons.append(
                        Comparison(path.name, block.line, block.text, printed.getvalue(), block.options)
                    )
                    printed = io.StringIO()
        finally:
            os.chdir(here)
            sys.stdout.flush()
    return run
