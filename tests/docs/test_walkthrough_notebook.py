"""examples/lenet_walkthrough.ipynb: stored without outputs, and runs top to bottom on a small subset."""

import json
import re
from pathlib import Path

import pytest

NOTEBOOK = Path(__file__).resolve().parents[2] / "examples" / "lenet_walkthrough.ipynb"


def test_notebook_is_stored_without_outputs():
    cells = json.loads(NOTEBOOK.read_text(encoding="utf-8"))["cells"]
    code = [cell for cell in cells if cell["cell_type"] == "code"]
    assert code, "the walkthrough has code cells"
    for cell in code:
        assert cell["outputs"] == [] and cell["execution_count"] is None, "strip the outputs before committing"


def test_walkthrough_notebook_runs(mnist_dir, monkeypatch, tmp_path):
    """Executes every cell with nbclient on 600 training digits and one epoch; every picture is drawn."""
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    pytest.importorskip("matplotlib")
    monkeypatch.setenv("MINIDL_NOTEBOOK_SAMPLES", "600")
    monkeypatch.setenv("MINIDL_NOTEBOOK_EPOCHS", "1")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.setenv("TMPDIR", str(tmp_path))  # the notebook writes its pictures into a temporary folder
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    nbclient.NotebookClient(
        notebook, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    ).execute()

    outputs = [output for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs]
    assert not [output for output in outputs if output.output_type == "error"]
    text = "".join(output.get("text", "") for output in outputs if output.output_type == "stream")
    assert "train: (600, 28, 28, 1)" in text
    assert "kernel: gradient ok" in text and "bias: gradient ok" in text
    assert "epoch 1:" in text and "test accuracy on 1000 digits" in text
    shown_mistakes = re.search(r"(\d+) of these 100 digits are mistakes \((\d+) in all 1000 test digits\)", text)
    assert shown_mistakes, text
    assert int(shown_mistakes[1]) == min(20, int(shown_mistakes[2])) > 0, "the grid teaches with mistakes"
    pictures = [output for output in outputs if "image/png" in output.get("data", {})]
    assert len(pictures) == 4, "curves, filters, feature maps and the classification grid"
    written = sorted(path.name for path in tmp_path.glob("minidl_walkthrough_*/*.png"))
    assert written == ["curves.png", "feature_maps.png", "filters.png", "grid.png"]
