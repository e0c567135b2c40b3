"""sadutils.reporting.tables: the paper's numbers beside the newest reproduced record of each row.

The records are FAKE (conftest's ``fake_record``: invented numbers in a temporary workspace),
used only to check the table logic (matching, newest-wins, differences, formatting).
"""
from __future__ import annotations

import io
import math
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from sadutils.paper import TABLE_TITLES, TABLES, paper_table
from sadutils.provenance import provenance
from sadutils.records import Record
from sadutils.reporting import table_html as th
from sadutils.reporting import tables as tb
from sadutils.workspace import Workspace


# --------------------------------------------------------------------------- comparison tables

def test_comparison_table_without_records_says_not_run(demo_ws):
    df = tb.comparison_table(demo_ws, "table2")
    assert list(df["Model"]) == list(paper_table(2)["row"])
    assert (df["Accuracy % reproduced [95% CI]"] == tb.NOT_RUN).all()
    assert df["Accuracy Δ (points)"].isna().all()
    assert (df["run_id"] == "").all() and (df["profile"] == "demo").all()
    assert df.loc[0, "Accuracy % paper"] == 73.29


def test_comparison_table_picks_newest_and_computes_differences(isolated, fake_record):
    ws = Workspace.create("demo")
    # FAKE records: an older and a newer Xception run, and a from-scratch ablation run.
    fake_record(ws, "fake-old", created_at="2026-01-01T00:00:00+00:00", accuracy=0.60)
    fake_record(ws, "fake-new", created_at="2026-03-01T12:00:00+00:00", accuracy=0.7612,
                f1=(0.71, 0.78, 0.745))
    fake_record(ws, "fake-mid", created_at="2026-02-01T00:00:00+00:00", accuracy=0.90)
    fake_record(ws, "fake-scratch", row="Xception no-pretrain", kind="ablation",
                source="scratch", accuracy=0.6353, f1=(0.62, 0.65, 0.64), ci=False)
    # a record of another table and one of the other profile must not leak in
    fake_record(ws, "fake-t2", table="table2", accuracy=0.1)
    paper_ws = Workspace.create("paper")
    fake_record(paper_ws, "fake-paper", accuracy=0.2, created_at="2027-01-01T00:00:00+00:00")

    df = tb.comparison_table(ws, "table1").set_index("Model")
    assert len(df) == 5  # the paper's rows only
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
    assert b0["Accuracy % reproduced [95% CI]"] == tb.NOT_RUN and math.isnan(b0["Sadness F1 Δ"])

    paper = tb.comparison_table(paper_ws, "table1").set_index("Model")
    assert paper.loc["Xception", "run_id"] == "fake-paper"
    assert (paper["profile"] == "paper").all()


def test_rows_not_in_the_paper_follow_the_papers_rows(demo_ws, fake_record):
    fake_record(demo_ws, "fake-resnet", row="ResNet50", backbone="resnet50", accuracy=0.7)
    fake_record(demo_ws, "fake-convnext", row="ConvNeXtTiny", backbone="convnexttiny",
                accuracy=0.8)
    df = tb.comparison_table(demo_ws, "table1")
    assert list(df["Model"]) == list(paper_table(1)["row"]) + [
        f"ConvNeXtTiny ({tb.NOT_IN_PAPER})", f"ResNet50 ({tb.NOT_IN_PAPER})"]
    resnet = df.set_index("Model").loc[f"ResNet50 ({tb.NOT_IN_PAPER})"]
    assert resnet["Accuracy % reproduced [95% CI]"] == "70.0 [65.0, 75.0]"
    assert math.isnan(resnet["Accuracy % paper"]) and math.isnan(resnet["Accuracy Δ (points)"])
    assert [row for row, _, _ in tb.table_rows(demo_ws, "table1")][-2:] == \
        ["ConvNeXtTiny", "ResNet50"]
    md = tb.format_table(df)
    assert f"| ResNet50 ({tb.NOT_IN_PAPER}) |  | 70.0 [65.0, 75.0] |  |" in md


def test_format_table_markdown_and_csv(demo_ws, fake_record):
    fake_record(demo_ws, "fake-fmt", accuracy=0.7612, f1=(0.71, 0.78, 0.745))
    df = tb.comparison_table(demo_ws, 1)
    md = tb.format_table(df)
    lines = md.strip().splitlines()
    assert lines[0].startswith("| Model | Accuracy % paper |")
    assert lines[1].startswith("|:---|---:|:---|---:|")
    assert len(lines) == 2 + len(df)
    assert "| Xception | 72.53 | 76.1 [71.1, 81.1] | +3.59 |" in md
    assert "+0.015" in md  # overall F1 difference, not rounded twice
    csv = tb.format_table(df, "csv")
    back = pd.read_csv(io.StringIO(csv))
    assert list(back.columns) == list(df.columns) and len(back) == len(df)
    with pytest.raises(ValueError, match="valid choices: markdown, csv"):
        tb.format_table(df, "html")
    piped = tb.format_table(pd.DataFrame({"a": ["x|y"], "b": [None]}))
    assert "| x\\|y |  |" in piped


