"""The OCR text scorer: its rule, its settings, real photographs shipped by registry packages
(scikit-image, Matplotlib, scikit-learn), the demo generator's text overlays, unreadable files,
and that it never reaches the network."""
from __future__ import annotations

import re
import socket
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from sadutils import text_detection as td
from sadutils.demo import WEBEMO_TRUTH_NAME


def balanced_accuracy(truth, predicted) -> float:
    truth, predicted = np.asarray(truth, bool), np.asarray(predicted, bool)
    return (predicted[truth].mean() + (~predicted[~truth]).mean()) / 2


@pytest.fixture(scope="module")
def scorer():
    return td.get_scorer()


@pytest.fixture(scope="module")
def photo_scores(scorer):
    """Every reference photo, scored once for the module."""
    photos = td.reference_photos()
    scores = scorer.score_files(photos["path"], workers=2)
    return photos.assign(score=scores["score"].to_numpy(), read=scores["text"].to_numpy())


# ------------------------------------------------------------------------------ the rule

def test_a_line_counts_with_two_different_letters_or_digits():
    assert td.distinct_characters("0000") == 1 and td.distinct_characters("AaA") == 1
    assert td.distinct_characters("Stop!") == 4 and td.distinct_characters("$6.66") == 1
    assert not td.counts_as_text("0") and not td.counts_as_text("OOO") and not td.counts_as_text("")
    assert td.counts_as_text("06") and td.counts_as_text("Exit") and td.counts_as_text("出口")
    lines = [("0000", 0.99), ("AN", 0.62), ("x", 0.97)]
    assert td.legible_score(lines) == pytest.approx(0.62)
    assert td.legible_score([("O", 0.99)]) == 0.0 and td.legible_score([]) == 0.0
    assert td.legible_score([td.TextLine("Hotel", 0.91, 0.7), td.TextLine("Ho", 0.95, 0.6)]) \
        == pytest.approx(0.95)


def test_decisions_and_the_detection_size():
    labels = td.decide([0.2, 0.5, np.nan, 0.99])
    assert labels.tolist() == ["no_text", "text", None, "text"]
    assert td.decide([0.7], threshold=0.8).tolist() == ["no_text"]
    # The long side is brought within min_side..max_side, the aspect ratio kept.
    assert td.detection_size(200, 100, 320, 640) == (320, 160)
    assert td.detection_size(2000, 1000, 320, 640) == (640, 320)
    assert td.detection_size(500, 400, 320, 640) == (500, 400)
    assert td.detection_size(1000, 5, 320, 640) == (640, 3)
    with pytest.raises(ValueError, match="min_side"):
        td.OcrSettings(min_side=700, max_side=640)
    with pytest.raises(ValueError, match="box_threshold"):
        td.OcrSettings(box_threshold=1.5)
    with pytest.raises(ValueError, match="at least 1"):
        td.OcrSettings(workers=0)
    assert td.OcrSettings(workers=3).worker_count() == 3


def test_the_models_come_from_the_installed_wheel(monkeypatch):
    files = td.model_files()
    assert {p.name for p in files.values()} == {td.DETECTOR_FILE, td.RECOGNISER_FILE}
    assert all(p.is_file() and "rapidocr" in p.parts for p in files.values())
    info = td.model_info()
    assert info["package"] == "rapidocr" and info["package_version"]
    assert info["files"]["detector"]["bytes"] > 1_000_000
    monkeypatch.setattr(td, "DETECTOR_FILE", "no-such-model.onnx")
    with pytest.raises(td.OcrUnavailable, match="no-such-model.onnx") as error:
        td.OcrScorer(td.OcrSettings(max_lines=3))
    assert "nothing is downloaded" in str(error.value)


def test_nothing_reaches_the_network(monkeypatch, tmp_path):
    def refuse(*args, **kwargs):
        raise AssertionError("the OCR scorer tried to open a network connection")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    page = td.reference_photos().set_index("path")
    page = [p for p in page.index if p.endswith("page.png")]
    fresh = td.OcrScorer(td.OcrSettings(max_lines=2))  # a new engine: models loaded again
    assert fresh.read_file(page[0]).score > 0.9


