"""The chapter "Does removing text matter?": its tables and sentences from FAKE numbers (chosen
by hand, no model's), and the chapter saved and shown by its own kind."""
from __future__ import annotations

import numpy as np
import pandas as pd

from sadutils.reporting import text_ablation as report
from sadutils.workspace import Workspace

SUMMARY = pd.DataFrame({
    "model": ["Xception, unfiltered", "Xception, filtered (ocr)"], "images": [77, 77],
    "seeds": [3, 3], "accuracy": [0.70, 0.65], "accuracy_sd": [0.02, np.nan],
    "accuracy_ci": [[0.6, 0.8], None], "f1_sadness": [0.6, 0.5], "f1_sadness_sd": [0.01, 0.02],
    "f1_sadness_ci": [[0.5, 0.7], [0.4, 0.6]], "f1_others": [0.7, 0.7],
    "f1_others_sd": [0.0, 0.0], "f1_others_ci": [None, None], "f1_weighted": [0.65, 0.6],
    "f1_weighted_sd": [0.01, 0.01], "f1_weighted_ci": [[0.55, 0.75], [0.5, 0.7]]})
TESTS = pd.DataFrame({"model_a": ["Xception, unfiltered"] * 2,
                      "model_b": ["Xception, filtered (ocr)"] * 2, "seed": [1234, "all"],
                      "a_only": [9, 9], "b_only": [1, 1], "n": [77, 77],
                      "p_value": [0.02, 0.02], "p_holm": [0.02, 0.02],
                      "significant": [True, True], "better": ["Xception, unfiltered"] * 2})


def test_tables_in_the_shape_of_table1():
    table = report.comparison_table(SUMMARY)
    assert table.loc[0, "Accuracy %"] == "70.0 ± 2.0 [60.0, 80.0]"
    assert table.loc[1, "Accuracy %"] == "65.0"          # no spread, no interval: the value
    assert table.loc[1, "Sadness F1"] == "0.50 ± 0.02 [0.40, 0.60]"
    tests = report.tests_table(TESTS)
    assert tests["real difference"].tolist() == ["yes", "yes"]
    assert report.tests_table(TESTS.iloc[:0]).empty
    text = report.comparison_reading(SUMMARY, TESTS, "the 77 text-free test images")
    assert text.startswith("On the 77 text-free test images, accuracy ranges from 65.0% "
                           "(Xception, filtered (ocr)) to 70.0% (Xception, unfiltered)")
    assert "Xception, unfiltered is better than Xception, filtered (ocr)" in text


def test_reliance_sentences_and_the_control():
    table = pd.DataFrame({"model": ["A, unfiltered", "A, filtered (ocr)"], "images": [40, 40],
                          "seeds": [3, 3], "flip_rate": [0.30, 0.05], "flip_sd": [0.05, 0.01],
                          "flip_ci": [(0.2, 0.4), (0.0, 0.1)], "placebo_flip_rate": [0.02, 0.0],
                          "placebo_images": [30, 30], "sadness_shift": [-0.2, 0.01]})
    shown = report.reliance_frame(table)
    assert shown.loc[0, "flips, text removed"] == "30% ± 5 [20, 40]"
    real = {"a": "A, unfiltered", "b": "A, filtered (ocr)", "images": 40, "difference": 0.25,
            "ci": [0.12, 0.38], "real": True}
    assert report.differences_frame([real]).loc[0, "95% CI"] == "[+12, +38]"
    text = report.reliance_reading(table, [real], "inpaint")
    assert "inpainted away (40 images probed)" in text and "+25 points" in text
    assert "a real difference" in text
    control = {"rate": {"sadness": 0.2, "others": 0.02}}
    assert "It is detected" in report.control_reading(control, [real])
    missed = {**real, "difference": 0.05, "ci": [-0.05, 0.15], "real": False}
    assert "It is NOT detected" in report.control_reading(control, [missed])
    assert "no positive control" in report.control_reading(None, [real])
    unshared = {**real, "difference": None, "ci": None, "real": False}
    assert "It is detected" in report.control_reading(control, [unshared, real])
    assert "not tested" in report.control_reading(control, [unshared])


def test_notes_count_the_images():
    test = pd.DataFrame({"text": [False, False, True, True, True],
                         "text_by": [None, None, "cnn", "ocr", "cnn+ocr"]})
    assert report.test_images_note(test).startswith(
        "The test part of the split sample has 5 images: 2 in which no text method finds "
        "text (every model was tested on them) and 3 in which one does (1 by the classifier "
        "only, 1 by the OCR detector only, 1 by both)")
    regions = pd.DataFrame({"source": ["test", "test", "held out", "held out", "held out"],
                            "lines": [2, 0, 1, 0, 0], "placebo": [[1], None, None, None, None]})
    note = report.probed_note(regions, "blur", 0.05)
    assert "finds text lines in 1 of the 2 test images with text and in 1 of 3 WEBEmo" in note
    assert "widened by 5% of the image's shorter side and blurred" in note
    assert note.endswith("exists for 1 of them.")


def test_the_chapter_has_its_own_folder_and_page(tmp_path, fake_record):
    root = tmp_path / "results"
    ws = Workspace.create("demo", results_root=root)
    assert report.TEXT_ABLATION.status(results_root=root).startswith("**No text ablation yet.**")
    fake_record(ws, "fake-xception")
    chapter = report.TEXT_ABLATION.new(ws, "07_text_ablation")
    assert chapter.part == "models"
    chapter.start("reliance")
    chapter.markdown("It is detected.")
    index = chapter.save()
    assert index.parent == ws.results / "text_ablation"
    assert report.TEXT_ABLATION.outputs("reliance", root)[1] == ("markdown", "It is detected.")
    assert "Text ablation found" in report.TEXT_ABLATION.status(results_root=root)
