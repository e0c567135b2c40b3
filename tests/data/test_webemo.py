"""WEBEmo (sadutils.data.webemo): its files, its label rules and its loader.

Small fixtures in the real on-disk formats (category.txt, train25.txt/test25.txt, images/). The
label rules live once in :mod:`sadutils.data.webemo`; the last tests check that the loader and
the downloader really apply the same ones.
"""
from __future__ import annotations

import pandas as pd
import pytest

from sadutils.config import MANIFEST_COLUMNS, WEBEMO_CONFUSION_FINE, WEBEMO_SADNESS_FINE
from sadutils.data.download import download_webemo
from sadutils.data.formats import FormatError, Loaded
from sadutils.data.webemo import (LIST_FILES, binary_labels, load_webemo, parse_category_file,
                                  parse_webemo_list, sadness_fine_labels, url_to_filename,
                                  webemo_urls)

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


def _bad(path, content=b"<html>not found</html>"):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return path


def _category(path, labels=WEBEMO_LABELS):
    body = ",\n    ".join(repr(t) for t in labels)
    path.write_text(f"# (level3, level2, polarity) in label index order\nlabels=[{body}]\n")


def _url(name):
    return f"https://cdn.example.com/photos/{name}.jpg"


@pytest.fixture
def webemo(tmp_path, write_jpeg):
    root = tmp_path / "webemo"
    root.mkdir()
    _category(root / "category.txt")
    (root / "train25.txt").write_text(
        f"{_url('u1')} 4\n{_url('u2')} 0\n{_url('u2')} 0\n\n{_url('u3')} 4\n{_url('u4')} 2\n")
    (root / "test25.txt").write_bytes(
        f"{_url('u1')} 19 \r\n{_url('u3')} 0\r\n{_url('u5')} 23\r\n{_url('u6')} 10\r\n\r\n".encode())
    for i, name in enumerate(["u1", "u2", "u3", "u4"]):
        write_jpeg(root / "images" / url_to_filename(_url(name)), i)
    _bad(root / "images" / url_to_filename(_url("u6")), b"")
    write_jpeg(root / "images" / "unlisted.jpg", 0)
    (root / "images" / "README.txt").write_text("downloaded images")
    return root


# ---------------------------------------------------------------------------- the loader


def test_webemo_dedup_conflicts_and_counts(webemo):
    table, info = webemo_urls(webemo)
    assert list(table.columns) == ["url", "fine_index", "fine_label", "label", "source_list"]
    assert table["url"].tolist() == [_url(n) for n in ["u1", "u2", "u4", "u5", "u6"]]
    u1 = table.iloc[0]
    assert (u1.fine_index, u1.fine_label, u1.label, u1.source_list) == (4, "disappointment", "sadness", "train25.txt")
    assert info["n_lines"] == 9 and info["n_unique_urls"] == 6 and info["n_duplicate_lines"] == 3
    assert info["n_conflicting_urls"] == 1 and info["n_fine_label_disagreements"] == 1
    assert info["urls_by_label"] == {"others": 3, "sadness": 2}
    assert info["lists"] == list(LIST_FILES) and info["missing_lists"] == []

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
    (webemo / "images").rename(webemo / "elsewhere")
    with pytest.raises(FileNotFoundError, match=r"image folder not found.*train25\.txt"):
        load_webemo(webemo)
    assert len(load_webemo(webemo, images_dir="elsewhere", check=False).manifest) == 4
    (webemo / "category.txt").unlink()
    with pytest.raises(FileNotFoundError, match="category.txt"):
        webemo_urls(webemo)


# ---------------------------------------------------------------------------- the files


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


def test_url_to_filename_is_safe_and_unique():
    a, b = "http://one.example/x/image.jpg", "http://two.example/y/image.jpg"
    assert url_to_filename(a) == url_to_filename(a) != url_to_filename(b)
    assert url_to_filename(a).endswith("_image.jpg") and len(url_to_filename(a).split("_")[0]) == 16
    for url in ("http://x/a%2F..%2F..%2Fetc%2Fpasswd", "http://x/..", "http://x/", "http://x/%00.png"):
        name = url_to_filename(url)
        assert "/" not in name and "\\" not in name and "\0" not in name and not name.startswith(".")
        assert name.endswith(".jpg")


# ---------------------------------------------------------------------------- the label rules


def test_sadness_fine_labels(tmp_path):
    assert sadness_fine_labels() == set(WEBEMO_SADNESS_FINE) == {4, 13, 19, 20, 21, 23}
    assert sadness_fine_labels(include_confusion=True) == set(WEBEMO_SADNESS_FINE) | {WEBEMO_CONFUSION_FINE}
    # the official category.txt gives the official indices
    path = tmp_path / "category.txt"
    _category(path)
    official = parse_category_file(path)
    assert sadness_fine_labels(categories=official) == sadness_fine_labels()
    assert sadness_fine_labels(True, official) == sadness_fine_labels(True)
    # another order: the groups are read from the file's level-2 names
    other = [("grief", "sadness", "-"), ("joy", "joy", "+"), ("puzzled", "confusion", "-")]
    assert sadness_fine_labels(categories=other) == {0}
    assert sadness_fine_labels(True, other) == {0, 2}


