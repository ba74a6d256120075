"""docs/recurrent-networks.md: every Python block runs, in order, and shows what the text says."""

import re
from pathlib import Path

import numpy as np

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "recurrent-networks.md"


def python_blocks(text):
    return re.findall(r"^```python\n(.*?)^```$", text, flags=re.M | re.S)


def test_recurrent_networks_guide_runs(capsys):
    namespace = {"__name__": "recurrent_networks_guide"}
    blocks = python_blocks(GUIDE.read_text(encoding="utf-8"))
    assert len(blocks) == 4
    for number, block in enumerate(blocks, 1):
        exec(compile(block, f"{GUIDE.name} block {number}", "exec"), namespace)
    out = capsys.readouterr().out
    assert "(3, 2)" in out
    # The NumPy loop of the page and the layer: the same numbers.
    layer, by_hand = namespace["layer"], namespace["by_hand"]
    np.testing.assert_allclose(namespace["out"], namespace["h_last"], rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(namespace["dx"], by_hand[0], rtol=1e-10, atol=1e-13)
    for name, grad in zip(layer.grads, by_hand[1:]):
        np.testing.assert_allclose(layer.grads[name], grad, rtol=1e-10, atol=1e-13)
    assert namespace["report"].ok


def test_padding_is_skipped_as_the_page_says():
    namespace = {"__name__": "recurrent_networks_guide"}
    exec(compile(python_blocks(GUIDE.read_text(encoding="utf-8"))[0], GUIDE.name, "exec"), namespace)
    model = namespace["model"]
    padded = model.predict(np.array([[0, 0, 0, 5, 8, 2]]), verbose=0)
    np.testing.assert_allclose(padded, model.predict(np.array([[5, 8, 2]]), verbose=0), rtol=1e-6)
