"""Tests for sadutils.reporting.

The records written here are FAKE: invented numbers in a temporary results root, used only to
check the schema validation and the table logic (matching, newest-wins, differences). They are
not results of any model.
"""
import json
import math

import matplotlib
import numpy as np
import pandas as pd
import pytest

matplotlib.use("Agg")

from sadutils import reporting as rp  # noqa: E402


def fake_record(run_id, *, table="table1", row="Xception", created_at="2026-01-01T00:00:00+00:00",
                accuracy=0.75, f1=(0.70, 0.80, 0.76), profile="demo", source="imagenet",
                ci=True, kind="train"):
    """A FAKE results record with invented metrics (numpy types on purpose)."""
    f1_sad, f1_oth, f1_w = f1
    rec = {
        "run_id": run_id, "kind": kind, "table": table, "row": row, "backbone": "xception",
        "profile": profile, "dataset": "webemo", "split": "test",
        "metrics": {"accuracy": np.float32(accuracy), "f1_sadness": np.float64(f1_sad),
                    "f1_others": f1_oth, "f1_weighted": f1_w, "f1_macro": (f1_sad + f1_oth) / 2,
                    "n": np.int64(200), "confusion_matrix": np.array([[60, 20], [30, 90]]),
                    "labels": ("sadness", "others")},
        "ci95": {"accuracy": np.array([accuracy - 0.05, accuracy + 0.05]),
                 "f1_sadness": [f1_sad - 0.06, f1_sad + 0.06]} if ci else {},
        "params": {"epochs": np.int32(2), "lr": 0.001, "missing": float("nan")},
        "weights": {"source": source, "pretrained": source != "scratch", "note": "fake"},
        "provenance": {**rp.provenance(seed=np.int64(7)), "created_at": created_at},
        "artifacts": {"model": None},
    }
    return rec


# --------------------------------------------------------------------------- paper tables

def test_paper_tables_match_the_paper():
    t1, t2, t3 = (rp.paper_table(t) for t in ("table1", 2, "3"))
    assert list(t1["row"]) == ["Xception", "EfficientNetV2B0", "EfficientNetV2B2",
                               "EfficientNetV2S", "Xception no-pretrain"]
    assert len(t2) == 4 and len(t3) == 4
    cell = lambda t, row, col: float(t.loc[t["row"] == row, col].iloc[0])  # noqa: E731
    assert cell(t1, "Xception", "accuracy_pct") == 72.53
    assert cell(t1, "EfficientNetV2S", "accuracy_pct") == 75.57
    assert cell(t1, "EfficientNetV2S", "f1_overall") == 0.76
    assert cell(t1, "Xception no-pretrain", "accuracy_pct") == 63.53
    assert cell(t1, "Xception no-pretrain", "f1_others") == 0.65
    assert cell(t1, "EfficientNetV2B2", "f1_sadness") == 0.71
    assert cell(t2, "EfficientNetV2B2", "accuracy_pct") == 75.00
    assert cell(t2, "EfficientNetV2S", "f1_sadness") == 0.75
    assert cell(t2, "Xception", "f1_overall") == 0.73
    assert cell(t3, "EfficientNetV2B0", "accuracy_pct") == 65.52
    assert cell(t3, "Xception", "f1_others") == 0.74
    assert cell(t3, "EfficientNetV2S", "f1_sadness") == 0.65


def test_paper_table_rejects_unknown_table():
    with pytest.raises(ValueError, match="table4"):
        rp.paper_table(4)


def test_row_name():
    assert rp.row_name("efficientnetv2s") == "EfficientNetV2S"
    assert rp.row_name("xception", pretrained=False) == "Xception no-pretrain"


# --------------------------------------------------------------------------- records

def test_provenance_fields():
    prov = rp.provenance(seed=3, manifest_hash="abc", wall_time_s=1.5)
    assert prov["seed"] == 3 and prov["manifest_hash"] == "abc" and prov["wall_time_s"] == 1.5
    assert prov["created_at"].endswith("+00:00")
    assert prov["versions"]["numpy"] == np.__version__
    assert prov["hardware"]["cpu_count"] >= 1
    json.dumps(prov)  # plain JSON already


def test_write_read_round_trip_with_numpy(tmp_path):
    rec = fake_record("fake-run-1")
    path = rp.write_record(rec, results_root=tmp_path)
    assert path == tmp_path / "demo" / "records" / "fake-run-1.json"
    assert not list(path.parent.glob("*.tmp"))
    back = rp.read_records("demo", results_root=tmp_path)
    assert len(back) == 1
    got = back[0]
    assert got["run_id"] == "fake-run-1"
    assert got["metrics"]["accuracy"] == pytest.approx(0.75)
    assert got["metrics"]["n"] == 200 and isinstance(got["metrics"]["n"], int)
    assert got["metrics"]["confusion_matrix"] == [[60, 20], [30, 90]]
    assert got["metrics"]["labels"] == ["sadness", "others"]
    assert got["ci95"]["accuracy"] == pytest.approx([0.70, 0.80])
    assert got["params"]["missing"] is None  # NaN is not JSON
    assert got["provenance"]["seed"] == 7
    assert rp.read_records("paper", results_root=tmp_path) == []
    assert rp.read_records("demo", results_root=tmp_path, kind="filter") == []
    assert len(rp.read_records("demo", results_root=tmp_path, table=1)) == 1


