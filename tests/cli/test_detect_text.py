"""``sadutils detect-text``: real photographs shipped by scikit-image and scikit-learn, a folder
with unreadable files, JSON lines, the classifier method and usage errors."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest

from sadutils import text_detection as td
from sadutils.cli import build_parser, main
from sadutils.config import TEXT_CLASS_NAMES


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    """A folder of two photos with text (page, motorcycle), two without (chelsea, china), a
    corrupt JPEG and a text file, the photos copied from the packages that ship them."""
    root = tmp_path_factory.mktemp("photos")
    shipped = td.reference_photos().set_index("path")
    wanted = {"page.png": "text", "motorcycle_left.png": "text", "chelsea.png": "no_text",
              "china.jpg": "no_text"}
    for path in shipped.index:
        name = path.rsplit("/", 1)[-1]
        if name in wanted:
            shutil.copy(path, root / name)
    assert sorted(p.name for p in root.iterdir()) == sorted(wanted)
    (root / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a JPEG")
    (root / "notes.txt").write_text("not an image\n")
    return root, wanted


def test_detect_text_tells_photos_with_text_from_photos_without(photos, capsys):
    root, wanted = photos
    code, out, err = run(capsys, "detect-text", root)
    assert code == 1  # one file could not be read
    lines = [line.split("\t") for line in out.splitlines()]
    assert [line[0] for line in lines] == sorted(str(root / n) for n in wanted)
    for path, score, label, read in lines:
        name = path.rsplit("/", 1)[-1]
        assert label == f"label={wanted[name]}", (path, score, read)
        value = float(score.removeprefix("score="))
        assert (value >= td.DEFAULT_THRESHOLD) == (wanted[name] == "text")
        assert read.startswith("read=")
    assert err.strip().splitlines()[0].startswith(f"sadutils: {root / 'broken.jpg'}: ")
    assert err.strip().splitlines()[-1] == "sadutils: 4 of 5 images scored, 1 could not be read"
    assert "notes.txt" not in out + err


def test_detect_text_json_lines(photos, capsys):
    root, wanted = photos
    code, out, err = run(capsys, "detect-text", root / "page.png", root / "broken.jpg",
                         root / "missing.png", root / "chelsea.png", "--json", "--workers", "1")
    assert code == 1
    records = [json.loads(line) for line in out.splitlines()]
    assert [r["path"] for r in records] == [str(root / n) for n in
                                            ("page.png", "broken.jpg", "missing.png",
                                             "chelsea.png")]
    page, broken, missing, cat = records
    assert set(page) >= {"path", "score", "label"} and page["method"] == "ocr"
    assert page["label"] == "text" and page["score"] > 0.9 and "segmentation" in page["read"]
    assert cat["label"] == "no_text" and cat["score"] < td.DEFAULT_THRESHOLD
    assert set(broken) == {"path", "error"} and set(missing) == {"path", "error"}
    assert missing["error"] == "file not found"
    assert "2 of 4 images scored" in err
    # A stricter threshold changes the labels, not the scores.
    code, out, _ = run(capsys, "detect-text", root / "page.png", "--json", "--threshold", "1")
    strict = json.loads(out)
    assert code == 0 and strict["score"] == page["score"]
    assert strict["label"] == ("text" if page["score"] >= 1 else "no_text")


def test_detect_text_with_a_text_classifier(photos, tiny_text_model, capsys):
    root, _ = photos
    code, out, err = run(capsys, "detect-text", root / "page.png", root / "china.jpg",
                         "--method", "cnn", "--model", tiny_text_model, "--json")
    assert code == 0 and err == ""
    records = [json.loads(line) for line in out.splitlines()]
    assert [r["method"] for r in records] == ["cnn", "cnn"]
    for r in records:
        assert 0.0 <= r["score"] <= 1.0
        assert r["label"] == ("text" if r["score"] >= 0.5 else "no_text")
    assert records[0]["score"] != records[1]["score"]
    assert TEXT_CLASS_NAMES[0] == "text"


def test_detect_text_usage_errors(photos, tiny_emotion_model, tmp_path, capsys):
    root, _ = photos
    code, out, err = run(capsys, "detect-text", root, "--threshold", "2")
    assert code == 2 and out == "" and "--threshold must be within 0..1" in err
    code, _, err = run(capsys, "detect-text", root, "--model", tmp_path / "x.keras")
    assert code == 2 and "--model is for --method cnn" in err
    code, _, err = run(capsys, "detect-text", root, "--method", "cnn", "--model",
                       tmp_path / "none.keras")
    assert code == 2 and "text classifier not found" in err and "01_text_classifier" in err
    emotion, _ = tiny_emotion_model
    code, _, err = run(capsys, "detect-text", root / "page.png", "--method", "cnn", "--model",
                       emotion)
    assert code == 2 and "not a text classifier" in err
    empty = tmp_path / "empty"
    empty.mkdir()
    code, out, err = run(capsys, "detect-text", empty)
    assert code == 2 and err.strip().splitlines()[-1] == \
        f"sadutils: error: no image files to score in {empty}"
    code, _, err = run(capsys, "detect-text", root, "--method", "tesseract")
    assert code == 2 and "invalid choice" in err


def test_detect_text_is_listed_and_starts_without_tensorflow(photos):
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command").choices["detect-text"]
    help_text = sub.format_help()
    for word in ("IMAGE_OR_FOLDER", "--method", "--model", "--json", "--threshold"):
        assert word in help_text
    root, _ = photos
    code = ("import sys; from sadutils.cli import main; rc = main(['detect-text', "
            f"{str(root / 'page.png')!r}, '--json']); "
            "sys.exit(10 + rc if 'tensorflow' in sys.modules else rc)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["label"] == "text"
    assert np.isfinite(json.loads(done.stdout)["score"])
