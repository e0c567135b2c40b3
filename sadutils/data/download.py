"""The WEBEmo image downloader: many small images from a list of URLs, many of them dead by now.

:func:`download_urls` fetches URLs concurrently and resumably, recording every URL's outcome in
``downloads.csv`` so that a re-run only retries what failed and a reader can count the losses;
:func:`download_webemo` applies WEBEmo's list rules (:mod:`sadutils.data.webemo`) first. Nothing
from the network is trusted: bodies are size-capped, time-limited and kept only when they decode
as images.
"""
from __future__ import annotations

import csv
import os
import shutil
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import urlsplit
from urllib.request import url2pathname

import pandas as pd
import requests
from tqdm import tqdm  # plain bars: tqdm.auto warns in kernels without ipywidgets

from ..config import CLASS_NAMES
from ..fileio import atomic_path, write_text
from .images import check_image
from .manifests import sample_per_class
from .webemo import (binary_labels, parse_category_file, parse_webemo_list, sadness_fine_labels,
                     url_to_filename)

#: Columns of ``downloads.csv`` and of the table :func:`download_urls` returns.
LOG_COLUMNS = ("url", "file", "status", "http_status", "attempts", "bytes", "error", "finished_at")
#: Every status a URL can end with. Only ``ok`` and ``skipped_existing`` leave a file on disk.
STATUSES = ("ok", "skipped_existing", "http_error", "timeout", "connection_error", "truncated",
            "not_image", "too_large", "rejected_scheme", "invalid_url", "file_error")
DONE_STATUSES = ("ok", "skipped_existing")
#: Largest body accepted: WEBEmo thumbnails are ~20 KB; anything this big is not one.
MAX_BYTES = 20 * 2**20
USER_AGENT = "sadutils-downloader/0.1 (research dataset download)"
_SCHEMES = ("http", "https", "file")
RETRY_HTTP = {408, 429} | set(range(500, 600))


class _Transient(Exception):
    """A failure worth retrying (timeout, dropped connection, 5xx/429); carries the status."""

    def __init__(self, status: str, error: str, http_status: int | None = None,
                 retry_after: float | None = None):
        super().__init__(error)
        self.status, self.http_status, self.retry_after = status, http_status, retry_after


class _Final(Exception):
    """A failure retrying cannot fix (404, not an image, too large, bad URL)."""

    def __init__(self, status: str, error: str, http_status: int | None = None):
        super().__init__(error)
        self.status, self.http_status = status, http_status


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def load_log(path: str | os.PathLike) -> pd.DataFrame:
    """The latest outcome per URL recorded in a ``downloads.csv`` (empty table if none).

    Rows are appended as downloads finish, so a killed run may leave a cut last line and a URL
    may appear several times: malformed rows are skipped and the last row per URL wins.
    """
    latest: dict[str, dict] = {}
    path = Path(path)
    if path.exists():
        with open(path, newline="", encoding="utf-8") as f:
            for row in csv.DictReader(f):
                if row.get("url") and row.get("status") in STATUSES and None not in row:
                    latest[row["url"]] = row
    return _table(list(latest.values()))


def _table(rows: list[dict]) -> pd.DataFrame:
    """Rows as a typed table with :data:`LOG_COLUMNS` (integers nullable, text never NaN)."""
    df = pd.DataFrame(rows, columns=list(LOG_COLUMNS))
    for col in ("http_status", "attempts", "bytes"):
        df[col] = pd.to_numeric(df[col], errors="coerce").astype("Int64")
    for col in ("file", "error", "finished_at"):
        df[col] = df[col].fillna("").astype(str)
    return df.reset_index(drop=True)


