"""`sadutils reproduce` (the notebook runner) on tiny throwaway notebooks, and `sadutils tables`.

The runner is given its own graph of four small notebooks, a -> b, a -> c, b + c -> d, each of
which appends a line to a log file (REPRO_LOG) when it runs, so the tests see exactly which
notebooks ran and in which order. The records used for `tables` are FAKE (invented numbers).
"""
from __future__ import annotations

import functools
import json
import shutil

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from sadutils import pipeline
from sadutils import reporting as rp
from sadutils.cli import main
from sadutils.pipeline import NotebookRun

RUNS = [
    NotebookRun("a", "a"),
    NotebookRun("b", "b", {}, ("a",)),
    NotebookRun("c", "c", {"y": 3}, ("a",)),
    NotebookRun("d", "d", {}, ("b", "c")),
]


def _notebook(name: str, extra_params: str = "") -> nbformat.NotebookNode:
    params = new_code_cell(f'profile = "demo"\ny = 1\nfail = False\n{extra_params}')
    params.metadata["tags"] = ["parameters"]
    nb = new_notebook(cells=[
        new_markdown_cell(f"# Notebook {name}"),
        params,
        new_code_cell("import os\n"
                      "with open(os.environ['REPRO_LOG'], 'a') as fh:\n"
                      f"    fh.write(f'{name} {{profile}} {{y}}\\n')"),
        new_code_cell(f"assert not fail, 'boom in {name}'"),
    ])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    return nb


def _options(ws):
    return dict(runs=RUNS, notebooks_dir=ws / "notebooks", executed_dir=ws / "executed",
                state_file=ws / "reproduce.json", data_key=lambda run: "fixed", code_key="fixed",
                ensure_data=False, echo=lambda *a: None)


def _log(ws) -> list[str]:
    path = ws / "log.txt"
    return path.read_text().split("\n")[:-1] if path.is_file() else []


@pytest.fixture(scope="module")
def baseline(tmp_path_factory):
    """A workspace where every notebook has run once."""
    ws = tmp_path_factory.mktemp("repro")
    (ws / "notebooks").mkdir()
    for name in "abcd":
        nbformat.write(_notebook(name, "notebook_name = None\n" if name == "d" else ""),
                       str(ws / "notebooks" / f"{name}.ipynb"))
    mp = pytest.MonkeyPatch()
    mp.setenv("REPRO_LOG", str(ws / "log.txt"))
    try:
        result = pipeline.reproduce("demo", **_options(ws))
    finally:
        mp.undo()
    return ws, result


@pytest.fixture
def ws(baseline, tmp_path, monkeypatch):
    """A private copy of the baseline workspace, its log emptied."""
    copy = tmp_path / "ws"
    shutil.copytree(baseline[0], copy)
    (copy / "log.txt").unlink()
    monkeypatch.setenv("REPRO_LOG", str(copy / "log.txt"))
    return copy


def test_runs_in_order_and_writes_executed_notebooks(baseline):
    ws, result = baseline
    assert result.ok
    assert [(o.name, o.status) for o in result.outcomes] == [(n, "ran") for n in "abcd"]
    assert _log(ws) == ["a demo 1", "b demo 1", "c demo 3", "d demo 1"]
    for name in "abcd":
        executed = nbformat.read(str(ws / "executed" / f"{name}.ipynb"), as_version=4)
        assert any("injected-parameters" in c.metadata.get("tags", []) for c in executed.cells)
    state = json.loads((ws / "reproduce.json").read_text())
    assert {k: v["status"] for k, v in state["runs"].items()} == dict.fromkeys("abcd", "ok")
    # A notebook declaring a `notebook_name` parameter is told where its executed copy goes.
    d = nbformat.read(str(ws / "executed" / "d.ipynb"), as_version=4)
    injected = next(c for c in d.cells if "injected-parameters" in c.metadata.get("tags", []))
    assert f'notebook_name = "{ws / "executed" / "d.ipynb"}"' in injected.source


def test_second_call_skips_everything(ws):
    lines = []
    result = pipeline.reproduce("demo", **{**_options(ws), "echo": lines.append})
    assert [o.status for o in result.outcomes] == ["skipped"] * 4
    assert _log(ws) == []
    assert sum(line.endswith(": skip (up to date)") for line in lines) == 4
    summary = lines[-1]
    assert "Summary" in summary and "4 skipped" in summary


