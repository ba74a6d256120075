"""docs/your-own-layer.md: beyond printing what it shows (test_pages.py), the guide's objects are what its text says."""

import numpy as np
from pages import ROOT, blocks, run_page

GUIDE = ROOT / "docs" / "your-own-layer.md"


def test_guide_has_its_code_blocks():
    code = [block.text for block in blocks(GUIDE.read_text(encoding="utf-8")) if block.kind == "python"]
    assert len(code) >= 5 and "class PReLU(Layer)" in code[0]


def test_the_guide_checks_finds_the_bug_and_trains_the_slopes(mnist_dir):
    namespace = run_page(GUIDE).namespace
    assert namespace["report"].ok and namespace["whole"].ok
    assert [t.name for t in namespace["wrong"].failing] == ["alpha"]
    accuracy = namespace["history"].history["val_accuracy"]
    assert accuracy[-1] > 0.8, f"the PReLU network should learn: test accuracy {accuracy}"
    slopes = namespace["slopes"]
    assert slopes.shape == (8,) and not np.allclose(slopes, 0.25), "the slopes should have been trained"
