"""The ``sadutils`` command line, run in-process on a tiny generated demo set and small fixtures."""
from __future__ import annotations

import json
import re
import shutil

import pandas as pd
import pytest
from PIL import Image

from sadutils import config
from sadutils.cli import main
from sadutils.download import url_to_filename
from sadutils.pipeline import ensure_demo_data

SCALE = 0.05


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory):
    """A tiny demo set, WEBEmo-like images downloaded, as ``sadutils demo-data`` leaves it."""
    out = tmp_path_factory.mktemp("demo")
    ensure_demo_data(out, scale=SCALE, progress=False)
    return out


def run(capsys, *argv):
    """``main(argv)``'s exit status, stdout and stderr."""
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def index_json(capsys, dataset, root, *options):
    code, out, err = run(capsys, "index", dataset, root, "--json", *options)
    assert code == 0, err
    return json.loads(out)


# ---------------------------------------------------------------------------------- demo data

def test_ensure_demo_data_downloads_webemo_and_is_resumable(demo_dir):
    log = pd.read_csv(demo_dir / "webemo" / "downloads.csv")
    marker = json.loads((demo_dir / "DEMO_DATA.json").read_text())["counts"]["webemo"]
    status = log["status"].value_counts()
    assert status["ok"] == marker["usable_images"]  # conflicting URLs are not downloaded
    assert status["not_image"] == marker["corrupt_files"]      # empty, HTML, truncated
    assert status["file_error"] == marker["dead_urls"]
    roots = ensure_demo_data(demo_dir, scale=SCALE, progress=False)  # second call: nothing new
    assert set(roots) == set(config.DATASETS)
    again = pd.read_csv(demo_dir / "webemo" / "downloads.csv")
    assert set(again.loc[again["status"].isin(["ok", "skipped_existing"]), "url"]) == \
        set(log.loc[log["status"] == "ok", "url"])


def test_demo_data_command_prints_roots_and_counts(demo_dir, capsys):
    code, out, _ = run(capsys, "demo-data", "--out", demo_dir, "--scale", SCALE)
    assert code == 0
    for name in config.DATASETS:
        assert f"  {name} " in out and str(demo_dir / name) in out
    assert "downloads.csv" in out


# ---------------------------------------------------------------------------------- index

@pytest.mark.parametrize("dataset", config.DATASETS)
def test_index_json_counts_every_dataset(demo_dir, capsys, dataset):
    record = index_json(capsys, dataset, demo_dir / dataset)
    assert record["dataset"] == dataset
    assert record["root"] == str(demo_dir / dataset)
    assert record["n_images"] > 0
    assert record["n_images"] == sum(record["by_label"].values())
    assert record["rejected"] == []  # the demo plants no bad file in a loader's folder
    assert record["info"]["n_images"] == record["n_images"]
    if dataset == "webemo":
        marker = json.loads((demo_dir / "DEMO_DATA.json").read_text())["counts"]["webemo"]
        assert record["n_conflicting_urls"] == marker["conflict_urls"]
        assert record["n_duplicate_lines"] > 0
        assert record["n_unique_urls"] > record["n_downloaded"] == record["n_images"]
        assert record["n_images"] == marker["usable_images"]


def test_index_webemo_rejects_a_corrupt_download(demo_dir, tmp_path, capsys):
    """A broken file saved under a listed URL's name is refused, with the reason."""
    root = tmp_path / "webemo"
    shutil.copytree(demo_dir / "webemo", root)
    log = pd.read_csv(root / "downloads.csv")
    dead = log.loc[log["status"] == "file_error", "url"].iloc[0]
    bad = root / "images" / url_to_filename(dead)
    bad.write_bytes(b"<html><body>404</body></html>")
    before = index_json(capsys, "webemo", demo_dir / "webemo")
    record = index_json(capsys, "webemo", root)
    assert record["rejected"] == [{"path": str(bad), "reason": record["rejected"][0]["reason"]}]
    assert "HTML" in record["rejected"][0]["reason"]
    assert record["n_images"] == before["n_images"]
    assert record["n_downloaded"] == before["n_downloaded"] + 1
    unchecked = index_json(capsys, "webemo", root, "--no-check")
    assert unchecked["rejected"] == [] and unchecked["n_images"] == before["n_images"] + 1