def test_write_refuses_duplicate_run_id(tmp_path):
    rp.write_record(fake_record("dup"), results_root=tmp_path)
    with pytest.raises(FileExistsError, match="dup"):
        rp.write_record(fake_record("dup"), results_root=tmp_path)
    rp.write_record(fake_record("dup", accuracy=0.5), results_root=tmp_path, overwrite=True)
    assert rp.read_records("demo", tmp_path)[0]["metrics"]["accuracy"] == 0.5


@pytest.mark.parametrize("key", ["metrics", "weights", "run_id"])
def test_validation_names_missing_key(tmp_path, key):
    rec = fake_record("bad")
    del rec[key]
    with pytest.raises(ValueError, match=f"missing required key.*{key}"):
        rp.write_record(rec, results_root=tmp_path)
    assert not (tmp_path / "demo" / "records").exists() or not any(
        (tmp_path / "demo" / "records").iterdir())


def test_validation_catches_bad_values(tmp_path):
    with pytest.raises(ValueError, match="f1_others"):
        rec = fake_record("x")
        del rec["metrics"]["f1_others"]
        rp.write_record(rec, results_root=tmp_path)
    with pytest.raises(ValueError, match="fraction"):
        rp.write_record(fake_record("x", accuracy=75.0), results_root=tmp_path)
    with pytest.raises(ValueError, match="profile"):
        rp.write_record(fake_record("x"), profile="paper", results_root=tmp_path)
    with pytest.raises(ValueError, match="run_id"):
        rp.write_record(fake_record("../escape"), results_root=tmp_path)
    with pytest.raises(ValueError, match="kind"):
        rp.write_record(fake_record("x", kind="nope"), results_root=tmp_path)
    with pytest.raises(ValueError, match="table2 has no row 'Xception no-pretrain'"):
        rp.write_record(fake_record("x", table="table2", row="Xception no-pretrain"),
                        results_root=tmp_path)
    with pytest.raises(ValueError, match="both be set"):
        rp.write_record(fake_record("x", table=None), results_root=tmp_path)


def test_read_records_skips_unreadable_files_with_warning(tmp_path):
    rp.write_record(fake_record("good"), results_root=tmp_path)
    bad = tmp_path / "demo" / "records" / "broken.json"
    bad.write_text("{not json")
    with pytest.warns(UserWarning, match="broken.json"):
        recs = rp.read_records("demo", results_root=tmp_path)
    assert [r["run_id"] for r in recs] == ["good"]


# --------------------------------------------------------------------------- comparison (FAKE records)

def test_comparison_table_without_records_says_not_run(tmp_path):
    df = rp.comparison_table("table2", "demo", results_root=tmp_path)
    assert list(df["Model"]) == list(rp.paper_table(2)["row"])
    assert (df["Accuracy % reproduced [95% CI]"] == rp.NOT_RUN).all()
    assert df["Accuracy Δ (points)"].isna().all()
    assert (df["run_id"] == "").all() and (df["profile"] == "demo").all()
    assert df.loc[0, "Accuracy % paper"] == 73.29


def test_comparison_table_picks_newest_and_computes_differences(tmp_path):
    # FAKE records: an older and a newer Xception run, and a from-scratch ablation run.
    rp.write_record(fake_record("fake-old", created_at="2026-01-01T00:00:00+00:00",
                                accuracy=0.60), results_root=tmp_path)
    rp.write_record(fake_record("fake-new", created_at="2026-03-01T12:00:00+00:00",
                                accuracy=0.7612, f1=(0.71, 0.78, 0.745)), results_root=tmp_path)
    rp.write_record(fake_record("fake-mid", created_at="2026-02-01T00:00:00+00:00",
                                accuracy=0.90), results_root=tmp_path)
    rp.write_record(fake_record("fake-scratch", row="Xception no-pretrain", kind="ablation",
                                source="scratch", accuracy=0.6353, f1=(0.62, 0.65, 0.64),
                                ci=False), results_root=tmp_path)
    # a record of another table and one of the other profile must not leak in
    rp.write_record(fake_record("fake-t2", table="table2", accuracy=0.1), results_root=tmp_path)
    rp.write_record(fake_record("fake-paper", profile="paper", accuracy=0.2,
                                created_at="2027-01-01T00:00:00+00:00"), results_root=tmp_path)

    df = rp.comparison_table("table1", "demo", results_root=tmp_path).set_index("Model")
    x = df.loc["Xception"]
    assert x["run_id"] == "fake-new" and x["weights"] == "imagenet" and x["profile"] == "demo"
    assert x["Accuracy % paper"] == 72.53
    assert x["Accuracy % reproduced [95% CI]"] == "76.1 [71.1, 81.1]"
    assert x["Accuracy Δ (points)"] == pytest.approx(76.12 - 72.53, abs=1e-4)
    assert x["Sadness F1 reproduced [95% CI]"] == "0.71 [0.65, 0.77]"
    assert x["Sadness F1 Δ"] == pytest.approx(0.71 - 0.70)
    assert x["Others F1 Δ"] == pytest.approx(0.78 - 0.75)
    assert x["Overall F1 reproduced [95% CI]"] == "0.74"  # no CI stored for it -> value only
    assert x["Overall F1 Δ"] == pytest.approx(0.745 - 0.73)

    s = df.loc["Xception no-pretrain"]
    assert s["run_id"] == "fake-scratch" and s["weights"] == "scratch"
    assert s["Accuracy % reproduced [95% CI]"] == "63.5"
    assert s["Accuracy Δ (points)"] == pytest.approx(0.0, abs=1e-4)

    b0 = df.loc["EfficientNetV2B0"]
    assert b0["Accuracy % reproduced [95% CI]"] == rp.NOT_RUN and math.isnan(b0["Sadness F1 Δ"])

    paper = rp.comparison_table("table1", "paper", results_root=tmp_path).set_index("Model")
    assert paper.loc["Xception", "run_id"] == "fake-paper"


