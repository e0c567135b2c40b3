"""Property-based tests (Hypothesis) of every parser of a dataset's index file and of the
downloader's log: whatever the file holds, the answer is a result or a clear error
(``FormatError``, a ``ValueError`` naming the file), never another exception.

Inputs mix arbitrary text and bytes with text shaped like the real files (near misses find more
than noise). Example counts stay modest so the suite stays fast.
"""
from __future__ import annotations

import json
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from PIL import Image

from sadutils.data.cocotext import load_cocotext
from sadutils.data.download import LOG_COLUMNS, load_log
from sadutils.data.emotion6 import PROBABILITIES, load_emotion6
from sadutils.data.formats import FormatError
from sadutils.data.webemo import parse_category_file, parse_webemo_list, url_to_filename

SETTINGS = settings(max_examples=60, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

_WORDS = st.sampled_from(["http://a.example/x.jpg", "https://b/y%20z.JPG", "file:///tmp/q.jpg",
                          "http://[::1", "ftp://c/d", "labels", "=", "[", "]", "(", ")", "'",
                          "sadness", "joy", "-", "+", ",", "#", "\t", " ", "\n", "\r\n", "0",
                          "24", "25", "-1", "1e3", "nan", "inf", "0.5", "\ufeff", "\x00",
                          "anger/1.jpg", "../x.jpg", "…"])
_SHAPED = st.lists(_WORDS, max_size=40).map("".join)
_TEXT = st.one_of(st.text(max_size=300), _SHAPED)


def _write(folder: Path, name: str, content) -> Path:
    path = folder / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8", errors="surrogatepass")
    return path


@pytest.fixture(scope="module")
def folder():
    with tempfile.TemporaryDirectory() as tmp:
        yield Path(tmp)


# ---------------------------------------------------------------------------- WEBEmo

@SETTINGS
@given(content=st.one_of(_TEXT, st.binary(max_size=200),
                         st.lists(st.tuples(st.sampled_from(["a", "love", "sadness", "x y", ""]),
                                            st.sampled_from(["sadness", "joy", 3, None]),
                                            st.sampled_from(["+", "-", ""])), max_size=30)
                         .map(lambda rows: f"# level3, level2, polarity\nlabels={rows!r}\n")))
def test_category_file_parses_or_says_why(folder, content):
    path = _write(folder, "category.txt", content)
    try:
        labels = parse_category_file(path)
    except FormatError as exc:
        assert str(path) in str(exc)
        return
    assert labels and all(isinstance(x, tuple) and len(x) == 3
                          and all(isinstance(v, str) for v in x) for x in labels)


_LIST_LINE = st.tuples(st.one_of(_WORDS, st.text(max_size=20)),
                       st.sampled_from([" ", "\t", "  ", ""]),
                       st.one_of(st.integers(-3, 30).map(str), st.text(max_size=4)))
_LIST = st.lists(_LIST_LINE.map("".join), max_size=30).map("\n".join)


@SETTINGS
@given(content=st.one_of(_LIST, _TEXT, st.binary(max_size=200)),
       n_classes=st.integers(1, 30))
@example(content="0 ²", n_classes=1)  # found by CI: isdigit() yet not int()
def test_webemo_list_parses_or_names_the_line(folder, content, n_classes):
    path = _write(folder, "train25.txt", content)
    try:
        rows = parse_webemo_list(path, n_classes)
    except FormatError as exc:
        assert str(path) in str(exc)
        return
    assert list(rows.columns) == ["url", "fine_index", "line"]
    assert rows["fine_index"].between(0, n_classes - 1).all()
    for url in rows["url"]:  # every URL the list yields gets a safe file name
        name = url_to_filename(url)
        assert "/" not in name and name.endswith(".jpg")


# ---------------------------------------------------------------------------- Emotion-6

_NUMBER = st.one_of(st.floats(allow_nan=True, allow_infinity=True).map(repr),
                    st.sampled_from(["0", "1", "0.5", "-0", "nan", "inf", "x", ""]))
_GT_ROW = st.tuples(st.sampled_from(["anger/1.jpg", "sadness/1.jpg", "x", "../a.jpg"]),
                    st.one_of(st.lists(_NUMBER, min_size=9, max_size=9),  # the right length
                              st.lists(_NUMBER, max_size=11))).map(
    lambda r: " ".join([r[0], *r[1]]))
_NUMERIC = st.one_of(st.floats(allow_nan=True, allow_infinity=True).map(repr),
                     st.sampled_from(["0", "1", "0.5", "0.25", "-0", "nan", "inf", "-0.1"]))
_WELL_FORMED = st.tuples(st.sampled_from(["anger/1.jpg", "sadness/1.jpg"]),
                         st.lists(_NUMERIC, min_size=9, max_size=9)).map(
    lambda r: " ".join([r[0], *r[1]]))  # ten fields: only the numbers can be wrong
_GROUND_TRUTH = st.one_of(st.lists(_GT_ROW, max_size=8), st.lists(_WELL_FORMED, max_size=3)).map(
    lambda rows: "\n".join(["header"] + rows))


@pytest.fixture(scope="module")
def emotion6_root(folder):
    root = folder / "emotion6"
    for name in ("anger/1.jpg", "sadness/1.jpg"):
        (root / "images" / name).parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (8, 8)).save(root / "images" / name)
    return root