def test_tables_text_labels_the_profile(isolated):
    demo, paper = Workspace.create("demo"), Workspace.create("paper")
    text = tb.tables_text(demo)
    for tid in TABLES:
        assert TABLE_TITLES[tid] in text
    assert text.count("DEMO profile") == 3
    assert "synthetic" in text and "not the paper's numbers" in text
    assert "run_id" not in text
    assert "run_id" in tb.tables_text(demo, drop=())
    paper_text = tb.tables_text(paper)
    assert "DEMO" not in paper_text and "PAPER profile" in paper_text
    assert "# Table 1" in tb.tables_text(demo, fmt="csv")
    with pytest.raises(ValueError, match="valid choices: demo, paper"):
        tb.profile_note("full")


def test_records_table(demo_ws, fake_record):
    assert tb.records_table(demo_ws).empty
    fake_record(demo_ws, "fake-a", artifacts={"notebook": "03_train-xception"})
    fake_record(demo_ws, "fake-b", table="table2", source="scratch",
                created_at="2026-02-01T00:00:00+00:00")
    tab = tb.records_table(demo_ws)
    assert list(tab["run_id"]) == ["fake-a", "fake-b"]  # oldest first
    assert list(tab["weights"]) == ["imagenet", "scratch"]
    assert list(tab["notebook"]) == ["03_train-xception", ""]
    assert list(tb.records_table(demo_ws, table="table2")["run_id"]) == ["fake-b"]


def test_metrics_frame_and_text_classifier_summary(demo_ws, fake_record):
    a = fake_record(demo_ws, "fake-a", accuracy=0.7612, write=False)
    b = fake_record(demo_ws, "fake-b", source="scratch", accuracy=0.5, write=False)
    frame = tb.metrics_frame({"imagenet": a, "scratch": SimpleNamespace(record=b)})
    assert list(frame["run"]) == ["imagenet", "scratch"]
    assert list(frame["accuracy %"]) == [76.12, 50.0]
    assert list(frame["weights"]) == ["imagenet", "scratch"]
    assert list(frame["best epoch"]) == [1, 1] and list(frame["run_id"]) == ["fake-a", "fake-b"]

    text = Record(
        run_id="fake-text", kind="text_classifier", profile="demo", dataset="cocotext+rgp",
        split="test", metrics={"accuracy": 0.95, "f1_text": 0.94, "f1_no_text": 0.96,
                               "f1_weighted": 0.95, "f1_macro": 0.95},
        ci95={"accuracy": [0.9, 0.98]}, weights={"source": "scratch", "pretrained": False},
        provenance=provenance(seed=1))
    summary = tb.text_classifier_summary(text).set_index("metric")
    assert summary.loc["accuracy %", "paper"] == 99.31
    assert summary.loc["accuracy %", "reproduced"] == 95.0
    assert summary.loc["accuracy %", "95% CI"] == "[90.00, 98.00]"
    assert summary.loc["f1_text", "reproduced"] == 0.94 and summary.loc["f1_text", "95% CI"] == ""
    assert set(summary["profile"]) == {"demo"} and set(summary["weights"]) == {"scratch"}


# --------------------------------------------------------------------------- the paper's shape

def test_comparison_rows_hold_one_cell_per_metric(demo_ws, fake_record):
    fake_record(demo_ws, "fake-x", accuracy=0.7612, f1=(0.71, 0.78, 0.745))
    rows = tb.comparison_rows(demo_ws, 1)
    assert [r.model for r in rows] == list(paper_table(1)["row"])
    x = rows[0]
    assert x.in_paper and x.record.run_id == "fake-x" and x.label == "Xception"
    acc, sad, _, overall = x.cells
    assert (acc.metric, acc.paper, acc.digits) == ("accuracy", 72.53, 1)
    assert acc.value == pytest.approx(76.12) and acc.interval == pytest.approx((71.12, 81.12))
    assert acc.difference == pytest.approx(76.12 - 72.53)
    assert acc.reproduced_text() == "76.1 [71.1, 81.1]" and acc.difference_text() == "+3.59"
    assert sad.difference_text() == "+0.010" and overall.interval is None
    not_run = rows[1].cells[0]
    assert not_run.value is None and not_run.difference is None
    assert not_run.reproduced_text() == tb.NOT_RUN and not_run.difference_text() == ""