def test_format_table_markdown_and_csv(tmp_path):
    rp.write_record(fake_record("fake-fmt", accuracy=0.7612, f1=(0.71, 0.78, 0.745)),
                    results_root=tmp_path)
    df = rp.comparison_table(1, "demo", results_root=tmp_path)
    md = rp.format_table(df)
    lines = md.strip().splitlines()
    assert lines[0].startswith("| Model | Accuracy % paper |")
    assert len(lines) == 2 + len(df)
    assert "| Xception | 72.53 | 76.1 [71.1, 81.1] | +3.59 |" in md
    assert "+0.015" in md  # overall F1 difference, not rounded twice
    csv = rp.format_table(df, "csv")
    back = pd.read_csv(__import__("io").StringIO(csv))
    assert list(back.columns) == list(df.columns) and len(back) == len(df)
    with pytest.raises(ValueError, match="fmt"):
        rp.format_table(df, "html")


def test_tables_text_labels_demo_profile(tmp_path):
    text = rp.tables_text("demo", results_root=tmp_path)
    for tid in rp.TABLES:
        assert rp.TABLE_TITLES[tid] in text
    assert text.count("DEMO profile") == 3
    assert "synthetic" in text and "not the paper's numbers" in text
    assert "run_id" not in text
    paper_text = rp.tables_text("paper", results_root=tmp_path)
    assert "DEMO" not in paper_text and "PAPER profile" in paper_text
    assert "# Table 1" in rp.tables_text("demo", fmt="csv", results_root=tmp_path)


def test_records_table_and_profiles(tmp_path):
    assert rp.available_profiles(tmp_path) == []
    rp.write_record(fake_record("fake-a"), results_root=tmp_path)
    rp.write_record(fake_record("fake-b", profile="paper"), results_root=tmp_path)
    assert rp.available_profiles(tmp_path) == ["paper", "demo"]
    tab = rp.records_table(None, results_root=tmp_path)
    assert set(tab["run_id"]) == {"fake-a", "fake-b"}
    assert set(tab["weights"]) == {"imagenet"}


def test_make_run_id_is_file_safe_and_unique():
    a, b = rp.make_run_id("train", "xception", "imagenet"), rp.make_run_id("train", "xception")
    assert a.startswith("train-xception-imagenet-") and a != b
    assert rp._RUN_ID_RE.match(a)


# --------------------------------------------------------------------------- figures

def test_figures(tmp_path):
    from matplotlib.figure import Figure
    rec = fake_record("fake-fig")
    rp.write_record(rec, results_root=tmp_path)
    fig = rp.plot_metric_bars(1, "demo", results_root=tmp_path)
    assert isinstance(fig, Figure) and len(fig.axes) == 4
    fig.savefig(tmp_path / "bars.png")
    assert isinstance(rp.plot_confusion(rec, normalize=True), Figure)
    hist = tmp_path / "history.csv"
    pd.DataFrame({"epoch": [0, 1], "accuracy": [0.5, 0.6], "loss": [0.7, 0.6],
                  "val_accuracy": [0.5, 0.55], "val_loss": [0.7, 0.65]}).to_csv(hist, index=False)
    fig = rp.plot_history(hist)
    assert len(fig.axes) == 2


def test_read_benchmarks(tmp_path):
    assert rp.read_benchmarks(tmp_path) == []
    (tmp_path / "benchmarks").mkdir()
    (tmp_path / "benchmarks" / "b.json").write_text(json.dumps([{"backbone": "x", "t": {"s": 1}}]))
    (path, df), = rp.read_benchmarks(tmp_path)
    assert path.name == "b.json" and list(df.columns) == ["backbone", "t.s"]
