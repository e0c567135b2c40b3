"""Fixtures of the analysis tests: FAKE prediction tables and FAKE records pointing at them.

Every table and record here is invented (labels, predictions and probabilities chosen by hand)
to check the analysis against numbers worked out by hand; none is a result of any model.
"""
from __future__ import annotations

import pandas as pd
import pytest

from sadutils.config import OTHERS, SADNESS
from sadutils.provenance import provenance
from sadutils.records import Record


def _predictions(groups) -> pd.DataFrame:
    """A FAKE predictions table from ``(fine_label, label, n, n_called_sadness)`` groups."""
    rows = []
    for fine, label, n, called in groups:
        for i in range(n):
            pred = SADNESS if i < called else OTHERS
            p_sad = 0.9 - 0.01 * i if pred == SADNESS else 0.1 + 0.01 * i
            rows.append({"path": f"/img/{fine}/{label}/{i:03d}.jpg", "label": label,
                         "fine_label": fine, "pred": pred, "p_sadness": p_sad,
                         "p_others": 1 - p_sad})
    return pd.DataFrame(rows)


@pytest.fixture(scope="session")
def fake_predictions():
    """``fake_predictions([(fine_label, label, n, n_called_sadness), ...])``: a FAKE
    predictions table; within a group the first ``n_called_sadness`` images are called sadness
    (P(sadness) 0.90, 0.89, ...), the rest others (P(sadness) 0.10, 0.11, ...)."""
    return _predictions


def _record(ws, run_id, *, kind, table, row, backbone, artifacts, params=None,
            created_at="2026-01-01T00:00:00+00:00") -> Record:
    rec = Record(
        run_id=run_id, kind=kind, profile=ws.name,
        dataset="webemo" if table == "table1" else "unbiasedemo",
        split="test" if table == "table1" else "all",
        metrics={"accuracy": 0.5, "f1_sadness": 0.5, "f1_others": 0.5, "f1_weighted": 0.5},
        weights={"source": "scratch", "pretrained": False, "note": "fake"},
        provenance={**provenance(seed=1), "created_at": created_at},
        params=dict(params or {}), artifacts=artifacts, table=table, row=row, backbone=backbone)
    rec.write(ws)
    return rec


@pytest.fixture
def fake_results(demo_ws, fake_predictions):
    """A demo workspace holding FAKE Table 1 records of Xception and of the from-scratch
    Xception, and a FAKE Table 2 (UnbiasedEmo) record of Xception, each with a predictions
    file; returns ``(ws, {run_id: predictions})``."""
    ws = demo_ws
    tables = {}
    for run, row, kind in (("xception", "Xception", "train"),
                           ("xception-no-pretrain", "Xception no-pretrain", "ablation")):
        frame = fake_predictions([("neglect", SADNESS, 4, 3), ("horror", OTHERS, 2, 1)])
        ws.predictions_file(run).parent.mkdir(parents=True, exist_ok=True)
        frame.to_csv(ws.predictions_file(run), index=False)
        _record(ws, f"fake-{run}", kind=kind, table="table1", row=row, backbone="xception",
                artifacts={"predictions": ws.relative(ws.predictions_file(run)),
                           "model": ws.relative(ws.model_file(run))},
                params={"pretrained": kind == "train", "image_size": 32})
        tables[f"fake-{run}"] = frame
    cross = fake_predictions([("sadness", SADNESS, 3, 2), ("fear", OTHERS, 5, 4)])
    cross["object"] = ["dog", "dog", "car", "dog", "dog", "car", "car", ""]
    folder = ws.cross_dataset_dir("fake-cross")
    folder.mkdir(parents=True)
    cross.to_csv(folder / "predictions.csv", index=False)
    _record(ws, "fake-cross", kind="cross_dataset", table="table2", row="Xception",
            backbone="xception",
            artifacts={"predictions": ws.relative(folder / "predictions.csv")},
            params={"pretrained": True})
    tables["fake-cross"] = cross
    return ws, tables
