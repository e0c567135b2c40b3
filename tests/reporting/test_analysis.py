"""sadutils.reporting.analysis: the Analysis chapter's tables, sentences and figures, saved by
notebook 06 and read back by the book page. Inputs are FAKE prediction tables."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from sadutils import analysis
from sadutils.analysis.gradcam import GradCam
from sadutils.reporting import analysis as report
from sadutils.reporting import chapters
from sadutils.reporting import analysis_figures as figures
from sadutils.workspace import Workspace


def _frame(groups, objects=None):
    rows = []
    for fine, label, n, called in groups:
        for i in range(n):
            pred = "sadness" if i < called else "others"
            rows.append({"path": f"/x/{fine}{i}.jpg", "label": label, "fine_label": fine,
                         "pred": pred, "p_sadness": 0.8 if pred == "sadness" else 0.3})
    frame = pd.DataFrame(rows).assign(p_others=lambda f: 1 - f["p_sadness"])
    if objects is not None:
        frame["object"] = objects
    return frame


GROUPS = [("neglect", "sadness", 6, 3), ("shame", "sadness", 6, 6), ("horror", "others", 6, 5),
          ("joy", "others", 6, 0), ("awe", "others", 2, 2)]


def test_rates_tables_and_sentence():
    rates = analysis.rates_by_model({"A": _frame(GROUPS), "B": _frame(GROUPS)}, "fine_label")
    wide = report.rates_wide(rates, "fine_label")
    assert wide.columns.tolist() == ["fine_label", "measure", "n", "A", "B"]
    assert wide.iloc[0].tolist()[:4] == ["neglect", "recall", 6, "50% [19, 81]"]
    text = report.rates_reading(rates, "fine_label", "sub-emotion")
    assert "missed most often is *neglect* (recall 50%, 6 images)" in text
    assert "found most often *shame* (100%, 6 images)" in text
    assert "taken for sadness are *horror* (83%, 6 images), *joy* (0%, 6 images)" in text
    assert "awe" not in text.split("taken for sadness")[1].split(";")[0]  # 2 images: not named
    assert "1 group of fewer than 5 images" in text


def test_separation_and_drop_tables():
    frame = _frame([("s", "sadness", 2, 2), ("o", "others", 4, 2)],
                   objects=["dog", "car", "dog", "dog", "car", "car"])
    sep = analysis.object_separation(analysis.rates_by_model({"A": frame}, "object"))
    wide = report.separation_wide(sep)
    assert wide.set_index("object").loc["dog", "A"] == pytest.approx(1.0 - 1.0)
    assert wide.set_index("object").loc["car", "A"] == pytest.approx(1.0 - 0.0)
    assert "worst within *dog* images" in report.separation_reading(sep)
    source = _frame([("s", "sadness", 10, 8), ("o", "others", 10, 2)])
    target = _frame([("s", "sadness", 10, 6), ("o", "others", 30, 3)])
    drops = analysis.drop_table({"A": source}, {"emotion6": {"A": target}})
    summary = report.drop_summary(drops, "accuracy")
    assert summary["drop (points)"].iloc[0] == pytest.approx(-2.5)
    assert summary["from the images (points)"].iloc[0] == pytest.approx(5.0)
    assert summary["from the class ratio (points)"].iloc[0] == pytest.approx(-7.5)
    assert ("accuracy changes by +2.5 points on average over 1 models: -5.0 points from the "
            "images and +7.5 points from the class ratio") in report.drop_reading(drops)
    sweep = analysis.ratio_sweep(target, [0.5], seed=1)
    table = report.sweep_table({"A": sweep})
    assert table["sadness fraction"].tolist() == ["natural", "0.50"]
    assert table["A"].iloc[0] == "0.825 (0.825)"


def test_identical_note():
    a = _frame(GROUPS)
    assert report.identical_note({"A": a, "B": a.assign(pred="sadness")}) == ""
    assert report.identical_note({"A": a, "B": a.iloc[::-1]}).startswith(
        "Identical predictions: A and B.")


def test_figures(tmp_path, write_jpeg):
    frame = _frame(GROUPS)
    rates = analysis.rates_by_model({"A": frame, "B": frame}, "fine_label")
    assert isinstance(figures.plot_call_rates(rates, "fine_label", "t"), Figure)
    sweeps = {"A": analysis.ratio_sweep(frame, [0.3, 0.6], seed=0)}
    curves = {"A": analysis.expected_curve(frame)}
    assert isinstance(figures.plot_prior_sweep(curves, sweeps, 0.5, "t"), Figure)
    paths = [str(write_jpeg(tmp_path / f"{i}.jpg", seed=i)) for i in range(2)]
    mistakes = {"A": pd.DataFrame({"path": paths + [str(tmp_path / "gone.jpg")],
                                   "label": "others", "fine_label": "joy", "pred": "sadness",
                                   "confidence": 0.9}),
                "B": pd.DataFrame(columns=["path", "label", "fine_label", "pred",
                                           "confidence"])}
    assert isinstance(figures.plot_failures(mistakes, title="t"), Figure)
    images = np.zeros((2, 8, 8, 3), dtype=np.uint8)
    cam = GradCam(np.zeros((2, 8, 8)), np.zeros((2, 2, 2)), np.array([[0.7, 0.3], [0.4, 0.6]]),
                  np.array([0, 1]), "layer")
    picks = pd.DataFrame({"path": paths, "label": ["sadness", "others"],
                          "fine_label": ["neglect", "joy"],
                          "cell": ["sadness, right for 1 of 1 models",
                                   "others, right for 1 of 1 models"]})
    assert isinstance(figures.plot_gradcam_grid({"A": (images, cam)}, picks), Figure)
    summary = analysis.heat_summary({"A": (images, cam)})
    assert summary["blank"].tolist() == [2] and np.isnan(summary["agreement"].iloc[0])
    assert "Over the 2 images" in report.heat_reading(summary)


def test_chapter_saved_and_read_back(tmp_path, fake_record):
    root = tmp_path / "results"
    ws = Workspace.create("demo", results_root=root)
    assert chapters.saved_chapters(report.ANALYSIS, root) == []
    assert report.ANALYSIS.status(results_root=root).startswith("**No analysis yet.**")
    assert report.ANALYSIS.outputs("groups", root)[0][1].startswith("Nothing yet")
    fake_record(ws, "fake-xception")  # a profile shows once it has records
    chapter = report.ANALYSIS.new(ws, "06_analysis")
    chapter.start("groups")
    assert chapter.markdown("### Heading") == "### Heading"
    text = chapter.table(pd.DataFrame({"a": [1.5]}), "numbers")
    assert text.startswith("| a |")
    fig, _ = figures.new_figure()
    shown = chapter.figure(fig, "plot")
    assert shown._repr_png_().startswith(b"\x89PNG")  # rendered once, displayed as it is
    chapter.start("failures")
    chapter.figure(fig, "old_plot")
    with pytest.raises(ValueError, match="already has a figure named 'plot'"):
        chapter.figure(fig, "plot")
    with pytest.raises(ValueError, match="unknown part 'nope'"):
        chapter.start("nope")
    with pytest.raises(ValueError, match="letters, digits"):
        chapter.table(pd.DataFrame(), "../x")
    index = chapter.save()
    folder = report.ANALYSIS.directory(ws)
    assert index == folder / chapters.CHAPTER_FILE
    assert {p.name for p in folder.iterdir()} == {"chapter.json", "numbers.csv", "plot.png",
                                                  "old_plot.png"}
    saved = report.ANALYSIS.saved(ws)
    assert saved.notebook == "06_analysis"
    assert [kind for kind, _ in saved.part("groups")] == ["markdown", "markdown", "image"]
    assert saved.part("groups")[2][1] == folder / "plot.png"
    book = tmp_path / "book"
    (book / "executed").mkdir(parents=True)
    (book / "executed" / "06_analysis.ipynb").write_text("{}")
    status = report.ANALYSIS.status(book, root)
    assert "Profile `demo`" in status and "DEMO profile" in status
    assert "[06_analysis](executed/06_analysis.ipynb)" in status
    shown = report.ANALYSIS.outputs("groups", root)
    assert shown[0] == ("markdown", "**DEMO profile: synthetic images.**")
    assert shown[1] == ("markdown", "### Heading")
    # a new chapter without the table and old_plot removes their files, and nothing else
    (folder / "mine.txt").write_text("not the chapter's")
    again = report.ANALYSIS.new(ws, "06_analysis")
    again.start("groups")
    again.figure(fig, "plot")
    again.save()
    assert {p.name for p in folder.iterdir()} == {"chapter.json", "plot.png", "mine.txt"}
    (folder / "plot.png").unlink()
    assert "is missing" in report.ANALYSIS.saved(ws).part("groups")[0][1]
    (folder / "chapter.json").write_text(json.dumps({"version": 99}))
    assert report.ANALYSIS.saved(ws) is None
