"""The downloader's limits against hostile servers and files, and its log against hostile input.

Every server is local (127.0.0.1, tests/data/conftest.py). A limit is tested by the wall time
of the call: whatever the server does, ``download_urls`` answers within the attempt's time
limit plus the transport's grace period (and a margin for a busy machine).
"""
from __future__ import annotations

import csv
import os
import stat
import threading
import time
import warnings
from pathlib import Path

import pytest
import requests

from sadutils.cli import main
from sadutils.data import transport
from sadutils.data.download import (LOG_COLUMNS, MAX_URL_CHARS, FolderInUse,
                                    download_urls, download_webemo, load_log)
from sadutils.data.fetch import SOURCES, fetch_archive
from sadutils.data.webemo import load_webemo, url_to_filename

LIMIT = 1.0
ONE_TRY = dict(workers=2, timeout=LIMIT, retries=0, backoff=0.01, progress=False)
#: What a call may take beyond its time limit on a shared, busy machine.
MARGIN = transport.GRACE_S + 2.0


def _timed(urls, out, **kwargs):
    t0 = time.monotonic()
    table = download_urls(urls, out, **{**ONE_TRY, **kwargs})
    return table, time.monotonic() - t0


# ---------------------------------------------------------------------------- the deadline

@pytest.mark.parametrize("path, status", [
    ("/slow-headers", "timeout"),   # headers one byte every 0.1 s, never finished
    ("/trickle", "timeout"),        # a body byte every 0.05 s: no read ever times out
    ("/stalled", "timeout"),        # a tenth of the body, then silence
    ("/endless", "too_large"),      # a body without end, fast: the byte cap stops it
    ("/lying-huge", "too_large"),   # Content-Length of a terabyte: refused before the body
    ("/lying-short", "not_image"),  # Content-Length 10 and a whole JPEG: 10 bytes are kept
])
def test_hostile_server_is_cut_off_within_the_limit(server, tmp_path, path, status):
    base, _ = server
    table, elapsed = _timed([f"{base}{path}"], tmp_path, max_bytes=2_000_000)
    row = table.iloc[0]
    assert row.status == status, row.error
    assert elapsed < LIMIT + MARGIN, f"{path} held the download {elapsed:.1f} s"
    assert not list((tmp_path / "images").iterdir())  # no file, no temp file left


def test_stalled_body_is_a_timeout_not_a_connection_error(server, tmp_path):
    base, _ = server
    table, _ = _timed([f"{base}/stalled"], tmp_path)
    assert table.status.iloc[0] == "timeout"
    assert "connection_error" not in set(load_log(tmp_path / "downloads.csv").status)


def test_server_that_never_answers_is_cut_off(silent_server, tmp_path):
    table, elapsed = _timed([f"{silent_server}/x.jpg"], tmp_path)
    assert table.status.iloc[0] == "timeout" and elapsed < LIMIT + MARGIN


def test_every_attempt_is_limited_with_retries(server, tmp_path):
    table, elapsed = _timed([f"{server[0]}/trickle"], tmp_path, retries=2)
    assert table.status.iloc[0] == "timeout" and table.attempts.iloc[0] == 3
    assert elapsed < 3 * LIMIT + 3 * MARGIN


def test_deadline_holds_on_a_reused_keepalive_connection(keepalive_server, tmp_path):
    """The trickling answer comes on the connection the first download opened: its socket must
    be shut down by the second attempt's deadline too."""
    base, st = keepalive_server
    table, elapsed = _timed([f"{base}/good.jpg", f"{base}/trickle"], tmp_path, workers=1)
    assert list(table.status) == ["ok", "timeout"]
    assert elapsed < LIMIT + MARGIN
    ports = dict(st.peers)
    assert ports["/good.jpg"] == ports["/trickle"]  # one connection: the reuse was tested


def test_many_hostile_urls_do_not_add_up(server, tmp_path):
    """Ten trickling URLs on two workers: five rounds of one limit each, not more."""
    base, _ = server
    urls = [f"{base}/trickle?{i}" for i in range(10)]
    table, elapsed = _timed(urls, tmp_path)
    assert set(table.status) == {"timeout"}
    assert elapsed < 5 * LIMIT + 5 * MARGIN


@pytest.mark.parametrize("value", [float("inf"), float("nan"), 0, -1, 1e9, "ten"])
def test_unusable_time_limit_is_refused(tmp_path, value):
    with pytest.raises(ValueError, match="timeout must be a finite number of seconds"):
        download_urls(["http://127.0.0.1:9/x.jpg"], tmp_path, timeout=value, progress=False)
    assert not (tmp_path / "images").exists()


