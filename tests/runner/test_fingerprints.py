"""sadutils.runner.fingerprints: what identifies a notebook run's inputs."""
from __future__ import annotations

import os
import time

import jupytext
import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from sadutils.runner import fingerprints as fp
from sadutils.workspace import Workspace


def test_data_fingerprint(tmp_path):
    paper = Workspace.create("paper", data_root=tmp_path / "data", results_root=tmp_path)
    root = paper.data
    (root / "webemo" / "images").mkdir(parents=True)
    (root / "webemo" / "train25.txt").write_text("http://x/1.jpg 3\n")
    (root / "webemo" / "images" / "1.jpg").write_bytes(b"12345")
    assert fp.data_fingerprint(paper, ()) == {}
    first = fp.data_fingerprint(paper, ("webemo", "rgp"))
    assert first["rgp"] == "missing" and set(first["webemo"]["files"]) == {"train25.txt"}
    assert fp.data_fingerprint(paper, ("webemo", "rgp")) == first
    (root / "webemo" / "images" / "2.jpg").write_bytes(b"1")
    second = fp.data_fingerprint(paper, ("webemo",))["webemo"]
    assert second["listing"] != first["webemo"]["listing"]
    assert second["files"] == first["webemo"]["files"]
    (root / "webemo" / "train25.txt").write_text("http://x/1.jpg 4\n")
    third = fp.data_fingerprint(paper, ("webemo",))["webemo"]
    assert third["files"] != second["files"]
    # Demo: the generated data's marker stands for all of it.
    demo = Workspace.create("demo", data_root=root, results_root=tmp_path)
    assert fp.data_fingerprint(demo, ("webemo",)) == {"demo_marker": "missing"}
    (root / "DEMO_DATA.json").write_text('{"seed": 1}')
    marked = fp.data_fingerprint(demo, ("webemo", "rgp"))["demo_marker"]
    assert marked != "missing"
    (root / "DEMO_DATA.json").write_text('{"seed": 2}')
    assert fp.data_fingerprint(demo, ("webemo",))["demo_marker"] != marked


def test_listing_fingerprint_survives_symlink_loops(tmp_path):
    """Two links back up make a walk that follows links exponential; each real folder is
    listed once, so the listing ends at once and does not change with the loops."""
    root = tmp_path / "rgp"
    (root / "a" / "b").mkdir(parents=True)
    (root / "a" / "b" / "1.jpg").write_bytes(b"123")
    plain = fp.listing_fingerprint(root)
    os.symlink(root, root / "a" / "b" / "up1")
    os.symlink(root, root / "a" / "b" / "up2")
    t0 = time.monotonic()
    looped = fp.listing_fingerprint(root)
    assert time.monotonic() - t0 < 5
    assert looped == plain == fp.listing_fingerprint(root)
    (root / "a" / "2.jpg").write_bytes(b"4")
    assert fp.listing_fingerprint(root) != looped


def test_package_fingerprint_and_sha():
    assert len(fp.package_fingerprint()) == 64
    assert fp.package_fingerprint() == fp.package_fingerprint()
    assert fp.sha({"b": 1, "a": 2}) == fp.sha({"a": 2, "b": 1}) != fp.sha({"a": 2})
    assert fp.sha(b"x") != fp.sha("x")


def _notebook(params: str, body: str = "x = 1") -> nbformat.NotebookNode:
    cell = new_code_cell(params)
    cell.metadata["tags"] = ["parameters"]
    return new_notebook(cells=[new_markdown_cell("# T"), cell, new_code_cell(body)])


def test_notebook_fingerprint_ignores_outputs(tmp_path):
    path = tmp_path / "n.ipynb"
    nb = _notebook("a = 1")
    nbformat.write(nb, str(path))
    before = fp.notebook_fingerprint(path)
    nb.cells[2].outputs = [new_output("stream", text="hello")]
    nb.cells[2].execution_count = 3
    nbformat.write(nb, str(path))
    assert fp.notebook_fingerprint(path) == before
    nb.cells[2].source = "x = 2"
    nbformat.write(nb, str(path))
    assert fp.notebook_fingerprint(path) != before


def test_notebook_parameters(tmp_path):
    path = tmp_path / "n.ipynb"
    nbformat.write(_notebook('profile = "demo"  # comment\nx, y = 1, 2\nz: int = 3\n'
                             "# w = 4\nif False:\n    v = 5\n"), str(path))
    assert fp.notebook_parameters(path) == {"profile", "x", "y", "z"}
    nbformat.write(new_notebook(cells=[new_code_cell("a = 1")]), str(path))
    assert fp.notebook_parameters(path) == set()
    nbformat.write(_notebook("a = (1"), str(path))
    with pytest.raises(ValueError, match="the parameters cell is not plain Python"):
        fp.notebook_parameters(path)


def test_paired_script_differs(tmp_path):
    path = tmp_path / "n.ipynb"
    nb = _notebook("a = 1")
    nbformat.write(nb, str(path))
    assert not fp.paired_script_differs(path)  # no script
    jupytext.write(nb, str(tmp_path / "n.py"), fmt="py:percent")
    assert not fp.paired_script_differs(path)
    nb.cells[2].source = "x = 99"
    jupytext.write(nb, str(tmp_path / "n.py"), fmt="py:percent")
    assert fp.paired_script_differs(path)