# ------------------------------------------------------------------------------ real photographs

def test_real_photos_with_and_without_text(photo_scores):
    photos = photo_scores
    assert len(photos) == len(td.REFERENCE_PHOTOS)  # scikit-image is a test dependency
    has_text = photos["label"] == td.TEXT_LABEL
    found = photos["score"] >= td.DEFAULT_THRESHOLD
    assert has_text.sum() >= 4 and (~has_text).sum() >= 10
    assert balanced_accuracy(has_text, found) >= 0.95, photos[["path", "label", "score", "read"]]
    page = photos[photos["path"].str.endswith("page.png")].iloc[0]
    assert "segmentation" in page["read"].lower()


def test_unreadable_files_are_reported_and_the_rest_scored(scorer, tmp_path):
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff\xe0 not a JPEG")
    html = tmp_path / "page.jpg"
    html.write_text("<html><body>404</body></html>")
    gray = tmp_path / "gray.png"
    Image.fromarray(np.full((20, 900), 200, np.uint8)).save(gray)  # thin, grayscale, blank
    table = scorer.score_files([broken, tmp_path / "missing.png", html, gray], workers=2)
    assert table["path"].tolist() == [str(p) for p in (broken, tmp_path / "missing.png",
                                                       html, gray)]
    assert table["score"].isna().tolist() == [True, True, True, False]
    assert table["error"].iloc[1] == "file not found" and "HTML" in table["error"].iloc[2]
    assert table["score"].iloc[3] == 0.0


def test_workers_change_the_cost_not_the_answer(scorer):
    paths = td.reference_photos()["path"].head(4).tolist()
    one = scorer.score_files(paths, workers=1)
    two = scorer.score_files(paths, workers=2)
    pd.testing.assert_frame_equal(one, two)


# ------------------------------------------------------------------------------ the demo's text

def test_the_demo_generators_text_overlays(demo_dir, scorer):
    truth = pd.read_csv(demo_dir / WEBEMO_TRUTH_NAME)
    truth = truth[truth["status"] == "ok"]
    sample = pd.concat([truth[truth["has_text"] == 1].head(16),
                        truth[truth["has_text"] == 0].head(16)])
    scores = scorer.score_files([demo_dir / "webemo_cdn" / f for f in sample["file_name"]])
    found = scores["score"].to_numpy() >= td.DEFAULT_THRESHOLD
    has_text = sample["has_text"].to_numpy() == 1
    # Measured on 374 demo images: recall 0.86, false positives 1%. Some overlays are faint
    # or cut by the frame on purpose, so not all are found.
    assert found[has_text].mean() >= 0.6
    assert found[~has_text].mean() <= 0.15


def test_ocr_device_follows_what_onnxruntime_offers(monkeypatch):
    monkeypatch.setattr(td.onnxruntime, "get_available_providers",
                        lambda: ["CPUExecutionProvider"])
    assert not td.cuda_available()
    assert td.OcrSettings().uses_cuda() is False  # auto: the CPU
    with pytest.raises(td.OcrUnavailable, match="no CUDAExecutionProvider"):
        td.OcrSettings(device="cuda").uses_cuda()
    monkeypatch.setattr(td.onnxruntime, "get_available_providers",
                        lambda: ["CUDAExecutionProvider", "CPUExecutionProvider"])
    monkeypatch.setattr(td.onnxruntime, "get_device", lambda: "GPU")
    assert td.OcrSettings().uses_cuda() is True
    assert td.OcrSettings(device="cpu").uses_cuda() is False
    with pytest.raises(ValueError, match="unknown OCR device 'tpu'"):
        td.OcrSettings(device="tpu")


def test_no_module_imports_tqdm_auto():
    """tqdm.auto warns "IProgress not found" in every kernel without ipywidgets: a stderr block
    on every page of the book that scores text."""
    package = Path(__file__).resolve().parent.parent / "sadutils"
    users = [p.name for p in package.rglob("*.py")
             if re.search(r"^\s*(from tqdm.auto import|import tqdm.auto)", p.read_text(), re.M)]
    assert users == []
