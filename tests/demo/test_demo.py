"""The demo data generator (sadutils.demo): deterministic, cached, loadable, realistically messy.

The demo set the tests read is the session's ``demo_dir`` (tests/conftest.py: generated and
"downloaded" once, as ``sadutils demo-data`` leaves it) and ``tiny_demo_dir``; the determinism,
caching and folder-independence tests generate their own copies in ``tmp_path``.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sadutils import demo
from sadutils.cli import main
from sadutils.config import DATASETS
from sadutils.data.cocotext import load_cocotext
from sadutils.data.download import load_log
from sadutils.data.emotion6 import load_emotion6
from sadutils.data.manifests import sample_per_class, stratified_split
from sadutils.data.rgp import load_rgp
from sadutils.data.unbiasedemo import load_unbiasedemo
from sadutils.data.webemo import load_webemo, webemo_urls
from sadutils.demo import generate, writers

#: Folders and files the generator writes (the downloader adds webemo/images and its logs).
GENERATED = ("webemo_cdn", "unbiasedemo", "emotion6", "cocotext", "rgp", "webemo/category.txt",
             "webemo/train25.txt", "webemo/test25.txt", demo.WEBEMO_TRUTH_NAME, demo.MARKER_NAME)


@pytest.fixture(scope="module")
def marker(demo_dir):
    return json.loads((demo_dir / demo.MARKER_NAME).read_text())


@pytest.fixture(scope="module")
def truth(demo_dir):
    return pd.read_csv(demo_dir / demo.WEBEMO_TRUTH_NAME, keep_default_na=False)


def _seed_scale(out: Path) -> tuple[int, float]:
    """The seed and scale a generated set was made with (from its marker)."""
    record = json.loads((out / demo.MARKER_NAME).read_text())
    return record["seed"], record["scale"]


def generated_hashes(out: Path) -> dict[str, str]:
    """sha256 of every file the generator wrote under ``out``, by relative path.

    The list files hold absolute ``file://`` URLs into ``out``; that prefix is neutralised so
    that two copies in different folders compare equal.
    """
    prefix = out.resolve().as_uri().encode()
    hashes = {}
    for entry in GENERATED:
        path = out / entry
        for f in sorted([path] if path.is_file() else (p for p in path.rglob("*") if p.is_file())):
            data = f.read_bytes()
            if f.suffix == ".txt" and f.parent.name == "webemo":
                data = data.replace(prefix, b"<OUT>")
            hashes[f.relative_to(out).as_posix()] = hashlib.sha256(data).hexdigest()
    return hashes


def mtimes(out: Path) -> dict[str, int]:
    return {p.relative_to(out).as_posix(): p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()}


# ---------------------------------------------------------------------------- determinism, cache

def test_same_seed_and_scale_give_byte_identical_files(demo_dir, tmp_path):
    seed, scale = _seed_scale(demo_dir)
    first = generated_hashes(demo_dir)
    demo.generate_demo_data(tmp_path, seed=seed, scale=scale)
    second = generated_hashes(tmp_path)
    assert len(first) > 500
    assert second == first
    for name in ("webemo/train25.txt", "emotion6/ground_truth.txt", "cocotext/cocotext.v2.json",
                 "rgp/natural_images/cat/cat_0000.jpg", "unbiasedemo/images/sadness/tree/1.jpg"):
        print(f"{first[name][:16]}  {name}")
    # The downloader's copies are the CDN's bytes.
    log = pd.read_csv(demo_dir / "webemo" / "downloads.csv")
    ok = log[log["status"] == "ok"]
    assert len(ok) > 0
    for url, name in ok[["url", "file"]].head(20).itertuples(index=False):
        cdn_copy = demo_dir / "webemo_cdn" / url.rsplit("/", 1)[1]
        assert (demo_dir / "webemo" / name).read_bytes() == cdn_copy.read_bytes()  # images/<name>


def test_another_seed_gives_other_images(tiny_demo_dir, tmp_path):
    seed, scale = _seed_scale(tiny_demo_dir)
    demo.generate_demo_data(tmp_path / "b", seed=seed + 1, scale=scale)
    first, other = generated_hashes(tiny_demo_dir), generated_hashes(tmp_path / "b")
    images = [k for k in set(first) & set(other) if k.endswith(".jpg")]
    assert len(images) > 50  # unbiasedemo, emotion6 and rgp files have seed-free names
    assert all(first[k] != other[k] for k in images)
    webemo_first = {k for k in first if k.startswith("webemo_cdn/")}
    assert webemo_first and not webemo_first & set(other)  # CDN file names are drawn from the seed too
    assert other["webemo/train25.txt"] != first["webemo/train25.txt"]
    assert json.loads((tmp_path / "b" / demo.MARKER_NAME).read_text())["seed"] == seed + 1


def test_reuse_without_rebuild_then_force_and_scale_rebuild(tmp_path):
    seed, scale = 1234, 0.05
    roots = demo.generate_demo_data(tmp_path, seed=seed, scale=scale)
    assert roots == {name: tmp_path.resolve() / name for name in DATASETS}
    hashes, before = generated_hashes(tmp_path), mtimes(tmp_path)
    sentinel = tmp_path / "rgp" / "natural_images" / "sentinel.txt"
    sentinel.write_text("a rebuild deletes me")

    assert demo.generate_demo_data(tmp_path, seed=seed, scale=scale) == roots  # marker matches
    assert sentinel.exists()
    assert {k: v for k, v in mtimes(tmp_path).items() if k in before} == before

    demo.generate_demo_data(tmp_path, seed=seed, scale=scale, force=True)
    assert not sentinel.exists()
    after = mtimes(tmp_path)
    assert after[demo.MARKER_NAME] > before[demo.MARKER_NAME]
    assert generated_hashes(tmp_path) == hashes  # rebuilt, identical

    (tmp_path / "rgp" / "natural_images" / "sentinel.txt").write_text("x")
    demo.generate_demo_data(tmp_path, seed=seed, scale=0.06)  # another scale: marker mismatch
    assert not sentinel.exists()
    assert json.loads((tmp_path / demo.MARKER_NAME).read_text())["scale"] == 0.06


def test_interrupted_generation_is_not_reused(tmp_path, monkeypatch):
    """A run killed half-way leaves its marker saying "incomplete": the next call rebuilds."""
    def killed(*args):
        raise KeyboardInterrupt

    assert generate.WRITERS[-1][0] == "rgp"  # the last writer dies: the others' files exist
    monkeypatch.setattr(generate, "WRITERS", (*generate.WRITERS[:-1], ("rgp", killed)))
    with pytest.raises(KeyboardInterrupt):
        demo.generate_demo_data(tmp_path, seed=1234, scale=0.02)
    assert json.loads((tmp_path / demo.MARKER_NAME).read_text())["complete"] is False
    victim = next((tmp_path / "emotion6").rglob("*.jpg"))
    victim.write_bytes(b"half-written")
    with pytest.raises(FileNotFoundError, match="incomplete"):
        demo.describe_demo(tmp_path)
    monkeypatch.undo()
    demo.generate_demo_data(tmp_path, seed=1234, scale=0.02)
    assert json.loads((tmp_path / demo.MARKER_NAME).read_text())["complete"] is True
    with Image.open(victim) as im:
        im.verify()


@pytest.mark.parametrize("marker_text", [None, "[1, 2]", '{"seed": 1234}', "{not json"])
def test_a_folder_that_is_not_demo_data_is_never_touched(tmp_path, marker_text, capsys):
    """A user's data root (real dataset folders, no marker of the generator; or a marker of the
    wrong shape) is refused before anything is deleted or written, with exit status 2."""
    real = tmp_path / "webemo" / "images" / "mine.jpg"
    real.parent.mkdir(parents=True)
    real.write_bytes(b"a user's photo")
    (tmp_path / "emotion6").mkdir()
    if marker_text is not None:
        (tmp_path / demo.MARKER_NAME).write_text(marker_text)
    before = mtimes(tmp_path)
    with pytest.raises(ValueError, match="is not empty.*not a demo data folder"):
        demo.generate_demo_data(tmp_path, seed=1234, scale=0.02)
    assert main(["demo-data", "--out", str(tmp_path), "--scale", "0.02"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "nothing was changed" in err
    assert mtimes(tmp_path) == before and real.read_bytes() == b"a user's photo"


@pytest.mark.parametrize("scale", ["inf", "nan", "-1", "0", "1e6"])
def test_unusable_scale_is_refused_before_anything_is_touched(tiny_demo_dir, tmp_path, scale,
                                                              capsys):
    copy = tmp_path / "copy"
    shutil.copytree(tiny_demo_dir, copy)
    before = mtimes(copy)
    assert main(["demo-data", "--out", str(copy), f"--scale={scale}"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "scale must be a finite number > 0" in err
    assert mtimes(copy) == before


def test_out_that_is_a_file_is_refused(tmp_path, capsys):
    target = tmp_path / "data.txt"
    target.write_text("mine")
    assert main(["demo-data", "--out", str(target), "--scale", "0.02"]) == 2
    assert "is a file" in capsys.readouterr().err and target.read_text() == "mine"


def test_bad_seed_or_scale_is_refused(tmp_path):
    with pytest.raises(ValueError, match="scale"):
        demo.generate_demo_data(tmp_path, scale=0)
    with pytest.raises(ValueError, match="seed"):
        demo.generate_demo_data(tmp_path, seed=-1)
    with pytest.raises(ValueError, match="scale"):
        demo.ensure_demo_data(tmp_path, scale=-1, progress=False)
    assert list(tmp_path.iterdir()) == []  # refused before writing anything


def test_describe_demo(demo_dir, marker, tmp_path):
    described = demo.describe_demo(demo_dir)
    assert {k: described[k] for k in marker} == marker
    assert set(described["root_paths"]) == set(DATASETS)
    for name, root in described["root_paths"].items():
        assert Path(root).is_absolute() and Path(root).is_dir() and Path(root).name == name
    with pytest.raises(FileNotFoundError, match=demo.MARKER_NAME):
        demo.describe_demo(tmp_path)
    assert demo.describe_demo(tmp_path, missing_ok=True) is None


# ---------------------------------------------------------------------------- ensure_demo_data

def test_ensure_demo_data_downloads_like_a_user(demo_dir, marker):
    """Both WEBEmo-like lists are downloaded into webemo/images/, every outcome logged."""
    c = marker["counts"]["webemo"]
    log = load_log(demo_dir / "webemo" / "downloads.csv")
    images = {p.name for p in (demo_dir / "webemo" / "images").iterdir()}
    done = log[log["status"].isin(["ok", "skipped_existing"])]
    assert len(done) == len(images) == c["usable_images"]
    assert {f.split("/", 1)[1] for f in done["file"]} == images
    assert (log["status"] == "file_error").sum() == c["dead_urls"]
    assert (log["status"] == "not_image").sum() == c["corrupt_files"]
    assert not list((demo_dir / "webemo" / "images").glob(".*"))  # no temp files left


def test_ensure_demo_data_waits_for_a_notebook_checking_beside_it(tiny_demo_dir, tmp_path):
    """Notebooks started side by side each check the demo images: the second waits for the
    first's lock on webemo/images instead of failing (a CI run failed so on 2026-12-07)."""
    fcntl = pytest.importorskip("fcntl")
    copy = tmp_path / "copy"
    shutil.copytree(tiny_demo_dir, copy)
    seed, scale = _seed_scale(copy)
    held = os.open(copy / "webemo" / "images", os.O_RDONLY)
    fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)  # as the other notebook's check holds it
    release = threading.Timer(1.0, os.close, [held])
    release.start()
    try:
        roots = demo.ensure_demo_data(copy, seed=seed, scale=scale, progress=False)
    finally:
        release.join()
    assert roots["webemo"] == copy.resolve() / "webemo"


