"""Results records of the wrong shape, end to end through ``sadutils tables`` and the book.

Every record here is FAKE (invented numbers). One valid record sits among files a careless
hand or a hostile one could leave in ``records/``: each bad file is skipped with a warning naming
it, the valid one is shown, and nothing shows an impossible number (an accuracy of 5 as 500 %).
"""
from __future__ import annotations

import json
import warnings

import matplotlib
import pytest

from sadutils.cli import main
from sadutils.records import Record, RecordError, read_records
from sadutils.reporting import book, tables
from sadutils.workspace import Workspace

matplotlib.use("Agg")

#: file name -> how a valid record's JSON is spoiled
SPOILED = {
    "accuracy-5": lambda d: d["metrics"].update(accuracy=5.0),
    "accuracy-list": lambda d: d["metrics"].update(accuracy=[0.7]),
    "accuracy-string": lambda d: d["metrics"].update(accuracy="0.7"),
    "accuracy-bool": lambda d: d["metrics"].update(accuracy=True),
    "ci95-5": lambda d: d.update(ci95=5),
    "ci95-list-in-list": lambda d: d["ci95"].update(accuracy=[[0.1], 0.2]),
    "f1-list": lambda d: d["metrics"].update(f1_sadness=[0.7, 0.8]),
    "n-list": lambda d: d["metrics"].update(n=[200]),
    "labels-not-strings": lambda d: d["metrics"].update(labels=[[1], {"a": 2}]),
    "commit-number": lambda d: d["provenance"].update(git_commit=12345),
    "dirty-string": lambda d: d["provenance"].update(git_dirty="yes"),
    "note-list": lambda d: d["weights"].update(note=["a", "b"]),
    "artifact-climbs-out": lambda d: d["artifacts"].update(history="../../../etc/passwd"),
    "weights-list": lambda d: d.update(weights=["imagenet"]),
    "row-number": lambda d: d.update(row=3),
    "table-list": lambda d: d.update(table=["table1"]),
    "created-at-number": lambda d: d["provenance"].update(created_at=20260101),
    "params-list": lambda d: d.update(params=[1, 2]),
}


@pytest.fixture
def hostile_results(isolated, fake_record):
    ws = Workspace.create("demo")
    good = fake_record(ws, "good-run", accuracy=0.75)
    for name, spoil in SPOILED.items():
        data = good.to_dict()
        data["run_id"] = name
        spoil(data)
        (ws.records / f"{name}.json").write_text(json.dumps(data))
    (ws.records / "nested.json").write_text("[" * 100_000 + "]" * 100_000)
    (ws.records / "nan.json").write_text(json.dumps(good.to_dict()).replace("0.75", "NaN", 1))
    (ws.records / "binary.json").write_bytes(b"\xff\xfe\x00garbage")
    return ws, good


def test_every_spoiled_record_is_refused_naming_its_file(hostile_results):
    ws, good = hostile_results
    for path in sorted(ws.records.glob("*.json")):
        if path.stem == "good-run":
            continue
        with pytest.raises(RecordError) as info:
            Record.read(path)
        assert str(path) in str(info.value), path.name
    with pytest.warns(UserWarning) as caught:
        assert read_records(ws) == [good]
    assert len(caught) == len(SPOILED) + 3


def test_tables_command_shows_only_the_valid_record(hostile_results, capsys):
    hostile_results  # noqa: B018 - the records are in place
    with warnings.catch_warnings():
        warnings.simplefilter("default")  # as in a terminal: each warning once
        assert main(["tables", "--profile", "demo"]) == 0
    captured = capsys.readouterr()
    assert "75.0" in captured.out and "500" not in captured.out
    lines = captured.err.splitlines()
    assert len(lines) == len(SPOILED) + 3  # one line per skipped file, naming it
    assert all(line.startswith("sadutils: warning: skipping results record: ") for line in lines)


def test_book_helpers_show_only_the_valid_record(hostile_results, tmp_path):
    ws, _ = hostile_results
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        text = book.records_html(tmp_path, ws.results_root)
        assert "good-run" in text and not any(name in text for name in SPOILED)
        assert "75.0" in book.table_html("table1", ws.results_root)
        assert book.metric_figures(ws.results_root)
        assert book.model_details(ws.results_root)
        assert "500" not in tables.tables_text(ws)
