"""``sadutils fetch`` (sadutils.data.fetch): resumable archives, safe unpacking, the sources.

Archives are served by the local HTTP server of tests/data/conftest.py (``server``); no network
is ever contacted.
"""
from __future__ import annotations

import hashlib
import io
import json
import tarfile
import zipfile

import pytest
import requests

from sadutils.config import DATASETS
from sadutils.data import fetch as fetch_module
from sadutils.data.fetch import (FETCH_CHOICES, SOURCES, ChecksumMismatch, ManualDownloadRequired,
                                 Source, fetch, fetch_archive, safe_unpack)
from sadutils.fileio import file_sha256


def _zip(members: dict) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    return buf.getvalue()


BLOB = bytes(range(256)) * 1200  # 300 KB: several 64 KB chunks, so a cut lands mid-body


# ---------------------------------------------------------------------------- fetch_archive


def test_fetch_archive_records_sha(server, tmp_path):
    base, st = server
    st.files["a.zip"] = BLOB
    path = fetch_archive(f"{base}/files/a.zip", tmp_path, progress=False)
    assert path == tmp_path / "a.zip" and path.read_bytes() == BLOB
    meta = json.loads((tmp_path / "a.zip.json").read_text())
    assert meta["sha256"] == hashlib.sha256(BLOB).hexdigest() == file_sha256(path)
    assert meta["verified"] is False and meta["bytes"] == len(BLOB)
    assert fetch_archive(f"{base}/files/a.zip", tmp_path, progress=False) == path
    assert st.hits["/files/a.zip"] == 1  # a complete archive is not fetched again


def test_fetch_archive_resumes_with_range(server, tmp_path):
    base, st = server
    st.files["a.zip"], st.cut_next = BLOB, True  # connection drops halfway through
    sha = hashlib.sha256(BLOB).hexdigest()
    path = fetch_archive(f"{base}/files/a.zip", tmp_path, sha256=sha, backoff=0.01,
                         progress=False)
    assert path.read_bytes() == BLOB and not (tmp_path / "a.zip.part").exists()
    # the second request resumes from what the first one wrote (whole chunks before the cut)
    assert len(st.ranges) == 2 and st.ranges[0] is None
    assert st.ranges[1] == f"bytes={(len(BLOB) // 2) // 65536 * 65536}-"
    assert json.loads((tmp_path / "a.zip.json").read_text())["verified"] is True


def test_fetch_archive_resumes_leftover_part(server, tmp_path):
    base, st = server
    st.files["a.zip"] = BLOB
    (tmp_path / "a.zip.part").write_bytes(BLOB[:1000])  # a killed earlier run
    assert fetch_archive(f"{base}/files/a.zip", tmp_path, progress=False).read_bytes() == BLOB
    assert st.ranges == ["bytes=1000-"]
    # a server that ignores Range answers 200: the .part is rewritten, not appended to
    st.range_ok, st.ranges = False, []
    (tmp_path / "b").mkdir()
    (tmp_path / "b/a.zip.part").write_bytes(b"junk" * 10)
    assert fetch_archive(f"{base}/files/a.zip", tmp_path / "b", progress=False
                         ).read_bytes() == BLOB
    # a .part that is already whole gets 416 and is kept
    st.range_ok = True
    (tmp_path / "c").mkdir()
    (tmp_path / "c/a.zip.part").write_bytes(BLOB)
    assert fetch_archive(f"{base}/files/a.zip", tmp_path / "c", progress=False
                         ).read_bytes() == BLOB


def test_fetch_archive_errors(server, tmp_path):
    base, st = server
    st.files["a.zip"] = BLOB
    with pytest.raises(ChecksumMismatch, match="expected 0+"):
        fetch_archive(f"{base}/files/a.zip", tmp_path, sha256="0" * 64, progress=False)
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(requests.HTTPError):
        fetch_archive(f"{base}/files/missing.zip", tmp_path, backoff=0.01, progress=False)
    assert st.hits["/files/missing.zip"] == 1  # 404 is not retried
    with pytest.raises(requests.HTTPError):
        fetch_archive(f"{base}/500", tmp_path, retries=2, backoff=0.01, progress=False)
    assert st.hits["/500"] == 3


# ---------------------------------------------------------------------------- fetch


def test_fetch_unpacks_emotion6_layout(server, tmp_path, monkeypatch):
    base, st = server
    jpeg = st.jpeg
    st.files["Emotion6.zip"] = _zip({
        "Emotion6/images/joy/1.jpg": jpeg, "Emotion6/images/sadness/1.jpg": jpeg,
        "Emotion6/ground_truth.txt": "[image_filename]\tvalence\n",
        "Emotion6/emot_dist/readme.txt": "x"})
    monkeypatch.setitem(SOURCES, "emotion6", Source(
        f"{base}/files/Emotion6.zip", None, SOURCES["emotion6"].targets))
    out = tmp_path / "emotion6"
    assert fetch("emotion6", out) == out
    assert (out / "images/joy/1.jpg").read_bytes() == jpeg
    assert (out / "ground_truth.txt").exists() and (out / "images/sadness/1.jpg").exists()
    assert sorted(p.name for p in out.iterdir()) == [
        "Emotion6.zip.json", "ground_truth.txt", "images"]
    assert json.loads((out / "Emotion6.zip.json").read_text())["unpacked"]
    fetch("emotion6", out)
    assert st.hits["/files/Emotion6.zip"] == 1  # already there: nothing fetched
    fetch("emotion6", out, force=True)
    assert st.hits["/files/Emotion6.zip"] == 2 and (out / "images/joy/1.jpg").exists()


