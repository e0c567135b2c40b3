"""Tests for sadutils.datasets: small fixtures in the real on-disk formats (shared/DATASETS.md)."""
import json

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from sadutils.config import MANIFEST_COLUMNS
from sadutils.datasets import (FormatError, Loaded, load_cocotext, load_dataset, load_emotion6,
                               load_rgp, load_unbiasedemo, load_webemo, manifest_hash,
                               parse_category_file, parse_webemo_list, read_manifest,
                               sample_per_class, save_manifest, stratified_split, webemo_urls)
from sadutils.download import url_to_filename

WEBEMO_LABELS = [
    ("affection", "love", "+"), ("cheerfullness", "joy", "+"), ("confusion", "confusion", "-"),
    ("contentment", "joy", "+"), ("disappointment", "sadness", "-"), ("disgust", "anger", "-"),
    ("enthrallment", "joy", "+"), ("envy", "anger", "-"), ("exasperation", "anger", "-"),
    ("gratitude", "love", "+"), ("horror", "fear", "-"), ("irritabilty", "anger", "-"),
    ("lust", "love", "+"), ("neglect", "sadness", "-"), ("nervousness", "fear", "-"),
    ("optimism", "joy", "+"), ("pride", "joy", "+"), ("rage", "anger", "-"), ("relief", "joy", "+"),
    ("sadness", "sadness", "-"), ("shame", "sadness", "-"), ("suffering", "sadness", "-"),
    ("surprise", "surprise", "+"), ("sympathy", "sadness", "-"), ("zest", "joy", "+"),
]


def _img(path, seed=0, fmt=None):
    path.parent.mkdir(parents=True, exist_ok=True)
    arr = np.random.default_rng(seed).integers(0, 256, (12, 16, 3), dtype=np.uint8)
    Image.fromarray(arr).save(path, format=fmt or ("PNG" if path.suffix == ".png" else "JPEG"))
    return path


def _bad(path, content=b"<html>not found</html>"):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return path


def _category(path):
    body = ",\n    ".join(repr(t) for t in WEBEMO_LABELS)
    path.write_text(f"# (level3, level2, polarity) in label index order\nlabels=[{body}]\n")


def _url(name):
    return f"https://cdn.example.com/photos/{name}.jpg"


@pytest.fixture
def webemo(tmp_path):
    root = tmp_path / "webemo"
    root.mkdir()
    _category(root / "category.txt")
    (root / "train25.txt").write_text(
        f"{_url('u1')} 4\n{_url('u2')} 0\n{_url('u2')} 0\n\n{_url('u3')} 4\n{_url('u4')} 2\n")
    (root / "test25.txt").write_bytes(
        f"{_url('u1')} 19 \r\n{_url('u3')} 0\r\n{_url('u5')} 23\r\n{_url('u6')} 10\r\n\r\n".encode())
    for i, name in enumerate(["u1", "u2", "u3", "u4"]):
        _img(root / "images" / url_to_filename(_url(name)), seed=i)
    _bad(root / "images" / url_to_filename(_url("u6")), b"")
    _img(root / "images" / "unlisted.jpg")
    (root / "images" / "README.txt").write_text("downloaded images")
    return root


