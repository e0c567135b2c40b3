"""sadutils.reporting.book: what the book's results page shows, with and without records.

The records are FAKE (conftest's ``fake_record``: invented numbers written to a temporary
results root, with a made-up history and predictions file): they check what the page says and
draws, not any result.
"""
from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pandas as pd
import pytest
from matplotlib.figure import Figure

from sadutils.reporting import book
from sadutils.workspace import Workspace, repo_root

_SCRIPT = Path(__file__).resolve().parents[2] / ".ci" / "check_book.py"
_spec = importlib.util.spec_from_file_location("check_book_for_book_tests", _SCRIPT)
check_book = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = check_book
_spec.loader.exec_module(check_book)


def test_shown_path():
    assert book.shown_path(repo_root() / "results" / "demo") == "results/demo"
    assert book.shown_path("/elsewhere/results") == "/elsewhere/results"


def test_without_records_the_page_shows_the_paper_only(tmp_path):
    root = tmp_path / "results"
    assert book.workspaces(root) == []
    opening = book.records_found_markdown(root)
    assert opening.startswith("**No results records yet**") and str(root) in opening
    assert "sadutils reproduce" in opening
    table = book.table_html("table1", root)
    assert table.startswith("<p>Paper values only")
    assert 'data-table="table1" data-profile=""' in table
    assert "<th scope=\"col\">Accuracy (%)</th>" in table
    assert "sadutils-ours" not in table and "sadutils-missing" not in table
    assert table.count("sadutils-paper") == 5 * 4
    assert '<span class="sadutils-label">paper</span> 72.53' in table
    assert book.metric_figures(root) == []
    assert book.model_details(root) == []
    assert book.records_html(tmp_path / "book", root) == "<p>No records yet.</p>"


def _workspace_with_fake_records(root, fake_record):
    """FAKE records: demo Xception (with history and predictions files) and EfficientNetV2S
    (trained from scratch although the paper's was pretrained), a demo Table 2 record, and a
    paper-profile Xception."""
    demo = Workspace.create("demo", results_root=root)
    run = demo.run_dir("xception")
    run.mkdir(parents=True)
    pd.DataFrame({"epoch": [0, 1], "accuracy": [0.5, 0.6], "loss": [0.7, 0.6],
                  "val_accuracy": [0.5, 0.55], "val_loss": [0.7, 0.65]}).to_csv(
        demo.history_file("xception"), index=False)
    pd.DataFrame({"path": ["a.jpg", "b.jpg"], "label": ["sadness", "others"],
                  "pred": ["sadness", "sadness"], "p_sadness": [0.8, 0.6],
                  "p_others": [0.2, 0.4]}).to_csv(demo.predictions_file("xception"), index=False)
    fake_record(demo, "fake-xception", artifacts={
        "history": demo.relative(demo.history_file("xception")),
        "predictions": demo.relative(demo.predictions_file("xception")),
        "notebook": "03_train-xception"})
    fake_record(demo, "fake-v2s", row="EfficientNetV2S", backbone="efficientnetv2s",
                source="scratch", artifacts={"notebook": "03_train-efficientnetv2s"},
                created_at="2026-01-02T00:00:00+00:00")
    fake_record(demo, "fake-cross", table="table2", kind="cross_dataset")
    paper = Workspace.create("paper", results_root=root)
    fake_record(paper, "fake-paper", accuracy=0.72)
    return demo, paper


def test_with_records_every_profile_is_shown(tmp_path, fake_record):
    root = tmp_path / "results"
    _workspace_with_fake_records(root, fake_record)
    assert [ws.name for ws in book.workspaces(root)] == ["paper", "demo"]
    assert book.records_found_markdown(root).endswith("profile(s): `paper`, `demo`.")

    table = book.table_html("table1", root, book_dir=tmp_path / "book")
    paper_part, demo_part = table.split("<strong>Profile <code>demo</code>.</strong>")
    assert paper_part.startswith("<p><strong>Profile <code>paper</code>.</strong>")
    assert "PAPER profile" in paper_part and "DEMO profile" in demo_part
    assert 'data-profile="paper"' in paper_part and 'data-profile="demo"' in demo_part
    # every reproduced number links to its record's JSON file, published beside the page
    assert ('<a class="sadutils-record-link" href="records/paper/fake-paper.json" '
            'title="record fake-paper">72.0</a>') in paper_part
    assert 'href="records/demo/fake-xception.json" title="record fake-xception">75.0</a>' \
        in demo_part
    assert '<span class="sadutils-label">Δ</span> -0.53' in paper_part
    assert '<span class="sadutils-label">Δ</span> +2.47' in demo_part
    assert '<span class="sadutils-label">95% CI</span> [70.0, 80.0]' in demo_part
    # the records behind the table, in a collapsible block
    used = demo_part[demo_part.index("<details"):]
    assert "The 2 records behind this table" in used
    assert '<a href="records/demo/fake-xception.json"><code>fake-xception</code></a>' in used
    assert "(scratch weights" in used
    note = demo_part[demo_part.index("<strong>Note:</strong>"):].split("</p>")[0]
    assert note.endswith(": EfficientNetV2S.")
    assert "Note:" not in paper_part
    table2 = book.table_html("table2", root)
    assert "fake-cross.json" in table2 and "fake-cross" not in table2.split("Profile <code>demo")[0]


