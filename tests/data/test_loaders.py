"""The loaders of UnbiasedEmo, Emotion-6, COCO-Text and RGP, and the registry of all loaders.

Small fixtures in the real on-disk formats (shared/DATASETS.md); WEBEmo's loader is tested in
test_webemo.py.
"""
from __future__ import annotations

import json

import numpy as np
import pytest

import sadutils.data
from sadutils.config import DATASETS, MANIFEST_COLUMNS
from sadutils.data.cocotext import load_cocotext
from sadutils.data.emotion6 import EMOTIONS as EMOTION6_EMOTIONS
from sadutils.data.emotion6 import PROBABILITIES, load_emotion6, truth_columns
from sadutils.data.formats import FormatError, Loaded
from sadutils.data.loaders import INDEX_FILES, LOADERS, load_dataset
from sadutils.data.rgp import load_rgp
from sadutils.data.unbiasedemo import EMOTIONS as UNBIASED_EMOTIONS
from sadutils.data.unbiasedemo import load_unbiasedemo
from sadutils.inference import predict_frame


def _bad(path, content=b"<html>not found</html>"):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return path


# ---------------------------------------------------------------------------- UnbiasedEmo

UNBIASED = ["anger", "fear", "joy", "love", "Sadness", "surprise"]


@pytest.fixture
def unbiasedemo(tmp_path, write_jpeg):
    root = tmp_path / "UnbiasedEmo"
    for i, emotion in enumerate(UNBIASED):
        for obj in ["dog", "beach"]:
            write_jpeg(root / "images" / emotion / obj / f"{i}.jpg", i)
    _bad(root / "images" / "joy" / "dog" / "broken.jpg")
    (root / "images" / "joy" / ".DS_Store").write_bytes(b"\0\1")
    (root / "images" / "README.txt").write_text("x")
    return root


def test_unbiasedemo(unbiasedemo, tmp_path, write_jpeg):
    assert [e.lower() for e in UNBIASED] == list(UNBIASED_EMOTIONS)
    loaded = load_unbiasedemo(unbiasedemo)
    m = loaded.manifest
    assert len(m) == 12 and loaded.info["by_label"] == {"others": 10, "sadness": 2}
    assert list(m.columns[:4]) == list(MANIFEST_COLUMNS) and (m["dataset"] == "unbiasedemo").all()
    assert set(m["fine_label"]) == {e.lower() for e in UNBIASED} and set(m["object"]) == {"dog", "beach"}
    assert (m.loc[m.fine_label == "sadness", "label"] == "sadness").all()
    assert loaded.rejected["path"].tolist() == [str(unbiasedemo / "images/joy/dog/broken.jpg")]
    assert "HTML" in loaded.rejected["reason"].item() and loaded.info["n_files_ignored"] == 2
    # root may point at the folder of emotion folders, or above the zip's top folder
    assert load_unbiasedemo(unbiasedemo / "images").manifest["path"].tolist() == m["path"].tolist()
    assert load_unbiasedemo(tmp_path).manifest["path"].tolist() == m["path"].tolist()
    write_jpeg(unbiasedemo / "images" / "happyness" / "dog" / "x.jpg", 0)
    with pytest.raises(FormatError, match="happyness"):
        load_unbiasedemo(unbiasedemo)
    with pytest.raises(FileNotFoundError, match="images/<emotion>/<object>/<file>"):
        load_unbiasedemo(tmp_path / "missing")


# ---------------------------------------------------------------------------- Emotion-6

CORNELL = ["anger", "disgust", "fear", "joy", "sadness", "surprise"]


@pytest.fixture
def cornell(tmp_path, write_jpeg):
    root = tmp_path / "Emotion6"
    for i, emotion in enumerate(CORNELL):
        for n in (1, 2):
            write_jpeg(root / "images" / emotion / f"{n}.jpg", i * 2 + n)
    rows = ["[image_filename]\t[valence]\t[arousal]\t[prob. anger]\t..."]
    for emotion in CORNELL:
        for n in (1, 2):
            probs = [0.0] * 6 + [0.4]
            probs[CORNELL.index(emotion)] = 0.6
            rows.append("\t".join([f"{emotion}/{n}.jpg", "5", "4"] + [f"{p:g}" for p in probs]))
    rows[1] = "anger/1.jpg 2.5  3.8 0.1 0 0 0 0.7 0.2 0"      # spaces; argmax -> sadness
    rows[2] = "anger/2.jpg\t5\t4\t0.4\t0\t0\t0\t0.4\t0.2\t0"   # tie anger/sadness -> anger
    rows[9] = "sadness/1.jpg\t5\t4\t0\t0\t0\t0\t0.2\t0\t0.8"   # argmax -> neutral
    (root / "ground_truth.txt").write_bytes(("\r\n".join(rows) + "\r\n").encode())
    return root