def test_webemo_dedup_conflicts_and_counts(webemo):
    table, info = webemo_urls(webemo)
    assert list(table.columns) == ["url", "fine_index", "fine_label", "label", "source_list"]
    assert table["url"].tolist() == [_url(n) for n in ["u1", "u2", "u4", "u5", "u6"]]
    u1 = table.iloc[0]
    assert (u1.fine_index, u1.fine_label, u1.label, u1.source_list) == (4, "disappointment", "sadness", "train25.txt")
    assert info["n_lines"] == 9 and info["n_unique_urls"] == 6 and info["n_duplicate_lines"] == 3
    assert info["n_conflicting_urls"] == 1 and info["n_fine_label_disagreements"] == 1
    assert info["urls_by_label"] == {"others": 3, "sadness": 2}

    loaded = load_webemo(webemo)
    m = loaded.manifest
    assert isinstance(loaded, Loaded) and list(m.columns[:4]) == list(MANIFEST_COLUMNS)
    assert set(m["url"]) == {_url("u1"), _url("u2"), _url("u4")}
    assert m["path"].tolist() == sorted(m["path"]) and all(p.startswith("/") for p in m["path"])
    assert dict(zip(m["url"], m["label"])) == {_url("u1"): "sadness", _url("u2"): "others", _url("u4"): "others"}
    assert (m["dataset"] == "webemo").all() and m.loc[m.url == _url("u4"), "fine_label"].item() == "confusion"
    assert loaded.rejected["path"].tolist() == [str(webemo / "images" / url_to_filename(_url("u6")))]
    assert "empty" in loaded.rejected["reason"].item()
    info = loaded.info
    assert (info["n_downloaded"], info["n_missing"], info["n_unlisted_files"]) == (4, 1, 3)
    assert info["by_label"] == {"others": 2, "sadness": 1} and info["n_rejected"] == 1

    unchecked = load_webemo(webemo, check=False)
    assert len(unchecked.manifest) == 4 and unchecked.rejected.empty


def test_webemo_confusion_option_and_lists(webemo):
    m = load_webemo(webemo, include_confusion=True).manifest
    assert m.loc[m.url == _url("u4"), "label"].item() == "sadness"
    table, info = webemo_urls(webemo, lists=("train25.txt", "val25.txt"))
    assert info["lists"] == ["train25.txt"] and info["missing_lists"] == ["val25.txt"]
    assert info["n_conflicting_urls"] == 0 and len(table) == 4
    with pytest.raises(FileNotFoundError, match="val25.txt"):
        webemo_urls(webemo, lists=("val25.txt",))


def test_webemo_missing_root_and_parts(tmp_path, webemo):
    with pytest.raises(FileNotFoundError, match="category.txt, train25.txt/test25.txt and images/"):
        load_webemo(tmp_path / "nowhere")
    (webemo / "category.txt").unlink()
    with pytest.raises(FileNotFoundError, match="category.txt"):
        webemo_urls(webemo)


def test_parse_category_file(tmp_path):
    path = tmp_path / "category.txt"
    _category(path)
    labels = parse_category_file(path)
    assert len(labels) == 25 and labels[0] == ("affection", "love", "+") and labels[11][0] == "irritabilty"
    path.write_text("# c\nlabels=[('a', 'b', '+'), ('x]y', 'z', '-')]  # trailing comment\nother = [1]\n")
    assert parse_category_file(path) == [("a", "b", "+"), ("x]y", "z", "-")]
    bad = {
        "# c\nlabels=[('a', 'b', '+'),\n  ('c', 'd')]\n": "line 3",
        "# c\nlabels=[('a', 'b', '+'),\n  ('c', 'd', '-'\n": "line",
        "# c\nlabels=[('a', 'b', '+'), (__import__('os').system('x'), 'd', '-')]\n": "line 2",
        "# nothing here\n": "labels=",
    }
    for text, where in bad.items():
        path.write_text(text)
        with pytest.raises(FormatError) as err:
            parse_category_file(path)
        assert "category.txt" in str(err.value) and where in str(err.value), str(err.value)


def test_parse_webemo_list(tmp_path):
    path = tmp_path / "train25.txt"
    path.write_bytes(f"{_url('a')} 3\r\n\r\n{_url('b')} 24  \r\n".encode())
    df = parse_webemo_list(path)
    assert df.to_dict("list") == {"url": [_url("a"), _url("b")], "fine_index": [3, 24], "line": [1, 3]}
    for line in ["not-a-url 3", f"{_url('c')} 25", f"{_url('c')}", f"{_url('c')} x", f"3 {_url('c')}"]:
        path.write_text(f"{_url('a')} 3\n\n{line}\n")
        with pytest.raises(FormatError) as err:
            parse_webemo_list(path)
        msg = str(err.value)
        assert "train25.txt, line 3" in msg and line[:20] in msg and "<url> <label>" in msg, msg