def test_cli_refuses_an_infinite_timeout(tmp_path, capsys):
    lst = tmp_path / "train25.txt"
    lst.write_text("http://127.0.0.1:9/a.jpg 1\n")
    for value in ("inf", "nan", "-inf", "1e9"):
        code = main(["download-webemo", str(lst), "--out", str(tmp_path / "out"),
                     f"--timeout={value}"])
        err = capsys.readouterr().err
        assert code == 2 and err.count("\n") == 1 and "--timeout must be positive and finite" in err
    assert not (tmp_path / "out").exists()


# ---------------------------------------------------------------------------- file URLs

def _jpeg_file(server, path: Path) -> Path:
    path.write_bytes(server[1].jpeg)
    return path


def test_file_urls_are_read_only_under_the_allowed_folder(server, tmp_path):
    allowed = tmp_path / "cdn"
    allowed.mkdir()
    inside = _jpeg_file(server, allowed / "in.jpg")
    outside = _jpeg_file(server, tmp_path / "out.jpg")
    (allowed / "escape.jpg").symlink_to(outside)  # a link inside that points out
    urls = [inside.as_uri(), outside.as_uri(), (allowed / "escape.jpg").as_uri(),
            (allowed / ".." / "out.jpg").as_uri()]
    table, _ = _timed(urls, tmp_path / "dl", file_root=allowed)
    assert list(table.status) == ["ok"] + ["rejected_scheme"] * 3
    assert "outside the allowed folder" in table.error.iloc[1]
    without = download_urls([inside.as_uri()], tmp_path / "dl2", **ONE_TRY)
    assert without.status.iloc[0] == "rejected_scheme" and without.attempts.iloc[0] == 1


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="needs /dev/zero (POSIX)")
def test_devices_and_fifos_are_refused_at_once(tmp_path):
    allowed = tmp_path / "cdn"
    allowed.mkdir()
    os.mkfifo(allowed / "pipe.jpg")  # opening it for reading would wait for a writer for good
    (allowed / "zero.jpg").symlink_to("/dev/zero")  # 65 GB a minute, copied without a cap
    urls = [(allowed / "pipe.jpg").as_uri(), (allowed / "zero.jpg").as_uri()]
    table, elapsed = _timed(urls, tmp_path / "dl", file_root=allowed)
    assert list(table.status) == ["file_error", "rejected_scheme"]  # the link leads outside
    assert "not a regular file" in table.error.iloc[0]
    assert elapsed < LIMIT + MARGIN
    assert not list((tmp_path / "dl" / "images").iterdir())
    # even where devices are allowed, one is never read: refused before the first byte
    zero, elapsed = _timed(["file:///dev/zero", "file:///dev/urandom"], tmp_path / "dl3",
                           file_root="/dev")
    assert list(zero.status) == ["file_error", "file_error"] and elapsed < LIMIT + MARGIN
    assert all("not a regular file" in e for e in zero.error)


def test_file_over_the_byte_cap_is_refused(server, tmp_path):
    big = tmp_path / "big.jpg"
    big.write_bytes(server[1].jpeg + b"\0" * 5000)
    table, _ = _timed([big.as_uri()], tmp_path / "dl", file_root=tmp_path, max_bytes=1000)
    assert table.status.iloc[0] == "too_large"


# ---------------------------------------------------------------------------- what is left

def test_downloaded_images_get_the_permissions_of_any_new_file(server, tmp_path):
    table, _ = _timed([f"{server[0]}/good.jpg"], tmp_path)
    umask = os.umask(0)
    os.umask(umask)
    mode = stat.S_IMODE((tmp_path / table.file.iloc[0]).stat().st_mode)
    assert mode == 0o666 & ~umask  # not 0600, as mkstemp would make it


def test_killed_runs_part_files_are_removed_and_not_counted_as_unlisted(server, tmp_path):
    base, _ = server
    root = tmp_path / "webemo"
    (root / "images").mkdir(parents=True)
    (root / "category.txt").write_text("labels=[" + ", ".join(
        f"('c{i}', {'sadness' if i == 19 else 'joy'!r}, '-')" for i in range(25)) + "]\n")
    (root / "train25.txt").write_text(f"{base}/good.jpg 19\n{base}/404 3\n")
    leftover = root / "images" / f".{url_to_filename(base + '/404')}.1a2b3c.part"
    leftover.write_bytes(b"\xff\xd8 half an image")  # what a killed run leaves
    assert load_webemo(root, check=False).info["n_unlisted_files"] == 0
    download_webemo(root / "train25.txt", root, **ONE_TRY)
    assert not leftover.exists()
    info = load_webemo(root, check=False).info
    assert info["n_downloaded"] == 1 and info["n_unlisted_files"] == 0