def test_changing_a_parameter_reruns_it_and_its_dependents_only(ws):
    result = pipeline.reproduce("demo", overrides=["b:y=2"], **_options(ws))
    assert {o.name: o.status for o in result.outcomes} == \
        {"a": "skipped", "b": "ran", "c": "skipped", "d": "ran"}
    assert result.by_name()["b"].reason == "parameters changed"
    assert result.by_name()["d"].reason == "upstream results changed"
    assert _log(ws) == ["b demo 2", "d demo 1"]
    # Back to the default: b runs again (its inputs changed back), and d after it.
    again = pipeline.reproduce("demo", **_options(ws))
    assert [o.name for o in again.outcomes if o.status == "ran"] == ["b", "d"]


def test_only_and_force(ws):
    result = pipeline.reproduce("demo", only=["c"], force=True, **_options(ws))
    assert [(o.name, o.status) for o in result.outcomes] == [("c", "ran")]
    assert _log(ws) == ["c demo 3"]
    # c ran again, so d (which reads c's results) is out of date; b and a are not.
    result = pipeline.reproduce("demo", **_options(ws))
    assert [o.name for o in result.outcomes if o.status == "ran"] == ["d"]
    assert result.by_name()["d"].reason == "upstream results changed"


def test_failure_names_notebook_and_cell_and_blocks_dependents(ws, monkeypatch, capsys):
    monkeypatch.setattr(pipeline, "reproduce",
                        functools.partial(pipeline.reproduce, **{**_options(ws), "echo": print}))
    code = main(["reproduce", "-p", "b:fail=True", "-p", "c:y=5"])
    out = capsys.readouterr().out
    assert code == 1
    assert _log(ws) == ["b demo 1", "c demo 5"]  # b failed after logging; c independent: ran
    assert "[2/4] b: FAILED" in out
    assert "cell 4 (`assert not fail, 'boom in b'`)" in out and "AssertionError" in out
    assert "d: blocked (depends on b" in out
    state = json.loads((ws / "reproduce.json").read_text())
    assert state["runs"]["b"]["status"] == "failed"
    executed = nbformat.read(str(ws / "executed" / "b.ipynb"), as_version=4)
    outputs = [o for c in executed.cells for o in c.get("outputs", [])]
    assert any(o.get("output_type") == "error" for o in outputs)
    # Fixed: b runs again (last run failed), then d.
    result = pipeline.reproduce("demo", **_options(ws))
    assert [(o.name, o.status) for o in result.outcomes] == \
        [("a", "skipped"), ("b", "ran"), ("c", "ran"), ("d", "ran")]
    assert result.by_name()["b"].reason == "last run failed"


def test_data_and_code_are_part_of_the_key(ws):
    new_data = {**_options(ws), "data_key": lambda run: "v2" if run.name == "c" else "fixed"}
    result = pipeline.reproduce("demo", **new_data)
    assert [o.name for o in result.outcomes if o.status == "ran"] == ["c", "d"]
    assert result.by_name()["c"].reason == "data changed"
    result = pipeline.reproduce("demo", only=["a"], **{**new_data, "code_key": "v2"})
    assert (result.outcomes[0].status, result.outcomes[0].reason) == \
        ("ran", "sadutils code changed")


def test_data_fingerprint(tmp_path):
    root = tmp_path / "data"
    (root / "webemo" / "images").mkdir(parents=True)
    (root / "webemo" / "train25.txt").write_text("http://x/1.jpg 3\n")
    (root / "webemo" / "images" / "1.jpg").write_bytes(b"12345")
    first = pipeline.data_fingerprint("paper", ("webemo", "rgp"), root)
    assert first["rgp"] == "missing" and set(first["webemo"]["files"]) == {"train25.txt"}
    assert pipeline.data_fingerprint("paper", ("webemo", "rgp"), root) == first
    (root / "webemo" / "images" / "2.jpg").write_bytes(b"1")
    second = pipeline.data_fingerprint("paper", ("webemo",), root)["webemo"]
    assert second["listing"] != first["webemo"]["listing"]
    (root / "webemo" / "train25.txt").write_text("http://x/1.jpg 4\n")
    third = pipeline.data_fingerprint("paper", ("webemo",), root)["webemo"]
    assert third["files"] != second["files"]
    # Demo: the generated data's marker stands for all of it.
    assert pipeline.data_fingerprint("demo", data_root=root) == {"demo_marker": "missing"}
    (root / "DEMO_DATA.json").write_text('{"seed": 1}')
    assert pipeline.data_fingerprint("demo", data_root=root)["demo_marker"] != "missing"
    assert len(pipeline.package_fingerprint()) == 64


