"""Results records: validation on the way in and out, writing, reading, and finding the newest.

The records written here are FAKE: invented numbers in a temporary workspace, used only to check
the schema validation and the look-ups (matching, newest-wins). They are not results of any model.
"""
from __future__ import annotations

import dataclasses
import json
import re
from datetime import date, datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sadutils import records
from sadutils.records import (Record, RecordError, latest, latest_by_row, make_run_id,
                              profiles_with_records, read_records, to_jsonable)
from sadutils.workspace import Workspace


def fake_record(ws, run_id, *, row="Xception", created_at="2026-01-01T00:00:00+00:00",
                accuracy=0.75, f1=(0.70, 0.80, 0.76), source="imagenet", ci=True,
                kind="train", backbone="xception", params=None, artifacts=None) -> Record:
    """A FAKE training record with invented metrics (numpy types on purpose)."""
    f1_sad, f1_oth, f1_w = f1
    rec = Record.training(
        ws, kind=kind, backbone=backbone, row=row, dataset="webemo",
        metrics={"accuracy": np.float32(accuracy), "f1_sadness": np.float64(f1_sad),
                 "f1_others": f1_oth, "f1_weighted": f1_w, "f1_macro": (f1_sad + f1_oth) / 2,
                 "n": np.int64(200), "confusion_matrix": np.array([[60, 20], [30, 90]]),
                 "labels": ("sadness", "others")},
        ci95={"accuracy": np.array([accuracy - 0.05, accuracy + 0.05]),
              "f1_sadness": [f1_sad - 0.06, f1_sad + 0.06]} if ci else {},
        params=params if params is not None else {"epochs": np.int32(2), "lr": 0.001,
                                                  "missing": float("nan")},
        weights={"source": source, "pretrained": source != "scratch", "note": "fake"},
        seed=np.int64(7), manifest_hash="fakehash", wall_s=1.5,
        artifacts=artifacts or {}, run_parts=("fake",))
    return dataclasses.replace(rec, run_id=run_id,
                               provenance={**rec.provenance, "created_at": created_at})


# ---------------------------------------------------------------------------- writing, reading

def test_write_read_round_trip_with_numpy(demo_ws):
    rec = fake_record(demo_ws, "fake-run-1")
    path = rec.write(demo_ws)
    assert path == demo_ws.results / "records" / "fake-run-1.json"
    assert sorted(p.name for p in path.parent.iterdir()) == ["fake-run-1.json"]  # no temp file
    json.loads(path.read_text())  # plain JSON
    back = read_records(demo_ws)
    assert back == [rec]
    got = back[0]
    assert got.run_id == "fake-run-1" and got.profile == "demo" and got.table == "table1"
    assert got.metric("accuracy") == pytest.approx(0.75)
    assert got.metrics["n"] == 200 and isinstance(got.metrics["n"], int)
    assert got.metrics["confusion_matrix"] == [[60, 20], [30, 90]]
    assert got.metrics["labels"] == ["sadness", "others"]
    assert got.interval("accuracy") == pytest.approx((0.70, 0.80))
    assert got.interval("f1_weighted") is None and got.metric("ece") is None
    assert got.params["missing"] is None  # NaN is not JSON
    assert got.params["epochs"] == 2
    assert got.provenance["seed"] == 7 and got.provenance["manifest_hash"] == "fakehash"
    assert got.created_at == datetime(2026, 1, 1, tzinfo=timezone.utc)
    assert got.pretrained
    assert Record.read(path) == rec
    assert read_records(Workspace.create("paper")) == []
    assert read_records(demo_ws, kind="filter") == []
    assert read_records(demo_ws, table=1) == [rec]
    assert read_records(demo_ws, table="table2") == []


def test_write_refuses_duplicate_run_id(demo_ws):
    fake_record(demo_ws, "dup").write(demo_ws)
    with pytest.raises(FileExistsError, match="dup"):
        fake_record(demo_ws, "dup", accuracy=0.5).write(demo_ws)
    assert read_records(demo_ws)[0].metric("accuracy") == pytest.approx(0.75)  # the first stays


def test_write_refuses_another_profiles_record(isolated):
    demo, paper = Workspace.create("demo"), Workspace.create("paper")
    rec = fake_record(demo, "demo-run")
    with pytest.raises(RecordError, match="profile 'demo', not 'paper'"):
        rec.write(paper)
    assert not paper.records.exists()
    # a demo record put in the paper folder by hand is skipped when reading, with a warning
    rec.write(demo)
    paper.records.mkdir(parents=True)
    (paper.records / "demo-run.json").write_text(demo.record_file("demo-run").read_text())
    with pytest.warns(UserWarning, match="demo-run.json.*profile 'demo'"):
        assert read_records(paper) == []


