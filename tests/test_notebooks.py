"""The notebooks: jupytext pairs in sync, no stored outputs, papermill parameters, bad parameters."""
from __future__ import annotations

from pathlib import Path

import jupytext
import nbformat
import papermill
import pytest

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
NAMES = ("01_text_classifier", "02_filtering", "03_train", "04_cross_dataset", "05_no_pretrain")


def _code(nb) -> list[tuple[str, str]]:
    return [(c.cell_type, c.source.strip()) for c in nb.cells]


@pytest.mark.parametrize("name", NAMES)
def test_pair_in_sync_without_outputs(name):
    script = jupytext.read(NOTEBOOKS / f"{name}.py")
    notebook = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    assert _code(script) == _code(notebook), f"{name}.py and {name}.ipynb differ: jupytext --sync"
    assert all(not c.get("outputs") and not c.get("execution_count")
               for c in notebook.cells if c.cell_type == "code"), f"{name}.ipynb has outputs"
    assert notebook.cells[0].cell_type == "markdown" and notebook.cells[0].source.startswith("# ")
    params = [c for c in notebook.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(params) == 1 and 'profile = "demo"' in params[0].source
    assert "notebook_name" in params[0].source


@pytest.mark.parametrize("param, value, choices", [
    ("backbone", "resnet50", "xception, efficientnetv2b0, efficientnetv2b2, efficientnetv2s"),
    ("profile", "full", "demo, paper"),
])
def test_bad_parameter_names_the_choices(tmp_path, monkeypatch, param, value, choices):
    monkeypatch.setenv("SADUTILS_RESULTS", str(tmp_path / "results"))
    monkeypatch.setenv("SADUTILS_DATA", str(tmp_path / "data"))
    with pytest.raises(papermill.PapermillExecutionError) as info:
        papermill.execute_notebook(str(NOTEBOOKS / "03_train.ipynb"), str(tmp_path / "out.ipynb"),
                                   parameters={param: value}, progress_bar=False,
                                   cwd=str(tmp_path))
    assert f"valid choices: {choices}" in str(info.value)
    assert not (tmp_path / "data").exists(), "nothing should be generated before the check"