def test_bad_requests_fail_before_running_anything(ws):
    with pytest.raises(ValueError, match="no parameter.*nope.*parameters: fail, profile, y"):
        pipeline.reproduce("demo", overrides=["b:nope=1"], **_options(ws))
    with pytest.raises(ValueError, match="unknown notebook 'zz'.*valid names: a, b, c, d"):
        pipeline.reproduce("demo", only=["zz"], **_options(ws))
    with pytest.raises(ValueError, match="NOTEBOOK:NAME=VALUE"):
        pipeline.reproduce("demo", overrides=["b=1"], **_options(ws))
    with pytest.raises(ValueError, match="valid choices: demo, paper"):
        pipeline.reproduce("nope", **_options(ws))
    with pytest.raises(ValueError, match="must come before"):
        pipeline.reproduce("demo", **{**_options(ws), "runs": RUNS[::-1]})
    assert _log(ws) == []


def test_parse_value_and_default_graph():
    assert [pipeline.parse_value(v) for v in ("0.33", "true", "None", "'x'", "abc", "[1, 2]",
                                              "-2", "1/4", "{'emotion6': 1/2}", "os.sep", "1/0")] \
        == [0.33, True, None, "x", "abc", [1, 2], -2, 0.25, {"emotion6": 0.5}, "os.sep", "1/0"]
    runs = {r.name: r for r in pipeline.default_runs()}
    assert list(runs)[:2] == ["01_text_classifier", "02_filtering"]
    assert runs["03_train-xception"].parameters == {"backbone": "xception"}
    assert set(runs["04_cross_dataset"].depends) == {
        "01_text_classifier", "05_no_pretrain", "03_train-xception", "03_train-efficientnetv2b0",
        "03_train-efficientnetv2b2", "03_train-efficientnetv2s"}
    assert runs["05_no_pretrain"].depends == ("02_filtering",)


# ------------------------------------------------------------------------------------- tables

def _fake_record(row, table, acc):
    """A FAKE record with invented metrics."""
    return {"run_id": rp.make_run_id("fake", table, row), "kind": "cross_dataset"
            if table != "table1" else "train", "table": table, "row": row,
            "backbone": "xception", "profile": "demo", "dataset": "x", "split": "test",
            "metrics": {"accuracy": acc, "f1_sadness": 0.5, "f1_others": 0.6, "f1_weighted": 0.55},
            "ci95": {"accuracy": [acc - 0.1, acc + 0.1]}, "weights": {"source": "scratch"},
            "provenance": rp.provenance(seed=0)}


def test_tables_command_prints_paper_vs_reproduced(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SADUTILS_RESULTS", str(tmp_path))
    assert main(["tables"]) == 0
    captured = capsys.readouterr()
    assert captured.out.count(rp.NOT_RUN) == 4 * 13 and "sadutils reproduce" in captured.err
    rp.write_record(_fake_record("Xception", "table1", 0.612))
    rp.write_record(_fake_record("EfficientNetV2S", "table3", 0.5))
    assert main(["tables", "--profile", "demo"]) == 0
    out = capsys.readouterr().out
    for title in rp.TABLE_TITLES.values():
        assert title in out
    assert "| Xception | 72.53 | 61.2 [51.2, 71.2] | -11.33 |" in out
    assert "| EfficientNetV2S | 68.95 | 50.0 [40.0, 60.0] |" in out
    assert main(["tables", "--format", "csv"]) == 0
    csv = capsys.readouterr().out
    assert 'Xception,72.53,"61.2 [51.2, 71.2]",-11.33' in csv and "# Table 2" in csv
    assert main(["tables", "--profile", "nope"]) == 2
    assert "invalid choice" in capsys.readouterr().err


def test_reproduce_command_rejects_unknown_names(capsys):
    assert main(["reproduce", "--only", "99_nothing"]) == 2
    err = capsys.readouterr().err
    assert "unknown notebook '99_nothing'" in err and "04_cross_dataset" in err
    assert main(["reproduce", "--profile", "nope"]) == 2