@pytest.mark.parametrize("key", ["metrics", "weights", "run_id", "provenance"])
def test_validation_names_missing_key(demo_ws, key):
    data = fake_record(demo_ws, "bad").to_dict()
    del data[key]
    with pytest.raises(RecordError, match=f"missing {key}"):
        Record.from_dict(data)


def test_validation_catches_bad_values(demo_ws):
    data = fake_record(demo_ws, "x").to_dict()

    def refused(match, **changes):
        with pytest.raises(RecordError, match=match):
            Record.from_dict({**data, **changes})

    refused("metrics is missing f1_others",
            metrics={k: v for k, v in data["metrics"].items() if k != "f1_others"})
    refused(r"metrics.accuracy must be a number within 0..1 \(a fraction, not percent\)",
            metrics={**data["metrics"], "accuracy": 75.0})
    refused("run_id", run_id="../escape")
    refused("kind must be one of", kind="nope")
    refused("profile must be one of", profile="fast")
    refused("table and row must both be set", table=None)
    refused("table must be one of", table="table4")
    refused("weights.source must be one of", weights={"source": "internet"})
    refused("metrics.n must be a positive integer", metrics={**data["metrics"], "n": 0})
    refused("confusion_matrix must be a square table",
            metrics={**data["metrics"], "confusion_matrix": [[1, 2]]})
    # a valid record stays valid when its unset optional fields are null
    assert Record.from_dict({**data, "params": None, "ci95": None}).params == {}


# ---------------------------------------------------------------------------- impossible files

BAD_RECORDS = {
    "accuracy-5": (lambda d: d["metrics"].update(accuracy=5.0),
                   r"metrics.accuracy must be a number within 0..1"),
    "ci95-number": (lambda d: d.update(ci95=5), "ci95 must be an object"),
    "ci95-nested": (lambda d: d["ci95"].update(accuracy=[0.7, [0.8]]),
                    r"ci95.accuracy must be \[low, high\]"),
    "ci95-reversed": (lambda d: d["ci95"].update(accuracy=[0.8, 0.7]),
                      r"ci95.accuracy must be \[low, high\] with 0 <= low <= high <= 1"),
    "ci95-percent": (lambda d: d["ci95"].update(accuracy=[70, 80]), r"ci95.accuracy"),
    "unknown-kind": (lambda d: d.update(kind="training"), "kind must be one of"),
    "metrics-list": (lambda d: d.update(metrics=[0.75]), "metrics must be an object"),
    "no-created-at": (lambda d: d["provenance"].pop("created_at"),
                      "provenance.created_at must be an ISO 8601 time"),
    "not-a-dict": (lambda d: d.clear(), "missing run_id"),
}


def _write_bad(ws, name, change) -> Path:
    data = fake_record(ws, name).to_dict()
    change(data)
    ws.records.mkdir(parents=True, exist_ok=True)
    path = ws.records / f"{name}.json"
    path.write_text(json.dumps(data))
    return path


@pytest.mark.parametrize("name", list(BAD_RECORDS))
def test_impossible_record_file_is_refused_naming_it(demo_ws, name):
    change, problem = BAD_RECORDS[name]
    path = _write_bad(demo_ws, name, change)
    with pytest.raises(RecordError, match=problem) as info:
        Record.read(path)
    assert str(path) in str(info.value)
    assert isinstance(info.value, ValueError)


def test_read_records_skips_invalid_files_with_a_warning_each(demo_ws):
    good = fake_record(demo_ws, "good")
    good.write(demo_ws)
    bad = [_write_bad(demo_ws, name, change) for name, (change, _) in BAD_RECORDS.items()]
    (demo_ws.records / "broken.json").write_text("{not json")
    (demo_ws.records / "list.json").write_text("[1, 2]")
    with pytest.warns(UserWarning) as caught:
        found = read_records(demo_ws)
    assert found == [good]
    messages = [str(w.message) for w in caught]
    for path in bad + [demo_ws.records / "broken.json", demo_ws.records / "list.json"]:
        assert sum(str(path) in m for m in messages) == 1, path
    assert any("not a readable JSON file" in m for m in messages)
    assert any("must be a JSON object" in m for m in messages)


