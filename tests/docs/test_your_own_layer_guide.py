"""docs/your-own-layer.md: every Python block of the guide runs, in order, and does what the text says."""

import re
from pathlib import Path

import numpy as np

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "your-own-layer.md"


def python_blocks(text):
    """The ```python fenced blocks of a Markdown text, in order."""
    return re.findall(r"^```python\n(.*?)^```$", text, flags=re.M | re.S)


def test_guide_has_its_code_blocks():
    blocks = python_blocks(GUIDE.read_text(encoding="utf-8"))
    assert len(blocks) >= 5 and "class PReLU(Layer)" in blocks[0]


def test_your_own_layer_guide_runs(mnist_dir, monkeypatch, tmp_path, capsys):
    """Runs the guide top to bottom on MNIST (3,000 training images) and checks its claims."""
    monkeypatch.chdir(tmp_path)
    namespace = {"__name__": "your_own_layer_guide"}
    for number, block in enumerate(python_blocks(GUIDE.read_text(encoding="utf-8")), 1):
        exec(compile(block, f"{GUIDE.name} block {number}", "exec"), namespace)
    out = capsys.readouterr().out
    assert namespace["report"].ok and namespace["whole"].ok
    assert [t.name for t in namespace["wrong"].failing] == ["alpha"]
    assert "alpha: gradient is WRONG" in out
    accuracy = namespace["history"].history["val_accuracy"]
    assert accuracy[-1] > 0.8, f"the PReLU network should learn: test accuracy {accuracy}"
    slopes = namespace["slopes"]
    assert slopes.shape == (8,) and not np.allclose(slopes, 0.25), "the slopes should have been trained"
