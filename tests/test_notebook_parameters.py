"""Every notebook's parameters cell is readable by papermill: each name it sets is a parameter."""
from pathlib import Path

import nbformat
import pytest
from papermill.translators import PythonTranslator

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("[0-9][0-9]_*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_papermill_reads_every_parameter(path):
    nb = nbformat.read(path, 4)
    cells = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(cells) == 1, f"{path.name}: one cell tagged 'parameters'"
    assigned = [line.split("=")[0].strip() for line in cells[0].source.splitlines()
                if line.strip() and not line.lstrip().startswith("#")]
    found = [p.name for p in PythonTranslator.inspect(cells[0])]
    assert found == assigned
    assert "scale" in found
