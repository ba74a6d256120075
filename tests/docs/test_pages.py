"""Every page that shows output runs, and prints what it shows (the machinery is in `pages.py`)."""

import re

import pytest
from pages import ROOT, blocks, mismatch, run_page, shows_output

PAGES = sorted([ROOT / "README.md", *(ROOT / "docs").glob("*.md")])
SHOWING = [page for page in PAGES if shows_output(page)]


def test_the_comparison_holds_numbers_to_their_tolerance_and_text_to_the_letter():
    assert mismatch("accuracy 98.97% in ... s", "accuracy 98.97% in 41.2 s") is None
    assert mismatch("accuracy 98.97%", "accuracy 98.96%") == (
        "the page shows 'accuracy 98.97%', the code printed 'accuracy 98.96%': 98.96 is not 98.97 within atol=0, rtol=0"
    )
    assert mismatch("accuracy 98.97%", "accuracy 98.71%", atol="0.3") is None
    assert mismatch("accuracy 98.97%", "accuracy 98.61%", atol="0.3") is not None
    assert mismatch("accuracy 98.97%", "precision 98.97%") is not None
    assert mismatch("...\nlast line 1", "first\nsecond\nlast line 1") is None
    assert mismatch("last line 1", "first\nlast line 1") is not None
    assert "nothing more was printed" in mismatch("a\nb", "a")
    # after "...", a line that differs only in a number is named, not "nothing more was printed"
    assert "98.5 is not 98.85 within atol=0.3" in mismatch("...\naccuracy 98.85%", "start\naccuracy 98.5%", atol="0.3")
    assert mismatch("a  b", "a b") is None  # column widths follow the numbers' widths


@pytest.mark.parametrize("page", SHOWING, ids=[page.name for page in SHOWING])
def test_the_page_prints_what_it_shows(page, mnist_dir):
    run = run_page(page)
    assert run.comparisons, f"{page.name} shows output but no output block was compared"
    problems = [f"{c.page} line {c.line}: {c.problem}" for c in run.comparisons if c.problem]
    assert not problems, "\n".join(problems)


def test_the_pages_that_show_output_are_found():
    assert ROOT / "README.md" in SHOWING and len(SHOWING) >= 3, [p.name for p in SHOWING]


def test_ci_runs_the_readme_test_command_as_written():
    """.ci/run greps this line out of README.md and runs it; the line must be there, once, whole."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    commands = [line for line in readme if line.startswith('pip install -e ".[test') and "python -m pytest" in line]
    assert commands == [
        'pip install -e ".[test,mpi,tensorboard]" && MINIDL_DATA_DIR=../shared/mnist python -m pytest -q'
    ]
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "grep -m1 -E '^pip install -e \"\\.\\[test.*python -m pytest' README.md" in ci and 'bash -c "$command"' in ci


def test_every_relative_link_of_the_pages_names_a_file_that_exists():
    broken = []
    for page in PAGES:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", page.read_text(encoding="utf-8")):
            if "://" not in target and not (page.parent / target).exists():
                broken.append(f"{page.relative_to(ROOT)} -> {target}")
    assert not broken, broken


def test_the_readme_is_a_screen_and_a_half():
    """The README keeps to the pitch, the two commands, the quick start, the three measuring commands and
    a map; everything else lives in docs/."""
    lines = (ROOT / "README.md").read_text().splitlines()
    assert len(lines) <= 150, f"README.md has {len(lines)} lines: move detail into docs/"


EXTRACTS = [(page, block) for page in sorted((ROOT / "docs").glob("*.md")) for block in blocks(page.read_text())
            if block.kind == "averages"]  # fmt: skip
ROW = re.compile(r"^\s+([^:\n]+?):\s{2,}\S", flags=re.M)  # "  label:   values", a row of averages.txt


def test_the_averages_extracts_of_the_pages_have_the_rows_minidl_writes(tmp_path):
    """A ```averages block is measured output from a named machine, which no test can reproduce; what can
    go stale is its form. Every row label it shows must be one `averages.txt` writes today for a run with
    one worker and one with two."""
    from stats_helpers import train

    for workers in (1, 2):
        for seed in (0, 1):
            train(tmp_path, seed=seed, workers=workers)
    written = {match.group(1).strip() for match in ROW.finditer((tmp_path / "averages.txt").read_text())}
    assert len(EXTRACTS) >= 2, [page.name for page, _ in EXTRACTS]
    for page, block in EXTRACTS:
        shown = {match.group(1).strip() for match in ROW.finditer(block.text)}
        assert shown and shown <= written, f"{page.name} line {block.line}: rows not written: {shown - written}"
