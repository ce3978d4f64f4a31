"""The committed notebooks: valid, outputs stripped, and each one explained in markdown.

`make test` also runs them headless (``pytest --nbmake notebooks``); this only checks what
is committed, so that outputs (images, timings, paths of one machine) never enter git.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytestmark = pytest.mark.notebooks  # the notebooks' own checks

NOTEBOOKS = sorted((Path(__file__).parents[2] / "notebooks").glob("*.ipynb"))


def test_the_notebooks_are_there() -> None:
    names = [p.name for p in NOTEBOOKS]
    assert names == ["01_backbone_tour.ipynb", "02_data_explorer.ipynb", "03_inference.ipynb"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_outputs_are_stripped(path: Path) -> None:
    notebook = json.loads(path.read_text())
    assert notebook["nbformat"] == 4
    assert notebook["metadata"]["kernelspec"]["name"] == "python3"
    code = [c for c in notebook["cells"] if c["cell_type"] == "code"]
    dirty = [i for i, c in enumerate(code) if c["outputs"] or c["execution_count"] is not None]
    assert not dirty, f"{path.name}: code cells {dirty} hold outputs; clear them before committing"
    assert "widgets" not in notebook["metadata"]
    markdown = [c for c in notebook["cells"] if c["cell_type"] == "markdown"]
    assert notebook["cells"][0]["cell_type"] == "markdown" and len(markdown) >= 3