def test_cell_lines_stack_paper_ours_interval_difference(demo_ws, fake_record):
    fake_record(demo_ws, "fake-x", accuracy=0.7612, f1=(0.71, 0.78, 0.745))
    fake_record(demo_ws, "fake-r", row="ResNet50", backbone="resnet50", accuracy=0.7)
    rows = {r.model: r for r in tb.comparison_rows(demo_ws, 1)}
    lines = th.cell_lines(rows["Xception"].cells[0])
    assert [(l.kind, l.label, l.text, l.link) for l in lines] == [
        ("paper", "paper", "72.53", False), ("ours", "ours", "76.1", True),
        ("interval", "95% CI", "[71.1, 81.1]", False), ("difference", "Δ", "+3.59", False),
        ("consistent", "paper in CI", "yes", False)]  # 72.53 lies in [71.1, 81.1]
    overall = th.cell_lines(rows["Xception"].cells[3])  # no interval stored: no such line
    assert [l.kind for l in overall] == ["paper", "ours", "difference"]
    assert [(l.kind, l.text) for l in th.cell_lines(rows["EfficientNetV2B0"].cells[0])] == \
        [("paper", "74.14"), ("missing", tb.NOT_RUN)]
    resnet = rows["ResNet50"]
    assert not resnet.in_paper and resnet.label == f"ResNet50 ({tb.NOT_IN_PAPER})"
    assert [l.kind for l in th.cell_lines(resnet.cells[0])] == ["ours", "interval"]


def test_a_cell_can_take_more_lines(demo_ws, fake_record):
    """What a cell shows is a list of functions; a new line is one more function."""
    fake_record(demo_ws, "fake-x")

    def seeds_line(cell):
        return None if cell.value is None else th.CellLine("seeds", "3 seeds", "± 1.0")

    makers = [*th.CELL_LINES, seeds_line]
    html = th.comparison_html(demo_ws, 1, makers=makers)
    assert html.count("sadutils-seeds") == 4  # Xception's four metrics; the others not run
    assert th.comparison_html(demo_ws, 1).count("sadutils-seeds") == 0


def test_comparison_html_has_the_papers_five_columns(demo_ws, fake_record):
    fake_record(demo_ws, "fake-x", source="scratch")
    fake_record(demo_ws, "fake-r", row="ResNet50", backbone="resnet50", accuracy=0.7)
    html = th.comparison_html(demo_ws, "table1",
                              record_href=lambda rec: f"records/{rec.run_id}.json")
    assert isinstance(html, str) and html._repr_html_() == html  # notebooks show it as HTML
    assert html.startswith('<table class="sadutils-comparison" data-table="table1" '
                           'data-profile="demo">')
    heads = [h.split("</th>")[0] for h in html.split('<th scope="col">')[1:]]
    assert heads == ["Model", "Accuracy (%)", "Sadness F1", "Others F1", "Overall F1"]
    assert html.count("<tr>") == 1 + 6  # header, the paper's five rows, ResNet50
    assert "DEMO profile" in html
    assert ('<th scope="row">Xception<span class="sadutils-line sadutils-note">scratch '
            "weights</span></th>") in html
    assert ('ResNet50<span class="sadutils-line sadutils-note">not in the paper</span>'
            in html)
    assert html.count('href="records/fake-x.json"') == 4
    assert html.count('href="records/fake-r.json"') == 4
    plain = th.comparison_html(demo_ws, "table1")
    assert "<a " not in plain and plain.count("sadutils-ours") == 8
    only = th.paper_only_html(3)
    assert 'data-table="table3" data-profile=""' in only
    assert only.count("sadutils-paper") == 16 and "sadutils-ours" not in only
    assert '<span class="sadutils-label">paper</span> 69.10' in only


def test_several_seeds_show_their_mean_and_spread(demo_ws, fake_record):
    """FAKE records of one model trained with two seeds (same recipe): the cell shows their
    mean and the spread over the seeds."""
    for run_id, seed, accuracy in (("fake-s1", 1, 0.70), ("fake-s2", 2, 0.80)):
        rec = fake_record(demo_ws, run_id, accuracy=accuracy, write=False)
        data = rec.to_dict()
        data["params"] = {**data["params"], "seed": seed}
        Record.from_dict(data).write(demo_ws)
    row = next(r for r in tb.comparison_rows(demo_ws, 1) if r.model == "Xception")
    assert len(row.records) == 2
    acc = row.cells[0]
    assert acc.value == pytest.approx(75.0) and acc.n_seeds == 2
    assert acc.sd == pytest.approx(np.std([70, 80], ddof=1))
    lines = {l.kind: l for l in th.cell_lines(acc)}
    assert lines["seeds"].label == "± sd, 2 seeds" and lines["seeds"].text == "7.1"
    wide = tb.comparison_table(demo_ws, 1).set_index("Model")
    assert wide.loc["Xception", "Accuracy % reproduced [95% CI]"].startswith("75.0 ± 7.1")
    assert wide.loc["Xception", "seeds"] == 2