def test_to_jsonable():
    data = {"f32": np.float32(0.5), "i64": np.int64(3), "arr": np.array([[1, 2]]),
            "nan": float("nan"), "inf": np.float64("inf"), "tuple": (1, "a"), 7: "key",
            "set": {"b", "a"}, "path": Path("/x/y.keras"), "bool": np.bool_(True),
            "series": pd.Series([1.5, np.nan]), "day": date(2026, 1, 2), "nat": pd.NaT,
            "when": datetime(2026, 1, 2, 3, 4, tzinfo=timezone.utc)}
    got = to_jsonable(data)
    assert got == {"f32": 0.5, "i64": 3, "arr": [[1, 2]], "nan": None, "inf": None,
                   "tuple": [1, "a"], "7": "key", "set": ["a", "b"], "path": "/x/y.keras",
                   "bool": True, "series": [1.5, None], "day": "2026-01-02", "nat": None,
                   "when": "2026-01-02T03:04:00+00:00"}
    assert type(got["i64"]) is int and type(got["bool"]) is bool
    json.dumps(got, allow_nan=False)
    with pytest.raises(TypeError, match="cannot store a object"):
        to_jsonable({"x": object()})


def test_make_run_id_is_file_safe_and_unique(demo_ws):
    a, b = make_run_id("train", "xception", "imagenet"), make_run_id("train", "xception")
    assert re.fullmatch(r"train-xception-imagenet-\d{8}T\d{4}-[0-9a-f]{8}", a)
    assert a != b and a != make_run_id("train", "xception", "imagenet")
    odd = make_run_id("cross dataset", None, "Xception no-pretrain/../x")
    assert "/" not in odd and " " not in odd and ".." not in odd.replace("._", "")
    for run_id in (a, odd):  # a record accepts them, and its file lies in the records folder
        rec = fake_record(demo_ws, run_id)
        assert rec.write(demo_ws).parent == demo_ws.records


# ---------------------------------------------------------------------------- artifacts

def test_artifacts_are_stored_relative_to_the_results_folder(demo_ws, tmp_path):
    model = demo_ws.model_file("xception")
    outside = tmp_path / "elsewhere" / "weights.h5"
    rec = fake_record(demo_ws, "arts", artifacts={
        "model": model, "history": demo_ws.history_file("xception"),
        "outside": outside, "given": "runs/x/notes.txt", "none": None})
    assert rec.artifacts == {"model": "models/xception.keras",
                             "history": "runs/xception/history.csv",
                             "outside": str(outside), "given": "runs/x/notes.txt"}
    assert rec.artifact("model", demo_ws) == model
    assert rec.artifact("history", demo_ws) == demo_ws.history_file("xception")
    assert rec.artifact("outside", demo_ws) == outside
    assert rec.artifact("given", demo_ws) == demo_ws.results / "runs/x/notes.txt"
    assert rec.artifact("none", demo_ws) is None and rec.artifact("absent", demo_ws) is None
    # the results folder moved elsewhere: its artifacts move with it
    rec.write(demo_ws)
    moved = Workspace.create("demo", results_root=tmp_path / "moved")
    (moved.records).mkdir(parents=True)
    (moved.record_file("arts")).write_text(demo_ws.record_file("arts").read_text())
    assert read_records(moved)[0].artifact("model", moved) == moved.model_file("xception")
    with pytest.raises(RecordError, match="artifacts must be paths"):
        dataclasses.replace(rec, artifacts={"model": 3})


# ---------------------------------------------------------------------------- the newest

def test_latest_by_row_keeps_the_newest_of_each_row(isolated):
    ws = Workspace.create("demo")
    for run_id, row, when, acc in [
            ("old", "Xception", "2026-01-01T00:00:00+00:00", 0.60),
            ("new", "Xception", "2026-03-01T12:00:00+00:00", 0.76),
            ("mid", "Xception", "2026-02-01T00:00:00Z", 0.90),
            ("b0", "EfficientNetV2B0", "2026-01-05T00:00:00+00:00", 0.70),
            ("scratch", "Xception no-pretrain", "2026-04-01T00:00:00+00:00", 0.63)]:
        fake_record(ws, run_id, row=row, created_at=when, accuracy=acc,
                    kind="ablation" if "no-pretrain" in row else "train",
                    source="scratch" if "no-pretrain" in row else "imagenet").write(ws)
    # another profile's newer record does not leak in
    paper = Workspace.create("paper")
    fake_record(paper, "paper-run", created_at="2027-01-01T00:00:00+00:00").write(paper)

    best = latest_by_row(ws, "table1")
    assert {row: rec.run_id for row, rec in best.items()} == {
        "Xception": "new", "EfficientNetV2B0": "b0", "Xception no-pretrain": "scratch"}
    assert not best["Xception no-pretrain"].pretrained
    assert latest_by_row(ws, 2) == {}
    assert latest_by_row(paper, 1)["Xception"].run_id == "paper-run"
    assert [r.run_id for r in read_records(ws)] == ["old", "b0", "mid", "new", "scratch"]