UNBIASED = ["anger", "fear", "joy", "love", "Sadness", "surprise"]


@pytest.fixture
def unbiasedemo(tmp_path):
    root = tmp_path / "UnbiasedEmo"
    for i, emotion in enumerate(UNBIASED):
        for obj in ["dog", "beach"]:
            _img(root / "images" / emotion / obj / f"{i}.jpg", seed=i)
    _bad(root / "images" / "joy" / "dog" / "broken.jpg")
    (root / "images" / "joy" / ".DS_Store").write_bytes(b"\0\1")
    (root / "images" / "README.txt").write_text("x")
    return root


def test_unbiasedemo(unbiasedemo, tmp_path):
    loaded = load_unbiasedemo(unbiasedemo)
    m = loaded.manifest
    assert len(m) == 12 and loaded.info["by_label"] == {"others": 10, "sadness": 2}
    assert set(m["fine_label"]) == {e.lower() for e in UNBIASED} and set(m["object"]) == {"dog", "beach"}
    assert (m.loc[m.fine_label == "sadness", "label"] == "sadness").all()
    assert loaded.rejected["path"].tolist() == [str(unbiasedemo / "images/joy/dog/broken.jpg")]
    assert "HTML" in loaded.rejected["reason"].item() and loaded.info["n_files_ignored"] == 2
    # root may point at the folder of emotion folders, or above the zip's top folder
    assert load_unbiasedemo(unbiasedemo / "images").manifest["path"].tolist() == m["path"].tolist()
    assert load_unbiasedemo(tmp_path).manifest["path"].tolist() == m["path"].tolist()
    _img(unbiasedemo / "images" / "happyness" / "dog" / "x.jpg")
    with pytest.raises(FormatError, match="happyness"):
        load_unbiasedemo(unbiasedemo)
    with pytest.raises(FileNotFoundError, match="images/<emotion>/<object>/<file>"):
        load_unbiasedemo(tmp_path / "missing")


CORNELL = ["anger", "disgust", "fear", "joy", "sadness", "surprise"]


@pytest.fixture
def cornell(tmp_path):
    root = tmp_path / "Emotion6"
    for i, emotion in enumerate(CORNELL):
        for n in (1, 2):
            _img(root / "images" / emotion / f"{n}.jpg", seed=i * 2 + n)
    rows = ["[image_filename]\t[valence]\t[arousal]\t[prob. anger]\t..."]
    for emotion in CORNELL:
        for n in (1, 2):
            probs = [0.0] * 7
            probs[CORNELL.index(emotion)] = 0.6
            rows.append("\t".join([f"{emotion}/{n}.jpg", "5", "4"] + [f"{p:g}" for p in probs]))
    rows[1] = "anger/1.jpg 2.5  3.8 0.1 0 0 0 0.7 0.2 0"      # spaces; argmax -> sadness
    rows[2] = "anger/2.jpg\t5\t4\t0.4\t0\t0\t0\t0.4\t0.2\t0"   # tie anger/sadness -> anger
    rows[9] = "sadness/1.jpg\t5\t4\t0\t0\t0\t0\t0.2\t0\t0.8"   # argmax -> neutral
    (root / "ground_truth.txt").write_bytes(("\r\n".join(rows) + "\r\n").encode())
    return root


def test_emotion6_cornell(cornell, tmp_path):
    loaded = load_emotion6(cornell)
    m, info = loaded.manifest, loaded.info
    assert info["layout"] == "cornell" and len(m) == 12 and info["by_label"] == {"others": 10, "sadness": 2}
    assert info["n_without_ground_truth"] == 0 and info["n_ground_truth_rows_without_image"] == 0
    row = m[m.path.str.endswith("anger/1.jpg")].iloc[0]
    assert (row.valence, row.arousal, row.p_sadness, row.argmax_emotion) == (2.5, 3.8, 0.7, "sadness")
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