def test_figures_of_the_results_page(tmp_path, fake_record):
    root = tmp_path / "results"
    _workspace_with_fake_records(root, fake_record)
    bars = book.metric_figures(root)
    # paper: Table 1; demo: Tables 1 and 2 (no Table 3 records)
    assert len(bars) == 3 and all(isinstance(f, Figure) for f in bars)
    titles = [f._suptitle.get_text() for f in bars]
    assert titles[0].startswith("Table 1") and "paper profile" in titles[0]
    assert titles[2].startswith("Table 2") and "demo profile" in titles[2]

    details = book.model_details(root)
    headings = [text.splitlines()[0] for text, _ in details]
    assert headings == ["### Xception (paper profile)", "### Xception (demo profile)",
                        "### EfficientNetV2S (demo profile)"]
    by_heading = {text.splitlines()[0]: figures for text, figures in details}
    # history, confusion matrix and test images when the run left those files; else the matrix
    assert len(by_heading["### Xception (demo profile)"]) == 3
    assert len(by_heading["### EfficientNetV2S (demo profile)"]) == 1
    assert "Record `fake-xception`, weights: imagenet (fake)" in details[1][0]


def test_records_list_links_records_and_executed_notebooks(tmp_path, fake_record):
    root = tmp_path / "results"
    _workspace_with_fake_records(root, fake_record)
    book_dir = tmp_path / "book"
    (book_dir / "executed").mkdir(parents=True)
    (book_dir / "executed" / "03_train-xception.ipynb").write_text("{}")
    text = book.records_html(book_dir, root)
    rows = text.split("<tr>")[2:]
    assert text.startswith('<table class="sadutils-records-table">') and len(rows) == 4
    xception = next(row for row in rows if "fake-xception" in row)
    assert '<a href="records/demo/fake-xception.json"><code>fake-xception</code></a>' in xception
    assert '<a href="executed/03_train-xception.html">03_train-xception</a>' in xception
    assert 'title="fake">imagenet</span>' in xception  # the weights note on hover
    v2s = next(row for row in rows if "fake-v2s" in row)
    assert "03_train-efficientnetv2s" in v2s and "executed/" not in v2s  # not in the book


def test_records_are_published_where_the_links_point(tmp_path, fake_record):
    root = tmp_path / "results"
    demo, _ = _workspace_with_fake_records(root, fake_record)
    (demo.records / "broken.json").write_text("{not json")  # skipped, as the page skips it
    out = tmp_path / "html"
    with pytest.warns(UserWarning, match="broken.json"):
        written = book.publish_records(out, root)
    assert sorted(p.relative_to(out).as_posix() for p in written) == [
        "records/demo/fake-cross.json", "records/demo/fake-v2s.json",
        "records/demo/fake-xception.json", "records/paper/fake-paper.json"]
    assert (out / book.record_href(fake_record(demo, "fake-xception", write=False))).is_file()
    assert json.loads((out / "records/demo/fake-v2s.json").read_text())["run_id"] == "fake-v2s"


def test_the_ci_check_accepts_what_the_page_shows(tmp_path, fake_record):
    """.ci/check_book.py reads the markup table_html writes: every row of Table 1 run."""
    root = tmp_path / "results"
    demo, _ = _workspace_with_fake_records(root, fake_record)
    for row, backbone in (("EfficientNetV2B0", "efficientnetv2b0"),
                          ("EfficientNetV2B2", "efficientnetv2b2"),
                          ("Xception no-pretrain", "xception")):
        fake_record(demo, f"fake-{backbone}-{len(row)}", row=row, backbone=backbone)
    page = "".join(book.table_html(t, root) for t in ("table1", "table2", "table3"))
    tables = check_book.comparison_tables(page)
    demo_table1 = next(t for t in tables if t.table == "table1" and t.profile == "demo")
    assert check_book.check_table(demo_table1) is None
    assert [r.model for r in demo_table1.rows] == ["Xception", "EfficientNetV2B0",
                                                   "EfficientNetV2B2", "EfficientNetV2S",
                                                   "Xception no-pretrain"]
    problems = check_book.check_html(page, profile="demo")
    assert problems[0].startswith("Table 2: no reproduced numbers")  # 1 of 4 rows run
    assert check_book.check_html(page, profile="demo", partial=True) == [
        "Table 3: no reproduced numbers (profile demo: 'not run yet' (or no number) for "
        "Xception, EfficientNetV2B0, EfficientNetV2B2, EfficientNetV2S)"]
