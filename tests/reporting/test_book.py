"""sadutils.reporting.book: what the book's results page shows, with and without records.

The records are FAKE (conftest's ``fake_record``: invented numbers written to a temporary
results root, with a made-up history and predictions file): they check what the page says and
draws, not any result.
"""
from __future__ import annotations

import pandas as pd
from matplotlib.figure import Figure

from sadutils.reporting import book
from sadutils.workspace import Workspace, repo_root


def test_shown_path():
    assert book.shown_path(repo_root() / "results" / "demo") == "results/demo"
    assert book.shown_path("/elsewhere/results") == "/elsewhere/results"


def test_without_records_the_page_shows_the_paper_only(tmp_path):
    root = tmp_path / "results"
    assert book.workspaces(root) == []
    opening = book.records_found_markdown(root)
    assert opening.startswith("**No results records yet**") and str(root) in opening
    assert "sadutils reproduce" in opening
    table = book.table_markdown("table1", root)
    assert table.startswith("Paper values only")
    assert "| Model | Accuracy % paper | Sadness F1 paper |" in table
    assert "| Xception | 72.53 | 0.70 | 0.75 | 0.73 |" in table
    assert "reproduced" not in table
    assert book.metric_figures(root) == []
    assert book.model_details(root) == []
    assert book.records_markdown(tmp_path / "book", root) == "No records yet."


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

    table = book.table_markdown("table1", root)
    paper_part, demo_part = table.split("**Profile `demo`.**")
    assert paper_part.startswith("**Profile `paper`.**") and "PAPER profile" in paper_part
    assert "DEMO profile" in demo_part
    assert "| Xception | 72.53 | 72.0 [67.0, 77.0] | -0.53 |" in paper_part
    assert "| Xception | 72.53 | 75.0 [70.0, 80.0] | +2.47 |" in demo_part
    assert "run_id" not in table  # bookkeeping columns left out ...
    assert "Records used: Xception: `fake-xception` (imagenet weights); EfficientNetV2S: " \
           "`fake-v2s` (scratch weights)." in demo_part  # ... and named below the table
    note = next(line for line in demo_part.splitlines() if line.startswith("**Note:**"))
    assert note.endswith(": EfficientNetV2S.")
    assert "**Note:**" not in paper_part
    table2 = book.table_markdown("table2", root)
    assert "`fake-cross`" in table2 and "Records used" not in table2.split("Profile `demo`")[0]


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


def test_records_list_links_executed_notebooks(tmp_path, fake_record):
    root = tmp_path / "results"
    _workspace_with_fake_records(root, fake_record)
    book_dir = tmp_path / "book"
    (book_dir / "executed").mkdir(parents=True)
    (book_dir / "executed" / "03_train-xception.ipynb").write_text("{}")
    text = book.records_markdown(book_dir, root)
    lines = text.strip().splitlines()
    assert lines[0].startswith("| run_id | profile | kind |")
    assert len(lines) == 2 + 4
    xception = next(line for line in lines if "`fake-xception`" in line)
    assert "[03_train-xception](executed/03_train-xception.ipynb)" in xception
    v2s = next(line for line in lines if "`fake-v2s`" in line)
    assert "`03_train-efficientnetv2s`" in v2s and "](executed/" not in v2s