def test_emotion6_panda(tmp_path):
    root = tmp_path / "emotion6_panda"
    files = ["anger/digust/dirty/1.jpg", "sadness/grief/alone/2.jpg", "joy/3.jpg",
             "fear/a/b/c/4.png", "Love/Sadness/x/5.jpg"]
    for i, f in enumerate(files):
        _img(root / "images" / f, seed=i)
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
def coco(tmp_path):
    root = tmp_path / "coco"
    root.mkdir()
    _coco_json(root / "cocotext.v2.json")
    for i in (1, 2, 3, 6):
        _img(root / "train2014" / f"COCO_train2014_{i:012d}.jpg", seed=i)
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


def test_rgp(tmp_path):
    root = tmp_path / "natural_images"
    _img(root / "car" / "a.jpg")
    _img(root / "cat" / "sub" / "b.png", seed=1)
    _img(root / "c.JPG", seed=2)
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


def test_load_dataset_dispatch(tmp_path):
    _img(tmp_path / "rgp" / "x" / "a.jpg")
    assert load_dataset("rgp", tmp_path / "rgp", check=False).manifest["dataset"].item() == "rgp"
    with pytest.raises(ValueError, match="webemo, unbiasedemo, emotion6, cocotext, rgp"):
        load_dataset("imagenet", tmp_path)


def _manifest(n_sad=100, n_oth=60):
    labels = ["sadness"] * n_sad + ["others"] * n_oth
    return pd.DataFrame({"path": [f"/d/{i:04d}.jpg" for i in range(len(labels))], "label": labels,
                         "fine_label": labels, "dataset": "demo"})


def test_stratified_split():
    m = _manifest()
    split = stratified_split(m, seed=7)
    assert split.index.equals(m.index) and split.name == "split"
    counts = pd.crosstab(m["label"], split)
    assert counts.loc["sadness"].to_dict() == {"test": 15, "train": 70, "val": 15}
    assert counts.loc["others"].to_dict() == {"test": 9, "train": 42, "val": 9}
    assert split.equals(stratified_split(m, seed=7))
    shuffled = m.sample(frac=1, random_state=3)
    other = stratified_split(shuffled, seed=7)
    assert dict(zip(shuffled["path"], other)) == dict(zip(m["path"], split))
    assert not split.equals(stratified_split(m, seed=8))
    with pytest.raises(ValueError, match="fractions"):
        stratified_split(m, fractions=(0.5, 0.3, 0.3))


def test_sample_per_class():
    m = _manifest()
    a = sample_per_class(m, {"sadness": 10, "others": 5}, seed=1)
    assert a["label"].value_counts().to_dict() == {"sadness": 10, "others": 5}
    assert a["path"].is_monotonic_increasing and a.index.isin(m.index).all()
    shuffled = m.sample(frac=1, random_state=0)
    b = sample_per_class(shuffled, {"others": 5, "sadness": 10}, seed=1)
    assert a["path"].tolist() == b["path"].tolist()
    assert a["path"].tolist() != sample_per_class(m, {"sadness": 10, "others": 5}, seed=2)["path"].tolist()
    with pytest.raises(ValueError, match="'others': asked for 61 images but only 60 available"):
        sample_per_class(m, {"others": 61}, seed=1)


def test_manifest_io_and_hash(tmp_path):
    m = _manifest(3, 2)
    m.loc[0, "fine_label"] = ""
    path = save_manifest(m, tmp_path / "sub" / "manifest.csv")
    back = read_manifest(path)
    assert back[list(MANIFEST_COLUMNS)].equals(m[list(MANIFEST_COLUMNS)].astype(back["path"].dtype))
    assert back.loc[0, "fine_label"] == ""
    assert manifest_hash(m) == manifest_hash(m.iloc[::-1]) == manifest_hash(back)
    changed = m.copy()
    changed.loc[0, "label"] = "others"
    assert manifest_hash(changed) != manifest_hash(m)
    m.drop(columns=["label", "dataset"]).to_csv(path, index=False)
    with pytest.raises(FormatError, match=r"manifest\.csv.*label, dataset"):
        read_manifest(path)