def test_emotion6_cornell(cornell, tmp_path):
    assert tuple(CORNELL) == EMOTION6_EMOTIONS and PROBABILITIES == EMOTION6_EMOTIONS + ("neutral",)
    loaded = load_emotion6(cornell)
    m, info = loaded.manifest, loaded.info
    assert info["layout"] == "cornell" and len(m) == 12 and info["by_label"] == {"others": 10, "sadness": 2}
    assert info["n_without_ground_truth"] == 0 and info["n_ground_truth_rows_without_image"] == 0
    row = m[m.path.str.endswith("anger/1.jpg")].iloc[0]
    assert (row.valence, row.arousal, row.truth_sadness, row.argmax_emotion) == (2.5, 3.8, 0.7, "sadness")
    assert row.label == "others" and row.fine_label == "anger"

    arg = load_emotion6(cornell, label_from="argmax").manifest.set_index("path")
    label = {p.split("images/")[1]: v for p, v in arg["label"].items()}
    assert label["anger/1.jpg"] == "sadness" and label["anger/2.jpg"] == "others"
    assert label["sadness/1.jpg"] == "others" and label["sadness/2.jpg"] == "sadness"
    assert sum(v == "sadness" for v in label.values()) == 2
    assert arg.loc[str(cornell / "images/sadness/1.jpg"), "fine_label"] == "neutral"
    # the zip's top folder is found from its parent
    assert len(load_emotion6(tmp_path).manifest) == 12


def test_emotion6_cornell_without_ground_truth(cornell):
    (cornell / "ground_truth.txt").unlink()
    loaded = load_emotion6(cornell)
    assert loaded.info["layout"] == "cornell" and loaded.info["n_without_ground_truth"] == 12
    assert loaded.manifest["valence"].isna().all() and loaded.info["by_label"]["sadness"] == 2
    with pytest.raises(FileNotFoundError, match="ground_truth.txt"):
        load_emotion6(cornell, label_from="argmax")


def test_emotion6_bad_ground_truth_row(cornell):
    path = cornell / "ground_truth.txt"
    lines = path.read_text().splitlines()
    lines[2] = "anger/2.jpg 5 4 0.4 0 0 0 0.4 0.2"
    path.write_text("\n".join(lines))
    with pytest.raises(FormatError) as err:
        load_emotion6(cornell)
    assert "ground_truth.txt, line 3" in str(err.value) and "10 whitespace-separated fields" in str(err.value)


def test_emotion6_panda(tmp_path, write_jpeg):
    root = tmp_path / "emotion6_panda"
    files = ["anger/digust/dirty/1.jpg", "sadness/grief/alone/2.jpg", "joy/3.jpg",
             "fear/a/b/c/4.png", "Love/Sadness/x/5.jpg"]
    for i, f in enumerate(files):
        write_jpeg(root / "images" / f, i)
    _bad(root / "images" / "joy" / "bad.jpg", b"hello")
    loaded = load_emotion6(root)
    m = loaded.manifest
    assert loaded.info["layout"] == "panda" and len(m) == 5 and len(loaded.rejected) == 1
    fine = dict(zip(m["fine_label"], m["label"]))
    assert fine == {"anger/digust/dirty": "others", "sadness/grief/alone": "sadness", "joy": "others",
                    "fear/a/b/c": "others", "Love/Sadness/x": "sadness"}
    forced = load_emotion6(root, layout="cornell", check=False)
    assert forced.info["layout"] == "cornell" and len(forced.manifest) == 2  # joy/3.jpg, joy/bad.jpg (unchecked)
    assert len(forced.rejected) == 4 and "Cornell layout" in forced.rejected["reason"].iloc[0]
    with pytest.raises(ValueError, match="layout"):
        load_emotion6(root, layout="flat")
    with pytest.raises(ValueError, match="argmax"):
        load_emotion6(root, label_from="argmax")


# ---------------------------------------------------------------------------- COCO-Text


def _coco_json(path, **override):
    anns = {
        "1": {"id": 1, "image_id": 1, "legibility": "legible", "utf8_string": "STOP"},
        "2": {"id": 2, "image_id": 1, "legibility": "illegible"},
        "3": {"id": 3, "image_id": 2, "legibility": "illegible"},
        "4": {"id": 4, "image_id": 4, "legibility": "legible"},
        "5": {"id": 5, "image_id": 5, "legibility": "legible"},
    }
    imgs = {str(i): {"id": i, "file_name": f"COCO_train2014_{i:012d}.jpg", "set": "train",
                     "width": 16, "height": 12} for i in range(1, 7)}
    data = {"imgs": imgs, "anns": anns, "cats": {}, "info": {},
            "imgToAnns": {"1": [1, 2], "2": [3], "3": [], "4": [4], "5": [5], "6": []}}
    data.update(override)
    path.write_text(json.dumps(data, indent=1))


@pytest.fixture
def coco(tmp_path, write_jpeg):
    root = tmp_path / "coco"
    root.mkdir()
    _coco_json(root / "cocotext.v2.json")
    for i in (1, 2, 3, 6):
        write_jpeg(root / "train2014" / f"COCO_train2014_{i:012d}.jpg", i, size=(12, 16))
    _bad(root / "train2014" / f"COCO_train2014_{5:012d}.jpg", b"")  # 4 is not on disk
    return root


