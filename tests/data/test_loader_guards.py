"""What the loaders refuse: index files that are silently wrong, names that leave the dataset's
folder, JSON nested too deep, folder trees that loop."""
from __future__ import annotations

import json
import os

import pytest

from sadutils.cli import main
from sadutils.data.cocotext import load_cocotext
from sadutils.data.emotion6 import load_emotion6
from sadutils.data.formats import FormatError, walk_images
from sadutils.data.rgp import load_rgp

# ---------------------------------------------------------------------------- Emotion-6

GOOD = "0.1 0 0 0 0.7 0.2 0"


def _cornell(root, write_jpeg, rows):
    for i, name in enumerate(("anger/1.jpg", "sadness/1.jpg")):
        write_jpeg(root / "images" / name, i)
    lines = ["[image_filename] [valence] [arousal] [prob. anger] ..."]
    lines += [f"{name} 5 4 {probs}" for name, probs in rows]
    (root / "ground_truth.txt").write_text("\n".join(lines) + "\n")
    return root


@pytest.mark.parametrize("probs, problem", [
    ("nan 0 0 0 0.1 0 0", "finite numbers"),               # nan would win the argmax
    ("0 0 0 0 inf 0 0", "finite numbers"),
    ("0.5 0 0 0 0.7 -0.2 0", "probabilities within 0..1"),
    ("0.5 0 0 0 0.9 0 0", "summing to 1"),                  # 1.4: not a distribution
    ("0.1 0 0 0 0.2 0 0", "summing to 1"),
    ("1.5 0 0 0 0 0 0", "within 0..1"),
])
def test_emotion6_probabilities_that_are_not_a_distribution_are_refused(
        tmp_path, write_jpeg, probs, problem):
    root = _cornell(tmp_path / "e6", write_jpeg, [("anger/1.jpg", GOOD), ("sadness/1.jpg", probs)])
    for label_from in ("folder", "argmax"):
        with pytest.raises(FormatError, match=rf"ground_truth\.txt, line 3: expected .*{problem}"):
            load_emotion6(root, label_from=label_from, check=False)


def test_emotion6_nan_valence_is_refused_and_good_rows_load(tmp_path, write_jpeg):
    root = _cornell(tmp_path / "e6", write_jpeg,
                    [("anger/1.jpg", GOOD), ("sadness/1.jpg", "0 0 0 0 0.998 0 0.002")])
    m = load_emotion6(root, label_from="argmax", check=False).manifest
    assert sorted(m["label"]) == ["sadness", "sadness"]  # rounding within 0.01 is accepted
    text = (root / "ground_truth.txt").read_text().replace("sadness/1.jpg 5 4", "sadness/1.jpg nan 4")
    (root / "ground_truth.txt").write_text(text)
    with pytest.raises(FormatError, match="line 3.*finite"):
        load_emotion6(root, check=False)


def test_index_names_the_file_and_line_of_a_bad_probability(tmp_path, write_jpeg, capsys):
    root = _cornell(tmp_path / "e6", write_jpeg,
                    [("anger/1.jpg", GOOD), ("sadness/1.jpg", "nan 0 0 0 0.1 0 0")])
    assert main(["index", "emotion6", str(root), "--no-check"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "ground_truth.txt, line 3" in err


# ---------------------------------------------------------------------------- COCO-Text

def _coco(root, write_jpeg, imgs, legible_ids):
    (root / "train2014").mkdir(parents=True)
    anns = {str(k): {"id": k, "image_id": i, "legibility": "legible"}
            for k, i in enumerate(legible_ids)}
    (root / "cocotext.v2.json").write_text(json.dumps({"imgs": imgs, "anns": anns,
                                                       "imgToAnns": {}}))
    return root


def test_cocotext_file_names_outside_the_folder_are_listed_never_read(tmp_path, write_jpeg):
    outside = write_jpeg(tmp_path / "secret.jpg", 1)  # a real image just outside the root
    root = tmp_path / "coco"
    imgs = {"1": {"id": 1, "file_name": "../secret.jpg"},
            "2": {"id": 2, "file_name": str(outside)},
            "3": {"id": 3, "file_name": ["COCO_1.jpg"]},
            "4": {"id": 4, "file_name": 7},
            "5": {"id": 5, "file_name": "sub/../../secret.jpg"},
            "6": {"id": 6, "file_name": "..\\secret.jpg"},
            "7": {"id": 7, "file_name": "COCO_7.jpg", "set": ["odd"]}}
    _coco(root, write_jpeg, imgs, range(1, 8))
    write_jpeg(root / "train2014" / "COCO_7.jpg", 7)
    loaded = load_cocotext(root)
    assert loaded.manifest["path"].tolist() == [str(root / "train2014" / "COCO_7.jpg")]
    assert loaded.info["n_file_names_refused"] == 6 and len(loaded.rejected) == 6
    assert not any("secret" in p and "file_name" not in p for p in loaded.manifest["path"])
    reasons = set(loaded.rejected["reason"])
    assert reasons == {"file_name points outside the image folder (absolute, or with '..')",
                       "file_name is not a non-empty string"}
    assert all("cocotext.v2.json: imgs[" in p for p in loaded.rejected["path"])


def test_cocotext_json_nested_too_deep_is_a_format_error(tmp_path, write_jpeg, capsys):
    root = tmp_path / "coco"
    (root / "train2014").mkdir(parents=True)
    (root / "cocotext.v2.json").write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(FormatError, match="cocotext.v2.json.*nested too deep"):
        load_cocotext(root)
    assert main(["index", "cocotext", str(root)]) == 2
    assert capsys.readouterr().err.count("\n") == 1


# ---------------------------------------------------------------------------- folder loops

def _loops(root, write_jpeg, n_links):
    photos = root / "natural_images" / "cat"
    for i in range(3):
        write_jpeg(photos / f"cat_{i}.jpg", i)
    for k in range(n_links):  # each link points back up: a walk following links never ends
        os.symlink(root, photos / f"loop{k}")
    os.symlink(photos, root / "natural_images" / "again")  # a second way into the same folder
    return root


@pytest.mark.parametrize("n_links", [1, 2])
def test_symlink_loops_list_each_image_once(tmp_path, write_jpeg, n_links):
    root = _loops(tmp_path / "rgp", write_jpeg, n_links)
    images, _, _ = walk_images(root)
    assert sorted(p.name for p in images) == ["cat_0.jpg", "cat_1.jpg", "cat_2.jpg"]
    loaded = load_rgp(root, check=False)
    assert len(loaded.manifest) == 3 and loaded.manifest["path"].is_unique  # so a split
    # cannot put one image in two parts


# ---------------------------------------------------------------------------- manifests

def test_index_out_keeps_the_old_manifest_when_the_write_fails(tmp_path, write_jpeg, capsys,
                                                                monkeypatch):
    root = tmp_path / "rgp"
    for i in range(2):
        write_jpeg(root / "natural_images" / "cat" / f"cat_{i}.jpg", i)
    out = tmp_path / "manifest.csv"
    out.write_text("path,label\nmine,1\n")

    def disk_full(self, path, *args, **kwargs):
        with open(path, "w") as f:
            f.write("path,lab")  # half written, then the disk is full
        raise OSError(28, "No space left on device", str(path))

    monkeypatch.setattr("pandas.DataFrame.to_csv", disk_full)
    assert main(["index", "rgp", str(root), "--no-check", "--out", str(out)]) == 3
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "the disk is full" in err
    assert out.read_text() == "path,label\nmine,1\n"  # untouched
    assert sorted(p.name for p in tmp_path.iterdir()) == ["manifest.csv", "rgp"]  # no temp left