def test_a_second_run_waits_for_the_first_when_told_to(tmp_path):
    fcntl = pytest.importorskip("fcntl")
    tmp_path.joinpath("images").mkdir()
    held = os.open(tmp_path / "images", os.O_RDONLY)
    fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
    with pytest.raises(FolderInUse, match=r"waited 0.3 s"):
        download_urls(["ftp://x/a.jpg"], tmp_path, wait=0.3, **ONE_TRY)
    release = threading.Timer(0.5, os.close, [held])
    release.start()
    try:
        table = download_urls(["ftp://x/a.jpg"], tmp_path, wait=60, **ONE_TRY)
    finally:
        release.join()
    assert table.status.iloc[0] == "rejected_scheme"  # it ran once the first let go


@pytest.mark.parametrize("wait", [-1, float("inf"), float("nan"), "5"])
def test_a_bad_wait_is_named(tmp_path, wait):
    with pytest.raises(ValueError, match="wait must be"):
        download_urls(["ftp://x/a.jpg"], tmp_path, wait=wait, **ONE_TRY)


def test_a_second_run_into_the_same_folder_is_refused(tmp_path):
    fcntl = pytest.importorskip("fcntl")
    tmp_path.joinpath("images").mkdir()
    held = os.open(tmp_path / "images", os.O_RDONLY)
    try:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)  # as a running download holds it
        with pytest.raises(FolderInUse, match="another download is writing into"):
            download_urls(["http://127.0.0.1:9/a.jpg"], tmp_path, **ONE_TRY)
    finally:
        os.close(held)
    assert download_urls(["ftp://x/a.jpg"], tmp_path, **ONE_TRY).status.iloc[0] == \
        "rejected_scheme"  # released: the next run goes ahead


# ---------------------------------------------------------------------------- the log

def test_url_over_128_kib_is_logged_and_later_runs_still_read_the_log(server, tmp_path):
    base, _ = server
    long_url = f"{base}/good.jpg?" + "a" * (130 * 1024)
    urls = [long_url, f"{base}/good.jpg"]
    first = download_urls(urls, tmp_path, **ONE_TRY)
    assert list(first.status) == ["invalid_url", "ok"]
    assert f"over the limit of {MAX_URL_CHARS}" in first.error.iloc[0]
    second = download_urls(urls, tmp_path, **ONE_TRY)  # used to die in the csv module
    assert list(second.status) == ["invalid_url", "skipped_existing"]
    assert all(len(u) <= MAX_URL_CHARS + 40 for u in load_log(tmp_path / "downloads.csv").url)