def test_latest_matches_fields_and_params(demo_ws):
    for run_id, when, backbone, size in [("a", "2026-01-01T00:00:00+00:00", "xception", 72),
                                         ("b", "2026-01-02T00:00:00+00:00", "xception", 150),
                                         ("c", "2026-01-03T00:00:00+00:00", "resnet50", 72),
                                         ("d", "2025-12-31T00:00:00+00:00", "xception", 72)]:
        fake_record(demo_ws, run_id, created_at=when, backbone=backbone,
                    row="ResNet50" if backbone == "resnet50" else "Xception",
                    params={"image_size": size, "epochs": 3}).write(demo_ws)
    assert latest(demo_ws, "train").run_id == "c"
    assert latest(demo_ws, "train", backbone="xception").run_id == "b"
    assert latest(demo_ws, "train", backbone="xception", image_size=72).run_id == "a"
    assert latest(demo_ws, "train", image_size=72, epochs=3).run_id == "c"
    assert latest(demo_ws, "train", row="Xception", image_size=150).run_id == "b"
    assert latest(demo_ws, "train", image_size=99) is None
    assert latest(demo_ws, "ablation") is None
    assert latest(demo_ws, "train", dataset="emotion6") is None


def test_profiles_with_records(isolated):
    root = isolated / "results"
    assert profiles_with_records(root) == [] and profiles_with_records() == []
    fake_record(Workspace.create("demo"), "a").write(Workspace.create("demo"))
    assert profiles_with_records() == ["demo"]
    fake_record(Workspace.create("paper"), "b").write(Workspace.create("paper"))
    assert profiles_with_records(root) == ["paper", "demo"]
    assert profiles_with_records(isolated / "other") == []


# ---------------------------------------------------------------------------- constructors

def test_constructors_fill_table_row_and_provenance(demo_ws):
    trained = fake_record(demo_ws, "trained", row="Xception no-pretrain", kind="ablation",
                          source="scratch")
    cross = Record.cross_dataset(
        demo_ws, trained=trained, dataset="emotion6", table="3",
        metrics={"accuracy": 0.5, "f1_sadness": 0.4, "f1_others": 0.6, "f1_weighted": 0.5},
        ci95={}, params={"seed": 1}, seed=1, manifest_hash="h", wall_s=2.0,
        artifacts={"predictions": demo_ws.cross_dataset_dir("cd-1") / "predictions.csv"},
        run_id="cd-1")
    assert (cross.kind, cross.table, cross.row, cross.split) == \
        ("cross_dataset", "table3", "Xception no-pretrain", "all")
    assert cross.weights == trained.weights and cross.backbone == "xception"
    assert cross.artifacts == {"predictions": "cross_dataset/cd-1/predictions.csv"}
    assert cross.provenance["wall_time_s"] == 2.0 and cross.provenance["seed"] == 1

    text = Record.training(
        demo_ws, kind="text_classifier", backbone="efficientnetv2b0", row="ignored",
        dataset="cocotext", metrics={"accuracy": 0.9}, ci95={}, params={}, seed=1,
        weights={"source": "scratch", "pretrained": False, "note": ""}, manifest_hash="h",
        wall_s=1.0, artifacts={}, run_parts=("text_classifier", "efficientnetv2b0"))
    assert text.table is None and text.row is None  # no table for the text classifier
    assert text.run_id.startswith("text_classifier-efficientnetv2b0-")

    filt = Record.filtering(
        demo_ws, metrics={"n_before": 10, "n_after": 8, "rate_removed": 0.2}, params={},
        weights={"source": "file", "note": ""}, backbone=None, seed=0, manifest_hash="h",
        wall_s=0.1, artifacts={}, run_parts=("filter",))
    assert (filt.kind, filt.dataset, filt.split, filt.table) == ("filter", "webemo", "sample",
                                                                 None)
    with pytest.raises(RecordError, match="rate_removed must be a number within 0..1"):
        dataclasses.replace(filt, metrics={"rate_removed": 1.5})
    assert records.KINDS == ("text_classifier", "filter", "train", "ablation", "text_ablation",
                             "cross_dataset")
    # a run of the text ablation keeps its row (backbone and filter) and belongs to no table
    ablated = Record.training(
        demo_ws, kind="text_ablation", backbone="xception", row="Xception, unfiltered",
        dataset="webemo", metrics={"accuracy": 0.7}, ci95={}, params={"train_filter": "none"},
        seed=1, weights={"source": "scratch", "pretrained": False, "note": ""},
        manifest_hash="h", wall_s=1.0, artifacts={}, run_parts=("train", "xception"))
    assert (ablated.table, ablated.row) == (None, "Xception, unfiltered")
    with pytest.raises(RecordError, match="table and row must both be set"):
        dataclasses.replace(ablated, kind="train")
