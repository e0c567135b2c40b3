"""Fixtures of the reporting tests: FAKE results records.

Every record made here is FAKE: invented numbers written to a test's temporary workspace to
check the tables, figures and book helpers (matching, newest-wins, differences, layout). None is
a result of any model.
"""
from __future__ import annotations

import pytest

from sadutils.provenance import provenance
from sadutils.records import Record


def _fake_record(ws, run_id, *, table="table1", row="Xception", backbone="xception",
                 kind="train", created_at="2026-01-01T00:00:00+00:00", accuracy=0.75,
                 f1=(0.70, 0.80, 0.76), source="imagenet", ci=True, artifacts=None,
                 write=True) -> Record:
    f1_sad, f1_oth, f1_w = f1
    rec = Record(
        run_id=run_id, kind=kind, profile=ws.name, dataset="webemo", split="test",
        metrics={"accuracy": accuracy, "f1_sadness": f1_sad, "f1_others": f1_oth,
                 "f1_weighted": f1_w, "f1_macro": (f1_sad + f1_oth) / 2, "n": 200,
                 "confusion_matrix": [[60, 20], [30, 90]], "labels": ["sadness", "others"]},
        ci95={"accuracy": [accuracy - 0.05, accuracy + 0.05],
              "f1_sadness": [f1_sad - 0.06, f1_sad + 0.06]} if ci else {},
        params={"epochs": 2, "learning_rate": 0.001, "best_epoch": 1},
        weights={"source": source, "pretrained": source != "scratch", "note": "fake"},
        provenance={**provenance(seed=7), "created_at": created_at},
        artifacts=dict(artifacts or {}), table=table, row=row, backbone=backbone)
    if write:
        rec.write(ws)
    return rec


@pytest.fixture(scope="session")
def fake_record():
    """``fake_record(ws, run_id, *, table, row, backbone, kind, created_at, accuracy, f1=(sadness,
    others, weighted), source, ci, artifacts, write=True)``: a FAKE record (invented metrics),
    written to ``ws`` unless ``write`` is false."""
    return _fake_record