def test_fetch_cocotext_json(server, tmp_path, monkeypatch):
    base, st = server
    st.files["cocotext.v2.zip"] = _zip({"cocotext.v2.json": '{"imgs": {}}'})
    monkeypatch.setitem(SOURCES, "cocotext", Source(
        f"{base}/files/cocotext.v2.zip", None, SOURCES["cocotext"].targets))
    fetch("cocotext", tmp_path)
    assert json.loads((tmp_path / "cocotext.v2.json").read_text()) == {"imgs": {}}
    assert not (tmp_path / "cocotext.v2.zip").exists()  # the archive goes once unpacked


def test_fetch_archive_without_the_expected_member(server, tmp_path, monkeypatch):
    base, st = server
    st.files["cocotext.v2.zip"] = _zip({"other/readme.txt": "moved"})
    monkeypatch.setitem(SOURCES, "cocotext", Source(
        f"{base}/files/cocotext.v2.zip", None, SOURCES["cocotext"].targets))
    with pytest.raises(ValueError, match=r"no 'cocotext\.v2\.json' inside.*other"):
        fetch("cocotext", tmp_path)
    assert not (tmp_path / ".unpack-cocotext").exists()  # the work folder is cleaned up


def test_fetch_manual_and_unknown(tmp_path):
    for name, needle in [("webemo", "rpand002.github.io/emotion.html"),
                         ("unbiasedemo", "rpand002.github.io/emotion.html"),
                         ("rgp", "prasunroy")]:
        with pytest.raises(ManualDownloadRequired, match=needle) as info:
            fetch(name, tmp_path / name)
        assert isinstance(info.value, RuntimeError) and str(tmp_path / name) in str(info.value)
    with pytest.raises(ValueError, match="emotion6.*coco-train2014"):
        fetch("imagenet", tmp_path)
    assert "coco-train2014" in FETCH_CHOICES and "train2014.zip" in SOURCES[
        "coco-train2014"].url


def test_every_dataset_is_fetchable_or_explained(tmp_path):
    """Each dataset name is a direct download or a manual one; the webemo note names the CLI."""
    assert set(DATASETS) <= set(FETCH_CHOICES)
    for name in FETCH_CHOICES:
        assert (name in SOURCES) != (name in fetch_module._MANUAL), name
    with pytest.raises(ManualDownloadRequired) as info:
        fetch("webemo", tmp_path / "w")
    text = str(info.value)
    assert f"`sadutils download-webemo {tmp_path / 'w'}/train25.txt --out {tmp_path / 'w'}`" in text
    assert "sadutils.download" not in text  # the module of that name is gone


# ---------------------------------------------------------------------------- safe_unpack


def test_safe_unpack_rejects_escapes(tmp_path):
    (tmp_path / "evil.zip").write_bytes(_zip({"ok.txt": "x", "../evil.txt": "x"}))
    with pytest.raises(ValueError, match="unsafe"):
        safe_unpack(tmp_path / "evil.zip", tmp_path / "dest")
    (tmp_path / "abs.zip").write_bytes(_zip({"/tmp/abs.txt": "x"}))
    with pytest.raises(ValueError, match="unsafe"):
        safe_unpack(tmp_path / "abs.zip", tmp_path / "dest")
    for name, kind in [("/etc/evil", tarfile.REGTYPE), ("a/../../evil", tarfile.REGTYPE),
                       ("link", tarfile.SYMTYPE)]:
        with tarfile.open(tmp_path / "t.tar", "w") as t:
            info = tarfile.TarInfo(name)
            info.type, info.linkname = kind, "/etc/passwd"
            t.addfile(info, io.BytesIO(b""))
        with pytest.raises(ValueError, match="unsafe"):
            safe_unpack(tmp_path / "t.tar", tmp_path / "dest")
    assert not (tmp_path / "evil.txt").exists() and not list((tmp_path / "dest").iterdir())
    with tarfile.open(tmp_path / "good.tar", "w") as t:
        data = b"hello"
        info = tarfile.TarInfo("top/a.txt")
        info.size = len(data)
        t.addfile(info, io.BytesIO(data))
    assert (safe_unpack(tmp_path / "good.tar", tmp_path / "g") / "top/a.txt").read_bytes() == data


def test_safe_unpack_refuses_other_files(tmp_path):
    (tmp_path / "notes.txt").write_text("not an archive")
    with pytest.raises(ValueError, match="neither a zip nor a tar"):
        safe_unpack(tmp_path / "notes.txt", tmp_path / "dest")