def test_ensure_demo_data_second_call_downloads_nothing(tiny_demo_dir, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(tiny_demo_dir, copy)
    seed, scale = _seed_scale(copy)
    images = copy / "webemo" / "images"
    before = mtimes(images)
    generated = {k: v for k, v in mtimes(copy).items() if not k.startswith("webemo/")}
    roots = demo.ensure_demo_data(copy, seed=seed, scale=scale, progress=False)
    assert roots == {name: copy.resolve() / name for name in DATASETS}
    assert mtimes(images) == before  # nothing downloaded again, nothing removed
    assert {k: v for k, v in mtimes(copy).items() if not k.startswith("webemo/")} == generated
    log = load_log(copy / "webemo" / "downloads.csv")
    assert "ok" not in set(log["status"]) and (log["status"] == "skipped_existing").sum() == len(before)
    # what failed is retried, not forgotten; the copy's lists still name the original's CDN,
    # which lies outside the copy: those file URLs are refused, and nothing is read from there
    counts = json.loads((copy / demo.MARKER_NAME).read_text())["counts"]["webemo"]
    refused = log[log["status"] == "rejected_scheme"]
    assert len(refused) == counts["dead_urls"] + counts["corrupt_files"]
    assert refused["error"].str.contains("outside the allowed folder").all()


# ---------------------------------------------------------------------------- real loaders

def test_webemo_loads_with_marker_counts(demo_dir, marker):
    c = marker["counts"]["webemo"]
    loaded = load_webemo(demo_dir / "webemo")
    assert loaded.rejected.empty
    assert loaded.info["by_label"] == {"others": c["others"], "sadness": c["sadness"]}
    assert loaded.info["n_downloaded"] == c["usable_images"] == len(loaded.manifest)
    assert loaded.info["n_conflicting_urls"] == c["conflict_urls"]
    assert loaded.info["n_missing"] == c["dead_urls"] + c["corrupt_files"]
    assert set(loaded.manifest["source_list"]) == {"train25.txt", "test25.txt"}


def test_unbiasedemo_loads_with_marker_counts(demo_dir, marker):
    c = marker["counts"]["unbiasedemo"]
    loaded = load_unbiasedemo(demo_dir / "unbiasedemo")
    m = loaded.manifest
    assert loaded.rejected.empty
    assert loaded.info["by_label"] == {"others": c["total"] - c["sadness"], "sadness": c["sadness"]}
    assert m["fine_label"].value_counts().to_dict() == {e: c[e] for e in writers.UNBIASED_EMOTIONS}
    assert set(m["object"]) == set(writers.UNBIASED_OBJECTS)


def test_emotion6_loads_with_marker_counts(demo_dir, marker):
    c = marker["counts"]["emotion6"]
    by_folder = load_emotion6(demo_dir / "emotion6")
    assert by_folder.rejected.empty and by_folder.info["layout"] == "cornell"
    assert by_folder.info["by_label"] == {"others": 5 * c["per_emotion"], "sadness": c["per_emotion"]}
    assert by_folder.info["n_without_ground_truth"] == 0
    by_argmax = load_emotion6(demo_dir / "emotion6", label_from="argmax", check=False)
    m = by_argmax.manifest
    assert len(m) == c["total"]
    assert (m["fine_label"] != m["folder"]).sum() == c["argmax_differs_from_folder"] > 0


def test_cocotext_loads_with_marker_counts(demo_dir, marker):
    c = marker["counts"]["cocotext"]
    loaded = load_cocotext(demo_dir / "cocotext")
    assert loaded.rejected.empty
    assert loaded.info["by_label"] == {"text": c["legible_images"]}
    assert loaded.info["n_illegible_only"] == c["illegible_only_images"]
    assert loaded.info["n_no_annotations"] == c["no_annotation_images"]
    assert loaded.info["n_anns"] == c["legible_anns"] + c["illegible_anns"]
    assert loaded.info["n_missing"] == 0
    with_none = load_cocotext(demo_dir / "cocotext", include_no_text=True, check=False)
    assert with_none.info["by_label"] == {"no_text": c["no_annotation_images"], "text": c["legible_images"]}


def test_rgp_loads_with_marker_counts(demo_dir, marker):
    c = marker["counts"]["rgp"]
    loaded = load_rgp(demo_dir / "rgp")
    assert loaded.rejected.empty
    assert loaded.info["by_label"] == {"no_text": c["total"]}
    classes = loaded.manifest["path"].map(lambda p: Path(p).parent.name)
    assert classes.value_counts().to_dict() == {k: c["per_class"] for k in writers.RGP_CLASSES}


# ---------------------------------------------------------------------------- WEBEmo's warts

def test_webemo_lists_hold_conflicts_duplicates_and_dead_urls(demo_dir, marker, truth):
    c = marker["counts"]["webemo"]
    table, info = webemo_urls(demo_dir / "webemo")
    assert info["n_lines"] == c["train25.txt"] + c["test25.txt"]
    assert info["n_unique_urls"] == c["usable_images"] + c["conflict_urls"] + c["dead_urls"] + c["corrupt_files"]
    assert info["n_conflicting_urls"] == c["conflict_urls"] > 0
    # duplicates: exact repeats, same-group relabels, and the second line of each conflict
    assert info["n_duplicate_lines"] == c["duplicate_lines"] + c["same_group_relabels"] + c["conflict_urls"]
    assert info["n_fine_label_disagreements"] == c["same_group_relabels"] > 0
    assert c["dead_urls"] > 0 and c["duplicate_lines"] > 0

    log = pd.read_csv(demo_dir / "webemo" / "downloads.csv")
    log["file_name"] = log["url"].str.rsplit("/", n=1).str[1]
    status = dict(zip(log["file_name"], log["status"]))
    dead = truth.loc[truth["status"] == "dead", "file_name"]
    corrupt = truth.loc[truth["status"].isin(["zero_bytes", "html", "truncated"]), "file_name"]
    conflict = truth.loc[truth["status"] == "conflict", "file_name"]
    assert len(dead) == c["dead_urls"] and len(corrupt) == c["corrupt_files"] == 3
    assert {status.get(f) for f in dead} == {"file_error"}   # logged as dead, not silently skipped
    assert {status.get(f) for f in corrupt} == {"not_image"}
    assert not set(conflict) & set(status)                   # ambiguous URLs are never fetched
    assert not (demo_dir / "webemo" / "images").joinpath(dead.iloc[0]).exists()


def test_some_webemo_images_carry_text(demo_dir, marker, truth):
    c = marker["counts"]["webemo"]
    usable = truth[truth["status"] == "ok"]
    with_text = usable[usable["has_text"] == 1]
    assert with_text.groupby("binary_label").size().to_dict() == \
        {"others": c["with_text_others"], "sadness": c["with_text_sadness"]}
    for cls, share in writers.WEBEMO_TEXT_FRACTION.items():
        n = (usable["binary_label"] == cls).sum()
        assert abs(len(with_text[with_text["binary_label"] == cls]) / n - share) < 0.02
    assert (with_text["text_kinds"] != "").all()
    assert (usable.loc[usable["has_text"] == 0, "text_kinds"] == "").all()
    loaded = load_webemo(demo_dir / "webemo", check=False).manifest
    downloaded = set(loaded["url"].str.rsplit("/", n=1).str[1])
    assert set(with_text["file_name"]) <= downloaded  # they reach the text filter


def test_the_positive_control_is_stated_and_drawn(marker, truth):
    """Sad captions on a stated share of each class's images, part of its images with text; on
    a sadness image the picture looks like others, so the words alone carry the sadness."""
    control = marker["positive_control"]
    assert control["rate"] == writers.POSITIVE_CONTROL
    assert control["text_rate"] == writers.WEBEMO_TEXT_FRACTION
    assert control["captions"] and "miss you" in control["captions"]
    c = marker["counts"]["webemo"]
    usable = truth[truth["status"] == "ok"]
    captioned = usable[usable["caption"] != ""]
    assert (captioned["has_text"] == 1).all() and (captioned["text_kinds"] == "sad_caption").all()
    assert set(captioned["caption"]) <= set(control["captions"])
    for cls, rate in writers.POSITIVE_CONTROL.items():
        n = (usable["binary_label"] == cls).sum()
        mine = (captioned["binary_label"] == cls).sum()
        assert mine == c[f"sad_caption_{cls}"]
        assert abs(mine / n - rate) < 0.02
    sad = captioned[captioned["binary_label"] == "sadness"]
    assert (sad["rendered_mood"] != "sadness").all()


# ---------------------------------------------------------------------------- learnable, not trivial

def _hsv_stats(path: str) -> np.ndarray:
    """Mean and std of the H, S and V channels of a 32 px thumbnail."""
    with Image.open(path) as im:
        im = im.convert("RGB")
        im.thumbnail((32, 32))
        hsv = np.asarray(im.convert("HSV"), dtype=float).reshape(-1, 3) / 255.0
    return np.concatenate([hsv.mean(0), hsv.std(0)])


def test_sadness_is_learnable_but_not_trivial(demo_dir):
    m = load_webemo(demo_dir / "webemo", check=False).manifest
    X = np.stack([_hsv_stats(p) for p in m["path"]])
    y = (m["label"] == "sadness").to_numpy()
    chance = max(y.mean(), 1 - y.mean())
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    folds = StratifiedKFold(5, shuffle=True, random_state=0)
    accuracy = cross_val_score(model, X, y, cv=folds).mean()  # each image held out once
    print(f"held-out accuracy of logistic regression on HSV colour statistics: {accuracy:.3f} "
          f"(majority class {chance:.3f}, n={len(y)})")
    assert chance + 0.07 <= accuracy <= 0.92


def test_webemo_sample_and_split_do_not_depend_on_the_data_folder(tiny_demo_dir, tmp_path):
    """The demo's file:// URLs name its folder; the seeded sample and split must not."""
    seed, scale = _seed_scale(tiny_demo_dir)
    elsewhere = demo.ensure_demo_data(tmp_path / "second" / "deeper", seed=seed, scale=scale,
                                      progress=False)
    chosen = []
    for root in (tiny_demo_dir / "webemo", elsewhere["webemo"]):
        manifest = load_webemo(root, check=False).manifest
        sample = sample_per_class(manifest, {"sadness": 20, "others": 20}, seed=7)
        sample = sample.assign(split=stratified_split(sample, seed=7))
        chosen.append(sorted(zip(sample["url"].str.rsplit("/", n=1).str[-1], sample["split"])))
    assert len(chosen[0]) == 40 and chosen[0] == chosen[1]
    # the URLs themselves differ (they name each folder), so the equality above is not trivial
    first = load_webemo(tiny_demo_dir / "webemo", check=False).manifest["url"]
    assert not set(first) & set(load_webemo(elsewhere["webemo"], check=False).manifest["url"])
