"""The downloaders against a local HTTP server on 127.0.0.1 (no network is ever contacted)."""
from __future__ import annotations

import csv
import hashlib
import io
import json
import tarfile
import threading
import time
import zipfile
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
from PIL import Image

from sadutils import download as dl
from sadutils.download import (LOG_COLUMNS, ChecksumMismatch, ManualDownloadRequired, Source,
                               download_urls, download_webemo, fetch, fetch_archive, load_log,
                               safe_unpack, url_to_filename)

FAST = dict(workers=4, timeout=0.5, retries=2, backoff=0.01, progress=False)


def _jpeg(color=(200, 60, 60)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (32, 32), color).save(buf, "JPEG")
    return buf.getvalue()


JPEG = _jpeg()


class State:
    """What the server serves and what it saw; tests flip its switches."""

    def __init__(self):
        self.hits = Counter()
        self.down = False          # /down/*: 503 while True
        self.files = {}            # /files/<name>: archives, Range-capable
        self.range_ok = True
        self.cut_next = False      # next /files answer: half the body, full Content-Length
        self.ranges = []


class Handler(BaseHTTPRequestHandler):
    state: State

    def log_message(self, *args):  # keep pytest output clean
        pass

    def _send(self, code, body=b"", ctype="image/jpeg", length=None, headers=()):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        if length is not False:
            self.send_header("Content-Length", str(len(body) if length is None else length))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):  # noqa: N802 - http.server's name
        st, path = self.state, urlsplit(self.path).path
        st.hits[path] += 1
        if path == "/good.jpg" or "passwd" in path or "%2F" in path.upper():
            self._send(200, JPEG)
        elif path == "/404":
            self._send(404, b"nope", "text/plain")
        elif path == "/500":
            self._send(500, b"boom", "text/plain")
        elif path == "/flaky":
            self._send(500, b"boom", "text/plain") if st.hits[path] == 1 else self._send(200, JPEG)
        elif path == "/slow":
            time.sleep(1.2)
            self._send(200, JPEG)
        elif path == "/truncated":
            self._send(200, JPEG[:100], length=len(JPEG) + 1000)
        elif path == "/cut.jpg":
            self._send(200, JPEG[: len(JPEG) * 2 // 5])
        elif path == "/redirect":
            self._send(302, b"", "text/plain", headers=[("Location", "/good.jpg")])
        elif path == "/html":
            self._send(200, b"<html><body>Not found</body></html>", "image/jpeg")
        elif path == "/nolength":
            self._send(200, JPEG, length=False)
        elif path.startswith("/down/"):
            self._send(503, b"down", "text/plain") if st.down else self._send(200, JPEG)
        elif path.startswith("/files/") and path[7:] in st.files:
            self._serve_file(st.files[path[7:]])
        else:
            self._send(404, b"nope", "text/plain")

    def _serve_file(self, data: bytes):
        st, rng = self.state, self.headers.get("Range")
        st.ranges.append(rng)
        start = int(rng.split("=")[1].split("-")[0]) if rng and st.range_ok else 0
        if start >= len(data) and rng and st.range_ok:
            return self._send(416, b"", headers=[("Content-Range", f"bytes */{len(data)}")])
        headers = [("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")] if start else []
        body = data[start:]
        length = len(body)
        if st.cut_next:
            st.cut_next, body = False, body[: len(body) // 2]
        self._send(206 if start else 200, body, "application/zip", length=length, headers=headers)


@pytest.fixture
def server():
    """(base URL, State) of a fresh threaded server on an ephemeral 127.0.0.1 port."""
    state = State()
    handler = type("H", (Handler,), {"state": state})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    httpd.handle_error = lambda *a: None  # clients hanging up on /slow is expected
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", state
    httpd.shutdown()
    httpd.server_close()


def _files(out: Path) -> set[str]:
    return {p.name for p in (out / "images").iterdir()}


# ---------------------------------------------------------------------------- download_urls


def test_every_outcome_recorded(server, tmp_path):
    base, st = server
    img = tmp_path / "local image.jpg"
    img.write_bytes(JPEG)
    urls = {
        "good": f"{base}/good.jpg", "404": f"{base}/404", "500": f"{base}/500",
        "flaky": f"{base}/flaky", "slow": f"{base}/slow", "truncated": f"{base}/truncated",
        "cut": f"{base}/cut.jpg", "redirect": f"{base}/redirect", "html": f"{base}/html",
        "ftp": "ftp://example.org/a.jpg", "js": "javascript:alert(1)",
        "file": img.as_uri(), "file_missing": (tmp_path / "missing.jpg").as_uri(),
    }
    out = tmp_path / "out"
    table = download_urls(list(urls.values()) + [urls["good"]], out, **FAST)  # one duplicate
    assert list(table.columns) == list(LOG_COLUMNS)
    assert list(table.url) == list(urls.values())
    got = dict(zip(urls, table.status))
    assert got == {
        "good": "ok", "404": "http_error", "500": "http_error", "flaky": "ok", "slow": "timeout",
        "truncated": "truncated", "cut": "not_image", "redirect": "ok", "html": "not_image",
        "ftp": "rejected_scheme", "js": "rejected_scheme", "file": "ok",
        "file_missing": "file_error"}
    by = table.set_index(table.url.map({v: k for k, v in urls.items()}))
    assert by.attempts.to_dict() == {
        "good": 1, "404": 1, "500": 3, "flaky": 2, "slow": 3, "truncated": 3, "cut": 1,
        "redirect": 1, "html": 1, "ftp": 0, "js": 0, "file": 1, "file_missing": 1}
    assert (st.hits["/404"], st.hits["/500"], st.hits["/flaky"]) == (1, 3, 2)
    assert by.loc["404", "http_status"] == 404 and by.loc["500", "http_status"] == 500
    assert by.loc["good", "bytes"] == len(JPEG)
    # files exist exactly for the ok rows, under their url_to_filename names, and no temp files
    ok = table[table.status == "ok"]
    assert _files(out) == {url_to_filename(u) for u in ok.url}
    assert all(f == f"images/{url_to_filename(u)}" for u, f in zip(ok.url, ok.file))
    assert (table[table.status != "ok"].file == "").all()
    assert (out / ok.file.iloc[0]).read_bytes() == JPEG
    # the log says the same, with the documented header
    with open(out / "downloads.csv", newline="") as f:
        assert next(csv.reader(f)) == list(LOG_COLUMNS)
    log = load_log(out / "downloads.csv").set_index("url")
    assert log.status.to_dict() == table.set_index("url").status.to_dict()


def test_interrupted_run_resumes(server, tmp_path):
    base, st = server
    out = tmp_path / "out"
    urls = [f"{base}/good.jpg"] + [f"{base}/down/{i}.jpg" for i in range(3)]
    st.down = True
    first = download_urls(urls, out, **FAST)
    assert list(first.status) == ["ok"] + ["http_error"] * 3
    assert list(first.http_status[1:]) == [503] * 3 and list(first.attempts[1:]) == [3] * 3
    # leftovers of a killed run: a temp file, and a final-named file with no ok in the log
    images = out / "images"
    (images / f".{url_to_filename(urls[1])}.abc.part").write_bytes(JPEG[:50])
    (images / url_to_filename(urls[2])).write_bytes(b"half a file")
    st.down = False
    second = download_urls(urls, out, **FAST)
    assert list(second.status) == ["skipped_existing", "ok", "ok", "ok"]
    assert st.hits["/good.jpg"] == 1  # not fetched again
    assert (images / url_to_filename(urls[2])).read_bytes() == JPEG
    log = load_log(out / "downloads.csv")
    assert len(log) == 4 and set(log.status) == {"ok", "skipped_existing"}
    # a third run downloads nothing; a deleted file is fetched again despite its ok record
    (images / url_to_filename(urls[3])).unlink()
    third = download_urls(urls, out, **FAST)
    assert list(third.status) == ["skipped_existing"] * 3 + ["ok"]


def test_log_with_cut_last_line(server, tmp_path):
    base, _ = server
    out = tmp_path / "out"
    download_urls([f"{base}/good.jpg"], out, **FAST)
    with open(out / "downloads.csv", "a") as f:  # a run killed mid-row
        f.write(f"{base}/down/1.jpg,images/x.jpg,o")
    assert len(load_log(out / "downloads.csv")) == 1
    table = download_urls([f"{base}/good.jpg", f"{base}/down/1.jpg"], out, **FAST)
    assert list(table.status) == ["skipped_existing", "ok"]
    assert set(load_log(out / "downloads.csv").status) == {"ok", "skipped_existing"}


def test_rejected_schemes_need_no_network(tmp_path):
    urls = ["ftp://example.org/x.jpg", "javascript:alert(1)", "data:image/jpeg;base64,AAAA",
            "no-scheme.jpg", "gopher://x/y"]
    table = download_urls(urls, tmp_path, **FAST)
    assert set(table.status) == {"rejected_scheme"} and (table.attempts == 0).all()
    assert not _files(tmp_path)


def test_path_traversal_stays_inside(server, tmp_path):
    base, _ = server
    for url in ["http://x/../../etc/passwd", "http://x/a%2F..%2F..%2Fetc%2Fpasswd",
                "http://x/..%5C..%5Cwin.ini", "http://x/%00/..", "file:///../../etc/passwd"]:
        target = (tmp_path / "images" / url_to_filename(url)).resolve()
        assert target.parent == (tmp_path / "images").resolve()
    out = tmp_path / "out"
    urls = [f"{base}/../../etc/passwd", f"{base}/a%2F..%2F..%2Fevil.jpg"]
    table = download_urls(urls, out, **FAST)
    assert list(table.status) == ["ok", "ok"]
    assert sorted(p.name for p in out.rglob("*") if p.is_file()) == sorted(
        [url_to_filename(u) for u in urls] + ["downloads.csv"])


def test_size_guard(server, tmp_path):
    base, _ = server
    table = download_urls([f"{base}/good.jpg", f"{base}/nolength"], tmp_path,
                          max_bytes=100, **FAST)
    assert list(table.status) == ["too_large", "too_large"]
    assert list(table.attempts) == [1, 1] and not _files(tmp_path)


def test_session_factory_one_per_thread(server, tmp_path):
    base, _ = server
    made = []

    def factory():
        made.append(requests.Session())
        return made[-1]

    urls = [f"{base}/down/{i}.jpg" for i in range(8)]
    table = download_urls(urls, tmp_path, session_factory=factory, **{**FAST, "workers": 2})
    assert set(table.status) == {"ok"} and 1 <= len(made) <= 2


# ---------------------------------------------------------------------------- download_webemo


def _webemo_list(path: Path, base: str, n_sad=10, n_other=10) -> Path:
    lines = [f"{base}/down/s{i}.jpg {(4, 13, 19, 20, 21, 23)[i % 6]}" for i in range(n_sad)]
    lines += [f"{base}/down/o{i}.jpg {(0, 1, 3, 5, 22)[i % 5]}" for i in range(n_other)]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_webemo_dedup_and_conflicts(server, tmp_path):
    base, _ = server
    lst = tmp_path / "test25.txt"
    lst.write_text(f"{base}/down/a.jpg 19\n{base}/down/a.jpg 19\n{base}/down/a.jpg 21\n"
                   f"{base}/down/b.jpg 4\n{base}/down/b.jpg 0\n"        # sadness vs joy
                   f"{base}/down/c.jpg 2\n{base}/down/c.jpg 4\n"        # confusion vs sadness
                   f"\n{base}/down/d.jpg 24\n")
    res = download_webemo(lst, tmp_path / "out", **FAST)
    assert list(res.url) == [f"{base}/down/{x}.jpg" for x in "ad"]
    assert list(res.label) == ["sadness", "others"] and list(res.fine_label) == [19, 24]
    assert list(res.status) == ["ok", "ok"]
    assert res.attrs == dict(lines=8, unique_urls=4, conflicting_urls=2, selected=2)
    assert (tmp_path / "out/sample.txt").read_text() == (
        f"{base}/down/a.jpg 19\n{base}/down/d.jpg 24\n")
    res = download_webemo(lst, tmp_path / "out2", include_confusion=True, **FAST)
    assert list(res.url) == [f"{base}/down/{x}.jpg" for x in "acd"]
    assert list(res.label) == ["sadness", "sadness", "others"]


def test_webemo_sample_is_seeded(server, tmp_path):
    base, _ = server
    lst = _webemo_list(tmp_path / "train25.txt", base)
    ask = {"sadness": 3, "others": 4}
    a = download_webemo(lst, tmp_path / "a", sample=ask, seed=7, **FAST)
    b = download_webemo(lst, tmp_path / "b", sample=ask, seed=7, **FAST)
    c = download_webemo(lst, tmp_path / "c", sample=ask, seed=8, **FAST)
    assert (tmp_path / "a/sample.txt").read_text() == (tmp_path / "b/sample.txt").read_text()
    assert (tmp_path / "a/sample.txt").read_text() != (tmp_path / "c/sample.txt").read_text()
    assert a.label.value_counts().to_dict() == ask and list(a.url) == list(b.url)
    assert set(a.status) == {"ok"} and len(_files(tmp_path / "a")) == 7
    lines = (tmp_path / "a/sample.txt").read_text().splitlines()
    assert [ln.split(" ")[0] for ln in lines] == list(a.url)
    assert set(lines) <= set(lst.read_text().splitlines())
    whole = download_webemo(lst, tmp_path / "d", sample={"sadness": None, "others": 2}, **FAST)
    assert whole.label.value_counts().to_dict() == {"sadness": 10, "others": 2}
    only = download_webemo(lst, tmp_path / "e", sample={"others": 2}, seed=7, **FAST)
    assert set(only.label) == {"others"} and len(only) == 2  # a class not named is left out
    assert set(c.status) == {"ok"}


def test_webemo_errors(tmp_path):
    lst = _webemo_list(tmp_path / "train25.txt", "http://127.0.0.1:9")
    with pytest.raises(ValueError, match=r"'sadness'.*11.*only 10"):
        download_webemo(lst, tmp_path, sample={"sadness": 11, "others": 1})
    with pytest.raises(ValueError, match="sad"):
        download_webemo(lst, tmp_path, sample={"sad": 1})
    bad = tmp_path / "bad.txt"
    bad.write_text("http://x/a.jpg 1\nhttp://x/b.jpg 2\nhttp://x/c.jpg\n")
    with pytest.raises(ValueError, match=r"bad\.txt, line 3: expected '<url> <label>'"):
        download_webemo(bad, tmp_path)
    bad.write_text("http://x/a.jpg 25\n")
    with pytest.raises(ValueError, match=r"bad\.txt, line 1"):
        download_webemo(bad, tmp_path)
    assert not (tmp_path / "images").exists()


def test_webemo_category_file(server, tmp_path):
    base, _ = server
    cat = tmp_path / "category.txt"
    cat.write_text("# level3, level2, polarity\nlabels=[('grief', 'sadness', '-'), "
                   "('joy', 'joy', '+'), ('confusion', 'confusion', '-')]\n")
    lst = tmp_path / "l.txt"
    lst.write_text(f"{base}/down/0.jpg 0\n{base}/down/1.jpg 1\n{base}/down/2.jpg 2\n")
    res = download_webemo(lst, tmp_path / "o", category_file=cat, **FAST)
    assert list(res.label) == ["sadness", "others", "others"]


# ---------------------------------------------------------------------------- fetch


def _zip(members: dict) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    return buf.getvalue()


BLOB = bytes(range(256)) * 1200  # 300 KB: several 64 KB chunks, so a cut lands mid-body


def test_fetch_archive_records_sha(server, tmp_path):
    base, st = server
    st.files["a.zip"] = BLOB
    path = fetch_archive(f"{base}/files/a.zip", tmp_path, progress=False)
    assert path == tmp_path / "a.zip" and path.read_bytes() == BLOB
    meta = json.loads((tmp_path / "a.zip.json").read_text())
    assert meta["sha256"] == hashlib.sha256(BLOB).hexdigest() and meta["verified"] is False
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


def test_fetch_unpacks_emotion6_layout(server, tmp_path, monkeypatch):
    base, st = server
    st.files["Emotion6.zip"] = _zip({
        "Emotion6/images/joy/1.jpg": JPEG, "Emotion6/images/sadness/1.jpg": JPEG,
        "Emotion6/ground_truth.txt": "[image_filename]\tvalence\n",
        "Emotion6/emot_dist/readme.txt": "x"})
    monkeypatch.setitem(dl.SOURCES, "emotion6", Source(
        f"{base}/files/Emotion6.zip", None, dl.SOURCES["emotion6"].targets))
    out = tmp_path / "emotion6"
    assert fetch("emotion6", out) == out
    assert (out / "images/joy/1.jpg").read_bytes() == JPEG
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
    monkeypatch.setitem(dl.SOURCES, "cocotext", Source(
        f"{base}/files/cocotext.v2.zip", None, dl.SOURCES["cocotext"].targets))
    fetch("cocotext", tmp_path)
    assert json.loads((tmp_path / "cocotext.v2.json").read_text()) == {"imgs": {}}


def test_fetch_manual_and_unknown(tmp_path):
    for name, needle in [("webemo", "rpand002.github.io/emotion.html"),
                         ("unbiasedemo", "rpand002.github.io/emotion.html"),
                         ("rgp", "prasunroy")]:
        with pytest.raises(ManualDownloadRequired, match=needle) as info:
            fetch(name, tmp_path / name)
        assert isinstance(info.value, RuntimeError) and str(tmp_path / name) in str(info.value)
    with pytest.raises(ValueError, match="emotion6.*coco-train2014"):
        fetch("imagenet", tmp_path)
    assert "coco-train2014" in dl.FETCH_CHOICES and "train2014.zip" in dl.SOURCES[
        "coco-train2014"].url


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
