"""The README's examples marked ``<!-- tested ... -->`` run as written."""
import re
from pathlib import Path

import numpy as np
import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
MARKED_BLOCK = re.compile(r"<!-- tested[^>]*-->\s*```python\n(.*?)```", re.S)


def marked_blocks() -> list[str]:
    return MARKED_BLOCK.findall(README.read_text())


def test_the_readme_marks_its_select_batch_example():
    assert any("select_batch(" in block for block in marked_blocks())


@pytest.mark.parametrize("index", range(len(marked_blocks())))
def test_readme_block_runs(index):
    import torch

    torch.manual_seed(0)
    namespace: dict = {}
    exec(compile(marked_blocks()[index], f"README.md block {index}", "exec"), namespace)
    if "sel" in namespace:
        sel = namespace["sel"]
        assert len(sel.picked) == len(set(sel.picked.tolist()))
        if sel.scores is not None:
            assert np.isnan(sel.scores[500:]).all() and set(sel.picked) <= set(range(500))
