"""docs/autodiff.md: its code runs, prints what the page says, and the two gradients agree."""

import re
from pathlib import Path

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "autodiff.md"


def test_autodiff_page_runs_and_the_two_ways_agree(capsys):
    blocks = re.findall(r"^```python\n(.*?)^```$", GUIDE.read_text(encoding="utf-8"), flags=re.M | re.S)
    assert len(blocks) == 3
    namespace = {}
    for number, block in enumerate(blocks, 1):
        exec(compile(block, f"{GUIDE.name} block {number}", "exec"), namespace)
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "4 [ 7. 13. 19.]"  # the page says what it prints
    assert out[1].endswith("the four gradients agree")
    loss, mean = re.match(r"loss (\S+) = (\S+);", out[1]).groups()
    assert loss == mean