@SETTINGS
@given(content=st.one_of(_GROUND_TRUTH, _TEXT, st.binary(max_size=200)),
       label_from=st.sampled_from(["folder", "argmax"]))
def test_emotion6_ground_truth_parses_or_names_the_line(emotion6_root, content, label_from):
    path = _write(emotion6_root, "ground_truth.txt", content)
    try:
        loaded = load_emotion6(emotion6_root, label_from=label_from, check=False)
    except FormatError as exc:
        assert str(path) in str(exc)
        return
    m = loaded.manifest
    with_truth = m[m["argmax_emotion"].notna()]  # images with a row in ground_truth.txt
    probs = with_truth[[f"truth_{e}" for e in PROBABILITIES]].to_numpy(dtype=float)
    values = with_truth[["valence", "arousal"]].to_numpy(dtype=float)
    assert np.isfinite(probs).all() and np.isfinite(values).all()  # no nan wins an argmax
    assert ((probs >= 0) & (probs <= 1)).all()
    assert np.allclose(probs.sum(axis=1), 1, atol=0.011)  # only real distributions get in
    assert set(m["label"]) <= {"sadness", "others"}


# ---------------------------------------------------------------------------- COCO-Text

_JSON = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False),
              st.text(max_size=12), st.sampled_from(["legible", "../x.jpg", "/etc/passwd",
                                                     "COCO_1.jpg"])),
    lambda inner: st.one_of(st.lists(inner, max_size=4),
                            st.dictionaries(st.sampled_from(
                                ["imgs", "anns", "imgToAnns", "file_name", "image_id", "id",
                                 "legibility", "set", "1", "2"]), inner, max_size=5)),
    max_leaves=25)
_IMG = st.one_of(_JSON, st.fixed_dictionaries(
    {"id": st.sampled_from([1, 2, "1", None, [1]]),
     "file_name": st.one_of(st.sampled_from(["COCO_1.jpg", "../secret.jpg", "/etc/passwd",
                                             "sub/../../secret.jpg", ""]), _JSON)},
    optional={"set": _JSON}))
_ANN = st.one_of(_JSON, st.fixed_dictionaries(
    {"image_id": st.sampled_from([1, 2, "1", None, [1]]),
     "legibility": st.sampled_from(["legible", "illegible", None])}))
_COCO = st.fixed_dictionaries(
    {"imgs": st.dictionaries(st.sampled_from(["1", "2", "3"]), _IMG, max_size=3),
     "anns": st.dictionaries(st.sampled_from(["1", "2", "3"]), _ANN, max_size=3),
     "imgToAnns": _JSON})
#: Well-formed but for the file names: every image has a legible annotation, so every
#: ``file_name`` is looked up.
_COCO_NAMES = st.lists(_IMG.filter(lambda i: isinstance(i, dict) and "file_name" in i),
                       min_size=1, max_size=3).map(lambda imgs: {
    "imgs": {str(k): {**img, "id": k} for k, img in enumerate(imgs)},
    "anns": {str(k): {"image_id": k, "legibility": "legible"} for k in range(len(imgs))},
    "imgToAnns": {}})


@pytest.fixture(scope="module")
def coco_root(folder):
    root = folder / "coco"
    (root / "train2014").mkdir(parents=True)
    Image.new("RGB", (8, 8)).save(root / "train2014" / "COCO_1.jpg")
    (folder / "secret.jpg").write_bytes((root / "train2014" / "COCO_1.jpg").read_bytes())
    return root


@SETTINGS
@given(content=st.one_of(_COCO_NAMES.map(json.dumps), _COCO.map(json.dumps),
                         _JSON.map(json.dumps), _TEXT,
                         st.binary(max_size=100)))
def test_cocotext_json_loads_or_says_why_and_never_leaves_its_folder(coco_root, content):
    path = _write(coco_root, "cocotext.v2.json", content)
    try:
        loaded = load_cocotext(coco_root, check=False, include_no_text=True)
    except FormatError as exc:
        assert str(path) in str(exc)
        return
    folder = coco_root / "train2014"
    for p in loaded.manifest["path"]:
        assert Path(p).resolve().parent == folder.resolve()  # nothing from outside the root


# ---------------------------------------------------------------------------- the download log

_CELL = st.one_of(st.sampled_from(["ok", "timeout", "http://a/1.jpg", "", "200", "\x00"]),
                  st.text(max_size=10))
_CSV = st.lists(st.lists(_CELL, max_size=10).map(lambda r: ",".join(r)), max_size=10).map(
    lambda rows: "\n".join([",".join(LOG_COLUMNS)] + rows))


@SETTINGS
@given(content=st.one_of(_CSV, _TEXT, st.binary(max_size=300)))
def test_download_log_reads_whatever_it_holds(folder, content):
    table = load_log(_write(folder, "downloads.csv", content))
    assert isinstance(table, pd.DataFrame) and list(table.columns) == list(LOG_COLUMNS)
    assert table["url"].is_unique