def test_binary_labels_first_line_wins_conflicts_dropped():
    rows = pd.DataFrame({"url": ["a", "b", "a", "c", "b", "d", "c"],
                         "fine_index": [19, 4, 21, 0, 13, 2, 4]})
    kept, conflicting = binary_labels(rows, {4, 13, 19, 21})
    assert conflicting == {"c"}                            # others (0) and sadness (4)
    assert kept["url"].tolist() == ["a", "b", "d"]         # file order of first appearance
    assert kept["fine_index"].tolist() == [19, 4, 2]       # a: first of two sadness labels
    assert kept["label"].tolist() == ["sadness", "sadness", "others"]
    kept, conflicting = binary_labels(rows, {0, 2, 4, 13, 19, 21})
    assert conflicting == set() and kept["label"].eq("sadness").all() and len(kept) == 4


_RULE_LINES = [  # (name, fine index): duplicates, a same-group relabel and two conflicts
    ("a", 19), ("a", 21), ("b", 4), ("b", 0), ("c", 2), ("c", 4), ("d", 24), ("e", 13),
    ("f", 2), ("d", 24), ("g", 3),
]


def _rules_dataset(root, cdn, write_jpeg, labels=WEBEMO_LABELS):
    """A WEBEmo folder whose list holds file:// URLs into ``cdn`` (nothing leaves the machine)."""
    root.mkdir(parents=True)
    _category(root / "category.txt", labels)
    lines = []
    for i, (name, fine) in enumerate(_RULE_LINES):
        path = cdn / f"{name}.jpg"
        if not path.exists():
            write_jpeg(path, i)
        lines.append(f"{path.as_uri()} {fine}\n")
    (root / "train25.txt").write_text("".join(lines))
    return root


@pytest.mark.parametrize("include_confusion", [False, True])
def test_loader_and_downloader_apply_the_same_rules(tmp_path, write_jpeg, include_confusion):
    root = _rules_dataset(tmp_path / "webemo", tmp_path / "cdn", write_jpeg)
    lst = root / "train25.txt"
    cdn = dict(file_root=tmp_path / "cdn")
    got = download_webemo(lst, root, include_confusion=include_confusion, workers=2,
                          progress=False, **cdn)
    with_file = download_webemo(lst, tmp_path / "again", include_confusion=include_confusion,
                                category_file=root / "category.txt", workers=2, progress=False,
                                **cdn)
    table, info = webemo_urls(root, lists=("train25.txt",), include_confusion=include_confusion)
    loaded = load_webemo(root, lists=("train25.txt",), include_confusion=include_confusion)
    m = loaded.manifest
    # both go through parse_webemo_list + binary_labels + sadness_fine_labels
    rows = parse_webemo_list(lst)
    kept, conflicting = binary_labels(
        rows, sadness_fine_labels(include_confusion, parse_category_file(root / "category.txt")))

    name = lambda urls: [u.rsplit("/", 1)[1][0] for u in urls]  # noqa: E731
    expected = ({"a": "sadness", "d": "others", "e": "sadness", "f": "others", "g": "others"}
                if not include_confusion else
                {"a": "sadness", "c": "sadness", "d": "others", "e": "sadness", "f": "sadness",
                 "g": "others"})
    assert dict(zip(name(got.url), got.label)) == expected
    assert set(got.status) == {"ok"} and len(m) == len(expected) and loaded.rejected.empty
    for other in (with_file, table, m, kept):
        assert dict(zip(name(other.url), other.label)) == expected
    assert got.url.tolist() == with_file.url.tolist() == table.url.tolist() == kept.url.tolist()
    assert got.fine_label.tolist() == table.fine_index.tolist() == m.set_index("url").loc[
        got.url, "fine_index"].tolist()
    assert got.attrs["conflicting_urls"] == info["n_conflicting_urls"] == len(conflicting)
    assert got.attrs["unique_urls"] == info["n_unique_urls"] and got.attrs["lines"] == info["n_lines"]
    # the loader finds each downloaded image where the downloader put it
    assert sorted(m["path"]) == sorted(str(root / f) for f in got.file)


def test_loader_and_downloader_read_the_groups_from_category_txt(tmp_path, write_jpeg):
    """With a category.txt in another order, the loader and the downloader given that file agree
    (the official indices would not): why ``sadutils download-webemo`` passes the file along."""
    rotated = WEBEMO_LABELS[1:] + WEBEMO_LABELS[:1]  # index i now holds official label i + 1
    root = _rules_dataset(tmp_path / "webemo", tmp_path / "cdn", write_jpeg, rotated)
    got = download_webemo(root / "train25.txt", root, category_file=root / "category.txt",
                          workers=2, progress=False, file_root=tmp_path / "cdn")
    m = load_webemo(root, lists=("train25.txt",)).manifest
    assert dict(zip(got.url, got.label)) == dict(zip(m.url, m.label))
    assert sadness_fine_labels(categories=rotated) == {i - 1 for i in WEBEMO_SADNESS_FINE}
    official = download_webemo(root / "train25.txt", tmp_path / "official", workers=2,
                               progress=False, file_root=tmp_path / "cdn")
    assert dict(zip(official.url, official.label)) != dict(zip(m.url, m.label))
