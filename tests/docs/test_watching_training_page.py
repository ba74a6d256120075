"""docs/watching-training.md: its picture is in the repository and its commands take the flags it shows."""

import re
import shlex
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "watching-training.md"


def commands(text):
    """The shell commands of the page's ```bash blocks (comments dropped), split into words."""
    blocks = re.findall(r"^```bash\n(.*?)^```$", text, flags=re.M | re.S)
    lines = [line.split("  #")[0].strip() for block in blocks for line in block.splitlines()]
    return [shlex.split(line) for line in lines if line and not line.startswith("#")]


def test_the_screenshot_is_a_png_in_the_repository():
    pictures = re.findall(r"!\[[^\]]+\]\(([^)]+)\)", PAGE.read_text())
    assert pictures == ["images/watching-training.png"]
    assert (PAGE.parent / pictures[0]).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_commands_take_the_flags_the_page_shows(monkeypatch, tmp_path, capsys):
    from minidl.stats.cli import main as stats_main

    monkeypatch.syspath_prepend(str(ROOT / "trainings"))
    import common

    lines = commands(PAGE.read_text())
    training = [words for words in lines if words[:2] == ["python", "trainings/training_full.py"]]
    export = [words for words in lines if words[:4] == ["python", "-m", "minidl.stats", "tensorboard"]]
    assert training and export and ["tensorboard", "--logdir", "tb"] in lines
    for words in training:
        assert common.make_parser("", {}).parse_args(words[2:]).tensorboard == "tb"
    monkeypatch.chdir(tmp_path)
    for words in export:  # its flags parse; an empty folder is then the one-line error (exit 1, not argparse's 2)
        assert stats_main(words[3:]) == 1
        assert "no runs in stats_out" in capsys.readouterr().err