def _fetch_body(session, url: str, tmp: Path, timeout: float, max_bytes: int) -> int | None:
    """One attempt: write ``url``'s body to ``tmp``; return the HTTP status (None for file://).

    Raises :class:`_Transient` or :class:`_Final`. The deadline bounds the whole attempt, since
    a read timeout alone lets a server that trickles one byte at a time hold a worker forever.
    """
    parts = urlsplit(url)
    if parts.scheme.lower() == "file":
        if parts.netloc not in ("", "localhost"):
            raise _Final("invalid_url", f"file URL with a remote host {parts.netloc!r}")
        src = Path(url2pathname(parts.path))
        try:
            size = src.stat().st_size
            if size > max_bytes:
                raise _Final("too_large", f"{size} bytes > limit {max_bytes}")
            shutil.copyfile(src, tmp)
        except OSError as exc:
            raise _Final("file_error", f"{type(exc).__name__}: {exc}") from exc
        return None
    if not parts.netloc:
        raise _Final("invalid_url", "URL has no host")
    deadline = time.monotonic() + 5 * timeout
    try:
        with session.get(url, timeout=(timeout, timeout), stream=True, allow_redirects=True) as r:
            if r.status_code in RETRY_HTTP:
                after = r.headers.get("Retry-After", "")
                raise _Transient("http_error", f"HTTP {r.status_code}", r.status_code,
                                 float(after) if after.isdigit() else None)
            if r.status_code >= 400:
                raise _Final("http_error", f"HTTP {r.status_code}", r.status_code)
            declared = r.headers.get("Content-Length", "")
            if declared.isdigit() and int(declared) > max_bytes:
                raise _Final("too_large", f"Content-Length {declared} > limit {max_bytes}",
                             r.status_code)
            n = 0
            with open(tmp, "wb") as f:
                for chunk in r.iter_content(64 * 1024):
                    n += len(chunk)
                    if n > max_bytes:
                        raise _Final("too_large", f"body over limit {max_bytes}", r.status_code)
                    if time.monotonic() > deadline:
                        raise _Transient("timeout", f"download took over {5 * timeout:g} s",
                                         r.status_code)
                    f.write(chunk)
            return r.status_code
    except (requests.exceptions.InvalidSchema, requests.exceptions.InvalidURL,
            requests.exceptions.MissingSchema, requests.exceptions.TooManyRedirects) as exc:
        raise _Final("invalid_url", f"{type(exc).__name__}: {exc}") from exc
    except (requests.exceptions.Timeout, TimeoutError) as exc:
        raise _Transient("timeout", f"{type(exc).__name__}: {exc}") from exc
    except requests.exceptions.ChunkedEncodingError as exc:  # body cut short of Content-Length
        raise _Transient("truncated", f"{type(exc).__name__}: {exc}") from exc
    except (requests.exceptions.ConnectionError, requests.exceptions.RequestException) as exc:
        raise _Transient("connection_error", f"{type(exc).__name__}: {exc}") from exc


def _download_one(session, url: str, images: Path, timeout: float, retries: int,
                  backoff: float, max_bytes: int) -> dict:
    """Download ``url`` into ``images`` with retries; return its log row. Never raises for a
    per-URL failure: every outcome becomes a row. The body goes to a hidden ``.part`` temp file
    that is decoded, then ``os.replace``d onto the final name (atomic), so a killed run never
    leaves a half image under a name a loader would read."""
    name = url_to_filename(url)
    row = dict(url=url, file="", status="", http_status=None, attempts=0, bytes=None, error="")
    if urlsplit(url).scheme.lower() not in _SCHEMES:
        return {**row, "status": "rejected_scheme", "finished_at": _now(),
                "error": f"scheme {urlsplit(url).scheme or '(none)'!r} not in {_SCHEMES}"}
    fd, tmp_name = tempfile.mkstemp(prefix=f".{name}.", suffix=".part", dir=images)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        for attempt in range(1, retries + 2):
            row["attempts"] = attempt
            try:
                row["http_status"] = _fetch_body(session, url, tmp, timeout, max_bytes)
                reason = check_image(tmp)  # the package's one definition of "usable"
                if reason:
                    raise _Final("not_image", reason, row["http_status"])
                row["bytes"] = tmp.stat().st_size
                os.replace(tmp, images / name)
                row.update(status="ok", file=f"images/{name}")
                break
            except _Final as exc:
                row.update(status=exc.status, http_status=exc.http_status, error=str(exc))
                break
            except _Transient as exc:
                row.update(status=exc.status, http_status=exc.http_status, error=str(exc))
                if attempt <= retries:
                    delay = backoff * 2 ** (attempt - 1)
                    time.sleep(min(max(delay, exc.retry_after or 0), 60))
    finally:
        tmp.unlink(missing_ok=True)
    row["finished_at"] = _now()
    return row