def test_log_rows_too_large_for_the_csv_module_are_skipped(tmp_path):
    log = tmp_path / "downloads.csv"
    with open(log, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(LOG_COLUMNS)
        w.writerow(["http://a/1.jpg", "images/1.jpg", "ok", 200, 1, 10, "", "t"])
        w.writerow(["http://a/" + "x" * (200 * 1024), "", "invalid_url", "", 0, "", "", "t"])
        w.writerow(["http://a/2.jpg", "", "http_error", 404, 1, "", "HTTP 404", "t"])
    f = open(log, "ab")
    f.write(b"\xff\xfe not utf-8,\x00,ok\n")
    f.close()
    assert list(load_log(log).url) == ["http://a/1.jpg", "http://a/2.jpg"]


def test_log_with_another_versions_header_keeps_its_rows(server, tmp_path):
    base, _ = server
    images = tmp_path / "images"
    images.mkdir()
    (images / url_to_filename(f"{base}/good.jpg")).write_bytes(server[1].jpeg)
    (tmp_path / "downloads.csv").write_text(  # other columns, other order
        f"status,url,note\nok,{base}/good.jpg,from an older version\n")
    table = download_urls([f"{base}/good.jpg", f"{base}/down/1.jpg"], tmp_path, **ONE_TRY)
    assert list(table.status) == ["skipped_existing", "ok"]
    log = load_log(tmp_path / "downloads.csv")
    assert list(log.url) == [f"{base}/good.jpg", f"{base}/down/1.jpg"]  # the new row is kept
    with open(tmp_path / "downloads.csv") as f:
        assert next(csv.reader(f)) == list(LOG_COLUMNS)


def test_a_file_that_is_not_a_log_is_set_aside_not_lost(server, tmp_path):
    base, _ = server
    mine = "name,score\nalice,3\n"
    (tmp_path / "downloads.csv").write_text(mine)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        table = download_urls([f"{base}/good.jpg"], tmp_path, **ONE_TRY)
    assert table.status.iloc[0] == "ok"
    aside = list(tmp_path.glob("downloads.csv.unrecognised-*"))
    assert len(aside) == 1 and aside[0].read_text() == mine
    assert any("not a download log" in str(w.message) for w in caught)
    assert list(load_log(tmp_path / "downloads.csv").status) == ["ok"]


# ---------------------------------------------------------------------------- malformed URLs

def test_malformed_url_is_recorded_for_its_line_only(server, tmp_path):
    base, _ = server
    lst = tmp_path / "train25.txt"
    lst.write_text(f"{base}/down/a.jpg 19\nhttp://[::1 4\nhttp://[::1]:99999/x.jpg 3\n"
                   f"http://exa mple.com/y.jpg 2\n{base}/down/b.jpg 1\n")
    res = download_webemo(lst, tmp_path / "out", **ONE_TRY)
    assert dict(zip(res.url, res.status)) == {
        f"{base}/down/a.jpg": "ok", "http://[::1": "invalid_url",
        "http://[::1]:99999/x.jpg": "invalid_url", "http://exa mple.com/y.jpg": "invalid_url",
        f"{base}/down/b.jpg": "ok"}
    assert (res.set_index("url").loc["http://[::1", "attempts"]) <= 1


def test_loader_survives_a_malformed_url(tmp_path):
    root = tmp_path / "webemo"
    (root / "images").mkdir(parents=True)
    (root / "category.txt").write_text("labels=[" + ", ".join(
        f"('c{i}', 'joy', '+')" for i in range(25)) + "]\n")
    (root / "train25.txt").write_text("http://[::1 4\nhttp://ok.example/a.jpg 3\n")
    loaded = load_webemo(root, check=False)
    assert loaded.info["n_urls"] == 2 and loaded.info["n_missing"] == 2


def test_url_to_filename_never_raises_and_stays_safe():
    for url in ("http://[::1", "http://[::1]:99999/../../x", "http://\ud800/x", "\0",
                "http://%zz/%zz%%", "x" * 100_000):
        name = url_to_filename(url)
        assert name.endswith(".jpg") and "/" not in name and ".." not in name.rsplit(".", 1)[0]


def test_check_timeout_and_deadline_basics():
    assert transport.check_timeout("t", 2) == 2.0
    d = transport.Deadline(0.05)
    assert 0 < d.remaining() <= 0.05
    time.sleep(0.06)
    assert d.remaining() == 0
    with pytest.raises(transport.DeadlineExpired):
        transport.run_with_deadline(lambda dl: time.sleep(0.3), transport.Deadline(0.05))
    assert transport.run_with_deadline(lambda dl: 7, transport.Deadline(1)) == 7
    with pytest.raises(KeyError):
        transport.run_with_deadline(lambda dl: {}["x"], transport.Deadline(1))


# ---------------------------------------------------------------------------- fetch_archive

@pytest.mark.parametrize("path", ["/slow-headers", "/trickle", "/stalled"])
def test_fetch_archive_cuts_off_a_server_that_makes_no_progress(server, tmp_path, path):
    t0 = time.monotonic()
    with pytest.raises(requests.Timeout):
        fetch_archive(f"{server[0]}{path}", tmp_path, timeout=0.5, retries=1, backoff=0.01,
                      progress=False)
    assert time.monotonic() - t0 < 2 * (0.5 + MARGIN)
    assert not (tmp_path / path.strip("/")).exists()  # never renamed to the final name


@pytest.mark.parametrize("path", ["/endless", "/lying-huge"])
def test_fetch_archive_caps_the_size(server, tmp_path, path):
    with pytest.raises(ValueError, match="over the limit of 1000000"):
        fetch_archive(f"{server[0]}{path}", tmp_path, timeout=2, retries=0, progress=False,
                      max_bytes=1_000_000)
    assert list(tmp_path.iterdir()) == []  # the partial download was deleted


def test_every_fetch_source_has_a_byte_cap():
    assert all(0 < src.max_bytes < 64 * 2**30 for src in SOURCES.values())
