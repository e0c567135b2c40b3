"""The notebooks: jupytext pairs in sync, no stored outputs, papermill parameters declared and
checked, bad parameters stopping a notebook at once with a message that says what is wrong."""
from __future__ import annotations

import ast
import re
from pathlib import Path

import jupytext
import nbformat
import papermill
import pytest
from papermill.translators import PythonTranslator

from sadutils.runner.fingerprints import notebook_parameters
from sadutils.runner.steps import load_runs
from sadutils.settings import PARAMETERS

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
NAMES = ("01_text_classifier", "02_filtering", "03_train", "04_cross_dataset", "05_no_pretrain",
         "06_analysis", "07_text_ablation")
CHECK = "settings.check_parameters(globals())"


def _code(nb) -> list[tuple[str, str]]:
    return [(c.cell_type, c.source.strip()) for c in nb.cells]


def test_every_notebook_of_the_graph_is_tested():
    assert {run.notebook for run in load_runs()} == set(NAMES)
    assert {p.stem for p in NOTEBOOKS.glob("*.ipynb")} == set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_pair_in_sync_without_outputs(name):
    script = jupytext.read(NOTEBOOKS / f"{name}.py")
    notebook = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    assert _code(script) == _code(notebook), f"{name}.py and {name}.ipynb differ: jupytext --sync"
    assert all(not c.get("outputs") and not c.get("execution_count")
               for c in notebook.cells if c.cell_type == "code"), f"{name}.ipynb has outputs"
    assert notebook.cells[0].cell_type == "markdown" and notebook.cells[0].source.startswith("# ")


@pytest.mark.parametrize("name", NAMES)
def test_parameters_cell_is_declared_and_checked_first(name):
    notebook = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    code = [c for c in notebook.cells if c.cell_type == "code"]
    params = [c for c in code if "parameters" in c.metadata.get("tags", [])]
    assert len(params) == 1 and code[0] is params[0]
    assert re.search(r'^profile = "demo"', params[0].source, re.M)
    declared = notebook_parameters(NOTEBOOKS / f"{name}.ipynb")
    assert {"profile", "notebook_name", "data_root", "results_root"} <= declared
    undeclared = declared - set(PARAMETERS)
    assert not undeclared, f"not declared in sadutils.settings.PARAMETERS: {undeclared}"
    assert CHECK in code[1].source  # the first cell after the parameters checks them


@pytest.mark.parametrize("name", NAMES)
def test_no_import_takes_a_parameters_name(name):
    """`check_parameters(globals())` checks every declared name it finds: an import named like
    a parameter of another notebook (`from sadutils import backbones`) would be checked as one
    and stop the notebook."""
    imported = set()
    for node in ast.walk(ast.parse(jupytext.writes(jupytext.read(NOTEBOOKS / f"{name}.py"),
                                                   fmt="py:percent"))):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            imported |= {(a.asname or a.name).split(".")[0] for a in node.names}
    assert not imported & set(PARAMETERS), imported & set(PARAMETERS)


@pytest.mark.parametrize("name", NAMES)
def test_papermill_parses_every_parameter(name, caplog):
    """``papermill --help-notebook`` lists every parameter, and the bare ``papermill`` prints no
    "Unable to parse line" (a comment holding "=" defeats its parser)."""
    notebook = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    cell = next(c for c in notebook.cells if "parameters" in c.metadata.get("tags", []))
    with caplog.at_level("WARNING", logger="papermill"):
        parsed = PythonTranslator.inspect(cell)
    assert not caplog.records, [r.getMessage() for r in caplog.records]
    assert {p.name for p in parsed} == notebook_parameters(NOTEBOOKS / f"{name}.ipynb")


def _execute_bad(tmp_path, monkeypatch, notebook: str, parameters: dict):
    """Run ``notebook`` with bad parameters: the error, and the executed notebook."""
    monkeypatch.setenv("SADUTILS_RESULTS", str(tmp_path / "results"))
    monkeypatch.setenv("SADUTILS_DATA", str(tmp_path / "data"))
    out = tmp_path / "out.ipynb"
    with pytest.raises(papermill.PapermillExecutionError) as info:
        papermill.execute_notebook(str(NOTEBOOKS / f"{notebook}.ipynb"), str(out),
                                   parameters=parameters, progress_bar=False, cwd=str(tmp_path))
    assert not (tmp_path / "data").exists(), "nothing should be generated before the check"
    assert not (tmp_path / "results").exists(), "nothing should be written before the check"
    return info.value, nbformat.read(str(out), as_version=4)


@pytest.mark.parametrize("notebook, param, value, message", [
    ("03_train", "epochs", "abc", "parameter epochs must be an integer >= 1, or None, got 'abc'"),
    ("03_train", "profile", "full", "parameter profile must be one of demo, paper, got 'full'"),
    ("04_cross_dataset", "sadness_fraction", 2,
     "parameter sadness_fraction must be a number strictly between 0 and 1"),
    ("06_analysis", "gallery_size", 0, "parameter gallery_size must be an integer >= 1, got 0"),
])
def test_bad_value_stops_at_the_first_code_cell(tmp_path, monkeypatch, notebook, param, value,
                                                message):
    error, executed = _execute_bad(tmp_path, monkeypatch, notebook, {param: value})
    assert error.ename == "ValueError" and message in error.evalue
    code = [c for c in executed.cells if c.cell_type == "code"]
    tags = [c.metadata.get("tags", []) for c in code]
    assert "parameters" in tags[0] and "injected-parameters" in tags[1]
    failed = [i for i, c in enumerate(code)
              if any(o.get("output_type") == "error" for o in c.get("outputs", []))]
    assert failed == [2] and CHECK in code[2].source  # the notebook's first code cell
    assert error.source == code[2].source
    assert all(c.get("execution_count") is None for c in code[3:])  # nothing after it ran


def test_unknown_backbone_names_the_valid_choices(tmp_path, monkeypatch):
    error, _ = _execute_bad(tmp_path, monkeypatch, "03_train", {"backbone": "notanet"})
    assert "unknown backbone 'notanet'" in error.evalue
    assert "valid choices: xception, efficientnetv2b0, efficientnetv2b2, efficientnetv2s, " \
        in error.evalue
    assert "resnet50" in error.evalue  # any keras.applications classifier is a valid choice