def download_urls(urls, out_dir, workers: int = 16, timeout: float = 10.0, retries: int = 3,
                  backoff: float = 0.5, progress: bool = True, log_name: str = "downloads.csv",
                  session_factory=None, max_bytes: int = MAX_BYTES) -> pd.DataFrame:
    """Download every URL to ``out_dir/images/<url_to_filename(url)>``; return one row per URL.

    Concurrent (a thread pool, one ``requests.Session`` per thread). Only http, https and file
    URLs are fetched; redirects are followed; connection errors, timeouts, cut bodies and
    5xx/408/429 answers are retried ``retries`` times with exponential ``backoff`` (seconds),
    4xx answers are not. A body is kept only if it decodes as an image (servers lie about
    Content-Type) and is at most ``max_bytes``.

    Resumable: the outcome of every URL is appended to ``out_dir/<log_name>`` as it finishes
    (columns :data:`LOG_COLUMNS`, status one of :data:`STATUSES`), so a re-run skips URLs whose
    file exists and whose last status is ok (reported as ``skipped_existing``) and retries all
    others. After a complete run the log is compacted to the last row per URL.
    ``session_factory`` (default ``requests.Session``) lets callers set proxies, auth or mocks.
    """
    out_dir = Path(out_dir)
    images = out_dir / "images"
    images.mkdir(parents=True, exist_ok=True)
    log_path = out_dir / log_name
    urls = list(dict.fromkeys(str(u).strip() for u in urls))  # dedupe, keep order
    previous = load_log(log_path).set_index("url")["status"].to_dict()
    results: dict[str, dict] = {}
    todo = []
    for url in urls:
        final = images / url_to_filename(url)
        if previous.get(url) in DONE_STATUSES and final.is_file():
            results[url] = dict(url=url, file=f"images/{final.name}", status="skipped_existing",
                                http_status=None, attempts=0, bytes=final.stat().st_size,
                                error="", finished_at=_now())
        else:
            todo.append(url)

    local, sessions, lock = threading.local(), [], threading.Lock()

    def session():
        if not hasattr(local, "session"):
            s = (session_factory or requests.Session)()
            if session_factory is None:
                s.headers["User-Agent"] = USER_AGENT
            with lock:
                sessions.append(s)
            local.session = s
        return local.session

    def work(url):
        return _download_one(session(), url, images, timeout, retries, backoff, max_bytes)

    new_log = not log_path.exists() or log_path.stat().st_size == 0
    with open(log_path, "a", newline="", encoding="utf-8") as log:
        if not new_log:  # a killed run may have left a cut last line: start on a fresh one
            with open(log_path, "rb") as f:
                f.seek(-1, os.SEEK_END)
                if f.read(1) != b"\n":
                    log.write("\n")
        writer = csv.DictWriter(log, fieldnames=LOG_COLUMNS, lineterminator="\n")
        if new_log:
            writer.writeheader()
        bar = tqdm(total=len(urls), disable=not progress, unit="img", desc="download")
        bar.update(len(results))

        def write(row):
            writer.writerow({k: "" if row[k] is None else row[k] for k in LOG_COLUMNS})
            log.flush()

        for row in results.values():  # skipped ones: their outcome for this call is logged too
            write(row)
        pool = ThreadPoolExecutor(max_workers=max(1, workers))
        try:
            for fut in as_completed([pool.submit(work, u) for u in todo]):
                row = fut.result()
                results[row["url"]] = row
                write(row)
                bar.update(1)
        finally:  # on Ctrl-C: drop queued URLs, let running ones finish (their rows are lost,
            pool.shutdown(wait=True, cancel_futures=True)  # their files are whole or absent)
            bar.close()
            for s in sessions:
                s.close()
    _compact_log(log_path)
    return _table([results[u] for u in urls])


def _compact_log(log_path: Path) -> None:
    """Rewrite the log with only the latest row per URL (atomically), so it stops growing."""
    table = load_log(log_path)
    with atomic_path(log_path) as tmp:
        table.to_csv(tmp, index=False)


# --------------------------------------------------------------------------------------------
# WEBEmo
# --------------------------------------------------------------------------------------------

def download_webemo(list_file, out_dir, sample: dict | None = None, seed: int = 1234,
                    include_confusion: bool = False, category_file=None,
                    **download_kwargs) -> pd.DataFrame:
    """Download the images of a WEBEmo list (``train25.txt``/``test25.txt``) into ``out_dir``.

    URLs are deduplicated; a URL listed with labels that disagree on the binary label
    (sadness vs others) is dropped, since it cannot be labelled. ``sample`` (e.g. the paper's
    ``{"sadness": 8549, "others": 9971}``; a value of None takes the whole class, a class not
    named is left out) draws a seeded random sample per binary class with
    :func:`sadutils.data.manifests.sample_per_class` (the draw depends on the seed and the set of
    URLs, not their order). ``category_file`` (``category.txt``) makes the sadness group come
    from its level-2 names instead of the official indices. The list actually downloaded is
    written to
    ``out_dir/sample.txt`` in the same ``<url> <label>`` format, for traceability. Returns
    :func:`download_urls`'s table with ``fine_label`` and ``label`` columns in front; the counts
    of lines, unique URLs and conflicts are in ``result.attrs``.
    """
    list_file, out_dir = Path(list_file), Path(out_dir)
    categories = parse_category_file(category_file) if category_file is not None else None
    rows = parse_webemo_list(list_file, len(categories) if categories else 25)
    kept, conflicting = binary_labels(rows, sadness_fine_labels(include_confusion, categories))
    if sample is not None:
        if set(sample) - set(CLASS_NAMES):
            raise ValueError(f"sample keys must be among {CLASS_NAMES}; got {sample!r}")
        counts = {c: int((kept.label == c).sum()) if n is None else n for c, n in sample.items()}
        kept = sample_per_class(kept.assign(path=kept.url), counts, seed).sort_values("line")
    out_dir.mkdir(parents=True, exist_ok=True)
    write_text(out_dir / "sample.txt",
               "".join(f"{u} {i}\n" for u, i in zip(kept.url, kept.fine_index)))
    table = download_urls(kept.url.tolist(), out_dir, **download_kwargs)
    labels = kept.set_index("url")[["fine_index", "label"]].rename(
        columns={"fine_index": "fine_label"})
    result = labels.join(table.set_index("url"), how="right").reset_index()
    result = result[["url", "fine_label", "label"] + list(LOG_COLUMNS[1:])]
    result.attrs.update(lines=len(rows), unique_urls=int(rows.url.nunique()),
                        conflicting_urls=len(conflicting), selected=len(kept))
    return result
