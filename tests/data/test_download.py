"""The WEBEmo downloader (sadutils.data.download) against a local HTTP server on 127.0.0.1.

No network is ever contacted: the ``server`` fixture (tests/data/conftest.py) serves every kind
of answer a real image host gives (dead links, 5xx, slow, cut bodies, HTML error pages).
"""
from __future__ import annotations

import csv
from pathlib import Path

import pytest
import requests

from sadutils.data.download import (DONE_STATUSES, LOG_COLUMNS, STATUSES, download_urls,
                                    download_webemo, load_log)
from sadutils.data.webemo import url_to_filename

FAST = dict(workers=4, timeout=0.5, retries=2, backoff=0.01, progress=False)


def _files(out: Path) -> set[str]:
    return {p.name for p in (out / "images").iterdir()}


# ---------------------------------------------------------------------------- download_urls


def test_every_outcome_recorded(server, tmp_path):
    base, st = server
    jpeg = st.jpeg
    img = tmp_path / "local image.jpg"
    img.write_bytes(jpeg)
    urls = {
        "good": f"{base}/good.jpg", "404": f"{base}/404", "500": f"{base}/500",
        "flaky": f"{base}/flaky", "slow": f"{base}/slow", "truncated": f"{base}/truncated",
        "cut": f"{base}/cut.jpg", "redirect": f"{base}/redirect", "html": f"{base}/html",
        "ftp": "ftp://example.org/a.jpg", "js": "javascript:alert(1)",
        "file": img.as_uri(), "file_missing": (tmp_path / "missing.jpg").as_uri(),
    }
    out = tmp_path / "out"
    table = download_urls(list(urls.values()) + [urls["good"]], out, file_root=tmp_path,
                          **FAST)  # one duplicate
    assert list(table.columns) == list(LOG_COLUMNS)
    assert list(table.url) == list(urls.values())
    got = dict(zip(urls, table.status))
    assert got == {
        "good": "ok", "404": "http_error", "500": "http_error", "flaky": "ok", "slow": "timeout",
        "truncated": "truncated", "cut": "not_image", "redirect": "ok", "html": "not_image",
        "ftp": "rejected_scheme", "js": "rejected_scheme", "file": "ok",
        "file_missing": "file_error"}
    assert set(table.status) <= set(STATUSES)
    by = table.set_index(table.url.map({v: k for k, v in urls.items()}))
    assert by.attempts.to_dict() == {
        "good": 1, "404": 1, "500": 3, "flaky": 2, "slow": 3, "truncated": 3, "cut": 1,
        "redirect": 1, "html": 1, "ftp": 0, "js": 0, "file": 1, "file_missing": 1}
    assert (st.hits["/404"], st.hits["/500"], st.hits["/flaky"]) == (1, 3, 2)
    assert by.loc["404", "http_status"] == 404 and by.loc["500", "http_status"] == 500
    assert by.loc["good", "bytes"] == len(jpeg)
    # files exist exactly for the ok rows, under their url_to_filename names, and no temp files
    ok = table[table.status == "ok"]
    assert _files(out) == {url_to_filename(u) for u in ok.url}
    assert all(f == f"images/{url_to_filename(u)}" for u, f in zip(ok.url, ok.file))
    assert (table[table.status != "ok"].file == "").all()
    assert (out / ok.file.iloc[0]).read_bytes() == jpeg
    # the log says the same, with the documented header
    with open(out / "downloads.csv", newline="") as f:
        assert next(csv.reader(f)) == list(LOG_COLUMNS)
    log = load_log(out / "downloads.csv").set_index("url")
    assert log.status.to_dict() == table.set_index("url").status.to_dict()


def test_interrupted_run_resumes(server, tmp_path):
    base, st = server
    jpeg = st.jpeg
    out = tmp_path / "out"
    urls = [f"{base}/good.jpg"] + [f"{base}/down/{i}.jpg" for i in range(3)]
    st.down = True
    first = download_urls(urls, out, **FAST)
    assert list(first.status) == ["ok"] + ["http_error"] * 3
    assert list(first.http_status[1:]) == [503] * 3 and list(first.attempts[1:]) == [3] * 3
    # leftovers of a killed run: a temp file, and a final-named file with no ok in the log
    images = out / "images"
    (images / f".{url_to_filename(urls[1])}.abc.part").write_bytes(jpeg[:50])
    (images / url_to_filename(urls[2])).write_bytes(b"half a file")
    st.down = False
    second = download_urls(urls, out, **FAST)
    assert list(second.status) == ["skipped_existing", "ok", "ok", "ok"]
    assert not list(images.glob(".*.part"))  # the killed run's temp file was cleaned up
    assert st.hits["/good.jpg"] == 1  # not fetched again
    assert (images / url_to_filename(urls[2])).read_bytes() == jpeg
    log = load_log(out / "downloads.csv")
    assert len(log) == 4 and set(log.status) == set(DONE_STATUSES)
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
    # with the category file's three classes, a label index beyond them is malformed
    lst.write_text(f"{base}/down/0.jpg 3\n")
    with pytest.raises(ValueError, match=r"l\.txt, line 1.*0\.\.2"):
        download_webemo(lst, tmp_path / "p", category_file=cat, **FAST)