def test_cocotext(coco):
    loaded = load_cocotext(coco)
    m, info = loaded.manifest, loaded.info
    assert m["image_id"].tolist() == [1] and m["label"].tolist() == ["text"] and m["n_legible"].tolist() == [1]
    assert m["path"].item() == str(coco / "train2014" / "COCO_train2014_000000000001.jpg")
    assert m["fine_label"].item() == "legible_text" and m["coco_set"].item() == "train"
    assert loaded.rejected["path"].item().endswith("000000000005.jpg")
    assert (info["n_images_json"], info["n_with_legible"], info["n_illegible_only"]) == (6, 3, 1)
    assert (info["n_no_annotations"], info["n_missing"]) == (2, 1)

    both = load_cocotext(coco, include_no_text=True).manifest
    assert dict(zip(both["image_id"], both["label"])) == {1: "text", 3: "no_text", 6: "no_text"}


def test_cocotext_format_errors(coco, tmp_path):
    path = coco / "cocotext.v2.json"
    text = path.read_text()
    path.write_text(text[: len(text) // 2])
    with pytest.raises(FormatError) as err:
        load_cocotext(coco)
    assert "cocotext.v2.json, line" in str(err.value) and "invalid JSON" in str(err.value)
    _coco_json(path, imgToAnns=None)
    data = json.loads(path.read_text())
    del data["imgToAnns"]
    path.write_text(json.dumps(data))
    with pytest.raises(FormatError, match=r"cocotext\.v2\.json.*imgToAnns"):
        load_cocotext(coco)
    with pytest.raises(FileNotFoundError, match="cocotext.v2.json and train2014/"):
        load_cocotext(tmp_path / "nope")


# ---------------------------------------------------------------------------- RGP


def test_rgp(tmp_path, write_jpeg):
    root = tmp_path / "natural_images"
    write_jpeg(root / "car" / "a.jpg", 0)
    write_jpeg(root / "cat" / "sub" / "b.png", 1)
    write_jpeg(root / "c.JPG", 2)
    (root / "README.txt").write_text("x")
    (root / ".DS_Store").write_bytes(b"\0")
    _bad(root / "cat" / "._b.png", b"\0\5\26\7")
    loaded = load_rgp(root)
    m = loaded.manifest
    assert m["fine_label"].tolist() == ["", "car", "cat"] and (m["label"] == "no_text").all()
    assert loaded.info["n_files_ignored"] == 2 and "AppleDouble" in loaded.rejected["reason"].item()
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="no images"):
        load_rgp(tmp_path / "empty")


# ---------------------------------------------------------------------------- the registry


def test_load_dataset_dispatch(tmp_path, write_jpeg):
    write_jpeg(tmp_path / "rgp" / "x" / "a.jpg", 0)
    assert load_dataset("rgp", tmp_path / "rgp", check=False).manifest["dataset"].item() == "rgp"
    with pytest.raises(ValueError, match="webemo, unbiasedemo, emotion6, cocotext, rgp"):
        load_dataset("imagenet", tmp_path)
    with pytest.raises(TypeError):  # a loader's own options only
        load_dataset("rgp", tmp_path / "rgp", layout="cornell")


def test_every_dataset_has_a_loader_and_index_files(tiny_demo_dir):
    """Every name of config.DATASETS has a loader and an INDEX_FILES entry, and no other name
    does; each loader reads its dataset in the demo layout, where the index files exist."""
    assert list(LOADERS) == list(DATASETS)
    assert set(INDEX_FILES) == set(DATASETS)
    assert sadutils.data.LOADERS is LOADERS and sadutils.data.load_dataset is load_dataset
    for name in DATASETS:
        assert callable(LOADERS[name])
        files = INDEX_FILES[name]
        assert isinstance(files, tuple) and all(isinstance(f, str) and f for f in files), name
        root = tiny_demo_dir / name
        for f in files:
            assert (root / f).is_file(), (name, f)
        loaded = load_dataset(name, root, check=False)
        assert isinstance(loaded, Loaded) and len(loaded.manifest) > 0, name
        assert (loaded.manifest["dataset"] == name).all(), name


def test_emotion6_truth_columns_survive_a_models_predictions(tiny_demo_dir):
    """The annotators' probabilities are named apart from a model's ``p_<class>`` columns:
    predicting on the manifest must not overwrite them."""
    loaded = load_emotion6(tiny_demo_dir / "emotion6", check=False)
    frame = loaded.manifest.head(3)
    assert set(truth_columns()) <= set(frame.columns)

    class Fixed:
        class_names = ["sadness", "others"]
        output_shape = (None, 2)

    truth = frame[truth_columns()].to_numpy(copy=True)
    out = predict_frame(Fixed(), frame, np.zeros((3, 8, 8, 3), np.uint8),
                        forward=lambda batch: np.tile([[0.25, 0.75]], (len(batch), 1)))
    np.testing.assert_array_equal(out[truth_columns()].to_numpy(), truth)
    assert (out["p_sadness"] == 0.25).all()