def test_index_table_and_manifest(demo_dir, tmp_path, capsys):
    csv = tmp_path / "m" / "emotion6.csv"
    code, out, _ = run(capsys, "index", "emotion6", demo_dir / "emotion6", "--out", csv,
                       "--label-from", "argmax")
    assert code == 0
    manifest = pd.read_csv(csv)
    assert re.search(rf"^\s+total\s+{len(manifest)}$", out, re.M)
    assert "label_from=argmax" in out and "rejected: 0" in out
    assert set(manifest["label"]) <= set(config.CLASS_NAMES)


def test_index_table_lists_rejected_files_with_reasons(demo_dir, tmp_path, capsys):
    root = tmp_path / "rgp"
    shutil.copytree(demo_dir / "rgp", root)
    bad = root / "natural_images" / "cat" / "broken.jpg"
    bad.write_bytes(b"")
    code, out, _ = run(capsys, "index", "rgp", root)
    assert code == 0
    assert "rejected: 1" in out
    line = next(l for l in out.splitlines() if str(bad) in l)
    assert line.strip().startswith(f"{bad}: ") and len(line.split(": ", 1)[1]) > 3
    record = index_json(capsys, "rgp", root)
    assert [r["path"] for r in record["rejected"]] == [str(bad)]
    assert record["rejected"][0]["reason"] == line.split(": ", 1)[1]


def test_index_malformed_list_names_file_and_line(demo_dir, tmp_path, capsys):
    root = tmp_path / "webemo"
    (root / "images").mkdir(parents=True)
    shutil.copy(demo_dir / "webemo" / "category.txt", root)
    (root / "train25.txt").write_text("http://example.com/a.jpg 3\nhttp://example.com/b.jpg sad\n")
    code, out, err = run(capsys, "index", "webemo", root)
    assert code == 2 and out == ""
    assert err.startswith("sadutils: error: ") and err.count("\n") == 1
    assert str(root / "train25.txt") in err and "line 2" in err
    assert "Traceback" not in err


def test_index_user_errors_exit_2(demo_dir, tmp_path, capsys):
    code, _, err = run(capsys, "index", "nosuch", tmp_path)
    assert code == 2 and "invalid choice" in err
    assert all(name in err for name in config.DATASETS)
    code, _, err = run(capsys, "index", "rgp", tmp_path / "missing")
    assert code == 2 and "sadutils: error:" in err and "not found" in err
    code, _, err = run(capsys, "index", "rgp", demo_dir / "rgp", "--layout", "panda")
    assert code == 2 and "--layout applies only to emotion6" in err


# ---------------------------------------------------------------------------------- fetch

def test_fetch_manual_dataset_prints_instructions(tmp_path, capsys):
    code, out, err = run(capsys, "fetch", "webemo", "--out", tmp_path / "webemo")
    assert code == 2 and out == ""
    assert "rpand002.github.io" in err and str(tmp_path / "webemo") in err
    assert f"sadutils download-webemo {tmp_path / 'webemo' / 'train25.txt'} --out" in err
    assert "Traceback" not in err


@pytest.mark.parametrize("dataset, layout", [
    ("unbiasedemo", "images/<emotion>/<object-or-scene>/<file>.jpg"),
    ("rgp", "natural_images/<class>/<file>.jpg"),
])
def test_fetch_sign_up_datasets_say_where_and_which_layout(tmp_path, capsys, dataset, layout):
    code, out, err = run(capsys, "fetch", dataset, "--out", tmp_path)
    assert code == 2 and out == "" and err.count("\n") == 1
    assert "http" in err and f"{tmp_path}/{layout}" in err


def test_fetch_sign_up_dataset_already_in_place(demo_dir, capsys):
    code, out, err = run(capsys, "fetch", "unbiasedemo", "--out", demo_dir / "unbiasedemo")
    assert code == 0 and err == ""
    assert out.startswith(f"unbiasedemo ready in {demo_dir / 'unbiasedemo'}")


