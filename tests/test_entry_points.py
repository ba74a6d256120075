"""Every `python -m minidl.*` entry point answers --help with its usage and exit status 0, doing nothing else.

The entry points are found, not listed: every ``__main__.py`` under minidl/ (a new one is covered at once),
plus the subcommands a help text names (``python -m minidl.stats report``, ``... tensorboard``).
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MAINS = sorted(path.parent for path in (ROOT / "minidl").rglob("__main__.py"))
MODULES = [".".join(folder.relative_to(ROOT).parts) for folder in MAINS]


def run_help(tmp_path, *arguments):
    """`python -m ARGUMENTS --help` in an empty folder: (exit status, stdout, stderr)."""
    env = dict(os.environ, PYTHONPATH=f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}")
    done = subprocess.run(
        [sys.executable, "-m", *arguments, "--help"], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120
    )
    return done.returncode, done.stdout, done.stderr


def subcommands(help_text: str, module: str) -> list[str]:
    """The subcommands a help text names as `python -m MODULE WORD ...` (argparse may wrap it anywhere)."""
    words = r"\s+".join(["python", "-m", re.escape(module)])
    return sorted(set(re.findall(rf"{words}\s+([a-z]+)\b", help_text)))


def test_the_entry_points_are_found():
    assert {"minidl.stats", "minidl.gradcheck"} <= set(MODULES)


@pytest.mark.parametrize("module", MODULES)
def test_help_prints_usage_and_does_no_work(module, tmp_path):
    status, out, err = run_help(tmp_path, module)
    assert status == 0, err
    assert out.startswith(f"usage: python -m {module}"), out
    assert err == "" and not list(tmp_path.iterdir()), (err, list(tmp_path.iterdir()))  # nothing ran, nothing written
    for command in subcommands(out, module):
        status, sub_out, err = run_help(tmp_path, module, command)
        assert status == 0, err
        assert sub_out.startswith(f"usage: python -m {module} {command}"), sub_out
        assert err == "" and not list(tmp_path.iterdir())


def test_stats_help_names_its_subcommands(tmp_path):
    """The subcommand loop above has something to check: `python -m minidl.stats --help` names both."""
    _, out, _ = run_help(tmp_path, "minidl.stats")
    assert subcommands(out, "minidl.stats") == ["report", "tensorboard"]
