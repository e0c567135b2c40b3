"""The book's record publishing (``publish_records``, what the book's Sphinx extension runs
after an HTML build) killed at each of its crash points: after a kill no half record is in the
HTML output, and the next build publishes exactly what an uninterrupted one does."""
from __future__ import annotations

import json

import pytest

from sadutils.provenance import provenance
from sadutils.records import Record
from sadutils.reporting.book import RECORDS_FOLDER, publish_records
from sadutils.workspace import Workspace

#: FAKE records (invented numbers): 8 files to publish, 24 crash points.
N_RECORDS = 8


@pytest.fixture(scope="module")
def results_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("crash-records")
    ws = Workspace.create("demo", results_root=root)
    for i in range(N_RECORDS):
        Record(run_id=f"fake-{i}", kind="train", profile="demo", dataset="webemo", split="test",
               metrics={"accuracy": 0.5 + i / 100, "f1_sadness": 0.5, "f1_others": 0.5,
                        "f1_weighted": 0.5, "f1_macro": 0.5, "n": 10,
                        "confusion_matrix": [[3, 2], [2, 3]], "labels": ["sadness", "others"]},
               ci95={}, params={"epochs": 1}, weights={"source": "scratch", "pretrained": False,
                                                      "note": "FAKE record of the crash test"},
               provenance=provenance(seed=i), artifacts={}, table="table1", row="Xception",
               backbone="xception").write(ws)
    return root


def test_publishing_the_records_killed_at_its_crash_points(crash, tmp_path, results_root):
    def prepare(folder):  # a build that published other records before
        old = folder / "html" / RECORDS_FOLDER / "demo" / "fake-0.json"
        old.parent.mkdir(parents=True)
        old.write_text('{"an": "older copy"}\n')

    def run(folder):
        publish_records(folder / "html", results_root)

    def snapshot(folder):
        return crash.tree(folder / "html")

    def after_kill(folder, point, reference):
        for name, sha in crash.tree(folder / "html").items():  # each whole, old or new
            path = folder / "html" / name
            json.loads(path.read_text())
            assert sha == reference[name] or path.read_text() == '{"an": "older copy"}\n', \
                (point, name)

    result = crash.sweep(tmp_path, "publish", prepare=prepare, run=run, snapshot=snapshot,
                         after_kill=after_kill, wanted=3 * N_RECORDS)
    assert len(result["points"]) == len(result["killed"]) == 3 * N_RECORDS
    assert len(result["reference"]) == N_RECORDS
    crash.report("book: publishing the records", "every point, one kill per run",
                 len(result["points"]), len(result["killed"]))