def test_fetch_network_failure_is_one_line(tmp_path, capsys, monkeypatch):
    import requests

    from sadutils import download

    def offline(*args, **kwargs):
        raise requests.ConnectionError("Failed to resolve 'github.com' (Name or service not known)")

    monkeypatch.setattr(download, "fetch_archive", offline)
    code, out, err = run(capsys, "fetch", "cocotext", "--out", tmp_path)
    assert code == 2 and out == "" and err.count("\n") == 1
    assert err.startswith("sadutils: error: could not download https://")
    assert "ConnectionError" in err and "run the same command again" in err


# ---------------------------------------------------------------------------------- usage errors

@pytest.mark.parametrize("argv, choices", [
    (("index", "nosuch", "."), config.DATASETS),
    (("nosuch",), ("demo-data", "index", "download-webemo", "fetch")),
    ((), ("demo-data", "index", "download-webemo", "fetch")),
    (("fetch", "imagenet", "--out", "."), ("webemo", "emotion6", "coco-train2014")),
    (("index", "emotion6", ".", "--label-from", "votes"), ("folder", "argmax")),
    (("index", "emotion6", ".", "--layout", "x"), ("auto", "cornell", "panda")),
])
def test_bad_argument_is_one_line_naming_the_choices(capsys, argv, choices):
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("sadutils") and ": error: " in err
    assert "usage:" not in err
    assert all(c in err for c in choices)


def test_missing_required_option_is_one_line(url_list, capsys):
    code, _, err = run(capsys, "download-webemo", url_list)
    assert code == 2 and err.count("\n") == 1 and "--out" in err


# ---------------------------------------------------------------------------------- download

@pytest.fixture
def url_list(tmp_path):
    """A WEBEmo-style list of file:// URLs: 3 images, 1 dead link, 1 HTML page."""
    cdn = tmp_path / "cdn"
    cdn.mkdir()
    lines = []
    for i, fine in enumerate((19, 4, 1)):  # sadness, sadness, cheerfullness
        Image.new("RGB", (40, 30), (40 * i, 80, 120)).save(cdn / f"img{i}.jpg")
        lines.append(f"{(cdn / f'img{i}.jpg').as_uri()} {fine}")
    (cdn / "page.jpg").write_text("<html>gone</html>")
    lines += [f"{(cdn / 'dead.jpg').as_uri()} 0", f"{(cdn / 'page.jpg').as_uri()} 22"]
    path = tmp_path / "train25.txt"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_download_webemo_summary_and_resume(url_list, tmp_path, capsys):
    out_dir = tmp_path / "out"
    argv = ("download-webemo", url_list, "--out", out_dir, "--workers", 2, "--retries", 0)
    code, out, _ = run(capsys, *argv)
    assert code == 0
    assert "5 lines, 5 unique URLs" in out
    assert re.search(r"^\s+ok\s+3$", out, re.M)
    assert "not_image" in out and "file_error" in out
    assert "3 of 5 images on disk" in out and str(out_dir / "downloads.csv") in out
    assert len(list((out_dir / "images").glob("*.jpg"))) == 3
    code, out, _ = run(capsys, *argv)
    assert code == 0 and "skipped_existing" in out and "3 of 5 images on disk" in out


def test_download_webemo_sample(url_list, tmp_path, capsys):
    out_dir = tmp_path / "out"
    code, out, _ = run(capsys, "download-webemo", url_list, "--out", out_dir,
                       "--sample-sadness", 1, "--sample-others", 0, "--workers", 1)
    assert code == 0 and "1 selected" in out and "(sadness 1)" in out
    code, _, err = run(capsys, "download-webemo", url_list, "--out", out_dir, "--sample-sadness", 1)
    assert code == 2 and "--sample-others" in err


def test_version_and_help(capsys):
    code, out, _ = run(capsys, "--version")
    assert code == 0 and out.startswith("sadutils ")
    code, out, _ = run(capsys, "--help")
    assert code == 0 and all(name in out for name in ("demo-data", "index", "download-webemo", "fetch"))
