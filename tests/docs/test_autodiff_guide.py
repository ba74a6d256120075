"""docs/autodiff.md: beyond printing what it shows (test_pages.py), the tape's gradients are the layers' own."""

import numpy as np
from pages import ROOT, run_page


def test_the_two_ways_to_a_gradient_agree():
    namespace = run_page(ROOT / "docs" / "autodiff.md").namespace
    assert len(namespace["taped"]) == len(namespace["by_hand"]) == 4
    for taped, by_hand in zip(namespace["taped"], namespace["by_hand"]):
        assert np.allclose(taped, by_hand, rtol=1e-12, atol=1e-12)
